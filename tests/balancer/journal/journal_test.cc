#include "balancer/journal/journal.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace ballast {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// 2024-03-05T06:07:08.123Z.
const std::chrono::system_clock::time_point kT0 =
    std::chrono::sys_days{std::chrono::year{2024} / std::chrono::March / 5} +
    std::chrono::hours(6) + std::chrono::minutes(7) + seconds(8) + milliseconds(123);

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "ballast-journal-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "journal.jsonl").string();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  JournalOptions Options() const {
    JournalOptions o;
    o.path = path_;
    o.fsync = false;  // tmpfs or not, durability is not what these tests check
    return o;
  }

  std::unique_ptr<Journal> MustOpen(JournalOptions o) {
    auto j = Journal::Open(std::move(o));
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    return j.ok() ? std::move(j).value() : nullptr;
  }

  static std::vector<std::uint64_t> Seqs(const std::vector<json>& records) {
    std::vector<std::uint64_t> out;
    for (const json& r : records) out.push_back(r.at("seq").get<std::uint64_t>());
    return out;
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(JournalTest, AppendThenReadAllRoundTrips) {
  auto j = MustOpen(Options());
  ASSERT_NE(j, nullptr);
  ASSERT_TRUE(j->Append({{"event", "planned"}, {"vm", "web-1"}, {"to", "b"}}, kT0).ok());
  ASSERT_TRUE(j->Append({{"event", "started"}, {"vm", "web-1"}}, kT0 + seconds(1)).ok());

  std::uint64_t skipped = 99;
  std::vector<json> r = Journal::ReadAll(path_, &skipped);
  EXPECT_EQ(skipped, 0u);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["event"], "planned");
  EXPECT_EQ(r[0]["vm"], "web-1");
  EXPECT_EQ(r[0]["to"], "b");
  EXPECT_EQ(r[0]["ts"], "2024-03-05T06:07:08.123Z");
  EXPECT_EQ(r[0]["seq"], 1u);
  EXPECT_EQ(r[1]["event"], "started");
  EXPECT_EQ(r[1]["ts"], "2024-03-05T06:07:09.123Z");
  EXPECT_EQ(r[1]["seq"], 2u);
}

TEST_F(JournalTest, OneRecordPerLine) {
  auto j = MustOpen(Options());
  ASSERT_NE(j, nullptr);
  // A newline inside a value must not split the record.
  ASSERT_TRUE(j->Append({{"reason", "line one\nline two"}}, kT0).ok());
  ASSERT_TRUE(j->Append({{"reason", "x"}}, kT0).ok());
  std::ifstream in(path_);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) ++lines;
  EXPECT_EQ(lines, 2);
  auto r = Journal::ReadAll(path_);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["reason"], "line one\nline two");
}

TEST_F(JournalTest, TimestampAndSequenceAreTheJournals) {
  auto j = MustOpen(Options());
  ASSERT_NE(j, nullptr);
  // A caller's own ts/seq are overwritten: the journal owns both.
  ASSERT_TRUE(j->Append({{"ts", "yesterday"}, {"seq", 77}}, kT0).ok());
  auto r = Journal::ReadAll(path_);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["ts"], "2024-03-05T06:07:08.123Z");
  EXPECT_EQ(r[0]["seq"], 1u);
}

TEST_F(JournalTest, SequenceContinuesAfterReopen) {
  {
    auto j = MustOpen(Options());
    ASSERT_NE(j, nullptr);
    ASSERT_TRUE(j->Append({{"event", "start"}}, kT0).ok());
    ASSERT_TRUE(j->Append({{"event", "stop"}}, kT0).ok());
  }
  auto j = MustOpen(Options());
  ASSERT_NE(j, nullptr);
  ASSERT_TRUE(j->Append({{"event", "start"}}, kT0 + seconds(5)).ok());
  EXPECT_EQ(Seqs(Journal::ReadAll(path_)), (std::vector<std::uint64_t>{1, 2, 3}));
}

TEST_F(JournalTest, MissingParentDirectoryIsCreated) {
  JournalOptions o = Options();
  o.path = (dir_ / "var" / "lib" / "ballast" / "journal.jsonl").string();
  auto j = MustOpen(o);
  ASSERT_NE(j, nullptr);
  ASSERT_TRUE(j->Append({{"event", "start"}}, kT0).ok());
  EXPECT_EQ(Journal::ReadAll(o.path).size(), 1u);
}

TEST_F(JournalTest, RotationKeepsKeepFilesAndReadAllIsOldestFirst) {
  JournalOptions o = Options();
  o.max_bytes = 200;  // two or three records per file
  o.keep = 2;
  auto j = MustOpen(o);
  ASSERT_NE(j, nullptr);
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(j->Append({{"event", "planned"}, {"i", i}}, kT0 + seconds(i)).ok()) << i;
  }
  EXPECT_TRUE(fs::exists(path_));
  EXPECT_TRUE(fs::exists(path_ + ".1"));
  EXPECT_TRUE(fs::exists(path_ + ".2"));
  EXPECT_FALSE(fs::exists(path_ + ".3"));
  for (const std::string& f : {path_, path_ + ".1", path_ + ".2"}) {
    EXPECT_LE(fs::file_size(f), o.max_bytes) << f;
    EXPECT_GT(fs::file_size(f), 0u) << f;
  }

  std::uint64_t skipped = 99;
  std::vector<json> r = Journal::ReadAll(path_, &skipped);
  EXPECT_EQ(skipped, 0u);
  ASSERT_GE(r.size(), 3u);
  ASSERT_LT(r.size(), 20u);  // the oldest were rotated away
  // Oldest first across FILE.2, FILE.1, FILE, with no gap and ending at the last append.
  std::vector<std::uint64_t> seqs = Seqs(r);
  EXPECT_EQ(seqs.back(), 20u);
  for (std::size_t k = 1; k < seqs.size(); ++k) EXPECT_EQ(seqs[k], seqs[k - 1] + 1) << k;
  for (const json& rec : r) EXPECT_EQ(rec["i"], rec["seq"]);

  // Reopening continues the sequence from the newest record.
  j.reset();
  j = MustOpen(o);
  ASSERT_NE(j, nullptr);
  ASSERT_TRUE(j->Append({{"event", "start"}}, kT0).ok());
  EXPECT_EQ(Journal::ReadAll(path_).back()["seq"], 21u);
}

TEST_F(JournalTest, LineReadersStreamBothWaysAcrossRotatedFilesAndStopWhenAsked) {
  JournalOptions o = Options();
  o.max_bytes = 200;
  o.keep = 3;
  auto j = MustOpen(o);
  ASSERT_NE(j, nullptr);
  for (int i = 1; i <= 12; ++i) {
    ASSERT_TRUE(j->Append({{"event", "planned"}, {"i", i}}, kT0 + seconds(i)).ok()) << i;
  }
  ASSERT_TRUE(fs::exists(path_ + ".2"));
  const std::vector<std::uint64_t> all = Seqs(Journal::ReadAll(path_));
  ASSERT_GE(all.size(), 4u);

  auto seq_of = [](std::string_view line) {
    auto r = Journal::ParseLine(line);
    EXPECT_TRUE(r.has_value()) << line;
    return r ? r->at("seq").get<std::uint64_t>() : 0;
  };
  std::vector<std::uint64_t> forward;
  Journal::ForEachLine(path_, [&](std::string_view line) {
    forward.push_back(seq_of(line));
    return true;
  });
  EXPECT_EQ(forward, all);
  std::vector<std::uint64_t> backward;
  Journal::ForEachLineNewestFirst(path_, [&](std::string_view line) {
    backward.push_back(seq_of(line));
    return true;
  });
  EXPECT_EQ(backward, std::vector<std::uint64_t>(all.rbegin(), all.rend()));

  // Stopping: the newest three only, and the reader goes no further.
  std::vector<std::uint64_t> newest;
  Journal::ForEachLineNewestFirst(path_, [&](std::string_view line) {
    newest.push_back(seq_of(line));
    return newest.size() < 3;
  });
  EXPECT_EQ(newest, (std::vector<std::uint64_t>{12, 11, 10}));
  int seen = 0;
  Journal::ForEachLine(path_, [&](std::string_view) { return ++seen < 2; });
  EXPECT_EQ(seen, 2);
}

TEST_F(JournalTest, NewestFirstSkipsEmptyLinesAndKeepsATornLastLineApart) {
  std::ofstream(path_) << "{\"seq\":1}\n\n{\"seq\":2}\n{\"seq\":3,\"ev";
  std::vector<std::string> lines;
  Journal::ForEachLineNewestFirst(path_, [&](std::string_view line) {
    lines.emplace_back(line);
    return true;
  });
  EXPECT_EQ(lines, (std::vector<std::string>{"{\"seq\":3,\"ev", "{\"seq\":2}", "{\"seq\":1}"}));
  EXPECT_FALSE(Journal::ParseLine(lines[0]).has_value());
  EXPECT_FALSE(Journal::ParseLine("[1,2]").has_value());  // a record is an object
  EXPECT_TRUE(Journal::ParseLine(lines[1]).has_value());
}

TEST_F(JournalTest, NewestFirstReadsLinesAcrossBlockBoundaries) {
  // Lines of every length around the 1 MiB block, one longer than a block.
  std::vector<std::string> lines;
  {
    std::ofstream out(path_);
    for (int i = 0; i < 3000; ++i) {
      std::string line = "{\"i\":" + std::to_string(i) + ",\"pad\":\"" +
                         std::string(static_cast<std::size_t>(i * 7919 % 1500), 'x') + "\"}";
      if (i == 1234) line = "{\"i\":1234,\"pad\":\"" + std::string(3 << 20, 'y') + "\"}";
      out << line << "\n";
      lines.push_back(line);
    }
  }
  std::vector<std::string> seen;
  Journal::ForEachLineNewestFirst(path_, [&](std::string_view line) {
    seen.emplace_back(line);
    return true;
  });
  ASSERT_EQ(seen.size(), lines.size());
  for (std::size_t k = 0; k < lines.size(); ++k) {
    ASSERT_EQ(seen[k], lines[lines.size() - 1 - k]) << k;
  }
}

TEST_F(JournalTest, RecordLargerThanMaxBytesStillLands) {
  JournalOptions o = Options();
  o.max_bytes = 10;
  o.keep = 1;
  auto j = MustOpen(o);
  ASSERT_NE(j, nullptr);
  ASSERT_TRUE(j->Append({{"event", "a"}}, kT0).ok());
  ASSERT_TRUE(j->Append({{"event", "b"}}, kT0).ok());
  auto r = Journal::ReadAll(path_);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["event"], "a");
  EXPECT_EQ(r[1]["event"], "b");
  EXPECT_FALSE(fs::exists(path_ + ".2"));
}

// Simulates a crash in the middle of a write: the last line is cut short.
void WriteTornLine(const std::string& path) {
  std::ofstream out(path, std::ios::app | std::ios::binary);
  out << R"({"event":"finished","vm":"web-1","resu)";
}

TEST_F(JournalTest, TornLastLineIsSkippedAndCounted) {
  {
    auto j = MustOpen(Options());
    ASSERT_NE(j, nullptr);
    ASSERT_TRUE(j->Append({{"event", "planned"}}, kT0).ok());
    ASSERT_TRUE(j->Append({{"event", "started"}}, kT0).ok());
  }
  WriteTornLine(path_);

  std::uint64_t skipped = 0;
  std::vector<json> r = Journal::ReadAll(path_, &skipped);
  EXPECT_EQ(skipped, 1u);
  EXPECT_EQ(Seqs(r), (std::vector<std::uint64_t>{1, 2}));

  // The daemon restarts after the crash: the journal opens and continues the sequence
  // from the last complete record.
  auto j = MustOpen(Options());
  ASSERT_NE(j, nullptr);
  EXPECT_TRUE(j->Append({{"event", "start"}}, kT0).ok());
}

TEST_F(JournalTest, TornLineInTheMiddleIsSkippedAndLaterRecordsRead) {
  // A torn line that is followed by a newline (e.g. an operator repaired the file by
  // hand, or the journal terminated it) costs only itself.
  {
    auto j = MustOpen(Options());
    ASSERT_NE(j, nullptr);
    ASSERT_TRUE(j->Append({{"event", "planned"}}, kT0).ok());
  }
  WriteTornLine(path_);
  {
    std::ofstream out(path_, std::ios::app);
    out << "\n";
  }
  auto j = MustOpen(Options());
  ASSERT_NE(j, nullptr);
  ASSERT_TRUE(j->Append({{"event", "start"}}, kT0).ok());
  std::uint64_t skipped = 0;
  std::vector<json> r = Journal::ReadAll(path_, &skipped);
  EXPECT_EQ(skipped, 1u);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1]["event"], "start");
  EXPECT_EQ(r[1]["seq"], 2u);
}

// KNOWN BUG (balancer/journal/journal.cc, not fixed here): OpenFile() appends after a torn
// last line without first terminating it, so the first record written after the crash is
// glued onto the fragment, fails to parse and is lost from ReadAll. Enable once OpenFile
// writes a '\n' when the file is non-empty and does not end in one.
TEST_F(JournalTest, AppendAfterTornLastLineIsReadable) {
  {
    auto j = MustOpen(Options());
    ASSERT_NE(j, nullptr);
    ASSERT_TRUE(j->Append({{"event", "planned"}}, kT0).ok());
    ASSERT_TRUE(j->Append({{"event", "started"}}, kT0).ok());
  }
  WriteTornLine(path_);
  auto j = MustOpen(Options());
  ASSERT_NE(j, nullptr);
  ASSERT_TRUE(j->Append({{"event", "start"}}, kT0).ok());
  ASSERT_TRUE(j->Append({{"event", "planned"}}, kT0).ok());

  std::uint64_t skipped = 0;
  std::vector<json> r = Journal::ReadAll(path_, &skipped);
  EXPECT_EQ(skipped, 1u);
  EXPECT_EQ(Seqs(r), (std::vector<std::uint64_t>{1, 2, 3, 4}));
}

TEST_F(JournalTest, ReadAllOfAMissingJournalIsEmpty) {
  std::uint64_t skipped = 99;
  EXPECT_TRUE(Journal::ReadAll(path_, &skipped).empty());
  EXPECT_EQ(skipped, 0u);
}

TEST_F(JournalTest, OpenOnUnwritablePathNamesThePath) {
  // A regular file where a directory should be: fails even for root, unlike chmod.
  const fs::path blocker = dir_ / "not-a-dir";
  { std::ofstream(blocker) << "x"; }
  JournalOptions o = Options();
  o.path = (blocker / "journal.jsonl").string();
  auto j = Journal::Open(o);
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.status().message().find(o.path), std::string::npos) << j.status().ToString();
  EXPECT_EQ(j.status().code(), Status::Code::kUnavailable);
}

TEST_F(JournalTest, OpenWithEmptyPathIsInvalidArgument) {
  JournalOptions o = Options();
  o.path = "";
  auto j = Journal::Open(o);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), Status::Code::kInvalidArgument);
}

// A write that stops half-way (a full disk; here a file size limit, which makes write(2)
// return a short count and then EFBIG) must leave no torn line behind: the append fails, the
// file is cut back at once, and the next record is whole and readable (issue 13 c).
TEST_F(JournalTest, FailedAppendLeavesNoTornLine) {
  auto j = MustOpen(Options());
  ASSERT_TRUE(j->Append({{"event", "first"}}, kT0).ok());
  const auto size = fs::file_size(path_);
  struct rlimit old {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit tight = old;
  tight.rlim_cur = size + 10;  // room for 10 bytes of the next line only
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &tight), 0);
  Status st = j->Append({{"event", "second"}, {"pad", std::string(200, 'x')}}, kT0);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(fs::file_size(path_), size) << "the torn fragment stayed in the file";
  ASSERT_TRUE(j->Append({{"event", "third"}}, kT0).ok());
  std::uint64_t skipped = 99;
  auto records = Journal::ReadAll(path_, &skipped);
  EXPECT_EQ(skipped, 0u);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1]["event"], "third");
  EXPECT_EQ(Seqs(records), (std::vector<std::uint64_t>{1, 2}));
}

TEST(Rfc3339Test, FormatsUtcWithMilliseconds) {
  EXPECT_EQ(Rfc3339(kT0), "2024-03-05T06:07:08.123Z");
  EXPECT_EQ(Rfc3339(std::chrono::system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
  // Sub-millisecond parts are truncated, not rounded.
  EXPECT_EQ(Rfc3339(kT0 + std::chrono::microseconds(999)), "2024-03-05T06:07:08.123Z");
  // 2000-02-29 is a leap day; 23:59:59.999 is the last millisecond of it.
  EXPECT_EQ(Rfc3339(std::chrono::sys_days{std::chrono::year{2000} / 2 / 29} +
                    std::chrono::hours(24) - milliseconds(1)),
            "2000-02-29T23:59:59.999Z");
}

}  // namespace
}  // namespace ballast
