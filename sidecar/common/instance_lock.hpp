// One running instance per directory: the daemons hold an exclusive flock on <dir>/.lock, with
// their pid written in it, for as long as they run (FORMAT.md 4, the WAL root's .lock).
#pragma once
#include "files.hpp"

#include <string>

namespace aerolog::common {

// Throws std::runtime_error naming the holder's pid if another process holds it, and
// std::system_error if the file cannot be made.
Fd lock_single_instance(const std::string& dir, const std::string& program);

}  // namespace aerolog::common
