#include "balancer/core/forecast.h"

#include <algorithm>
#include <cstddef>
#include <vector>

namespace ballast::core {

double ForecastEwma(std::span<const double> samples, double alpha) {
  if (samples.empty()) return 0.0;
  double s = samples[0];
  for (std::size_t i = 1; i < samples.size(); ++i) s = alpha * samples[i] + (1 - alpha) * s;
  return s;
}

double ForecastAr1(std::span<const double> samples) {
  const std::size_t n = samples.size();
  if (n == 0) return 0.0;
  if (n < 3) return samples[n - 1];
  double mu = 0;
  for (double x : samples) mu += x;
  mu /= static_cast<double>(n);
  double num = 0;
  double den = 0;
  for (std::size_t i = 1; i < n; ++i) {
    num += (samples[i] - mu) * (samples[i - 1] - mu);
    den += (samples[i - 1] - mu) * (samples[i - 1] - mu);
  }
  // A flat window has no autocorrelation to fit: it predicts itself.
  double phi = den > 1e-12 ? std::clamp(num / den, -1.0, 1.0) : 1.0;
  return mu + phi * (samples[n - 1] - mu);
}

double Forecast(std::span<const double> samples, const Detection& detection) {
  switch (detection.forecast) {
    case ForecastModel::kEwma:
      return ForecastEwma(samples, detection.ewma_alpha);
    case ForecastModel::kAr1:
      return ForecastAr1(samples);
  }
  return 0.0;
}

bool KOfNAbove(std::span<const double> samples, int k, int n, double mark) {
  if (k <= 0) return true;
  std::size_t window = std::min(samples.size(), static_cast<std::size_t>(std::max(n, 0)));
  int above = 0;
  for (std::size_t i = samples.size() - window; i < samples.size(); ++i) {
    if (samples[i] > mark) ++above;
  }
  return above >= k;
}

bool IsHot(std::span<const double> samples, const Detection& detection, double mark) {
  return KOfNAbove(samples, detection.k, detection.n, mark) && Forecast(samples, detection) > mark;
}

void ForecastAndPeak(const SampleWindow& history, const Detection& detection, const Resources& now,
                     Resources& forecast, Resources& peak) {
  const std::vector<double>& c = history[0];
  const std::vector<double>& m = history[1];
  const std::vector<double>& n = history[2];
  if (detection.forecast == ForecastModel::kEwma && !c.empty() && c.size() == m.size() &&
      c.size() == n.size()) {
    const double alpha = detection.ewma_alpha;
    const double keep = 1 - alpha;
    double f0 = c[0], f1 = m[0], f2 = n[0];
    double p0 = std::max(now[Resource::kCpu], c[0]);
    double p1 = std::max(now[Resource::kMemory], m[0]);
    double p2 = std::max(now[Resource::kNetwork], n[0]);
    for (std::size_t i = 1; i < c.size(); ++i) {
      f0 = alpha * c[i] + keep * f0;
      f1 = alpha * m[i] + keep * f1;
      f2 = alpha * n[i] + keep * f2;
      p0 = std::max(p0, c[i]);
      p1 = std::max(p1, m[i]);
      p2 = std::max(p2, n[i]);
    }
    forecast = {std::max(now[Resource::kCpu], f0), std::max(now[Resource::kMemory], f1),
                std::max(now[Resource::kNetwork], f2)};
    peak = {p0, p1, p2};
    return;
  }
  for (Resource r : kAllResources) {
    const std::vector<double>& hist = history[static_cast<std::size_t>(r)];
    const double f = hist.empty() ? 0.0 : Forecast(hist, detection);
    forecast[r] = std::max(now[r], f);
    peak[r] = now[r];
    for (double x : hist) peak[r] = std::max(peak[r], x);
  }
}

}  // namespace ballast::core
