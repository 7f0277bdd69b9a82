#include "balancer/ha/etcd_client.h"

#include <curl/curl.h>

#include <mutex>
#include <nlohmann/json.hpp>

namespace ballast::ha {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

// curl_global_init is not thread-safe: once per process, before the first handle.
void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::size_t Collect(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// The gateway writes int64 fields as JSON strings (proto3 JSON mapping); absent means 0.
std::int64_t Int64(const nlohmann::json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end()) return 0;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (it->is_string()) {
    try {
      return std::stoll(it->get<std::string>());
    } catch (const std::exception&) {
      return 0;
    }
  }
  return 0;
}

std::string Str64(std::int64_t v) { return std::to_string(v); }

KeyValue ParseKv(const nlohmann::json& j) {
  KeyValue kv;
  kv.key = Base64Decode(j.value("key", "")).value_or("");
  kv.value = Base64Decode(j.value("value", "")).value_or("");
  kv.create_revision = Int64(j, "create_revision");
  kv.mod_revision = Int64(j, "mod_revision");
  kv.lease = Int64(j, "lease");
  return kv;
}

// The end of a prefix range: the prefix with its last byte incremented (etcd's convention).
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    unsigned char c = static_cast<unsigned char>(prefix.back());
    if (c < 0xff) {
      prefix.back() = static_cast<char>(c + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');  // every key
}

}  // namespace

std::string Base64Encode(const std::string& in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const unsigned v =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> Base64Decode(const std::string& in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = in[i + k];
      if (c == '=' && i + 4 == in.size() && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return std::nullopt;
      v[k] = value(c);
      if (v[k] < 0) return std::nullopt;
    }
    const unsigned n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

struct EtcdClient::Impl {
  EtcdClientOptions options;
  CurlHandle curl;
  std::size_t current = 0;  // the endpoint that answered last
  std::string last_endpoint;

  // POSTs `body` to `path` on the first endpoint that answers; the reply as JSON.
  Result<nlohmann::json> Call(const std::string& path, const nlohmann::json& body) {
    const std::string text = body.dump();
    std::string error;
    for (std::size_t k = 0; k < options.endpoints.size(); ++k) {
      const std::size_t idx = (current + k) % options.endpoints.size();
      const std::string url = options.endpoints[idx] + path;
      last_endpoint = options.endpoints[idx];
      std::string reply;
      char errbuf[CURL_ERROR_SIZE] = {0};
      CURL* c = curl.get();
      curl_easy_reset(c);
      HeaderList headers(curl_slist_append(nullptr, "Content-Type: application/json"));
      curl_easy_setopt(c, CURLOPT_URL, url.c_str());
      curl_easy_setopt(c, CURLOPT_POST, 1L);
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, text.c_str());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(text.size()));
      curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
      curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Collect);
      curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply);
      curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
      curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
      curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.timeout.count()));
      curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM (threads)
      curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
      const CURLcode rc = curl_easy_perform(c);
      if (rc != CURLE_OK) {
        error = url + ": " + (errbuf[0] != 0 ? std::string(errbuf) : curl_easy_strerror(rc));
        continue;
      }
      long code = 0;
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
      nlohmann::json j = nlohmann::json::parse(reply, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded()) {
        error = url + ": HTTP " + std::to_string(code) + ", not JSON: " + reply.substr(0, 200);
        continue;
      }
      if (code != 200) {
        // etcd answered and refused: another endpoint would answer the same.
        return Status::Unavailable(url + ": HTTP " + std::to_string(code) + ": " +
                                   j.value("error", j.value("message", reply.substr(0, 200))));
      }
      current = idx;
      return j;
    }
    return Status::Unavailable("etcd not reachable: " + error);
  }
};

Result<std::unique_ptr<EtcdClient>> EtcdClient::Open(EtcdClientOptions options) {
  if (options.endpoints.empty()) return Status::InvalidArgument("etcd: no endpoint given");
  GlobalInit();
  CurlHandle curl(curl_easy_init());
  if (!curl) return Status::Internal("etcd: curl_easy_init failed");
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->curl = std::move(curl);
  return std::unique_ptr<EtcdClient>(new EtcdClient(std::move(impl)));
}

EtcdClient::EtcdClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EtcdClient::~EtcdClient() = default;

const std::string& EtcdClient::endpoint() const { return impl_->last_endpoint; }

Result<std::int64_t> EtcdClient::Grant(std::chrono::seconds ttl) {
  auto r = impl_->Call("/v3/lease/grant", {{"TTL", Str64(ttl.count())}});
  if (!r.ok()) return r.status();
  const std::int64_t id = Int64(*r, "ID");
  if (id == 0) return Status::Unavailable("etcd: lease grant returned no ID: " + r->dump());
  return id;
}

Result<std::int64_t> EtcdClient::KeepAlive(std::int64_t lease) {
  // The gateway streams keep-alive answers; one request gets one answer, then EOF.
  auto r = impl_->Call("/v3/lease/keepalive", {{"ID", Str64(lease)}});
  if (!r.ok()) return r.status();
  const nlohmann::json& res = r->contains("result") ? (*r)["result"] : *r;
  if (r->contains("error")) return Status::Unavailable("etcd keepalive: " + r->dump());
  return Int64(res, "TTL");
}

Status EtcdClient::Revoke(std::int64_t lease) {
  auto r = impl_->Call("/v3/lease/revoke", {{"ID", Str64(lease)}});
  return r.ok() ? Status::Ok() : r.status();
}

Result<std::optional<KeyValue>> EtcdClient::Get(const std::string& key) {
  auto r = impl_->Call("/v3/kv/range", {{"key", Base64Encode(key)}});
  if (!r.ok()) return r.status();
  if (!r->contains("kvs") || (*r)["kvs"].empty()) return std::optional<KeyValue>();
  return std::optional<KeyValue>(ParseKv((*r)["kvs"][0]));
}

Result<std::vector<KeyValue>> EtcdClient::GetPrefix(const std::string& prefix) {
  auto r = impl_->Call("/v3/kv/range", {{"key", Base64Encode(prefix)},
                                        {"range_end", Base64Encode(PrefixEnd(prefix))}});
  if (!r.ok()) return r.status();
  std::vector<KeyValue> out;
  if (r->contains("kvs")) {
    for (const auto& kv : (*r)["kvs"]) out.push_back(ParseKv(kv));
  }
  return out;
}

Status EtcdClient::Put(const std::string& key, const std::string& value, std::int64_t lease) {
  nlohmann::json body = {{"key", Base64Encode(key)}, {"value", Base64Encode(value)}};
  if (lease != 0) body["lease"] = Str64(lease);
  auto r = impl_->Call("/v3/kv/put", body);
  return r.ok() ? Status::Ok() : r.status();
}

Status EtcdClient::Delete(const std::string& key) {
  auto r = impl_->Call("/v3/kv/deleterange", {{"key", Base64Encode(key)}});
  return r.ok() ? Status::Ok() : r.status();
}

Result<CampaignResult> EtcdClient::Campaign(const std::string& key, const std::string& value,
                                            std::int64_t lease) {
  const std::string k = Base64Encode(key);
  nlohmann::json body = {
      {"compare",
       {{{"key", k}, {"target", "CREATE"}, {"result", "EQUAL"}, {"create_revision", "0"}}}},
      {"success",
       {{{"request_put", {{"key", k}, {"value", Base64Encode(value)}, {"lease", Str64(lease)}}}}}},
      {"failure", {{{"request_range", {{"key", k}}}}}}};
  auto r = impl_->Call("/v3/kv/txn", body);
  if (!r.ok()) return r.status();
  CampaignResult out;
  out.won = r->value("succeeded", false);
  if (out.won) {
    // The put's revision is the key's create revision: the term's fencing token.
    out.holder.key = key;
    out.holder.value = value;
    out.holder.lease = lease;
    out.holder.create_revision = Int64((*r)["header"], "revision");
    out.holder.mod_revision = out.holder.create_revision;
    return out;
  }
  const nlohmann::json& responses = (*r)["responses"];
  if (responses.is_array() && !responses.empty()) {
    const nlohmann::json& range = responses[0].value("response_range", nlohmann::json::object());
    if (range.contains("kvs") && !range["kvs"].empty()) {
      out.holder = ParseKv(range["kvs"][0]);
      return out;
    }
  }
  // Deleted between compare and range cannot happen inside one transaction; an empty answer
  // means the key expired right after: the caller campaigns again next round.
  return out;
}

Result<bool> EtcdClient::PutIfHeld(const std::string& guard_key, std::int64_t guard_create_revision,
                                   const std::string& key, const std::string& value,
                                   bool unconditional) {
  nlohmann::json compare = nlohmann::json::array();
  if (!unconditional) {
    compare.push_back({{"key", Base64Encode(guard_key)},
                       {"target", "CREATE"},
                       {"result", "EQUAL"},
                       {"create_revision", Str64(guard_create_revision)}});
  }
  nlohmann::json body = {
      {"compare", compare},
      {"success",
       {{{"request_put", {{"key", Base64Encode(key)}, {"value", Base64Encode(value)}}}}}}};
  auto r = impl_->Call("/v3/kv/txn", body);
  if (!r.ok()) return r.status();
  return r->value("succeeded", false);
}

}  // namespace ballast::ha
