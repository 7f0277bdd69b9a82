// xenstat_standin: TEST STAND-IN for libxenstat (and xs_open/xs_read/xs_directory/xs_close
// of libxenstore). Not libxenstat: see xenstat_standin.h. The definitions below sit in the
// same extern "C" block as the real headers' declarations, so a signature that drifted from
// /usr/include/xenstat.h or xenstore.h would not compile.

#include "tests/collector/xenstat/xenstat_standin.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

extern "C" {
#include <xenstat.h>
#include <xenstore.h>
}

// The opaque types, defined here for the stand-in only.
struct xenstat_handle {
  int magic = 0x5e57a7;
};
struct xenstat_vcpu {
  xenstat_standin::Vcpu v;
};
struct xenstat_network {
  xenstat_standin::Network n;
};
struct xenstat_vbd {
  xenstat_standin::Vbd b;
};
struct xenstat_domain {
  xenstat_standin::Domain d;
  std::vector<xenstat_vcpu> vcpus;
  std::vector<xenstat_network> networks;
  std::vector<xenstat_vbd> vbds;
  unsigned node_flags = 0;
};
struct xenstat_node {
  xenstat_standin::Node n;
  unsigned flags = 0;
  std::vector<xenstat_domain> domains;
};
struct xs_handle {
  int magic = 0x75;
};

namespace xenstat_standin {

State& Scenario() {
  static State state;
  return state;
}

void Reset() { Scenario() = State(); }

}  // namespace xenstat_standin

using xenstat_standin::Scenario;
using xenstat_standin::State;

extern "C" {

xenstat_handle* xenstat_init(void) {
  ++Scenario().init_calls;
  if (Scenario().init_fails) {
    errno = ENOENT;
    return nullptr;
  }
  ++Scenario().inits;
  return new xenstat_handle;
}

void xenstat_uninit(xenstat_handle* handle) {
  if (handle == nullptr) return;
  ++Scenario().uninits;
  delete handle;
}

xenstat_node* xenstat_get_node(xenstat_handle* handle, unsigned int flags) {
  State& s = Scenario();
  s.get_node_flags.push_back(flags);
  if (handle == nullptr || handle->magic != 0x5e57a7) {
    ++s.misuses;
    return nullptr;
  }
  if (s.node_null || (flags & s.failing_flags) != 0) return nullptr;
  auto* node = new xenstat_node;
  node->n = s.node;
  node->flags = flags;
  for (const auto& d : s.node.domains) {
    if (!d.name) continue;  // libxenstat skips domains whose name it cannot read
    xenstat_domain xd;
    xd.d = d;
    xd.node_flags = flags;
    for (const auto& v : d.vcpus) xd.vcpus.push_back(xenstat_vcpu{v});
    for (const auto& n : d.networks) xd.networks.push_back(xenstat_network{n});
    for (const auto& b : d.vbds) xd.vbds.push_back(xenstat_vbd{b});
    node->domains.push_back(std::move(xd));
  }
  ++s.live_nodes;
  return node;
}

void xenstat_free_node(xenstat_node* node) {
  if (node == nullptr) return;
  --Scenario().live_nodes;
  delete node;
}

xenstat_domain* xenstat_node_domain(xenstat_node* node, unsigned int domid) {
  for (auto& d : node->domains) {
    if (d.d.id == domid) return &d;
  }
  return nullptr;
}

xenstat_domain* xenstat_node_domain_by_index(xenstat_node* node, unsigned index) {
  if (index >= node->domains.size()) {
    ++Scenario().misuses;
    return nullptr;
  }
  return &node->domains[index];
}

const char* xenstat_node_xen_version(xenstat_node* node) {
  if ((node->flags & XENSTAT_XEN_VERSION) == 0) return nullptr;
  return node->n.xen_version.c_str();
}

unsigned long long xenstat_node_tot_mem(xenstat_node* node) { return node->n.tot_mem; }
unsigned long long xenstat_node_free_mem(xenstat_node* node) { return node->n.free_mem; }
long xenstat_node_freeable_mb(xenstat_node*) { return 0; }
unsigned int xenstat_node_num_domains(xenstat_node* node) {
  return static_cast<unsigned>(node->domains.size());
}
unsigned int xenstat_node_num_cpus(xenstat_node* node) { return node->n.num_cpus; }
unsigned long long xenstat_node_cpu_hz(xenstat_node* node) { return node->n.cpu_hz; }

unsigned xenstat_domain_id(xenstat_domain* domain) { return domain->d.id; }
char* xenstat_domain_name(xenstat_domain* domain) {
  return domain->d.name ? domain->d.name->data() : nullptr;
}
unsigned long long xenstat_domain_cpu_ns(xenstat_domain* domain) { return domain->d.cpu_ns; }
unsigned int xenstat_domain_num_vcpus(xenstat_domain* domain) { return domain->d.num_vcpus; }

xenstat_vcpu* xenstat_domain_vcpu(xenstat_domain* domain, unsigned int vcpu) {
  // The real library indexes a NULL array here when the node lacks XENSTAT_VCPU.
  if ((domain->node_flags & XENSTAT_VCPU) == 0 || vcpu >= domain->d.num_vcpus) {
    ++Scenario().misuses;
    return nullptr;
  }
  if (vcpu >= domain->vcpus.size()) return nullptr;
  return &domain->vcpus[vcpu];
}

unsigned long long xenstat_domain_cur_mem(xenstat_domain* domain) { return domain->d.cur_mem; }
unsigned long long xenstat_domain_max_mem(xenstat_domain* domain) { return domain->d.max_mem; }
unsigned int xenstat_domain_ssid(xenstat_domain*) { return 0; }
unsigned int xenstat_domain_dying(xenstat_domain* domain) { return domain->d.dying; }
unsigned int xenstat_domain_crashed(xenstat_domain* domain) { return domain->d.crashed; }
unsigned int xenstat_domain_shutdown(xenstat_domain* domain) { return domain->d.shutdown; }
unsigned int xenstat_domain_paused(xenstat_domain* domain) { return domain->d.paused; }
unsigned int xenstat_domain_blocked(xenstat_domain* domain) { return domain->d.blocked; }
unsigned int xenstat_domain_running(xenstat_domain* domain) { return domain->d.running; }

unsigned int xenstat_domain_num_networks(xenstat_domain* domain) {
  if ((domain->node_flags & XENSTAT_NETWORK) == 0) return 0;
  return static_cast<unsigned>(domain->networks.size());
}
xenstat_network* xenstat_domain_network(xenstat_domain* domain, unsigned int network) {
  if ((domain->node_flags & XENSTAT_NETWORK) == 0 || network >= domain->networks.size()) {
    return nullptr;
  }
  return &domain->networks[network];
}
unsigned int xenstat_domain_num_vbds(xenstat_domain* domain) {
  if ((domain->node_flags & XENSTAT_VBD) == 0) return 0;
  return static_cast<unsigned>(domain->vbds.size());
}
xenstat_vbd* xenstat_domain_vbd(xenstat_domain* domain, unsigned int vbd) {
  if ((domain->node_flags & XENSTAT_VBD) == 0 || vbd >= domain->vbds.size()) return nullptr;
  return &domain->vbds[vbd];
}

unsigned int xenstat_vcpu_online(xenstat_vcpu* vcpu) { return vcpu->v.online; }
unsigned long long xenstat_vcpu_ns(xenstat_vcpu* vcpu) { return vcpu->v.ns; }

unsigned int xenstat_network_id(xenstat_network* network) { return network->n.id; }
unsigned long long xenstat_network_rbytes(xenstat_network* network) { return network->n.rbytes; }
unsigned long long xenstat_network_rpackets(xenstat_network*) { return 0; }
unsigned long long xenstat_network_rerrs(xenstat_network*) { return 0; }
unsigned long long xenstat_network_rdrop(xenstat_network*) { return 0; }
unsigned long long xenstat_network_tbytes(xenstat_network* network) { return network->n.tbytes; }
unsigned long long xenstat_network_tpackets(xenstat_network*) { return 0; }
unsigned long long xenstat_network_terrs(xenstat_network*) { return 0; }
unsigned long long xenstat_network_tdrop(xenstat_network*) { return 0; }

unsigned int xenstat_vbd_type(xenstat_vbd*) { return 0; }
unsigned int xenstat_vbd_dev(xenstat_vbd* vbd) { return vbd->b.dev; }
unsigned long long xenstat_vbd_oo_reqs(xenstat_vbd*) { return 0; }
unsigned long long xenstat_vbd_rd_reqs(xenstat_vbd*) { return 0; }
unsigned long long xenstat_vbd_wr_reqs(xenstat_vbd*) { return 0; }
unsigned long long xenstat_vbd_rd_sects(xenstat_vbd* vbd) { return vbd->b.rd_sects; }
unsigned long long xenstat_vbd_wr_sects(xenstat_vbd* vbd) { return vbd->b.wr_sects; }
bool xenstat_vbd_error(xenstat_vbd* vbd) { return vbd->b.error; }

// --- libxenstore, the part the source uses ---

struct xs_handle* xs_open(unsigned long) {
  if (Scenario().xs_open_fails) {
    errno = ECONNREFUSED;
    return nullptr;
  }
  ++Scenario().xs_opens;
  return new xs_handle;
}

void xs_close(struct xs_handle* xsh) {
  if (xsh == nullptr) return;
  ++Scenario().xs_closes;
  delete xsh;
}

void* xs_read(struct xs_handle* h, xs_transaction_t, const char* path, unsigned int* len) {
  State& s = Scenario();
  s.xs_reads.push_back(path);
  if (h == nullptr || h->magic != 0x75) {
    ++s.misuses;
    errno = EINVAL;
    return nullptr;
  }
  auto it = s.xenstore.find(path);
  if (it == s.xenstore.end()) {
    errno = ENOENT;
    return nullptr;
  }
  // Like libxenstore: malloc'd, NUL-terminated, length without the NUL.
  char* out = static_cast<char*>(std::malloc(it->second.size() + 1));
  std::memcpy(out, it->second.c_str(), it->second.size() + 1);
  if (len != nullptr) *len = static_cast<unsigned>(it->second.size());
  return out;
}

char** xs_directory(struct xs_handle* h, xs_transaction_t, const char* path, unsigned int* num) {
  State& s = Scenario();
  if (h == nullptr || h->magic != 0x75) {
    ++s.misuses;
    errno = EINVAL;
    return nullptr;
  }
  auto it = s.xenstore_dirs.find(path);
  if (it == s.xenstore_dirs.end()) {
    errno = ENOENT;
    return nullptr;
  }
  // Like libxenstore: one malloc holding the pointer array followed by the strings.
  std::size_t bytes = it->second.size() * sizeof(char*);
  for (const auto& e : it->second) bytes += e.size() + 1;
  char** out = static_cast<char**>(std::malloc(bytes == 0 ? 1 : bytes));
  char* strings = reinterpret_cast<char*>(out + it->second.size());
  for (std::size_t i = 0; i < it->second.size(); ++i) {
    out[i] = strings;
    std::memcpy(strings, it->second[i].c_str(), it->second[i].size() + 1);
    strings += it->second[i].size() + 1;
  }
  *num = static_cast<unsigned>(it->second.size());
  return out;
}

}  // extern "C"
