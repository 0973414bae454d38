// fmtlog beside AeroLog (built only when AEROLOG_PEERS_DIR holds fmtlog's sources; see
// scripts/bench.sh): the same 40 bytes per call, five uint64 arguments, deferred formatting; and
// bench_logger's 3- and 5-argument calls.
// fmtlog v2.2 (the newest that builds with Debian's {fmt} 9) with FMTLOG_BLOCK=1 and a 64 MiB
// queue (a full queue waits, nothing is dropped); a thread pinned to CPU 1 calls poll() in a
// loop and writes to /dev/null (no disk, like bench_producer's drainer). The caller is on CPU 0.
#define FMTLOG_HEADER_ONLY
#define FMTLOG_BLOCK 1
#define FMTLOG_QUEUE_SIZE (1 << 26)
#include "fmtlog.h"

#include "../bench_util.hpp"

#include <aerolog/clock.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

namespace {

using namespace bench;

std::vector<Row> run_once(const Config& cfg) {
  std::vector<Row> rows;
  std::atomic<bool> stop{false};
  std::thread poller([&] {
    pin(1);
    while (!stop.load(std::memory_order_relaxed)) fmtlog::poll();
    fmtlog::poll(true);
  });
  std::uint64_t i = 0;
  const char* sym = "AAPL";
  double px = 585.33;
  auto settle = [] { std::this_thread::sleep_for(std::chrono::milliseconds(500)); };  // the poller empties the queue
  auto measure = [&](const char* name, auto&& op) {
    Row r{name};
    r.cross_core_ns = cross_core_ns();
    latency(r, cfg.samples, op, settle);
    settle();  // each phase starts with an empty queue
    r.tput_small = throughput(cfg.small, op);
    settle();
    r.tput_large = throughput(cfg.slow_large, op);
    settle();
    rows.push_back(r);
  };
  measure("fmtlog v2.2 blocking", [&] {
    ++i;
    logi("{} {} {} {} {}", i, i + 1, i + 2, i + 3, i + 4);
  });
  // bench_logger's calls
  measure("fmtlog v2.2, 3 args", [&] {
    ++i;
    logi("fill {} @ {} {}", i, px, sym);
  });
  measure("fmtlog v2.2, 5 args", [&] {
    ++i;
    logi("{} {} {} {} {}", i, i + 1, px, sym, i + 2);
  });
  stop = true;
  poller.join();
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  const Config cfg = parse_args(argc, argv,
                                "usage: bench_fmtlog [--samples N] [--large N] [--repeat R] [--json FILE] [--quick]\n"
                                "  bench_producer's measurements for fmtlog (5 x uint64, deferred format).\n");
  pin(0);
  const double bracket = calibrate(aerolog::TscClock::calibrate().ticks_per_ns());
  fmtlog::setLogFile("/dev/null", false);
  fmtlog::preallocate();
  std::vector<std::vector<Row>> runs;
  for (int r = 0; r < cfg.repeat; ++r) runs.push_back(run_once(cfg));
  const std::vector<Summary> rows = summarize(runs);
  print_table(rows);
  return write_json(cfg, "fmtlog", 40, bracket, rows) ? 0 : 1;
}
