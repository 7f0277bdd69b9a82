#include "balancer/core/forecast.h"

#include <gtest/gtest.h>

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
