#include "collector/collector_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace ballast {

class CollectorMetrics::Impl {
 public:
  Impl(const std::string& listen, const std::string& host, const std::string& source)
      : exposer(listen),
        registry(std::make_shared<prometheus::Registry>()),
        duration(prometheus::BuildHistogram()
                     .Name("ballast_collector_sample_duration_seconds")
                     .Help("Time for one read of the hypervisor")
                     .Register(*registry)
                     .Add({{"host", host}, {"source", source}},
                          prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025,
                                                                  0.05, 0.1, 0.25, 0.5, 1, 2.5})),
        errors(prometheus::BuildCounter()
                   .Name("ballast_collector_source_errors_total")
                   .Help("Reads that failed (nothing was published for them)")
                   .Register(*registry)
                   .Add({{"host", host}, {"source", source}})),
        published(prometheus::BuildCounter()
                      .Name("ballast_collector_messages_published_total")
                      .Help("Samples handed to the socket")
                      .Register(*registry)
                      .Add({{"host", host}})),
        drops(prometheus::BuildCounter()
                  .Name("ballast_collector_publish_drops_total")
                  .Help("Samples dropped at the socket (balancer away or slow)")
                  .Register(*registry)
                  .Add({{"host", host}})),
        vms(prometheus::BuildGauge()
                .Name("ballast_collector_vms")
                .Help("VMs in the last sample")
                .Register(*registry)
                .Add({{"host", host}})),
        last_success(prometheus::BuildGauge()
                         .Name("ballast_collector_last_success_timestamp_seconds")
                         .Help("Wall time of the last successful read")
                         .Register(*registry)
                         .Add({{"host", host}})) {
    prometheus::BuildGauge()
        .Name("ballast_build_info")
        .Help("Build information")
        .Register(*registry)
        .Add({{"version", "0.1.0"}, {"program", "ballast-collector"}, {"host", host}})
        .Set(1);
    exposer.RegisterCollectable(registry);
  }
  prometheus::Exposer exposer;
  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Histogram& duration;
  prometheus::Counter& errors;
  prometheus::Counter& published;
  prometheus::Counter& drops;
  prometheus::Gauge& vms;
  prometheus::Gauge& last_success;
};

CollectorMetrics::CollectorMetrics(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CollectorMetrics::~CollectorMetrics() = default;

Result<std::unique_ptr<CollectorMetrics>> CollectorMetrics::Start(const std::string& listen,
                                                                  const std::string& host,
                                                                  const std::string& source) {
  try {
    return std::unique_ptr<CollectorMetrics>(
        new CollectorMetrics(std::make_unique<Impl>(listen, host, source)));
  } catch (const std::exception& e) {
    return Status::Unavailable("cannot serve metrics on " + listen + ": " + e.what());
  }
}

std::uint16_t CollectorMetrics::port() const {
  auto ports = impl_->exposer.GetListeningPorts();
  return ports.empty() ? 0 : static_cast<std::uint16_t>(ports.front());
}

void CollectorMetrics::OnRead(std::chrono::nanoseconds duration, bool ok, std::size_t vms) {
  impl_->duration.Observe(std::chrono::duration<double>(duration).count());
  if (!ok) {
    impl_->errors.Increment();
    return;
  }
  impl_->vms.Set(static_cast<double>(vms));
  impl_->last_success.SetToCurrentTime();
}

void CollectorMetrics::OnPublish(bool sent) {
  (sent ? impl_->published : impl_->drops).Increment();
}

}  // namespace ballast
