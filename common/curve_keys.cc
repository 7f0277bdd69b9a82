#include "common/curve_keys.h"

#include <sys/stat.h>
#include <zmq.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

namespace ballast {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kZ85Alphabet =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

// Parses `key = "value"` lines; '#' starts a comment line.
Result<std::map<std::string, std::string>> ParseKeyFile(const fs::path& file) {
  std::ifstream in(file);
  if (!in) {
    return Status::NotFound("cannot read key file " + file.string() + ": " + std::strerror(errno));
  }
  std::map<std::string, std::string> out;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    auto eq = line.find('=');
    auto q1 = line.find('"', eq == std::string::npos ? 0 : eq);
    auto q2 = q1 == std::string::npos ? std::string::npos : line.find('"', q1 + 1);
    if (eq == std::string::npos || q2 == std::string::npos) {
      return Status::InvalidArgument(file.string() + ":" + std::to_string(lineno) +
                                     ": expected key = \"value\"");
    }
    std::string key = line.substr(first, eq - first);
    key.erase(key.find_last_not_of(" \t") + 1);
    out[key] = line.substr(q1 + 1, q2 - q1 - 1);
  }
  return out;
}

Status WriteFile(const fs::path& path, const std::string& text, mode_t mode) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out)
      return Status::Unavailable("cannot write " + tmp.string() + ": " + std::strerror(errno));
    ::chmod(tmp.c_str(), mode);
    out << text;
    out.flush();
    if (!out) return Status::Unavailable("cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Status::Unavailable("cannot rename to " + path.string() + ": " + ec.message());
  return Status::Ok();
}

}  // namespace

bool IsValidZ85Key(std::string_view key) {
  return key.size() == 40 && std::all_of(key.begin(), key.end(), [](char c) {
           return kZ85Alphabet.find(c) != std::string_view::npos;
         });
}

Result<CurveKeyPair> GenerateCurveKeyPair() {
  char pub[41];
  char sec[41];
  if (zmq_curve_keypair(pub, sec) != 0) {
    return Status::Internal(std::string("zmq_curve_keypair: ") + zmq_strerror(zmq_errno()));
  }
  return CurveKeyPair{pub, sec};
}

Status WriteCurveKeyPair(const fs::path& dir, std::string_view name, const CurveKeyPair& pair,
                         bool overwrite) {
  if (name.empty() || name.find('/') != std::string_view::npos || name[0] == '.') {
    return Status::InvalidArgument("key name '" + std::string(name) +
                                   "' must be a plain file name");
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::Unavailable("cannot create " + dir.string() + ": " + ec.message());
  const fs::path key = dir / (std::string(name) + ".key");
  const fs::path pub = dir / (std::string(name) + ".pub");
  if (!overwrite && (fs::exists(key) || fs::exists(pub))) {
    return Status::FailedPrecondition(key.string() + " or " + pub.string() +
                                      " exists; pass --force to replace it");
  }
  const std::string header = "# Ballast CURVE key \"" + std::string(name) + "\"\n";
  BALLAST_RETURN_IF_ERROR(WriteFile(key,
                                    header + "# SECRET: keep this file mode 0600.\n" +
                                        "public-key = \"" + pair.public_z85 + "\"\n" +
                                        "secret-key = \"" + pair.secret_z85 + "\"\n",
                                    0600));
  return WriteFile(pub, header + "public-key = \"" + pair.public_z85 + "\"\n", 0644);
}

Result<CurveKeyPair> LoadCurveKeyPair(const fs::path& key_file) {
  struct stat st {};
  if (::stat(key_file.c_str(), &st) != 0) {
    return Status::NotFound("cannot read key file " + key_file.string() + ": " +
                            std::strerror(errno));
  }
  if ((st.st_mode & 0077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status::PermissionDenied("secret key file " + key_file.string() +
                                    " is accessible by group or others (mode " + mode +
                                    "); run: chmod 600 " + key_file.string());
  }
  auto kv = ParseKeyFile(key_file);
  if (!kv.ok()) return kv.status();
  CurveKeyPair pair{(*kv)["public-key"], (*kv)["secret-key"]};
  if (!IsValidZ85Key(pair.public_z85) || !IsValidZ85Key(pair.secret_z85)) {
    return Status::InvalidArgument(key_file.string() +
                                   ": needs public-key and secret-key, 40 Z85 characters each");
  }
  return pair;
}

Result<std::string> LoadCurvePublicKey(const fs::path& file) {
  auto kv = ParseKeyFile(file);
  if (!kv.ok()) return kv.status();
  std::string key = (*kv)["public-key"];
  if (!IsValidZ85Key(key)) {
    return Status::InvalidArgument(file.string() + ": public-key must be 40 Z85 characters");
  }
  return key;
}

Result<std::vector<AllowedKey>> LoadAllowlist(const fs::path& dir) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec)
    return Status::NotFound("cannot read allowlist directory " + dir.string() + ": " +
                            ec.message());
  std::vector<AllowedKey> keys;
  for (const auto& entry : it) {
    if (entry.path().extension() != ".pub") continue;
    auto key = LoadCurvePublicKey(entry.path());
    if (!key.ok()) return key.status();
    keys.push_back({entry.path().stem().string(), *key});
  }
  std::sort(keys.begin(), keys.end(),
            [](const AllowedKey& a, const AllowedKey& b) { return a.name < b.name; });
  return keys;
}

}  // namespace ballast
