#pragma once

// Durability helpers for files written by rename or append: a new directory entry (a created
// file, a rename over another) survives a crash only once its directory is fsync'd.

#include <string>

#include "common/status.h"

namespace ballast {

// fsyncs the directory that holds `path` ("." when it has no directory part).
Status SyncParentDirectory(const std::string& path);

}  // namespace ballast
