#include "collector/source_registry.h"

#include "collector/libvirt_source.h"
#ifdef BALLAST_WITH_XENSTAT
#include "collector/xenstat_source.h"
#endif

namespace ballast {

Result<std::unique_ptr<StatsSource>> MakeStatsSource(const CollectorConfig& config) {
  if (config.source == "libvirt") {
    return MakeLibvirtSource(config.libvirt_uri,
                             LibvirtSourceOptions{.block_stats = config.libvirt_block_stats});
  }
  if (config.source == "xenstat") {
#ifdef BALLAST_WITH_XENSTAT
    return MakeXenstatSource();
#else
    return Status::FailedPrecondition(
        "source 'xenstat' is not in this build (it was configured with -DBALLAST_WITH_XEN=OFF; "
        "rebuild with libxen-dev installed and without that option)");
#endif
  }
  return Status::InvalidArgument("unknown source '" + config.source + "'");
}

}  // namespace ballast
