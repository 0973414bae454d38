#include "log.hpp"

#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace cutfs {

namespace {
std::FILE* g_log = nullptr;
std::mutex g_mu;  // handler threads log concurrently; keep lines whole
}  // namespace

bool log_open(const char* path) {
  g_log = std::fopen(path, "a");
  return g_log != nullptr;
}

bool log_enabled() { return g_log != nullptr; }

void logf(const char* fmt, ...) {
  if (!g_log) return;
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  std::lock_guard lock(g_mu);
  std::fprintf(g_log, "%ld.%06ld ", static_cast<long>(ts.tv_sec), ts.tv_nsec / 1000);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(g_log, fmt, ap);
  va_end(ap);
  std::fputc('\n', g_log);
  std::fflush(g_log);  // the log is for post-mortems: a killed daemon must not lose it
}

}  // namespace cutfs
