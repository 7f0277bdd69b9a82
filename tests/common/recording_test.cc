#include "common/recording.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "tests/common/temp_path.h"

namespace ballast {
namespace {

using testing::TempPath;

TEST(Recording, RoundTrip) {
  const std::string path = TempPath("rt");
  {
    auto rec = SampleRecorder::Open(path);
    ASSERT_TRUE(rec.ok()) << rec.status().message();
    ASSERT_TRUE((*rec)->Append("hello", 1).ok());
    ASSERT_TRUE((*rec)->Append("", 2).ok());
    ASSERT_TRUE((*rec)->Append(std::string(70000, 'x'), -3).ok());
    ASSERT_TRUE((*rec)->Flush().ok());
    EXPECT_EQ((*rec)->records(), 3u);
  }
  auto reader = RecordingReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  auto a = (*reader)->Next();
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->encoded, "hello");
  EXPECT_EQ((*a)->arrival_unix_ns, 1);
  auto b = (*reader)->Next();
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_EQ((*b)->encoded, "");
  auto c = (*reader)->Next();
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->encoded.size(), 70000u);
  EXPECT_EQ((*c)->arrival_unix_ns, -3);
  auto end = (*reader)->Next();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->has_value());
  EXPECT_FALSE((*reader)->torn_tail());
  std::filesystem::remove(path);
}

TEST(Recording, FileIsNotWorldReadable) {
  const std::string path = TempPath("mode");
  { std::ofstream(path) << "old"; }
  ::chmod(path.c_str(), 0666);  // a leftover from an earlier run, wide open
  auto rec = SampleRecorder::Open(path);
  ASSERT_TRUE(rec.ok()) << rec.status().message();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  std::filesystem::remove(path);
}

TEST(Recording, TornTailIsIgnoredAndReported) {
  const std::string path = TempPath("torn");
  {
    auto rec = SampleRecorder::Open(path);
    ASSERT_TRUE(rec.ok());
    ASSERT_TRUE((*rec)->Append("complete", 10).ok());
    ASSERT_TRUE((*rec)->Append("cut short", 20).ok());
  }
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 3);
  auto reader = RecordingReader::Open(path);
  ASSERT_TRUE(reader.ok());
  auto first = (*reader)->Next();
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->encoded, "complete");
  auto second = (*reader)->Next();
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->has_value());
  EXPECT_TRUE((*reader)->torn_tail());
  std::filesystem::remove(path);
}

TEST(Recording, RejectsOtherFilesAndCorruptLengths) {
  const std::string path = TempPath("bad");
  std::ofstream(path) << "not a recording at all";
  auto r = RecordingReader::Open(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << kRecordingMagic;
    const unsigned char head[12] = {1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f};
    out.write(reinterpret_cast<const char*>(head), sizeof(head));
  }
  auto reader = RecordingReader::Open(path);
  ASSERT_TRUE(reader.ok());
  EXPECT_FALSE((*reader)->Next().ok());
  EXPECT_EQ(RecordingReader::Open("/nonexistent/rec").status().code(), Status::Code::kNotFound);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace ballast
