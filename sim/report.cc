#include "sim/report.h"

#include <cstdio>

namespace ballast::sim {
namespace {

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

std::string Clock(double seconds) {
  const long s = static_cast<long>(seconds);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%02ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

void Pad(std::string& line, const std::string& cell, std::size_t width, bool left) {
  std::string c = cell.size() > width ? cell.substr(0, width) : cell;
  const std::string pad(width - c.size(), ' ');
  line += left ? c + pad : pad + c;
  line += "  ";
}

}  // namespace

std::string FormatTable(const std::vector<SimResult>& results) {
  struct Col {
    const char* title;
    std::size_t width;
    bool left;
  };
  const std::vector<Col> cols = {
      {"trace", 10, true},   {"policy", 18, true},    {"hosts", 5, false},   {"VMs", 9, false},
      {"kWh", 7, false},     {"migr", 6, false},      {"migr/VM", 7, false}, {"GB", 7, false},
      {">100%h", 7, false},  {">100%", 6, false},     {">90%h", 7, false},   {"pingp", 5, false},
      {"sd load", 7, false}, {"act.hosts", 13, false}};
  std::string out;
  std::string line;
  for (const Col& c : cols) Pad(line, c.title, c.width, c.left);
  out += line + "\n";
  for (const SimResult& r : results) {
    line.clear();
    const double per_vm = r.vms_start > 0 ? static_cast<double>(r.migrations) / r.vms_start : 0;
    const std::vector<std::string> cells = {
        r.label,
        r.policy,
        std::to_string(r.hosts),
        std::to_string(r.vms_start) + ">" + std::to_string(r.vms_end),
        Fmt("%.1f", r.energy_kwh),
        std::to_string(r.migrations),
        Fmt("%.2f", per_vm),
        Fmt("%.0f", r.migrated_gb),
        Fmt("%.2f", r.overload_host_hours),
        Fmt("%.2f%%", 100 * r.overload_fraction()),
        Fmt("%.1f", r.busy_host_hours),
        std::to_string(r.ping_pongs),
        Fmt("%.3f", r.mean_load_stddev),
        Fmt("%.1f", r.mean_active_hosts) + " " + std::to_string(r.min_active_hosts) + "-" +
            std::to_string(r.max_active_hosts)};
    for (std::size_t i = 0; i < cols.size(); ++i) Pad(line, cells[i], cols[i].width, cols[i].left);
    out += line + "\n";
  }
  return out;
}

SlaRow SlaRowOf(const SimResult& r) {
  SlaRow row;
  row.label = r.label;
  row.policy = r.policy;
  row.energy_kwh = r.energy_kwh;
  if (r.energy_bound_kwh > 0) row.bound_ratio = r.energy_bound_ratio();
  row.migrations = r.migrations;
  row.slatah = r.sla.slatah;
  row.pdm = r.sla.pdm;
  row.slav = r.sla.slav;
  row.esv = r.sla.esv;
  row.host_shutdowns = r.sla.host_shutdowns;
  row.mean_migration_seconds = r.sla.mean_migration_seconds;
  row.overload_host_hours = r.overload_host_hours;
  return row;
}

SlaRow SlaRowOf(const PublishedRun& p) {
  SlaRow row;
  row.label = p.day;
  row.policy = p.policy + " (" + p.source + ")";
  row.energy_kwh = p.energy_kwh;
  row.migrations = p.migrations;
  row.slatah = p.slatah;
  row.pdm = p.pdm;
  row.slav = p.slav;
  row.esv = p.energy_kwh * p.slav;
  row.overload_host_hours = p.overload_host_hours;
  return row;
}

std::string FormatSlaTable(const std::vector<SlaRow>& rows) {
  struct Col {
    const char* title;
    std::size_t width;
    bool left;
  };
  const std::vector<Col> cols = {{"trace", 10, true}, {"policy", 34, true}, {"kWh", 7, false},
                                 {"xLB", 5, false},   {"migr", 6, false},   {"SLATAH%", 7, false},
                                 {"PDM%", 7, false},  {"SLAV", 8, false},   {"ESV", 8, false},
                                 {"shutd", 5, false}, {"migr s", 6, false}, {">100%h", 7, false}};
  std::string out;
  std::string line;
  for (const Col& c : cols) Pad(line, c.title, c.width, c.left);
  out += line + "\n";
  for (const SlaRow& r : rows) {
    line.clear();
    const std::vector<std::string> cells = {
        r.label,
        r.policy,
        Fmt("%.2f", r.energy_kwh),
        r.bound_ratio ? Fmt("%.2f", *r.bound_ratio) : "-",
        std::to_string(r.migrations),
        Fmt("%.2f", 100 * r.slatah),
        Fmt("%.4f", 100 * r.pdm),
        Fmt("%.2e", r.slav),
        Fmt("%.2e", r.esv),
        r.host_shutdowns ? std::to_string(*r.host_shutdowns) : "-",
        r.mean_migration_seconds ? Fmt("%.1f", *r.mean_migration_seconds) : "-",
        r.overload_host_hours ? Fmt("%.2f", *r.overload_host_hours) : "-"};
    for (std::size_t i = 0; i < cols.size(); ++i) Pad(line, cells[i], cols[i].width, cols[i].left);
    out += line + "\n";
  }
  return out;
}

nlohmann::json ResultJson(const SimResult& r, bool series) {
  nlohmann::json j = {{"trace", r.label},
                      {"policy", r.policy},
                      {"hosts", r.hosts},
                      {"vms_start", r.vms_start},
                      {"vms_end", r.vms_end},
                      {"duration_hours", r.duration_hours},
                      {"energy_kwh", r.energy_kwh},
                      {"migrations", r.migrations},
                      {"migrations_by_strategy",
                       {{"hotspot", r.hotspot_migrations},
                        {"balance", r.balance_migrations},
                        {"density", r.density_migrations},
                        {"drain", r.drain_migrations}}},
                      {"migrated_gb", r.migrated_gb},
                      {"overload_host_hours", r.overload_host_hours},
                      {"overload_fraction", r.overload_fraction()},
                      {"busy_host_hours", r.busy_host_hours},
                      {"active_host_hours", r.active_host_hours},
                      {"ping_pongs", r.ping_pongs},
                      {"mean_load_stddev", r.mean_load_stddev},
                      {"mean_active_hosts", r.mean_active_hosts},
                      {"min_active_hosts", r.min_active_hosts},
                      {"max_active_hosts", r.max_active_hosts},
                      {"plans", r.plans},
                      {"plan_seconds", r.plan_seconds},
                      {"unrelieved", r.unrelieved},
                      {"energy_bound_kwh", r.energy_bound_kwh},
                      {"energy_bound_ratio", r.energy_bound_ratio()},
                      {"sla",
                       {{"slatah", r.sla.slatah},
                        {"pdm", r.sla.pdm},
                        {"slav", r.sla.slav},
                        {"esv", r.sla.esv},
                        {"slatah_overload", r.sla.slatah_overload},
                        {"slatah_paper", r.sla.slatah_paper},
                        {"pdm_paper", r.sla.pdm_paper},
                        {"active_host_hours", r.sla.active_host_hours},
                        {"violation_host_hours", r.sla.violation_host_hours},
                        {"host_shutdowns", r.sla.host_shutdowns},
                        {"hosts_initially_inactive", r.sla.hosts_initially_inactive},
                        {"migrations_ended", r.sla.migrations_ended},
                        {"mean_migration_seconds", r.sla.mean_migration_seconds}}}};
  nlohmann::json types = nlohmann::json::object();
  for (const auto& [type, f] : r.by_host_type) {
    if (f.host_hours <= 0) continue;
    types[type.empty() ? "-" : type] = {{"host_hours", f.host_hours},
                                        {"energy_kwh", f.energy_kwh},
                                        {"overload_host_hours", f.overload_host_hours}};
  }
  j["by_host_type"] = std::move(types);
  if (series) {
    j["series"] = {{"time_seconds", r.times},
                   {"active_hosts", r.active_hosts},
                   {"migrations_started", r.migrations_started},
                   {"load_stddev", r.load_stddev},
                   {"vms_alive", r.vms_alive}};
  }
  if (!r.moves.empty()) {
    nlohmann::json moves = nlohmann::json::array();
    for (const MoveRecord& m : r.moves) {
      moves.push_back({{"time_seconds", m.time},
                       {"vm", m.vm},
                       {"from", m.from},
                       {"to", m.to},
                       {"strategy", m.strategy},
                       {"migration_seconds", m.seconds},
                       {"explanation", m.explanation}});
    }
    j["moves"] = std::move(moves);
  }
  return j;
}

std::string FormatMoves(const SimResult& r, std::size_t max_moves) {
  std::string out;
  std::size_t n = 0;
  for (const MoveRecord& m : r.moves) {
    if (n++ >= max_moves) {
      out += "... and " + std::to_string(r.moves.size() - max_moves) + " more (see the JSON)\n";
      break;
    }
    out += Clock(m.time) + " move " + m.vm + " " + m.from + " -> " + m.to + " (" + m.strategy +
           ", " + Fmt("%.0f", m.seconds) + " s): " + m.explanation + "\n";
  }
  for (const UnrelievedRecord& u : r.unrelieved_samples) {
    out += Clock(u.time) + " left as is: " + u.explanation + "\n";
  }
  return out;
}

}  // namespace ballast::sim
