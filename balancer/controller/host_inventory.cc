#include "balancer/controller/host_inventory.h"

#include <algorithm>
#include <cstdio>

namespace ballast::controller {
namespace {

bool Alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Removes every "{host}"; returns how many there were.
std::size_t StripPlaceholders(std::string& s) {
  std::size_t n = 0;
  for (auto pos = s.find(HostInventory::kPlaceholder); pos != std::string::npos;
       pos = s.find(HostInventory::kPlaceholder, pos)) {
    s.erase(pos, HostInventory::kPlaceholder.size());
    ++n;
  }
  return n;
}

std::string Substitute(std::string_view pattern, std::string_view host) {
  std::string out;
  std::size_t from = 0;
  for (auto pos = pattern.find(HostInventory::kPlaceholder); pos != std::string_view::npos;
       pos = pattern.find(HostInventory::kPlaceholder, from)) {
    out.append(pattern.substr(from, pos - from));
    out.append(host);
    from = pos + HostInventory::kPlaceholder.size();
  }
  out.append(pattern.substr(from));
  return out;
}

// The limits of the wire (common/wire.h): a longer URI could never match a sample's claim.
constexpr std::size_t kMaxUri = 1024;
constexpr std::size_t kMaxAddress = 255;
constexpr std::size_t kMaxHostName = 253;  // as DNS

}  // namespace

HostInventory HostInventory::TrustCollectorClaims() {
  HostInventory inv;
  inv.trust_claims_ = true;
  return inv;
}

bool HostInventory::IsSafeHostName(std::string_view name) {
  if (name.empty() || name.size() > kMaxHostName || !Alnum(name.front())) return false;
  if (name.find("..") != std::string_view::npos) return false;
  for (char c : name) {
    if (!Alnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

std::string HostInventory::CheckUri(std::string_view uri, bool pattern) {
  if (uri.empty()) return "must not be empty";
  if (!pattern && uri.find_first_of("{}") != std::string_view::npos) {
    return "must not contain '{' or '}'";
  }
  std::string rest(uri);
  const std::size_t placeholders = StripPlaceholders(rest);
  if (pattern && placeholders == 0) {
    return "a pattern must contain {host} (otherwise every host gets the same URI)";
  }
  if (rest.size() > kMaxUri) {
    return "longer than " + std::to_string(kMaxUri) + " bytes";
  }
  for (char c : rest) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '{' || c == '}') {
      return pattern ? "only {host} may appear in braces" : "must not contain '{' or '}'";
    }
    if (u <= 0x20 || u >= 0x7f) return "must be printable ASCII without spaces";
  }
  // A scheme first: "qemu+tls://...", "qemu:///system", "test:///default".
  const auto colon = rest.find(':');
  if (colon == std::string::npos || colon == 0) {
    return "must start with a scheme (e.g. qemu+tls://HOST/system)";
  }
  for (std::size_t i = 0; i < colon; ++i) {
    const char c = rest[i];
    if (!Alnum(c) && c != '+' && c != '-' && c != '.') {
      return "must start with a scheme (e.g. qemu+tls://HOST/system)";
    }
  }
  return "";
}

std::string HostInventory::CheckAddress(std::string_view address, bool pattern) {
  std::string rest(address);
  StripPlaceholders(rest);
  if (!pattern && rest.size() != address.size()) return "must not contain '{' or '}'";
  if (rest.size() > kMaxAddress) return "longer than " + std::to_string(kMaxAddress) + " bytes";
  for (char c : rest) {
    // A host name, an IPv4 address or a bracketed IPv6 one (libvirt's tcp://ADDR).
    if (!Alnum(c) && c != '.' && c != '-' && c != '_' && c != ':' && c != '[' && c != ']') {
      if (c == '{' || c == '}') {
        return pattern ? "only {host} may appear in braces" : "must not contain '{' or '}'";
      }
      return "must be a host name or an IP address ([A-Za-z0-9._:-], IPv6 in [brackets])";
    }
  }
  return "";
}

std::optional<HostEndpoints> HostInventory::Resolve(std::string_view host) const {
  if (trust_claims_) return std::nullopt;
  if (auto it = hosts_.find(std::string(host)); it != hosts_.end()) return it->second;
  if (!pattern_ || !IsSafeHostName(host)) return std::nullopt;
  return HostEndpoints{Substitute(pattern_->libvirt_uri, host),
                       Substitute(pattern_->migration_address, host)};
}

std::vector<std::string> HostInventory::Validate() const {
  std::vector<std::string> errors;
  auto check = [&](const std::string& where, const HostEndpoints& e, bool pattern) {
    if (auto why = CheckUri(e.libvirt_uri, pattern); !why.empty()) {
      errors.push_back(where + ".libvirt_uri: " + why);
    }
    if (auto why = CheckAddress(e.migration_address, pattern); !why.empty()) {
      errors.push_back(where + ".migration_address: " + why);
    }
  };
  if (trust_claims_) return errors;
  if (hosts_.empty() && !pattern_) errors.push_back("no hosts and no pattern");
  for (const auto& [name, e] : hosts_) {
    if (!IsSafeHostName(name)) {
      errors.push_back("hosts." + BoundedForLog(name, 64) +
                       ": not a host name (1-253 characters of [A-Za-z0-9._-], starting with a "
                       "letter or digit, no '..')");
    }
    check("hosts." + BoundedForLog(name, 64), e, false);
  }
  if (pattern_) check("pattern", *pattern_, true);
  return errors;
}

std::string BoundedForLog(std::string_view s, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(s.size(), max_bytes) + 3);
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const auto u = static_cast<unsigned char>(c);
    const bool escape = u < 0x20 || u >= 0x7f || c == '\\' || c == '\'' || c == '"';
    if (out.size() + (escape ? 4 : 1) > max_bytes) {
      out += "...";
      break;
    }
    if (escape) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace ballast::controller
