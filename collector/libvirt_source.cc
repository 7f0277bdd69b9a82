#include "collector/libvirt_source.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "collector/libvirt_stats_map.h"
#include "common/libvirt_handles.h"
#include "common/log.h"

namespace ballast {
namespace {

using libvirt::ConnectPtr;
using libvirt::LastError;

// virConnectGetAllDomainStats' array: each record holds a domain reference.
class DomainStatsList {
 public:
  DomainStatsList() = default;
  ~DomainStatsList() {
    if (records_ != nullptr) virDomainStatsRecordListFree(records_);
  }
  DomainStatsList(const DomainStatsList&) = delete;
  DomainStatsList& operator=(const DomainStatsList&) = delete;
  virDomainStatsRecordPtr** out() { return &records_; }
  virDomainStatsRecordPtr* get() const { return records_; }

 private:
  virDomainStatsRecordPtr* records_ = nullptr;
};

LibvirtParamValue ToValue(const virTypedParameter& p) {
  switch (p.type) {
    case VIR_TYPED_PARAM_INT:
      return static_cast<std::int64_t>(p.value.i);
    case VIR_TYPED_PARAM_UINT:
      return static_cast<std::uint64_t>(p.value.ui);
    case VIR_TYPED_PARAM_LLONG:
      return static_cast<std::int64_t>(p.value.l);
    case VIR_TYPED_PARAM_ULLONG:
      return static_cast<std::uint64_t>(p.value.ul);
    case VIR_TYPED_PARAM_DOUBLE:
      return p.value.d;
    case VIR_TYPED_PARAM_BOOLEAN:
      return p.value.b != 0;
    case VIR_TYPED_PARAM_STRING:
      return std::string(p.value.s ? p.value.s : "");
    default:
      return std::string();
  }
}

class LibvirtSource final : public StatsSource {
 public:
  explicit LibvirtSource(std::string uri) : uri_(std::move(uri)) {
    libvirt::SilenceDefaultErrorPrinting();
  }
  std::string_view name() const override { return "libvirt"; }

  Result<SourceReading> Read() override {
    if (!conn_) {
      Status st = Connect();
      if (!st.ok()) return st;
    }
    auto reading = ReadConnected();
    if (!reading.ok() && virConnectIsAlive(conn_.get()) != 1) {
      BLOG(kWarning) << "lost libvirt connection to " << uri_ << ": " << reading.status().message();
      conn_.reset();
      ScheduleRetry();
    }
    return reading;
  }

 private:
  Status Connect() {
    const auto now = std::chrono::steady_clock::now();
    if (now < next_attempt_) {
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_attempt_ - now);
      return Status::Unavailable("libvirt at " + uri_ + " unreachable; next attempt in " +
                                 std::to_string(wait.count()) + " ms");
    }
    ConnectPtr c(virConnectOpen(uri_.c_str()));
    if (!c) {
      Status st = LastError("virConnectOpen(" + uri_ + ")");
      ScheduleRetry();
      return st;
    }
    virNodeInfo info{};
    if (virNodeGetInfo(c.get(), &info) != 0) {
      Status st = LastError("virNodeGetInfo");
      ScheduleRetry();
      return st;
    }
    node_info_ = info;
    char* caps = virConnectGetCapabilities(c.get());
    host_uuid_ = caps ? HostUuidFromCapabilities(caps) : "";
    std::free(caps);
    conn_ = std::move(c);
    backoff_ = std::chrono::milliseconds(0);
    BLOG(kInfo) << "connected to libvirt at " << uri_ << " (host uuid " << host_uuid_ << ", "
                << info.cpus << " CPUs, " << (info.memory / 1024) << " MiB)";
    return Status::Ok();
  }

  void ScheduleRetry() {
    backoff_ =
        std::clamp(backoff_ * 2, std::chrono::milliseconds(500), std::chrono::milliseconds(30000));
    next_attempt_ = std::chrono::steady_clock::now() + backoff_;
  }

  Result<SourceReading> ReadConnected() {
    SourceReading r;
    r.host_uuid = host_uuid_;
    r.capacity.cpu_cores = node_info_.cpus;
    r.capacity.memory_bytes = static_cast<std::uint64_t>(node_info_.memory) * 1024;
    r.capacity.cpu_hz = static_cast<std::uint64_t>(node_info_.mhz) * 1000000;
    ReadHostCounters(&r.counters);

    DomainStatsList list;
    const unsigned stats = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL |
                           VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_VCPU |
                           VIR_DOMAIN_STATS_INTERFACE | VIR_DOMAIN_STATS_BLOCK;
    // NOWAIT: a domain busy in a job (a live migration) would otherwise block the whole
    // read for up to 30 s; its job-bound fields come from virDomainGetInfo instead.
    int n = virConnectGetAllDomainStats(
        conn_.get(), stats, list.out(),
        VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE | VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
    if (n < 0) return LastError("virConnectGetAllDomainStats");
    for (int i = 0; i < n; ++i) {
      virDomainStatsRecordPtr rec = list.get()[i];
      char uuid[VIR_UUID_STRING_BUFLEN];
      if (virDomainGetUUIDString(rec->dom, uuid) != 0) continue;  // vanished meanwhile
      const char* dom_name = virDomainGetName(rec->dom);
      LibvirtParams params;
      params.reserve(static_cast<std::size_t>(rec->nparams));
      for (int p = 0; p < rec->nparams; ++p) {
        params.emplace_back(rec->params[p].field, ToValue(rec->params[p]));
      }
      AddInfoFallback(rec->dom, &params);
      auto vm = MapLibvirtDomainStats(uuid, dom_name ? dom_name : "", params);
      if (!vm.ok()) {
        // A domain shutting down between listing and reading: skip it this time.
        BLOG(kDebug) << vm.status().message();
        continue;
      }
      if (vm->vcpus == 0) {
        virDomainInfo info{};
        if (virDomainGetInfo(rec->dom, &info) == 0) vm->vcpus = info.nrVirtCpu;
      }
      r.vms.push_back(std::move(*vm));
    }
    return r;
  }

  // Fields NOWAIT may leave out, from virDomainGetInfo (which takes no job).
  static void AddInfoFallback(virDomainPtr dom, LibvirtParams* params) {
    bool cpu = false;
    bool mem = false;
    for (const auto& [key, v] : *params) {
      cpu |= key == "cpu.time";
      mem |= key == "balloon.current";
    }
    if (cpu && mem) return;
    virDomainInfo info{};
    if (virDomainGetInfo(dom, &info) != 0) {
      virResetLastError();
      return;
    }
    if (!cpu) params->emplace_back("cpu.time", std::uint64_t{info.cpuTime});
    if (!mem) {
      params->emplace_back("balloon.current", std::uint64_t{info.memory});
      params->emplace_back("balloon.maximum", std::uint64_t{info.maxMem});
    }
  }

  void ReadHostCounters(HostCounters* out) {
    int n = 0;
    if (virNodeGetCPUStats(conn_.get(), VIR_NODE_CPU_STATS_ALL_CPUS, nullptr, &n, 0) != 0 ||
        n <= 0) {
      virResetLastError();
      return;
    }
    std::vector<virNodeCPUStats> params(static_cast<std::size_t>(n));
    if (virNodeGetCPUStats(conn_.get(), VIR_NODE_CPU_STATS_ALL_CPUS, params.data(), &n, 0) != 0) {
      virResetLastError();
      return;
    }
    std::uint64_t busy = 0;
    std::uint64_t total = 0;
    for (int i = 0; i < n; ++i) {
      const std::string field = params[static_cast<std::size_t>(i)].field;
      const std::uint64_t v = params[static_cast<std::size_t>(i)].value;
      if (field == VIR_NODE_CPU_STATS_KERNEL || field == VIR_NODE_CPU_STATS_USER) busy += v;
      if (field != VIR_NODE_CPU_STATS_UTILIZATION) total += v;
    }
    out->cpu_busy_ns = busy;
    out->cpu_total_ns = total;
    unsigned long long free_bytes = virNodeGetFreeMemory(conn_.get());
    if (free_bytes == 0) virResetLastError();
    out->memory_free_bytes = free_bytes;
  }

  std::string uri_;
  ConnectPtr conn_;
  virNodeInfo node_info_{};
  std::string host_uuid_;
  std::chrono::milliseconds backoff_{0};
  std::chrono::steady_clock::time_point next_attempt_{};
};

}  // namespace

std::unique_ptr<StatsSource> MakeLibvirtSource(std::string uri) {
  return std::make_unique<LibvirtSource>(std::move(uri));
}

}  // namespace ballast
