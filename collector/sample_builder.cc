#include "collector/sample_builder.h"

namespace ballast {

HostSample BuildHostSample(const CollectorConfig& config, const std::string& source_name,
                           SourceReading reading, const SampleStamp& stamp) {
  HostSample s;
  s.host.name = config.host_name;
  s.host.uuid = reading.host_uuid;
  s.host.libvirt_uri = config.advertised_uri;
  s.host.migration_address = config.migration_address;
  s.host.source = source_name;
  s.boot_id = stamp.boot_id;
  s.sequence = stamp.sequence;
  s.monotonic_ns = stamp.monotonic_ns;
  s.wall_unix_ns = stamp.wall_unix_ns;
  s.capacity = reading.capacity;
  if (config.cpu_cores) s.capacity.cpu_cores = *config.cpu_cores;
  if (config.memory_bytes) s.capacity.memory_bytes = *config.memory_bytes;
  if (config.nic_bits_per_second != 0) {
    s.capacity.nic_bits_per_second = config.nic_bits_per_second;
  }
  s.counters = reading.counters;
  s.vms = std::move(reading.vms);
  return s;
}

}  // namespace ballast
