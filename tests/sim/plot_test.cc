#include "sim/plot.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/common/temp_path.h"

namespace ballast::sim {
namespace {

int CountInk(const Canvas& c, std::uint32_t ink) {
  int n = 0;
  for (int y = 0; y < c.height(); ++y) {
    for (int x = 0; x < c.width(); ++x) n += c.Get(x, y) == ink ? 1 : 0;
  }
  return n;
}

TEST(CanvasText, LettersAreDrawnAndLowerCaseLooksLikeUpperCase) {
  Canvas upper(40, 20);
  Canvas lower(40, 20);
  Canvas blank(40, 20);
  upper.Text(1, 1, "AZ", 0x000000);
  lower.Text(1, 1, "az", 0x000000);
  blank.Text(1, 1, "  ", 0x000000);
  EXPECT_GT(CountInk(upper, 0x000000), 0);
  EXPECT_EQ(CountInk(blank, 0x000000), 0);
  for (int y = 0; y < 20; ++y) {
    for (int x = 0; x < 40; ++x) ASSERT_EQ(upper.Get(x, y), lower.Get(x, y)) << x << "," << y;
  }
  Canvas a(20, 20);
  Canvas b(20, 20);
  a.Text(1, 1, "H", 0x000000);
  b.Text(1, 1, "N", 0x000000);
  bool differ = false;
  for (int y = 0; y < 20; ++y) {
    for (int x = 0; x < 20; ++x) differ |= a.Get(x, y) != b.Get(x, y);
  }
  EXPECT_TRUE(differ) << "two letters share a glyph";
}

std::uint32_t Be32(const std::string& s, std::size_t at) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(s[at])) << 24 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 1])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 2])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 3]));
}

TEST(CanvasPng, DecodesBackToThePixels) {
  Canvas c(7, 3, 0xffffff);
  c.Set(2, 1, 0x123456);
  const std::string png = c.EncodePng();
  ASSERT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  ASSERT_EQ(png.substr(12, 4), "IHDR");
  EXPECT_EQ(Be32(png, 16), 7u);
  EXPECT_EQ(Be32(png, 20), 3u);
  const std::size_t idat = png.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  const std::uint32_t len = Be32(png, idat - 4);
  std::string raw(3 * (1 + 7 * 3), '\0');
  uLongf raw_len = raw.size();
  ASSERT_EQ(uncompress(reinterpret_cast<Bytef*>(raw.data()), &raw_len,
                       reinterpret_cast<const Bytef*>(png.data() + idat + 4), len),
            Z_OK);
  ASSERT_EQ(raw_len, raw.size());
  const std::size_t at = 1 * (1 + 7 * 3) + 1 + 2 * 3;  // row 1 (after its filter byte), x 2
  EXPECT_EQ(static_cast<unsigned char>(raw[at]), 0x12);
  EXPECT_EQ(static_cast<unsigned char>(raw[at + 1]), 0x34);
  EXPECT_EQ(static_cast<unsigned char>(raw[at + 2]), 0x56);
  EXPECT_EQ(png.substr(png.size() - 8, 4), "IEND");
}

TEST(WritePlots, WritesTheThreePngs) {
  SimResult r;
  r.label = "tiny";
  r.policy = "none";
  r.duration_hours = 1;
  r.times = {0, 1800, 3600};
  r.active_hosts = {2, 1, 1};
  r.migrations_started = {0, 3, 0};
  r.host_utilization = {{0.2f, 0.9f}, {1.2f, -1.0f}, {0.5f, -1.0f}};
  const std::string dir = testing::TempPath("plot");
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(WritePlots(r, dir, "").ok());
  for (const char* name : {"heatmap.png", "migrations.png", "active_hosts.png"}) {
    std::ifstream in(dir + "/" + name, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.substr(0, 4), "\x89PNG") << name;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ballast::sim
