// Logger benchmark: AEROLOG_INFO with 3 arguments ("fill {} @ {} {}": an integer, a double, a
// short string) and with 5 ("{} {} {} {} {}": three integers, a double, a short string), and a
// call filtered out by the level, on CPU 0, with a thread on CPU 1 draining the ring as the
// sidecar does (no disk). bench_quill and bench_fmtlog measure the same calls (scripts/bench.sh
// runs them all; bench_report.py compares them).
#include "bench_util.hpp"
#include "drainer.hpp"

#include <aerolog/logger.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

namespace {

using namespace bench;

std::vector<Row> run_once(const Config& cfg, aerolog::Logger& log, const std::string& ring) {
  std::vector<Row> rows;
  Drainer drain(ring, 1);
  const char* sym = "AAPL";
  std::uint64_t i = 0;
  double px = 585.33;
  auto measure = [&](const char* name, auto&& op, std::uint64_t large) {
    Row r{name};
    r.cross_core_ns = cross_core_ns();
    latency(r, cfg.samples, op);
    r.tput_small = throughput(cfg.small, op);
    r.tput_large = throughput(large, op);
    rows.push_back(r);
  };
  measure(
      "AEROLOG_INFO, 3 args",
      [&] {
        ++i;
        AEROLOG_INFO(log, "fill {} @ {} {}", i, px, sym);
      },
      cfg.slow_large);
  measure(
      "AEROLOG_INFO, 5 args",
      [&] {
        ++i;
        AEROLOG_INFO(log, "{} {} {} {} {}", i, i + 1, px, sym, i + 2);
      },
      cfg.slow_large);
  measure(
      "AEROLOG_DEBUG, filtered out",
      [&] {
        ++i;
        AEROLOG_DEBUG(log, "{} {} {} {} {}", i, i + 1, px, sym, i + 2);
      },
      cfg.large);
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  const Config cfg =
      parse_args(argc, argv,
                 "usage: bench_logger [--samples N] [--large N] [--repeat R] [--json FILE] [--quick]\n"
                 "  AEROLOG_INFO with 3 and 5 arguments and a call below the level: P50..max single-call\n"
                 "  latency (ns), the per-call time of 20-call batches, and throughput for 1M calls and\n"
                 "  10M (--large for the filtered call). A thread on CPU 1 drains the ring (64 MiB, spin\n"
                 "  when full: nothing is dropped) as the sidecar does, without a disk.\n");
  pin(0);
  const double bracket = calibrate(aerolog::TscClock::calibrate().ticks_per_ns());
  char dir[] = "/dev/shm/aerolog-bench-logger.XXXXXX";
  if (!::mkdtemp(dir)) return 1;
  aerolog::LoggerOptions o;
  o.ring.shm_dir = dir;
  o.ring.capacity = 64u << 20;
  o.ring.on_full = aerolog::FullPolicy::spin;
  auto log = aerolog::Logger::open("bench", o);
  log.preallocate();
  std::vector<std::vector<Row>> runs;
  for (int r = 0; r < cfg.repeat; ++r) {
    std::fprintf(stderr, "run %d/%d...\n", r + 1, cfg.repeat);
    runs.push_back(run_once(cfg, log, std::string(dir) + "/aerolog.bench.t1"));
  }
  const std::vector<Summary> rows = summarize(runs);
  print_table(rows);
  std::system(("rm -rf '" + std::string(dir) + "'").c_str());
  return write_json(cfg, "logger", 0, bracket, rows) ? 0 : 1;
}
