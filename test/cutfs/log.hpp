// A debug log for aerolog-cutfs: one line per event to the --log file, nothing without it.
// Errors that matter to the user (bad flags, mount failure) go to stderr instead.
#pragma once

namespace cutfs {

bool log_open(const char* path);  // false if the file cannot be opened
bool log_enabled();
void logf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace cutfs
