#include "common/curve_keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace ballast {
namespace {

namespace fs = std::filesystem;

class CurveKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ballast-keys-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(CurveKeysTest, WrittenPairLoadsBackWithSafeModes) {
  CurveKeyPair pair = *GenerateCurveKeyPair();
  ASSERT_TRUE(WriteCurveKeyPair(dir_, "node1", pair).ok());
  EXPECT_EQ(fs::status(dir_ / "node1.key").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  auto loaded = LoadCurveKeyPair(dir_ / "node1.key");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->public_z85, pair.public_z85);
  EXPECT_EQ(loaded->secret_z85, pair.secret_z85);
  auto pub = LoadCurvePublicKey(dir_ / "node1.pub");
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(*pub, pair.public_z85);
  // The public file carries no secret.
  std::ifstream in(dir_ / "node1.pub");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text.find(pair.secret_z85), std::string::npos);
}

TEST_F(CurveKeysTest, RefusesToOverwriteUnlessForced) {
  CurveKeyPair pair = *GenerateCurveKeyPair();
  ASSERT_TRUE(WriteCurveKeyPair(dir_, "b", pair).ok());
  Status st = WriteCurveKeyPair(dir_, "b", *GenerateCurveKeyPair());
  EXPECT_EQ(st.code(), Status::Code::kFailedPrecondition);
  EXPECT_TRUE(WriteCurveKeyPair(dir_, "b", *GenerateCurveKeyPair(), true).ok());
}

TEST_F(CurveKeysTest, WorldReadableSecretIsRefused) {
  ASSERT_TRUE(WriteCurveKeyPair(dir_, "n", *GenerateCurveKeyPair()).ok());
  ::chmod((dir_ / "n.key").c_str(), 0644);
  auto loaded = LoadCurveKeyPair(dir_ / "n.key");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), Status::Code::kPermissionDenied);
  EXPECT_NE(loaded.status().message().find("chmod 600"), std::string::npos);
}

TEST_F(CurveKeysTest, AllowlistReadsPubFilesAndNamesABrokenOne) {
  ASSERT_TRUE(WriteCurveKeyPair(dir_, "a", *GenerateCurveKeyPair()).ok());
  ASSERT_TRUE(WriteCurveKeyPair(dir_, "b", *GenerateCurveKeyPair()).ok());
  auto keys = LoadAllowlist(dir_);
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].name, "a");
  std::ofstream(dir_ / "broken.pub") << "public-key = \"short\"\n";
  auto bad = LoadAllowlist(dir_);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("broken.pub"), std::string::npos);
}

TEST_F(CurveKeysTest, BadNamesAreRefused) {
  EXPECT_FALSE(WriteCurveKeyPair(dir_, "../x", *GenerateCurveKeyPair()).ok());
  EXPECT_FALSE(WriteCurveKeyPair(dir_, "", *GenerateCurveKeyPair()).ok());
}

}  // namespace
}  // namespace ballast
