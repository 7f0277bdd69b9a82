#include "balancer/core/forecast.h"

#include <algorithm>
#include <cstddef>
#include <vector>

namespace ballast::core {

namespace {

// Sample is double (a host's window) or float (a VM's); every operation is in double.
template <typename Sample>
double Ewma(std::span<const Sample> samples, double alpha) {
  if (samples.empty()) return 0.0;
  double s = samples[0];
  for (std::size_t i = 1; i < samples.size(); ++i) {
    s = alpha * static_cast<double>(samples[i]) + (1 - alpha) * s;
  }
  return s;
}

template <typename Sample>
double Ar1(std::span<const Sample> samples) {
  const std::size_t n = samples.size();
  if (n == 0) return 0.0;
  if (n < 3) return samples[n - 1];
  double mu = 0;
  for (Sample x : samples) mu += static_cast<double>(x);
  mu /= static_cast<double>(n);
  double num = 0;
  double den = 0;
  for (std::size_t i = 1; i < n; ++i) {
    const double x = samples[i];
    const double prev = samples[i - 1];
    num += (x - mu) * (prev - mu);
    den += (prev - mu) * (prev - mu);
  }
  // A flat window has no autocorrelation to fit: it predicts itself.
  double phi = den > 1e-12 ? std::clamp(num / den, -1.0, 1.0) : 1.0;
  return mu + phi * (static_cast<double>(samples[n - 1]) - mu);
}

template <typename Sample>
double ForecastOf(std::span<const Sample> samples, const Detection& detection) {
  switch (detection.forecast) {
    case ForecastModel::kEwma:
      return Ewma(samples, detection.ewma_alpha);
    case ForecastModel::kAr1:
      return Ar1(samples);
  }
  return 0.0;
}

}  // namespace

double ForecastEwma(std::span<const double> samples, double alpha) { return Ewma(samples, alpha); }
double ForecastAr1(std::span<const double> samples) { return Ar1(samples); }

double Forecast(std::span<const double> samples, const Detection& detection) {
  return ForecastOf(samples, detection);
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

void ForecastAndPeak(const VmSampleWindow& history, const Detection& detection,
                     const Resources& now, Resources& forecast, Resources& peak) {
  const std::vector<float>& c = history[0];
  const std::vector<float>& m = history[1];
  const std::vector<float>& n = history[2];
  if (detection.forecast == ForecastModel::kEwma && !c.empty() && c.size() == m.size() &&
      c.size() == n.size()) {
    const double alpha = detection.ewma_alpha;
    const double keep = 1 - alpha;
    double f0 = c[0], f1 = m[0], f2 = n[0];
    double p0 = std::max<double>(now[Resource::kCpu], c[0]);
    double p1 = std::max<double>(now[Resource::kMemory], m[0]);
    double p2 = std::max<double>(now[Resource::kNetwork], n[0]);
    for (std::size_t i = 1; i < c.size(); ++i) {
      const double ci = c[i], mi = m[i], ni = n[i];
      f0 = alpha * ci + keep * f0;
      f1 = alpha * mi + keep * f1;
      f2 = alpha * ni + keep * f2;
      p0 = std::max(p0, ci);
      p1 = std::max(p1, mi);
      p2 = std::max(p2, ni);
    }
    forecast = {std::max(now[Resource::kCpu], f0), std::max(now[Resource::kMemory], f1),
                std::max(now[Resource::kNetwork], f2)};
    peak = {p0, p1, p2};
    return;
  }
  for (Resource r : kAllResources) {
    const std::vector<float>& hist = history[static_cast<std::size_t>(r)];
    const double f = hist.empty() ? 0.0 : ForecastOf(std::span<const float>(hist), detection);
    forecast[r] = std::max(now[r], f);
    peak[r] = now[r];
    for (float x : hist) peak[r] = std::max<double>(peak[r], x);
  }
}

}  // namespace ballast::core
