#include "collector/xenstat_source.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

// Neither header declares extern "C" itself.
extern "C" {
#include <xenstat.h>
#include <xenstore.h>
}

#include "collector/xenstat_map.h"
#include "common/log.h"

namespace ballast {
namespace {

static_assert(XENSTAT_VCPU == kXenstatVcpu && XENSTAT_NETWORK == kXenstatNetwork &&
                  XENSTAT_XEN_VERSION == kXenstatXenVersion && XENSTAT_VBD == kXenstatVbd &&
                  XENSTAT_ALL == kXenstatAll,
              "xenstat_map.h's flag copies must match xenstat.h");

// RAII over the C handles. Every domain, vCPU, vif and vbd pointer borrowed from a node dies
// with xenstat_free_node, so nothing below keeps one past the node's scope.
struct XenstatUninit {
  void operator()(xenstat_handle* h) const { xenstat_uninit(h); }
};
struct XenstatFreeNode {
  void operator()(xenstat_node* n) const { xenstat_free_node(n); }
};
struct XsClose {
  void operator()(xs_handle* h) const { xs_close(h); }
};
using HandlePtr = std::unique_ptr<xenstat_handle, XenstatUninit>;
using NodePtr = std::unique_ptr<xenstat_node, XenstatFreeNode>;
using XsPtr = std::unique_ptr<xs_handle, XsClose>;

// Fallback ladder when xenstat_get_node returns NULL: one failing sub-collector fails the
// whole node, so drop the usual suspects (VBD: /sys/bus/xen-backend/devices missing;
// NETWORK: /proc/net/dev), then everything optional.
constexpr unsigned kFlagLadder[] = {
    XENSTAT_ALL,
    XENSTAT_ALL & ~XENSTAT_VBD,
    XENSTAT_ALL & ~XENSTAT_NETWORK,
    XENSTAT_ALL & ~(XENSTAT_VBD | XENSTAT_NETWORK),
    XENSTAT_VCPU,
    0,
};

std::string FlagNames(unsigned flags) {
  std::string s;
  auto add = [&](unsigned f, const char* name) {
    if ((flags & f) == 0) return;
    if (!s.empty()) s += "|";
    s += name;
  };
  add(XENSTAT_VCPU, "VCPU");
  add(XENSTAT_NETWORK, "NETWORK");
  add(XENSTAT_XEN_VERSION, "XEN_VERSION");
  add(XENSTAT_VBD, "VBD");
  return s.empty() ? "none" : s;
}

std::optional<std::string> ReadLink(const std::string& path) {
  char buf[256];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof(buf) - 1);
  if (n < 0) return std::nullopt;
  return std::string(buf, static_cast<std::size_t>(n));
}

class XenstatSource final : public StatsSource {
 public:
  explicit XenstatSource(XenstatSourceOptions options) : options_(std::move(options)) {
    if (!options_.monotonic_ns) {
      options_.monotonic_ns = [] {
        return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                              std::chrono::steady_clock::now().time_since_epoch())
                                              .count());
      };
    }
  }
  std::string_view name() const override { return "xenstat"; }

  Result<SourceReading> Read() override {
    if (!handle_) BALLAST_RETURN_IF_ERROR(Open());
    auto node = GetNode();
    if (!node.ok()) {
      // Even the bare node failed: the hypervisor interface itself is broken; start over.
      BLOG(kWarning) << "xenstat: " << node.status().message() << "; reopening";
      handle_.reset();
      xs_.reset();
      ScheduleRetry();
      return node.status();
    }
    XenNodeStats stats = Copy(node->get());
    node->reset();  // done with libxenstat's memory; everything needed is in `stats`

    std::vector<unsigned> domids;
    std::map<unsigned, std::uint64_t> domain_cpu_ns;
    for (const XenDomainStats& d : stats.domains) domain_cpu_ns[d.domid] = d.cpu_ns;
    SourceReading reading = MapXenNode(stats, &domids);
    tracker_.Apply(&reading, domids, domain_cpu_ns, options_.monotonic_ns());
    return reading;
  }

 private:
  Status Open() {
    const auto now = std::chrono::steady_clock::now();
    if (now < next_attempt_) {
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_attempt_ - now);
      return Status::Unavailable("Xen not reachable; next attempt in " +
                                 std::to_string(wait.count()) + " ms");
    }
    if (!options_.privcmd_path.empty() && ::access(options_.privcmd_path.c_str(), F_OK) != 0) {
      ScheduleRetry();
      return Status::FailedPrecondition(options_.privcmd_path +
                                        " does not exist: not running in a Xen dom0 (is the "
                                        "xen-privcmd module loaded and /proc/xen mounted?)");
    }
    if (!options_.privcmd_path.empty() &&
        ::access(options_.privcmd_path.c_str(), R_OK | W_OK) != 0) {
      ScheduleRetry();
      return Status::PermissionDenied("cannot open " + options_.privcmd_path +
                                      ": the xenstat source must run as root in dom0");
    }
    errno = 0;
    HandlePtr h(xenstat_init());
    if (!h) {
      const int err = errno;
      ScheduleRetry();
      return Status::Unavailable(std::string("xenstat_init failed: ") +
                                 (err != 0 ? std::strerror(err) : "unknown error"));
    }
    XsPtr xs(xs_open(0));
    if (!xs) {
      const int err = errno;
      ScheduleRetry();
      return Status::Unavailable(std::string("xs_open (xenstore) failed: ") +
                                 (err != 0 ? std::strerror(err) : "unknown error"));
    }
    handle_ = std::move(h);
    xs_ = std::move(xs);
    backoff_ = std::chrono::milliseconds(0);
    flags_ = XENSTAT_ALL;
    reads_since_fallback_ = 0;
    uuid_by_domid_.clear();
    BLOG(kInfo) << "xenstat: connected to Xen";
    return Status::Ok();
  }

  void ScheduleRetry() {
    backoff_ = std::clamp(backoff_ * 2, options_.min_retry, std::chrono::milliseconds(30000));
    next_attempt_ = std::chrono::steady_clock::now() + backoff_;
  }

  // xenstat_get_node with the flags that last worked; after a fallback, every
  // reprobe_every_reads reads tries XENSTAT_ALL again first.
  Result<NodePtr> GetNode() {
    std::vector<unsigned> tries;
    if (flags_ != XENSTAT_ALL && ++reads_since_fallback_ >= options_.reprobe_every_reads) {
      reads_since_fallback_ = 0;
      tries.push_back(XENSTAT_ALL);
    }
    bool past_current = false;
    for (unsigned f : kFlagLadder) {
      if (f == flags_) past_current = true;
      if (past_current && (tries.empty() || tries.back() != f)) tries.push_back(f);
    }
    for (unsigned f : tries) {
      NodePtr node(xenstat_get_node(handle_.get(), f));
      if (!node) continue;
      if (f != flags_) {
        if (f == XENSTAT_ALL) {
          BLOG(kInfo) << "xenstat: all sub-collectors work again";
        } else {
          BLOG(kWarning) << "xenstat_get_node(" << FlagNames(XENSTAT_ALL)
                         << ") fails; reading with " << FlagNames(f)
                         << " only (missing counters are reported as unknown)";
        }
        flags_ = f;
        reads_since_fallback_ = 0;
      }
      if (!logged_version_ && (f & XENSTAT_XEN_VERSION) != 0) {
        const char* v = xenstat_node_xen_version(node.get());
        if (v != nullptr) BLOG(kInfo) << "xenstat: Xen " << v;
        logged_version_ = true;
      }
      return node;
    }
    return Status::Unavailable("xenstat_get_node returned NULL even with no sub-collector");
  }

  XenNodeStats Copy(xenstat_node* node) {
    XenNodeStats s;
    s.flags = flags_;
    s.num_cpus = xenstat_node_num_cpus(node);
    s.cpu_hz = xenstat_node_cpu_hz(node);
    s.tot_mem = xenstat_node_tot_mem(node);
    s.free_mem = xenstat_node_free_mem(node);
    s.network_namespace_ok = NetworkNamespaceOk();
    const unsigned n = xenstat_node_num_domains(node);
    std::map<unsigned, std::string> seen_uuids;
    for (unsigned i = 0; i < n; ++i) {
      xenstat_domain* d = xenstat_node_domain_by_index(node, i);
      if (d == nullptr) continue;
      XenDomainStats ds = CopyDomain(d, s.flags);
      if (ds.domid != 0) {
        auto uuid = DomainUuid(ds.domid);
        // No UUID: the domain is being built or torn down; it is left out this time.
        if (!uuid) continue;
        ds.uuid = *uuid;
        seen_uuids[ds.domid] = *uuid;
        if ((s.flags & XENSTAT_NETWORK) != 0 && ds.vifs.empty()) {
          ds.xenstore_vif_count = XenstoreVifCount(ds.domid);
        }
      }
      s.domains.push_back(std::move(ds));
    }
    uuid_by_domid_ = std::move(seen_uuids);  // forget domains that are gone
    return s;
  }

  static XenDomainStats CopyDomain(xenstat_domain* d, unsigned flags) {
    XenDomainStats ds;
    ds.domid = xenstat_domain_id(d);
    const char* name = xenstat_domain_name(d);
    ds.name = name != nullptr ? name : "";
    ds.num_vcpus = xenstat_domain_num_vcpus(d);
    ds.cpu_ns = xenstat_domain_cpu_ns(d);
    ds.cur_mem = xenstat_domain_cur_mem(d);
    ds.max_mem = xenstat_domain_max_mem(d);
    ds.dying = xenstat_domain_dying(d) != 0;
    ds.crashed = xenstat_domain_crashed(d) != 0;
    ds.shutdown = xenstat_domain_shutdown(d) != 0;
    ds.paused = xenstat_domain_paused(d) != 0;
    ds.blocked = xenstat_domain_blocked(d) != 0;
    ds.running = xenstat_domain_running(d) != 0;
    // Without XENSTAT_VCPU the domain's vCPU array is NULL and xenstat_domain_vcpu returns
    // a pointer computed from NULL: never ask then.
    if ((flags & XENSTAT_VCPU) != 0) {
      for (unsigned v = 0; v < ds.num_vcpus; ++v) {
        xenstat_vcpu* vc = xenstat_domain_vcpu(d, v);
        if (vc == nullptr) continue;
        ds.vcpus.push_back({xenstat_vcpu_online(vc) != 0, xenstat_vcpu_ns(vc)});
      }
    }
    if ((flags & XENSTAT_NETWORK) != 0) {
      const unsigned nn = xenstat_domain_num_networks(d);
      for (unsigned k = 0; k < nn; ++k) {
        xenstat_network* net = xenstat_domain_network(d, k);
        if (net == nullptr) continue;
        ds.vifs.push_back(
            {xenstat_network_id(net), xenstat_network_rbytes(net), xenstat_network_tbytes(net)});
      }
    }
    if ((flags & XENSTAT_VBD) != 0) {
      const unsigned nb = xenstat_domain_num_vbds(d);
      for (unsigned k = 0; k < nb; ++k) {
        xenstat_vbd* vbd = xenstat_domain_vbd(d, k);
        if (vbd == nullptr) continue;
        ds.vbds.push_back({xenstat_vbd_dev(vbd), xenstat_vbd_rd_sects(vbd),
                           xenstat_vbd_wr_sects(vbd), xenstat_vbd_error(vbd)});
      }
    }
    return ds;
  }

  // The UUID libxl recorded for the domain; a domid keeps its UUID for its whole life, so it
  // is read from xenstore once per domain.
  std::optional<std::string> DomainUuid(unsigned domid) {
    auto cached = uuid_by_domid_.find(domid);
    if (cached != uuid_by_domid_.end()) return cached->second;
    const std::string path = "/local/domain/" + std::to_string(domid) + "/vm";
    unsigned len = 0;
    void* raw = xs_read(xs_.get(), XBT_NULL, path.c_str(), &len);
    if (raw == nullptr) return std::nullopt;
    std::string value(static_cast<const char*>(raw), len);
    std::free(raw);
    auto uuid = UuidFromXenstoreVmPath(value);
    if (!uuid) BLOG(kDebug) << "xenstat: " << path << " = '" << value << "' holds no UUID";
    return uuid;
  }

  std::optional<unsigned> XenstoreVifCount(unsigned domid) {
    const std::string path = "/local/domain/" + std::to_string(domid) + "/device/vif";
    unsigned num = 0;
    char** entries = xs_directory(xs_.get(), XBT_NULL, path.c_str(), &num);
    if (entries == nullptr) return 0u;  // no vif directory: the guest has no vif
    std::free(entries);                 // one allocation holds the array and the strings
    if (num > 0 && !warned_hidden_vifs_) {
      BLOG(kWarning) << "xenstat: domain " << domid << " has " << num
                     << " vif(s) in xenstore but libxenstat reports none (dom0 without a Linux "
                        "bridge?); its network counters are reported as unknown";
      warned_hidden_vifs_ = true;
    }
    return num;
  }

  bool NetworkNamespaceOk() {
    if (options_.self_netns_path.empty() || options_.init_netns_path.empty()) return true;
    auto self = ReadLink(options_.self_netns_path);
    auto init = ReadLink(options_.init_netns_path);
    // Unreadable (e.g. /proc/1 hidden): trust it, as libxenstat does.
    if (!self || !init || *self == *init) return true;
    if (!warned_netns_) {
      BLOG(kWarning) << "xenstat: running in network namespace " << *self << ", not dom0's "
                     << *init << ": libxenstat would read the wrong /proc/net/dev; network "
                     << "counters are reported as unknown";
      warned_netns_ = true;
    }
    return false;
  }

  XenstatSourceOptions options_;
  HandlePtr handle_;
  XsPtr xs_;
  unsigned flags_ = XENSTAT_ALL;
  int reads_since_fallback_ = 0;
  bool logged_version_ = false;
  bool warned_hidden_vifs_ = false;
  bool warned_netns_ = false;
  std::map<unsigned, std::string> uuid_by_domid_;
  XenCounterTracker tracker_;
  std::chrono::milliseconds backoff_{0};
  std::chrono::steady_clock::time_point next_attempt_{};
};

}  // namespace

std::unique_ptr<StatsSource> MakeXenstatSource(XenstatSourceOptions options) {
  return std::make_unique<XenstatSource>(std::move(options));
}

}  // namespace ballast
