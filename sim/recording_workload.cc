#include "sim/recording_workload.h"

#include <filesystem>
#include <map>

#include "balancer/model/cluster_model.h"
#include "common/recording.h"
#include "common/wire.h"

namespace ballast::sim {

Result<Workload> LoadRecordingWorkload(const std::string& path, const PowerModel* power,
                                       RecordingStats* stats) {
  auto reader = RecordingReader::Open(path);
  if (!reader.ok()) return reader.status();
  RecordingStats local;
  RecordingStats& st = stats ? *stats : local;
  ClusterModel model;
  std::map<std::string, int> vm_index;    // uuid -> index in w.vms
  std::map<std::string, int> host_index;  // name -> index in w.hosts
  Workload w;
  w.label = std::filesystem::path(path).filename().string();
  w.cpu_unit = "cores";
  std::int64_t first_ns = -1;
  double last_t = 0;
  while (true) {
    auto next = (*reader)->Next();
    if (!next.ok()) return next.status();
    if (!next->has_value()) break;
    const RecordedSample& rec = **next;
    ++st.records;
    DecodeResult d = DecodeHostSample(rec.encoded);
    if (!d.ok()) {
      ++st.decode_errors;
      continue;
    }
    if (first_ns < 0) first_ns = rec.arrival_unix_ns;
    const double t = static_cast<double>(rec.arrival_unix_ns - first_ns) / 1e9;
    last_t = std::max(last_t, t);
    const HostSample& s = d.sample();
    model.Ingest(s, SteadyTime{} + std::chrono::nanoseconds(rec.arrival_unix_ns - first_ns));
    const HostView* hv = model.host(s.host.name);
    if (!hv) continue;
    auto [hit, new_host] = host_index.emplace(s.host.name, static_cast<int>(w.hosts.size()));
    if (new_host) {
      w.hosts.push_back({s.host.name, hv->capacity.cpu_cores,
                         static_cast<double>(hv->capacity.memory_bytes),
                         static_cast<double>(hv->capacity.nic_bits_per_second), power, "recorded"});
    }
    for (const std::string& uuid : hv->vm_uuids) {
      const VmView* vv = model.vm(uuid);
      if (!vv) continue;
      auto [vit, new_vm] = vm_index.emplace(uuid, static_cast<int>(w.vms.size()));
      if (new_vm) {
        VmModel vm;
        vm.name = vv->name;
        vm.cpu_capacity = vv->vcpus;
        vm.memory_bytes =
            static_cast<double>(vv->memory_max_bytes > 0 ? vv->memory_max_bytes : vv->memory_bytes);
        vm.initial_host = hit->second;
        vm.type = "recorded";
        w.vms.push_back(std::move(vm));
      }
      if (vv->cpu_cores) {
        Series& series = w.vms[static_cast<std::size_t>(vit->second)].demand;
        if (series.empty() || series.times().back() < t) series.Add(t, *vv->cpu_cores);
      }
    }
  }
  st.torn_tail = (*reader)->torn_tail();
  if (w.hosts.empty()) return Status::InvalidArgument(path + ": no decodable host sample");
  w.duration_seconds = last_t;
  return w;
}

}  // namespace ballast::sim
