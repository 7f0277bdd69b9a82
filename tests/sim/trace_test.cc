#include "sim/trace.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <string>

namespace ballast::sim {
namespace {

TEST(ParsePlanetLabCsv, ReadsVmsSortedByName) {
  auto t = ParsePlanetLabCsv("# comment line\nzeta,1,2,3\nalpha,100,0,50\n");
  ASSERT_TRUE(t.ok()) << t.status().message();
  ASSERT_EQ(t->vms.size(), 2u);
  EXPECT_EQ(t->vms[0].name, "alpha");
  EXPECT_EQ(t->vms[0].percent, (std::vector<float>{100, 0, 50}));
  EXPECT_EQ(t->vms[1].name, "zeta");
  EXPECT_EQ(t->step_seconds, 300);
}

TEST(ParsePlanetLabCsv, AcceptsCrLfAndBlankLines) {
  auto t = ParsePlanetLabCsv("#c\r\n\r\na,1,2\r\nb,3,4\r\n");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->vms[1].percent, (std::vector<float>{3, 4}));
}

TEST(ParsePlanetLabCsv, RejectsBadInputNamingTheLine) {
  auto bad_value = ParsePlanetLabCsv("#c\na,1,2\nb,1,x\n");
  ASSERT_FALSE(bad_value.ok());
  EXPECT_NE(bad_value.status().message().find("line 3"), std::string::npos);
  EXPECT_FALSE(ParsePlanetLabCsv("a,1,101\n").ok());         // above 100 %
  EXPECT_FALSE(ParsePlanetLabCsv("a,1,-1\n").ok());          // negative
  EXPECT_FALSE(ParsePlanetLabCsv("a,1,2\nb,1,2,3\n").ok());  // ragged
  EXPECT_FALSE(ParsePlanetLabCsv("a,1,2\na,3,4\n").ok());    // duplicate
  EXPECT_FALSE(ParsePlanetLabCsv("a,1\n").ok());             // one sample
  EXPECT_FALSE(ParsePlanetLabCsv("# only a comment\n").ok());
  EXPECT_FALSE(ParsePlanetLabCsv(",1,2\n").ok());
}

TEST(ReadPlanetLabTrace, ReadsGzip) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("ballast_sim_trace_" + std::to_string(::getpid()) + ".csv.gz"))
                               .string();
  const std::string text = "# made up\nvm-b,10,20,30\nvm-a,0,0,100\n";
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, text.data(), static_cast<unsigned>(text.size())),
            static_cast<int>(text.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
  auto t = ReadPlanetLabTrace(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(t.ok()) << t.status().message();
  ASSERT_EQ(t->vms.size(), 2u);
  EXPECT_EQ(t->vms[0].name, "vm-a");
  EXPECT_EQ(t->vms[1].percent[2], 30);
}

TEST(ReadPlanetLabTrace, MissingFileIsNotFound) {
  auto t = ReadPlanetLabTrace("/nonexistent/ballast/trace.csv.gz");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), Status::Code::kNotFound);
}

}  // namespace
}  // namespace ballast::sim
