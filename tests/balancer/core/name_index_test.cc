#include "balancer/core/name_index.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace ballast::core {
namespace {

TEST(NameIndexTest, FindsWhatWasInsertedAndNothingElse) {
  NameIndex index;
  EXPECT_EQ(index.Find("a"), -1);  // never reset: empty, not a crash
  const std::vector<std::string> names = {"node-1", "node-2", "", "node-10"};
  index.Reset(names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    EXPECT_TRUE(index.Insert(names[i], static_cast<int>(i)));
  }
  for (std::size_t i = 0; i < names.size(); ++i) EXPECT_EQ(index.Find(names[i]), i);
  EXPECT_EQ(index.Find("node-3"), -1);
  EXPECT_EQ(index.Find("node-1 "), -1);
  EXPECT_EQ(index.size(), names.size());
}

TEST(NameIndexTest, ADuplicateKeepsTheFirstValue) {
  NameIndex index;
  index.Reset(2);
  const std::string a = "web";
  const std::string b = "web";  // equal text, other storage
  EXPECT_TRUE(index.Insert(a, 0));
  EXPECT_FALSE(index.Insert(b, 1));
  EXPECT_EQ(index.Find("web"), 0);
}

TEST(NameIndexTest, ResetForgetsAndTheTableIsReused) {
  std::vector<std::string> names;
  for (int i = 0; i < 5000; ++i) names.push_back("host-" + std::to_string(i));
  NameIndex index;
  index.Reset(names.size());
  for (std::size_t i = 0; i < names.size(); ++i) index.Insert(names[i], static_cast<int>(i));
  for (std::size_t i = 0; i < names.size(); ++i) ASSERT_EQ(index.Find(names[i]), i);
  // The next plan: other names, same size, so the same table.
  std::vector<std::string> next;
  for (int i = 0; i < 5000; ++i) next.push_back("other-" + std::to_string(i));
  index.Reset(next.size());
  EXPECT_EQ(index.Find("host-7"), -1);
  for (std::size_t i = 0; i < next.size(); ++i) index.Insert(next[i], static_cast<int>(i) + 1);
  for (std::size_t i = 0; i < next.size(); ++i) ASSERT_EQ(index.Find(next[i]), i + 1);
  EXPECT_EQ(index.Find("host-7"), -1);
}

TEST(NameIndexTest, RefusesMoreNamesThanItWasSizedFor) {
  NameIndex index;
  index.Reset(1);  // a table of 16 slots, at most half full
  std::vector<std::string> names;
  for (int i = 0; i < 20; ++i) names.push_back(std::to_string(i));
  int inserted = 0;
  for (const std::string& n : names) inserted += index.Insert(n, inserted) ? 1 : 0;
  EXPECT_EQ(inserted, 8);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(index.Find(names[static_cast<std::size_t>(i)]), i);
}

std::string RandomUuid(std::mt19937_64& rng) {
  char buf[37];
  const auto a = rng(), b = rng();
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-8%03x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>(a >> 16) & 0xffffu, static_cast<unsigned>(a) & 0xfffu,
                static_cast<unsigned>(b >> 48) & 0xfffu,
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

// The view asks the filter before the index for every VM: a "no" for a name it was given
// would leave a migration's VM unfound, so there must be none; a "maybe" for others only
// costs a lookup, and should be rare at the view's size (thousands of names).
TEST(NameFilterTest, NeverSaysNoToANameItWasGivenAndRarelyMaybeToOthers) {
  std::mt19937_64 rng(7);
  NameFilter filter;
  std::vector<std::string> given;
  for (int i = 0; i < 6000; ++i) given.push_back(RandomUuid(rng));
  for (const char* n : {"", "a", "vm-1", "node-10", "uuid-12345678"}) given.emplace_back(n);
  for (const std::string& n : given) filter.Add(n);
  for (const std::string& n : given) EXPECT_TRUE(filter.MightContain(n)) << n;
  int maybe = 0;
  const int others = 100000;
  for (int i = 0; i < others; ++i) maybe += filter.MightContain(RandomUuid(rng)) ? 1 : 0;
  EXPECT_LT(maybe, others / 10);  // about 4.5 % expected for 6,000 names in 131,072 bits
  filter.Clear();
  int still = 0;
  for (const std::string& n : given) still += filter.MightContain(n) ? 1 : 0;
  EXPECT_EQ(still, 0);
}

}  // namespace
}  // namespace ballast::core
