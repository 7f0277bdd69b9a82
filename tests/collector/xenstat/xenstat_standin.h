#pragma once

// xenstat_standin: a TEST STAND-IN for libxenstat and the three libxenstore calls the xenstat
// source makes. It is NOT libxenstat. It defines the same C functions with the signatures of
// the real /usr/include/xenstat.h and xenstore.h (the compiler checks them against those
// headers), so the real collector/xenstat_source.cc links against it unchanged. Each test
// scripts what "Xen" reports through Scenario() and reads back how it was called.
//
// Not thread-safe, like the library it stands in for.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace xenstat_standin {

struct Vcpu {
  bool online = true;
  std::uint64_t ns = 0;
};

struct Network {
  unsigned id = 0;
  std::uint64_t rbytes = 0;  // as dom0's backend vif counts them
  std::uint64_t tbytes = 0;
};

struct Vbd {
  unsigned dev = 0;
  std::uint64_t rd_sects = 0;
  std::uint64_t wr_sects = 0;
  bool error = false;
};

struct Domain {
  unsigned id = 0;
  std::optional<std::string> name;  // nullopt: xenstat_domain_name returns NULL
  std::uint64_t cpu_ns = 0;
  unsigned num_vcpus = 1;
  std::vector<Vcpu> vcpus;  // returned only when the node was read with XENSTAT_VCPU
  std::uint64_t cur_mem = 0;
  std::uint64_t max_mem = 0;
  bool dying = false, crashed = false, shutdown = false, paused = false, blocked = false,
       running = false;
  std::vector<Network> networks;  // returned only with XENSTAT_NETWORK
  std::vector<Vbd> vbds;          // returned only with XENSTAT_VBD
};

struct Node {
  unsigned num_cpus = 0;
  std::uint64_t cpu_hz = 0;
  std::uint64_t tot_mem = 0;
  std::uint64_t free_mem = 0;
  std::string xen_version = "4.17.7";
  std::vector<Domain> domains;
};

struct State {
  // --- scripted by the test ---
  bool init_fails = false;
  bool xs_open_fails = false;
  // xenstat_get_node(flags) returns NULL when flags & failing_flags != 0 (one sub-collector
  // failing fails the whole node, as in libxenstat).
  unsigned failing_flags = 0;
  bool node_null = false;  // every xenstat_get_node call returns NULL
  Node node;
  std::map<std::string, std::string> xenstore;                    // path -> value, for xs_read
  std::map<std::string, std::vector<std::string>> xenstore_dirs;  // for xs_directory

  // --- observed ---
  std::vector<unsigned> get_node_flags;  // the flags of every xenstat_get_node call
  std::vector<std::string> xs_reads;     // every path xs_read was asked for
  int init_calls = 0;                    // xenstat_init calls, failed ones included
  int inits = 0, uninits = 0;            // handles handed out and released
  int xs_opens = 0, xs_closes = 0;       // xenstore handles handed out and released
  int live_nodes = 0;                    // nodes returned and not yet freed
  // Calls the real library would answer with garbage or a crash: a vCPU, vif or vbd asked of
  // a node read without its sub-collector, an index out of range, a handle not ours.
  int misuses = 0;
};

// The scripted state; Reset() between test cases.
State& Scenario();
void Reset();

}  // namespace xenstat_standin
