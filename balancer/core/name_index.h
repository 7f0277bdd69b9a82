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

}  // namespace ballast::core
