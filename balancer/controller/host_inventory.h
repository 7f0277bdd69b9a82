#pragma once

// The admin's list of hosts: for each host name, the libvirt URI the balancer connects to
// and the address migration traffic to that host goes to. Listed per host, or by a pattern
// in which "{host}" stands for the host's name (qemu+tls://{host}.example/system); an
// explicit entry wins over the pattern.
//
// Why: a collector's sample also says which URI and address to use (HostIdentity), but a
// collector key can be stolen. Taken from the sample, those strings would let a stolen key
// point the balancer's libvirt credentials at any URI and pull a VM's memory to an address of
// its choice. With an inventory the controller uses only what the admin configured; a sample
// whose claims differ is a finding (controller.h), not an instruction.
//
// `TrustCollectorClaims()` restores the old behaviour (the sample's claims are used). It is
// for the simulator and for labs that say so explicitly; the daemon logs it loudly.
//
// Pure value type: no I/O. Validate() says what is wrong with an inventory built by hand;
// the config loader (balancer/daemon/balancer_config.cc) reports the same errors by key.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ballast::controller {

struct HostEndpoints {
  std::string libvirt_uri;
  std::string migration_address;  // empty: libvirt's default for the URI's host
  bool operator==(const HostEndpoints&) const = default;
};

class HostInventory {
 public:
  // Empty: no host is known, every host is flagged (the safe default).
  HostInventory() = default;
  static HostInventory TrustCollectorClaims();

  // The placeholder a pattern substitutes with the host's name.
  static constexpr std::string_view kPlaceholder = "{host}";
  // Host names an inventory can resolve: 1-253 characters of [A-Za-z0-9._-], starting with a
  // letter or digit, no "..". Safe inside a URI's host or path part and in a log line.
  static bool IsSafeHostName(std::string_view name);
  // What is wrong with one URI or address (an explicit entry's, or a pattern's with
  // {host} in it); empty when nothing is. `pattern`: "{host}" may appear (in a URI pattern it
  // must); elsewhere no '{' or '}' at all.
  static std::string CheckUri(std::string_view uri, bool pattern);
  static std::string CheckAddress(std::string_view address, bool pattern);

  void Add(const std::string& host, HostEndpoints endpoints) {
    hosts_[host] = std::move(endpoints);
  }
  void SetPattern(HostEndpoints pattern) { pattern_ = std::move(pattern); }

  bool trusts_claims() const { return trust_claims_; }
  bool empty() const { return !trust_claims_ && hosts_.empty() && !pattern_; }
  const std::map<std::string, HostEndpoints>& hosts() const { return hosts_; }
  const std::optional<HostEndpoints>& pattern() const { return pattern_; }

  // The endpoints the admin configured for `host`: its entry, else the pattern with {host}
  // substituted when `host` is a safe host name. nullopt: not in the inventory (and always
  // when trusting claims: then the caller uses the sample's).
  std::optional<HostEndpoints> Resolve(std::string_view host) const;

  // Every problem of an inventory built by hand, one message each; empty when none.
  std::vector<std::string> Validate() const;

 private:
  bool trust_claims_ = false;
  std::map<std::string, HostEndpoints> hosts_;
  std::optional<HostEndpoints> pattern_;
};

// A string from the wire made fit for a log line or a journal record: control characters,
// quotes, backslashes and non-ASCII bytes written as \xNN, cut to at most `max_bytes` bytes
// of that (then "..." is appended). The result is printable ASCII.
std::string BoundedForLog(std::string_view s, std::size_t max_bytes = 128);

}  // namespace ballast::controller
