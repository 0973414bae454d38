// Runs a shell command line for the tests: its exit status and its stdout+stderr.
#pragma once
#include <algorithm>
#include <cstdio>
#include <string>

#include <sys/wait.h>

namespace testutil {

struct Run {
  int rc;
  std::string out;
};

inline Run sh(const std::string& cmd) {
  Run r{0, {}};
  FILE* f = ::popen((cmd + " 2>&1").c_str(), "r");
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) r.out.append(buf, n);
  const int st = ::pclose(f);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  return r;
}

inline std::size_t lines(const std::string& s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

}  // namespace testutil
