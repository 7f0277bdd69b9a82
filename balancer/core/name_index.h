#pragma once

// Internal to the core: host name -> host position, for the plan's view. The view looks up
// every VM's host (2,000,000 lookups a round at 100,000 hosts); a std::unordered_map costs a
// bucket, a node and the key per lookup, cache misses all three at that size. This is one
// flat open-addressing table of (hash, key, value): a lookup reads one or two adjacent slots
// and then the key once, to confirm a hash match.
//
// Keys are views: the names must outlive the index (the snapshot's hosts do). Clear() keeps
// the table's storage for the next plan.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string_view>
#include <vector>

namespace ballast::core {

class NameIndex {
 public:
  // Empties the index and sizes it for `n` names (at most half full).
  void Reset(std::size_t n) {
    std::size_t size = 16;
    while (size < 2 * n) size *= 2;
    if (slots_.size() == size) {
      for (Slot& s : slots_) s.value = -1;
    } else {
      slots_.assign(size, Slot{});
    }
    mask_ = size - 1;
    count_ = 0;
  }

  // Adds `name` -> `value` (value >= 0); a name present already keeps its first value.
  // More names than Reset was given are refused (returns false), as are duplicates.
  bool Insert(std::string_view name, int value) {
    if (slots_.empty() || 2 * (count_ + 1) > slots_.size()) return false;
    const std::uint64_t hash = Hash(name);
    for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.value < 0) {
        s = Slot{hash, name.data(), name.size(), value};
        ++count_;
        return true;
      }
      if (s.hash == hash && Key(s) == name) return false;
    }
  }

  // The value of `name`, or -1.
  int Find(std::string_view name) const {
    if (slots_.empty()) return -1;
    const std::uint64_t hash = Hash(name);
    for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.value < 0) return -1;
      if (s.hash == hash && Key(s) == name) return s.value;
    }
  }

  std::size_t size() const { return count_; }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    const char* data = nullptr;
    std::size_t size = 0;
    int value = -1;  // -1: empty
  };
  static std::uint64_t Hash(std::string_view name) { return std::hash<std::string_view>{}(name); }
  static std::string_view Key(const Slot& s) { return {s.data, s.size}; }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t count_ = 0;
};

// Internal to the core: "might this name be among a few?", answered from a bitmap that
// stays in the first-level cache, so that asking it for every VM of the snapshot costs no
// cache miss when nearly every answer is no. The view asks it of every VM's UUID before it
// looks the UUID up among the few that migrations name (NameIndex, whose slots a miss reads
// from memory). False positives only cost that lookup; there are no false negatives.
class NameFilter {
 public:
  void Clear() { bits_.assign(kWords, 0); }
  void Add(std::string_view name) {
    const std::uint64_t h = Hash(name);
    bits_[(h >> 6) & (kWords - 1)] |= std::uint64_t{1} << (h & 63);
  }
  bool MightContain(std::string_view name) const {
    const std::uint64_t h = Hash(name);
    return (bits_[(h >> 6) & (kWords - 1)] >> (h & 63) & 1) != 0;
  }

 private:
  static constexpr std::size_t kWords = 2048;  // 131,072 bits, 16 KiB
  // Cheap: the length and the first and last 8 bytes (a UUID's last 8 are random), mixed by
  // one multiply; shorter names are hashed whole.
  static std::uint64_t Hash(std::string_view name) {
    std::uint64_t a = name.size();
    std::uint64_t b = 0;
    if (name.size() >= 8) {
      std::memcpy(&a, name.data(), 8);
      std::memcpy(&b, name.data() + name.size() - 8, 8);
      a ^= name.size();
    } else if (!name.empty()) {
      std::memcpy(&b, name.data(), name.size());
    }
    const std::uint64_t x = (a * 0x9E3779B97F4A7C15ULL) ^ b;
    return (x * 0xC2B2AE3D27D4EB4FULL) >> 45;  // 19 bits: word and bit
  }

  std::vector<std::uint64_t> bits_ = std::vector<std::uint64_t>(kWords, 0);
};

}  // namespace ballast::core
