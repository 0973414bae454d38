#include "failpoint.hpp"

#ifdef AEROLOG_FAILPOINTS
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <unistd.h>

namespace aerolog::sidecar::fp {
namespace {

struct Point {
  char name[48];
  std::atomic<long> countdown;
  int arg;
};
Point g_points[16];
int g_count = 0;

}  // namespace

void init() {
  const char* spec = std::getenv("AEROLOG_FAILPOINTS");
  if (!spec) return;
  std::string s = spec;
  for (std::size_t pos = 0; pos < s.size() && g_count < 16;) {
    std::size_t end = s.find(',', pos);
    if (end == std::string::npos) end = s.size();
    const std::string item = s.substr(pos, end - pos);
    pos = end + 1;
    const std::size_t eq = item.find('=');
    Point& p = g_points[g_count];
    std::snprintf(p.name, sizeof p.name, "%s", item.substr(0, eq).c_str());
    long n = 1;
    int k = 0;
    if (eq != std::string::npos) std::sscanf(item.c_str() + eq + 1, "%ld:%d", &n, &k);
    p.countdown = n;
    p.arg = k;
    ++g_count;
    std::fprintf(stderr, "aerolog-sidecar: failpoint %s armed (hit %ld, arg %d)\n", p.name, n, k);
  }
}

bool hit(const char* name) {
  for (int i = 0; i < g_count; ++i)
    if (std::strcmp(g_points[i].name, name) == 0) return g_points[i].countdown.fetch_sub(1) == 1;
  return false;
}

int arg(const char* name) {
  for (int i = 0; i < g_count; ++i)
    if (std::strcmp(g_points[i].name, name) == 0) return g_points[i].arg;
  return 0;
}

void crash(const char* name) {
  char msg[96];
  const int n = std::snprintf(msg, sizeof msg, "aerolog-sidecar: failpoint %s: SIGKILL\n", name);
  (void)!::write(2, msg, static_cast<std::size_t>(n));
  ::kill(::getpid(), SIGKILL);
  for (;;) ::pause();
}

}  // namespace aerolog::sidecar::fp
#endif
