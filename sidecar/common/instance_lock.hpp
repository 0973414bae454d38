// One running instance per directory: the daemons hold an exclusive flock on <dir>/.lock, with
// their pid written in it, for as long as they run (FORMAT.md 4, the WAL root's .lock). The
// sidecar also locks its shm directory (FORMAT.md 9.1, aerolog-sidecar.lock).
#pragma once
#include "files.hpp"

#include <string>

namespace aerolog::common {

// Throws std::runtime_error naming the holder's pid if another process holds it, and
// std::system_error if the file cannot be made.
Fd lock_single_instance(const std::string& dir, const std::string& program);

// The same in a directory other users write (a sticky one we own): <dir>/<name> is ours, 0600,
// made with O_EXCL if anything else was there (own_shared_file), so nobody else can hold it.
Fd lock_shared_dir(const std::string& dir, const std::string& name, const std::string& program);

}  // namespace aerolog::common
