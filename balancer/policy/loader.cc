#include "balancer/policy/loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include "common/edit_distance.h"
#include "common/yaml_duplicates.h"

namespace ballast::policy {
namespace {

using core::Policy;

const std::map<std::string, std::vector<std::string>> kKnownKeys = {
    {"",
     {"apiVersion", "name", "mode", "interval_seconds", "thresholds", "detection", "strategies",
      "balance", "density", "drain", "rules", "limits", "migration"}},
    {"thresholds", {"cpu", "memory", "network"}},
    {"thresholds.<resource>", {"enabled", "hot", "relieved"}},
    {"detection", {"k", "n", "forecast", "ewma_alpha"}},
    {"balance", {"weights", "load", "min_move_gain", "min_gain", "surge_weight", "tolerance"}},
    {"balance.weights", {"cpu", "memory", "network"}},
    {"density",
     {"max_utilization", "max_hosts_per_round", "max_peak_utilization", "effective_sigmas",
      "max_effective_utilization", "relieve_onto_receivers"}},
    {"drain", {"hosts"}},
    {"rules", {"affinity", "anti_affinity", "pins", "exclude_vms", "exclude_hosts"}},
    {"rules.affinity[]", {"name", "vms"}},
    {"rules.pins[]", {"vm", "hosts", "mode"}},
    {"limits",
     {"max_moves_per_round", "max_concurrent", "max_per_host_out", "max_per_host_in",
      "vm_cooldown_seconds", "return_cooldown_seconds"}},
    {"migration",
     {"timeout_seconds", "bandwidth_mib_per_second", "max_downtime_ms", "failure_backoff_seconds"}},
};

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string Indexed(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

std::string List(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::optional<std::string> Suggest(std::string_view word,
                                   const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const std::string& c : candidates) {
    std::size_t d = EditDistance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

class Parser {
 public:
  explicit Parser(std::string_view source) : source_(source) {}

  void Error(const YAML::Mark& mark, const std::string& path, const std::string& msg) {
    std::string where = source_;
    if (!mark.is_null()) {
      where += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
    }
    errors_.push_back(where + ": " + (path.empty() ? "(top level)" : path) + ": " + msg);
    error_paths_.insert(path);
  }

  bool HasErrorAt(const std::string& path) const { return error_paths_.count(path) > 0; }

  // Reports a non-map and unknown keys; true if `node` is a map.
  bool Map(const YAML::Node& node, const std::string& path, const std::string& section) {
    if (!node.IsMap()) {
      Error(node.Mark(), path, "expected a mapping");
      return false;
    }
    marks_[path] = node.Mark();
    const std::vector<std::string>& known = kKnownKeys.at(section);
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!it->first.IsScalar()) {
        Error(it->first.Mark(), path, "keys must be plain strings");
        continue;
      }
      const std::string& key = it->first.Scalar();
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      const std::string full = Join(path, key);
      std::string msg = "unknown key '" + full + "'";
      if (auto s = Suggest(key, known)) {
        msg += "; did you mean '" + *s + "'?";
      } else {
        msg += "; allowed here: " + List(known);
      }
      Error(it->first.Mark(), full, msg);
    }
    return true;
  }

  // Each getter leaves `out` (the default) alone when the key is absent or
  // invalid.
  YAML::Node Get(const YAML::Node& map, const std::string& path, std::string_view key) {
    YAML::Node n = map[std::string(key)];
    if (n) marks_[Join(path, key)] = n.Mark();
    return n;
  }

  void Double(const YAML::Node& map, const std::string& path, std::string_view key, double& out) {
    YAML::Node n = Get(map, path, key);
    if (!n) return;
    double v = 0;
    if (!n.IsScalar() || !YAML::convert<double>::decode(n, v) || !std::isfinite(v)) {
      Error(n.Mark(), Join(path, key), "expected a number, got " + Show(n));
      return;
    }
    out = v;
  }

  void Int(const YAML::Node& map, const std::string& path, std::string_view key, int& out) {
    YAML::Node n = Get(map, path, key);
    if (!n) return;
    long long v = 0;
    if (!n.IsScalar() || !YAML::convert<long long>::decode(n, v)) {
      Error(n.Mark(), Join(path, key), "expected an integer, got " + Show(n));
      return;
    }
    if (v < -1'000'000'000 || v > 1'000'000'000) {
      Error(n.Mark(), Join(path, key), "value " + n.Scalar() + " is out of range");
      return;
    }
    out = static_cast<int>(v);
  }

  void Seconds(const YAML::Node& map, const std::string& path, std::string_view key,
               std::chrono::seconds& out) {
    int v = static_cast<int>(out.count());
    const std::size_t before = errors_.size();
    Int(map, path, key, v);
    if (errors_.size() == before) out = std::chrono::seconds(v);
  }

  void Bool(const YAML::Node& map, const std::string& path, std::string_view key, bool& out) {
    YAML::Node n = Get(map, path, key);
    if (!n) return;
    bool v = false;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) {
      Error(n.Mark(), Join(path, key), "expected true or false, got " + Show(n));
      return;
    }
    out = v;
  }

  bool String(const YAML::Node& n, const std::string& path, std::string& out) {
    if (!n.IsScalar()) {
      Error(n.Mark(), path, "expected a string, got " + Show(n));
      return false;
    }
    marks_[path] = n.Mark();
    out = n.Scalar();
    return true;
  }

  void String(const YAML::Node& map, const std::string& path, std::string_view key,
              std::string& out) {
    YAML::Node n = Get(map, path, key);
    if (n) String(n, Join(path, key), out);
  }

  void StringList(const YAML::Node& map, const std::string& path, std::string_view key,
                  std::vector<std::string>& out) {
    YAML::Node n = Get(map, path, key);
    if (!n) return;
    const std::string p = Join(path, key);
    if (!n.IsSequence()) {
      Error(n.Mark(), p, "expected a list of strings, got " + Show(n));
      return;
    }
    out.clear();
    for (std::size_t i = 0; i < n.size(); ++i) {
      std::string s;
      if (String(n[i], Indexed(p, i), s)) out.push_back(std::move(s));
    }
  }

  // A scalar naming one of `names`; parse maps it to a value.
  template <typename T, typename ParseFn>
  void Enum(const YAML::Node& n, const std::string& path, const std::vector<std::string>& names,
            ParseFn parse, T& out) {
    std::string s;
    if (!String(n, path, s)) return;
    if (std::optional<T> v = parse(s)) {
      out = *v;
      return;
    }
    std::string msg = "invalid value '" + s + "'; allowed: " + List(names);
    if (auto guess = Suggest(s, names)) msg += "; did you mean '" + *guess + "'?";
    Error(n.Mark(), path, msg);
  }

  // Where a validation issue points: the value's mark, else its nearest
  // parent's.
  YAML::Mark MarkFor(std::string path) const {
    while (true) {
      auto it = marks_.find(path);
      if (it != marks_.end()) return it->second;
      if (path.empty()) return YAML::Mark::null_mark();
      std::size_t cut = path.find_last_of(".[");
      path = cut == std::string::npos ? "" : path.substr(0, cut);
    }
  }

  const std::vector<std::string>& errors() const { return errors_; }

 private:
  static std::string Show(const YAML::Node& n) {
    if (n.IsScalar()) return "'" + n.Scalar() + "'";
    if (n.IsSequence()) return "a list";
    if (n.IsMap()) return "a mapping";
    return "nothing";
  }

  std::string source_;
  std::vector<std::string> errors_;
  std::map<std::string, YAML::Mark> marks_;
  std::set<std::string> error_paths_;
};

const std::vector<std::string> kModeNames = {"off", "recommend", "automatic"};
const std::vector<std::string> kForecastNames = {"ewma", "ar1"};
const std::vector<std::string> kLoadBasisNames = {"now", "forecast"};
const std::vector<std::string> kStrategyNames = {"hotspot", "balance", "density", "drain"};
const std::vector<std::string> kPinModeNames = {"must", "should"};

void ParseThresholds(Parser& p, const YAML::Node& node, Policy& policy) {
  if (!p.Map(node, "thresholds", "thresholds")) return;
  for (core::Resource r : core::kAllResources) {
    const std::string name(core::ResourceName(r));
    YAML::Node t = p.Get(node, "thresholds", name);
    if (!t) continue;
    const std::string path = "thresholds." + name;
    if (!p.Map(t, path, "thresholds.<resource>")) continue;
    core::Threshold& th = policy.threshold(r);
    p.Bool(t, path, "enabled", th.enabled);
    p.Double(t, path, "hot", th.hot);
    p.Double(t, path, "relieved", th.relieved);
  }
}

void ParseGroups(Parser& p, const YAML::Node& rules, const std::string& key,
                 std::vector<core::VmGroup>& out) {
  YAML::Node list = p.Get(rules, "rules", key);
  if (!list) return;
  const std::string path = "rules." + key;
  if (!list.IsSequence()) {
    p.Error(list.Mark(), path, "expected a list of groups");
    return;
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string item = Indexed(path, i);
    if (!p.Map(list[i], item, "rules.affinity[]")) continue;
    core::VmGroup g;
    g.name = key + "-" + std::to_string(i);
    p.String(list[i], item, "name", g.name);
    p.StringList(list[i], item, "vms", g.vms);
    out.push_back(std::move(g));
  }
}

void ParseRules(Parser& p, const YAML::Node& node, Policy& policy) {
  if (!p.Map(node, "rules", "rules")) return;
  core::Rules& rules = policy.rules;
  ParseGroups(p, node, "affinity", rules.affinity);
  ParseGroups(p, node, "anti_affinity", rules.anti_affinity);
  p.StringList(node, "rules", "exclude_vms", rules.exclude_vms);
  p.StringList(node, "rules", "exclude_hosts", rules.exclude_hosts);
  YAML::Node pins = p.Get(node, "rules", "pins");
  if (!pins) return;
  if (!pins.IsSequence()) {
    p.Error(pins.Mark(), "rules.pins", "expected a list of pins");
    return;
  }
  for (std::size_t i = 0; i < pins.size(); ++i) {
    const std::string item = Indexed("rules.pins", i);
    if (!p.Map(pins[i], item, "rules.pins[]")) continue;
    core::Pin pin;
    p.String(pins[i], item, "vm", pin.vm);
    p.StringList(pins[i], item, "hosts", pin.hosts);
    if (YAML::Node mode = p.Get(pins[i], item, "mode")) {
      p.Enum(mode, item + ".mode", kPinModeNames, core::ParsePinMode, pin.mode);
    }
    rules.pins.push_back(std::move(pin));
  }
}

void ParseDocument(Parser& p, const YAML::Node& root, Policy& policy) {
  if (!root || root.IsNull()) {
    p.Error(root.Mark(), "", "the policy is empty; it needs at least apiVersion: ballast/v1");
    return;
  }
  if (!p.Map(root, "", "")) return;

  YAML::Node api = p.Get(root, "", "apiVersion");
  std::string version;
  if (!api) {
    p.Error(root.Mark(), "apiVersion", "missing; expected 'ballast/v1'");
  } else if (p.String(api, "apiVersion", version) && version != kApiVersion) {
    p.Error(api.Mark(), "apiVersion", "unsupported '" + version + "'; expected 'ballast/v1'");
  }
  p.String(root, "", "name", policy.name);
  if (YAML::Node mode = p.Get(root, "", "mode")) {
    p.Enum(mode, "mode", kModeNames, core::ParseMode, policy.mode);
  }
  double interval = static_cast<double>(policy.interval.count()) / 1000.0;
  p.Double(root, "", "interval_seconds", interval);
  policy.interval = std::chrono::milliseconds(std::llround(interval * 1000.0));

  if (YAML::Node n = p.Get(root, "", "thresholds")) ParseThresholds(p, n, policy);

  if (YAML::Node n = p.Get(root, "", "detection"); n && p.Map(n, "detection", "detection")) {
    p.Int(n, "detection", "k", policy.detection.k);
    p.Int(n, "detection", "n", policy.detection.n);
    if (YAML::Node f = p.Get(n, "detection", "forecast")) {
      p.Enum(f, "detection.forecast", kForecastNames, core::ParseForecastModel,
             policy.detection.forecast);
    }
    p.Double(n, "detection", "ewma_alpha", policy.detection.ewma_alpha);
  }

  if (YAML::Node n = p.Get(root, "", "strategies")) {
    if (!n.IsSequence()) {
      p.Error(n.Mark(), "strategies",
              "expected a list of strategy names (" + List(kStrategyNames) + ")");
    } else {
      policy.strategies.clear();
      for (std::size_t i = 0; i < n.size(); ++i) {
        core::StrategyKind kind = core::StrategyKind::kHotspot;
        const std::size_t before = p.errors().size();
        p.Enum(n[i], Indexed("strategies", i), kStrategyNames, core::ParseStrategyName, kind);
        if (p.errors().size() == before) policy.strategies.push_back(kind);
      }
    }
  }

  if (YAML::Node n = p.Get(root, "", "balance"); n && p.Map(n, "balance", "balance")) {
    if (YAML::Node w = p.Get(n, "balance", "weights");
        w && p.Map(w, "balance.weights", "balance.weights")) {
      for (core::Resource r : core::kAllResources) {
        p.Double(w, "balance.weights", core::ResourceName(r), policy.balance.weights[r]);
      }
    }
    if (YAML::Node l = p.Get(n, "balance", "load")) {
      p.Enum(l, "balance.load", kLoadBasisNames, core::ParseLoadBasis, policy.balance.load);
    }
    p.Double(n, "balance", "min_move_gain", policy.balance.min_move_gain);
    p.Double(n, "balance", "min_gain", policy.balance.min_gain);
    p.Double(n, "balance", "surge_weight", policy.balance.surge_weight);
    p.Double(n, "balance", "tolerance", policy.balance.tolerance);
  }

  if (YAML::Node n = p.Get(root, "", "density"); n && p.Map(n, "density", "density")) {
    p.Double(n, "density", "max_utilization", policy.density.max_utilization);
    p.Int(n, "density", "max_hosts_per_round", policy.density.max_hosts_per_round);
    p.Double(n, "density", "max_peak_utilization", policy.density.max_peak_utilization);
    p.Double(n, "density", "effective_sigmas", policy.density.effective_sigmas);
    p.Double(n, "density", "max_effective_utilization", policy.density.max_effective_utilization);
    p.Bool(n, "density", "relieve_onto_receivers", policy.density.relieve_onto_receivers);
  }

  if (YAML::Node n = p.Get(root, "", "drain"); n && p.Map(n, "drain", "drain")) {
    p.StringList(n, "drain", "hosts", policy.drain.hosts);
  }

  if (YAML::Node n = p.Get(root, "", "rules")) ParseRules(p, n, policy);

  if (YAML::Node n = p.Get(root, "", "limits"); n && p.Map(n, "limits", "limits")) {
    core::Limits& lim = policy.limits;
    p.Int(n, "limits", "max_moves_per_round", lim.max_moves_per_round);
    p.Int(n, "limits", "max_concurrent", lim.max_concurrent);
    p.Int(n, "limits", "max_per_host_out", lim.max_per_host_out);
    p.Int(n, "limits", "max_per_host_in", lim.max_per_host_in);
    p.Seconds(n, "limits", "vm_cooldown_seconds", lim.vm_cooldown);
    p.Seconds(n, "limits", "return_cooldown_seconds", lim.return_cooldown);
  }
  if (YAML::Node n = p.Get(root, "", "migration"); n && p.Map(n, "migration", "migration")) {
    core::MigrationSettings& mig = policy.migration;
    p.Seconds(n, "migration", "timeout_seconds", mig.timeout);
    p.Int(n, "migration", "bandwidth_mib_per_second", mig.bandwidth_mib_per_second);
    int downtime_ms = static_cast<int>(mig.max_downtime.count());
    p.Int(n, "migration", "max_downtime_ms", downtime_ms);
    mig.max_downtime = std::chrono::milliseconds(downtime_ms);
    p.Seconds(n, "migration", "failure_backoff_seconds", mig.failure_backoff);
  }
}

}  // namespace

const std::map<std::string, std::vector<std::string>>& KnownKeys() { return kKnownKeys; }

Result<core::Policy> LoadPolicyFromString(std::string_view text, std::string_view source_name) {
  Parser parser(source_name);
  Policy policy;
  try {
    YAML::Node root = YAML::Load(std::string(text));
    for (const DuplicateYamlKey& d : FindDuplicateYamlKeys(root)) {
      parser.Error(d.mark, d.path,
                   "key given twice (first on line " + std::to_string(d.first_line) +
                       "); only one may stay");
    }
    ParseDocument(parser, root, policy);
  } catch (const YAML::Exception& e) {
    // Syntax errors (and anything else yaml-cpp throws) stop here, with its
    // position.
    parser.Error(e.mark, "", e.msg);
  }
  // Range and cross-field checks run even after decode errors (the defaults
  // stand in for bad values), so one pass reports everything; a value already
  // reported is not repeated.
  std::vector<std::string> errors = parser.errors();
  {
    for (const core::PolicyIssue& issue : core::ValidatePolicy(policy)) {
      if (parser.HasErrorAt(issue.path)) continue;
      Parser located(source_name);
      located.Error(parser.MarkFor(issue.path), issue.path, issue.message);
      errors.push_back(located.errors().front());
    }
  }
  if (!errors.empty()) {
    std::string msg;
    for (const std::string& e : errors) msg += (msg.empty() ? "" : "\n") + e;
    return Status::InvalidArgument(msg);
  }
  return policy;
}

Result<core::Policy> LoadPolicyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open policy file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::Unavailable("cannot read policy file " + path);
  return LoadPolicyFromString(text.str(), path);
}

}  // namespace ballast::policy
