#pragma once

// The three resources Ballast balances and a small vector over them.

#include <array>
#include <cstddef>
#include <string_view>

namespace ballast::core {

enum class Resource : int { kCpu = 0, kMemory = 1, kNetwork = 2 };
inline constexpr std::size_t kNumResources = 3;
inline constexpr std::array<Resource, kNumResources> kAllResources = {
    Resource::kCpu, Resource::kMemory, Resource::kNetwork};

// "cpu", "memory", "network": the names used in policies and explanations.
std::string_view ResourceName(Resource r);

// Absolute amounts: cpu in cores, memory in bytes, network in bits per second.
// (Or, where documented, fractions of a host's capacity.)
struct Resources {
  double cpu = 0;
  double memory = 0;
  double net = 0;

  double& operator[](Resource r) {
    return r == Resource::kCpu ? cpu : r == Resource::kMemory ? memory : net;
  }
  double operator[](Resource r) const {
    return r == Resource::kCpu ? cpu : r == Resource::kMemory ? memory : net;
  }
  friend bool operator==(const Resources&, const Resources&) = default;
};

inline std::string_view ResourceName(Resource r) {
  switch (r) {
    case Resource::kCpu:
      return "cpu";
    case Resource::kMemory:
      return "memory";
    case Resource::kNetwork:
      return "network";
  }
  return "?";
}

}  // namespace ballast::core
