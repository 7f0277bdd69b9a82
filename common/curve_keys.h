#pragma once

// ZeroMQ CURVE key pairs on disk.
//
// A key pair is two files written by `ballast-keygen`:
//   NAME.key  (mode 0600)  public-key = "<Z85>" and secret-key = "<Z85>"
//   NAME.pub  (mode 0644)  public-key = "<Z85>"
// The balancer's allowlist is a directory of NAME.pub files; NAME is the identity the
// balancer gives that key (for collectors: the host name it may publish for).

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ballast {

struct CurveKeyPair {
  std::string public_z85;  // 40 characters
  std::string secret_z85;  // 40 characters; never logged
};

struct AllowedKey {
  std::string name;  // file stem
  std::string public_z85;
};

bool IsValidZ85Key(std::string_view key);
Result<CurveKeyPair> GenerateCurveKeyPair();

// Writes DIR/NAME.key and DIR/NAME.pub. Refuses to overwrite unless `overwrite`.
Status WriteCurveKeyPair(const std::filesystem::path& dir, std::string_view name,
                         const CurveKeyPair& pair, bool overwrite = false);

// Reads a NAME.key file. Refuses one that group or others can read.
Result<CurveKeyPair> LoadCurveKeyPair(const std::filesystem::path& key_file);
// Reads the public key from a NAME.pub (or NAME.key) file.
Result<std::string> LoadCurvePublicKey(const std::filesystem::path& file);
// Reads every *.pub file in `dir`. A malformed file is an error naming it.
Result<std::vector<AllowedKey>> LoadAllowlist(const std::filesystem::path& dir);

}  // namespace ballast
