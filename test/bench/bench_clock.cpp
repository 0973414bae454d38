// Clock benchmark: how far producers' timestamps drift from CLOCK_REALTIME over time. Starts the
// real sidecar (which keeps the clock page, proto/clock.hpp) and compares with CLOCK_REALTIME,
// every --every seconds for --seconds (default an hour):
//   - a clock following the page (what every producer does when the sidecar runs),
//   - a clock calibrated once at start, never recalibrated (each producer on its own, as before
//     the page existed).
// Each comparison brackets now() between two CLOCK_REALTIME reads and takes the tightest of 16.
#include "bench_util.hpp"

#include <aerolog/clock.hpp>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

namespace {

// clock - CLOCK_REALTIME, ns, at the tightest bracket.
double offset(const aerolog::TscClock& c) {
  double best = 0;
  std::uint64_t width = ~0ull;
  for (int i = 0; i < 16; ++i) {
    const std::uint64_t a = aerolog::TscClock::realtime_ns();
    const std::uint64_t t = c.now();
    const std::uint64_t b = aerolog::TscClock::realtime_ns();
    if (b - a < width) {
      width = b - a;
      best = static_cast<double>(static_cast<std::int64_t>(t - (a + (b - a) / 2)));  // exact: no 1.8e18 double
    }
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3600, every = 60;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (a == "--every" && i + 1 < argc) {
      every = std::atof(argv[++i]);
    } else {
      std::printf(
          "usage: bench_clock [--seconds N] [--every S]\n"
          "  Drift of producer timestamps against CLOCK_REALTIME: a clock following the sidecar's clock\n"
          "  page and a clock calibrated once on its own, every S seconds (default 60) for N (3600).\n");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  char shm_t[] = "/dev/shm/aerolog-bench-clock.XXXXXX", wal_t[] = "/tmp/aerolog-bench-clock.XXXXXX";
  const std::string shm = ::mkdtemp(shm_t) ? shm_t : "", wal = ::mkdtemp(wal_t) ? wal_t : "";
  const pid_t sidecar =
      bench::spawn({AEROLOG_SIDECAR_BIN, "--shm-dir", shm, "--wal-dir", wal, "--log-file", wal + "/sidecar.log"});
  aerolog::TscClock own = aerolog::TscClock::calibrate();
  aerolog::TscClock page = own;
  for (int i = 0; i < 500 && !page.follow(shm); ++i) ::usleep(10'000);
  if (!page.following()) {
    std::fprintf(stderr, "bench_clock: the sidecar made no clock page in %s\n", shm.c_str());
    return 1;
  }
  std::printf("| elapsed s | page clock - realtime ns | own clock - realtime ns |\n|---:|---:|---:|\n");
  double worst_page = 0, worst_own = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (double next = 0;; next += every) {
    std::this_thread::sleep_until(t0 + std::chrono::duration<double>(next));
    const double p = offset(page), o = offset(own);
    worst_page = std::max(worst_page, std::fabs(p));
    worst_own = std::max(worst_own, std::fabs(o));
    std::printf("| %.0f | %.0f | %.0f |\n", next, p, o);
    std::fflush(stdout);
    if (next + every > seconds) break;
  }
  std::printf("\nover %.0f s: page clock within %.0f ns of CLOCK_REALTIME (target 10000), own clock within %.0f ns\n",
              seconds, worst_page, worst_own);
  ::kill(sidecar, SIGTERM);
  ::waitpid(sidecar, nullptr, 0);
  std::system(("rm -rf '" + shm + "' '" + wal + "'").c_str());
  return 0;
}
