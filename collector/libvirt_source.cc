#include "collector/libvirt_source.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <unordered_map>

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
  LibvirtSource(std::string uri, LibvirtSourceOptions options)
      : uri_(std::move(uri)), options_(options) {
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
    cpu_source_.clear();  // a restarted daemon may run its domains differently
    node_cpu_stats_.clear();
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

    // Only groups that libvirt answers without the QEMU monitor (state, interface: from its
    // own domain objects and the tap devices' counters). The cpu, balloon and vcpu groups
    // make libvirt take a query job and ask every guest's QEMU (query-stats, query-balloon,
    // qom-get, query-stats-schemas); block asks query-blockstats twice and
    // query-named-block-nodes. CPU time, memory and vCPUs come from virDomainGetInfo and
    // virDomainGetCPUStats below, which answer the same numbers without the monitor.
    unsigned stats = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_INTERFACE;
    if (options_.block_stats) stats |= VIR_DOMAIN_STATS_BLOCK;
    DomainStatsList list;
    // NOWAIT: with the block group, a domain busy in a job (a live migration) would otherwise
    // block the whole read for up to 30 s.
    int n = virConnectGetAllDomainStats(
        conn_.get(), stats, list.out(),
        VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE | VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
    if (n < 0) return LastError("virConnectGetAllDomainStats");
    std::unordered_map<std::string, CpuSource> seen;
    seen.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      virDomainStatsRecordPtr rec = list.get()[i];
      char uuid[VIR_UUID_STRING_BUFLEN];
      if (virDomainGetUUIDString(rec->dom, uuid) != 0) continue;  // vanished meanwhile
      const char* dom_name = virDomainGetName(rec->dom);
      LibvirtParams params;
      params.reserve(static_cast<std::size_t>(rec->nparams) + 4);
      for (int p = 0; p < rec->nparams; ++p) {
        params.emplace_back(rec->params[p].field, ToValue(rec->params[p]));
      }
      Status st = AddCpuAndMemory(rec->dom, uuid, &params, &seen);
      if (!st.ok()) {
        // The daemon gone mid-read: no reading at all (never a host that looks empty).
        if (virConnectIsAlive(conn_.get()) != 1) return st;
        // A domain shutting down between listing and reading: skip it this time.
        BLOG(kDebug) << "domain " << (dom_name ? dom_name : uuid) << ": " << st.message();
        continue;
      }
      auto vm = MapLibvirtDomainStats(uuid, dom_name ? dom_name : "", params);
      if (!vm.ok()) {
        BLOG(kDebug) << vm.status().message();
        continue;
      }
      r.vms.push_back(std::move(*vm));
    }
    cpu_source_ = std::move(seen);  // forget domains that are gone
    return r;
  }

  // Where a domain's CPU time comes from, decided when the collector first sees it and kept
  // for its life, so one VM's cumulative counter never switches between two sources.
  enum class CpuSource : std::uint8_t {
    kCgroup,   // virDomainGetCPUStats: the domain's cgroup (ns), as the cpu group reads it
    kProcess,  // virDomainGetInfo: the QEMU process's /proc times, as the cpu group reads
               // them when the daemon runs no cgroups (a session daemon)
  };

  // Appends cpu.time, balloon.current, balloon.maximum and vcpu.current, from calls that
  // take no job and never reach QEMU's monitor.
  Status AddCpuAndMemory(virDomainPtr dom, const std::string& uuid, LibvirtParams* params,
                         std::unordered_map<std::string, CpuSource>* seen) {
    virDomainInfo info{};
    if (virDomainGetInfo(dom, &info) != 0) return LastError("virDomainGetInfo");
    std::uint64_t cpu_ns = info.cpuTime;
    auto known = cpu_source_.find(uuid);
    std::optional<CpuSource> source;
    if (known != cpu_source_.end()) source = known->second;
    if (!source || *source == CpuSource::kCgroup) {
      auto cgroup_ns = CgroupCpuTime(dom);
      if (cgroup_ns.ok()) {
        source = CpuSource::kCgroup;
        cpu_ns = *cgroup_ns;
      } else if (!source && (cgroup_ns.status().code() == Status::Code::kFailedPrecondition)) {
        source = CpuSource::kProcess;  // no cgroup for this domain: /proc it is
      } else {
        return cgroup_ns.status();
      }
    }
    (*seen)[uuid] = *source;
    params->emplace_back("cpu.time", cpu_ns);
    params->emplace_back("balloon.current", std::uint64_t{info.memory});
    params->emplace_back("balloon.maximum", std::uint64_t{info.maxMem});
    params->emplace_back("vcpu.current", std::uint64_t{info.nrVirtCpu});
    return Status::Ok();
  }

  // The domain's total CPU time from its cgroup. FailedPrecondition when the daemon keeps no
  // cgroup for it (libvirt: "cgroup CPUACCT controller is not mounted") or the driver has no
  // such call.
  static Result<std::uint64_t> CgroupCpuTime(virDomainPtr dom) {
    std::array<virTypedParameter, 4> p{};
    const int n = virDomainGetCPUStats(dom, p.data(), static_cast<unsigned>(p.size()), -1, 1, 0);
    if (n < 0) {
      virErrorPtr err = virGetLastError();
      const int code = err ? err->code : 0;
      Status st = LastError("virDomainGetCPUStats");
      if (code == VIR_ERR_OPERATION_INVALID || code == VIR_ERR_NO_SUPPORT) {
        return Status::FailedPrecondition(st.message());
      }
      return st;
    }
    std::optional<std::uint64_t> ns;
    for (int i = 0; i < n; ++i) {
      if (std::strcmp(p[i].field, VIR_DOMAIN_CPU_STATS_CPUTIME) == 0 &&
          p[i].type == VIR_TYPED_PARAM_ULLONG) {
        ns = p[i].value.ul;
      }
    }
    virTypedParamsClear(p.data(), n);
    if (!ns) return Status::FailedPrecondition("virDomainGetCPUStats: no cpu_time");
    return *ns;
  }

  void ReadHostCounters(HostCounters* out) {
    // How many fields the host's CPU counters have is asked once per connection (libvirt
    // wants the exact count), so a read is one call; a failure asks again next time.
    if (node_cpu_stats_.empty()) {
      int count = 0;
      if (virNodeGetCPUStats(conn_.get(), VIR_NODE_CPU_STATS_ALL_CPUS, nullptr, &count, 0) != 0 ||
          count <= 0) {
        virResetLastError();
        return;
      }
      node_cpu_stats_.resize(static_cast<std::size_t>(count));
    }
    std::vector<virNodeCPUStats>& params = node_cpu_stats_;
    int n = static_cast<int>(params.size());
    if (virNodeGetCPUStats(conn_.get(), VIR_NODE_CPU_STATS_ALL_CPUS, params.data(), &n, 0) != 0) {
      virResetLastError();
      params.clear();
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
  LibvirtSourceOptions options_;
  ConnectPtr conn_;
  virNodeInfo node_info_{};
  std::string host_uuid_;
  std::chrono::milliseconds backoff_{0};
  std::chrono::steady_clock::time_point next_attempt_{};
  std::unordered_map<std::string, CpuSource> cpu_source_;  // by domain UUID
  std::vector<virNodeCPUStats> node_cpu_stats_;            // sized on first read
};

}  // namespace

std::unique_ptr<StatsSource> MakeLibvirtSource(std::string uri, LibvirtSourceOptions options) {
  return std::make_unique<LibvirtSource>(std::move(uri), options);
}

}  // namespace ballast
