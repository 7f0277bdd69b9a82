#pragma once

// Forecasting and hotspot detection over a window of samples (Sandpiper, NSDI'07): a
// resource is hot when k of the last n samples exceed the mark AND the forecast for the
// next interval does too, so a single spike or a falling load does not trigger a move.

#include <span>

#include "balancer/core/cluster_state.h"
#include "balancer/core/policy.h"

namespace ballast::core {

// Exponentially weighted moving average, oldest sample first; alpha weighs the newest.
// Returns 0 for an empty window.
double ForecastEwma(std::span<const double> samples, double alpha);

// AR(1) around the window mean, fitted by least squares: x' = mu + phi * (x_last - mu),
// phi clamped to [-1, 1]. Fewer than 3 samples: the last sample. Empty: 0.
double ForecastAr1(std::span<const double> samples);

// The model the detection options name.
double Forecast(std::span<const double> samples, const Detection& detection);

// A VM's forecast and peak per resource, each at least its usage now: forecast[r] =
// max(now[r], Forecast(history[r] widened to doubles)) (0 for an empty window) and peak[r] =
// max(now[r], the window's samples). The same figures as computing them one resource at a time;
// with EWMA over windows of equal length (the model keeps the three in step) the three dependent
// multiply-add chains run side by side, about a third of the time. The plan's view does this
// for every VM: 6,000,000 chains of 16 samples at 100,000 hosts.
void ForecastAndPeak(const VmSampleWindow& history, const Detection& detection,
                     const Resources& now, Resources& forecast, Resources& peak);

// True if at least k of the last n samples are strictly above `mark`.
bool KOfNAbove(std::span<const double> samples, int k, int n, double mark);

// k-of-n AND forecast above `mark`.
bool IsHot(std::span<const double> samples, const Detection& detection, double mark);

}  // namespace ballast::core
