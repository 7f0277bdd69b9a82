#include "balancer/core/forecast.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace ballast::core {
namespace {

TEST(ForecastEwmaTest, WeighsNewestByAlpha) {
  std::vector<double> s = {0.2, 0.4, 0.8};
  // 0.2 -> 0.5*0.4+0.5*0.2 = 0.3 -> 0.5*0.8+0.5*0.3 = 0.55
  EXPECT_DOUBLE_EQ(ForecastEwma(s, 0.5), 0.55);
  EXPECT_DOUBLE_EQ(ForecastEwma(s, 1.0), 0.8);
  EXPECT_DOUBLE_EQ(ForecastEwma({}, 0.5), 0.0);
}

TEST(ForecastAr1Test, FlatWindowPredictsItself) {
  std::vector<double> s(6, 0.7);
  EXPECT_NEAR(ForecastAr1(s), 0.7, 1e-12);
}

TEST(ForecastAr1Test, ShortWindowUsesLastSample) {
  EXPECT_DOUBLE_EQ(ForecastAr1(std::vector<double>{0.3, 0.9}), 0.9);
  EXPECT_DOUBLE_EQ(ForecastAr1({}), 0.0);
}

TEST(ForecastAr1Test, PersistentSeriesStaysNearLastValue) {
  // Strongly autocorrelated: phi close to 1, forecast near the newest sample.
  std::vector<double> s = {0.50, 0.52, 0.55, 0.60, 0.66, 0.73, 0.80};
  double f = ForecastAr1(s);
  EXPECT_GT(f, 0.70);
  EXPECT_LE(f, 0.80 + 1e-9);
}

TEST(ForecastAr1Test, AlternatingSeriesRevertsAcrossTheMean) {
  std::vector<double> s = {0.2, 0.8, 0.2, 0.8, 0.2, 0.8};
  // phi is negative: after a high sample the forecast is below the mean.
  EXPECT_LT(ForecastAr1(s), 0.5);
}

TEST(KOfNAboveTest, CountsOnlyTheLastN) {
  std::vector<double> s = {0.9, 0.9, 0.9, 0.1, 0.1, 0.9, 0.9};
  EXPECT_TRUE(KOfNAbove(s, 2, 2, 0.85));
  EXPECT_FALSE(KOfNAbove(s, 3, 4, 0.85));
  EXPECT_TRUE(KOfNAbove(s, 3, 7, 0.85));
  EXPECT_FALSE(KOfNAbove(s, 3, 5, 0.9));                           // strictly above
  EXPECT_FALSE(KOfNAbove(std::vector<double>{0.99}, 2, 5, 0.85));  // too few samples
}

TEST(IsHotTest, SustainedLoadIsHot) {
  Detection d;  // k=3 of n=5, EWMA 0.5
  EXPECT_TRUE(IsHot(std::vector<double>{0.7, 0.9, 0.92, 0.95, 0.93}, d, 0.85));
}

TEST(IsHotTest, SingleSpikeIsNotHot) {
  Detection d;
  EXPECT_FALSE(IsHot(std::vector<double>{0.5, 0.5, 0.99, 0.5, 0.5}, d, 0.85));
}

TEST(IsHotTest, FallingLoadIsNotHotWhenTheForecastIsBelow) {
  Detection d;
  // Three of five samples above, but the load is dropping fast: the forecast is not hot.
  EXPECT_FALSE(IsHot(std::vector<double>{0.95, 0.95, 0.9, 0.4, 0.3}, d, 0.85));
}

TEST(IsHotTest, ModelIsChosenByThePolicy) {
  Detection ewma;
  Detection ar1;
  ar1.forecast = ForecastModel::kAr1;
  std::vector<double> s = {0.9, 0.9, 0.9, 0.9, 0.9};
  EXPECT_TRUE(IsHot(s, ewma, 0.85));
  EXPECT_TRUE(IsHot(s, ar1, 0.85));
  EXPECT_DOUBLE_EQ(Forecast(s, ar1), ForecastAr1(s));
}

}  // namespace
}  // namespace ballast::core

namespace ballast::core {
namespace {

// ForecastAndPeak is the plan view's fast path: it must give exactly (bit for bit) what
// Forecast and a max over the window give one resource at a time, for both models and for
// windows of equal and unequal length, empty ones included.
TEST(ForecastAndPeakTest, GivesExactlyWhatEachResourceAloneGives) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> value(0.0, 8.0);
  for (int trial = 0; trial < 2000; ++trial) {
    Detection d;
    d.forecast = trial % 3 == 0 ? ForecastModel::kAr1 : ForecastModel::kEwma;
    d.ewma_alpha = std::uniform_real_distribution<double>(0.05, 1.0)(rng);
    const std::size_t len = static_cast<std::size_t>(trial % 17);
    VmSampleWindow history;
    for (std::size_t r = 0; r < kNumResources; ++r) {
      // Mostly in step, as the model keeps them; sometimes not.
      const std::size_t n = trial % 5 == 4 ? (len + r) % 17 : len;
      for (std::size_t i = 0; i < n; ++i) history[r].push_back(static_cast<float>(value(rng)));
    }
    const Resources now = {value(rng), value(rng), value(rng)};
    Resources forecast;
    Resources peak;
    ForecastAndPeak(history, d, now, forecast, peak);
    for (Resource r : kAllResources) {
      // The window widened to doubles first: a VM's float window forecasts the same.
      const std::vector<float>& kept = history[static_cast<std::size_t>(r)];
      const std::vector<double> h(kept.begin(), kept.end());
      const double f = h.empty() ? 0.0 : Forecast(h, d);
      double p = now[r];
      for (double x : h) p = std::max(p, x);
      ASSERT_EQ(forecast[r], std::max(now[r], f)) << "trial " << trial;
      ASSERT_EQ(peak[r], p) << "trial " << trial;
    }
  }
}

}  // namespace
}  // namespace ballast::core
