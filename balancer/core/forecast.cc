#include "balancer/core/forecast.h"

#include <algorithm>
#include <cstddef>

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

}  // namespace ballast::core
