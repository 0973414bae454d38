// spdlog through aerolog::spdlog_sink beside AEROLOG_INFO: the same 3-argument call ("fill {} @ {}
// {}": an integer, a double, a short string) on CPU 0, each ring drained on CPU 1 as the sidecar
// does (no disk), as in bench_logger. Rows: AEROLOG_INFO; spdlog with spdlog_sink_mt, with
// spdlog_sink_st (no mutex) and through SPDLOG_LOGGER_INFO (the file:line prefix); and spdlog
// with its null_sink_mt, the floor: spdlog's own formatting and dispatch, no sink work.
#include "bench_util.hpp"
#include "drainer.hpp"

#include <aerolog/logger.hpp>
#include <aerolog/spdlog_sink.hpp>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <unistd.h>

namespace {

using namespace bench;

struct Rings {
  std::string dir;
  aerolog::Logger& log;
  std::shared_ptr<spdlog::logger> mt, st, mt_located, null;
};

std::vector<Row> run_once(const Config& cfg, Rings& r) {
  std::vector<Row> rows;
  const char* sym = "AAPL";
  std::uint64_t i = 0;
  double px = 585.33;
  // The ring `ring` (empty: none) drained on CPU 1 while op runs.
  auto measure = [&](const char* name, const std::string& ring, auto&& op) {
    std::unique_ptr<Drainer> drain;
    if (!ring.empty()) drain = std::make_unique<Drainer>(r.dir + "/aerolog." + ring, 1);
    Row row{name};
    row.cross_core_ns = cross_core_ns();
    latency(row, cfg.samples, op);
    row.tput_small = throughput(cfg.small, op);
    row.tput_large = throughput(cfg.slow_large, op);
    rows.push_back(row);
  };
  measure("AEROLOG_INFO, 3 args", "bench.t1", [&] {
    ++i;
    AEROLOG_INFO(r.log, "fill {} @ {} {}", i, px, sym);
  });
  measure("spdlog sink_mt, 3 args", "spdlog-mt", [&] {
    ++i;
    r.mt->info("fill {} @ {} {}", i, px, sym);
  });
  measure("spdlog sink_st, 3 args", "spdlog-st", [&] {
    ++i;
    r.st->info("fill {} @ {} {}", i, px, sym);
  });
  measure("SPDLOG_LOGGER_INFO, sink_mt", "spdlog-loc", [&] {
    ++i;
    SPDLOG_LOGGER_INFO(r.mt_located, "fill {} @ {} {}", i, px, sym);
  });
  measure("spdlog null_sink, 3 args", "", [&] {
    ++i;
    r.null->info("fill {} @ {} {}", i, px, sym);
  });
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  const Config cfg =
      parse_args(argc, argv,
                 "usage: bench_spdlog_sink [--samples N] [--repeat R] [--json FILE] [--quick]\n"
                 "  The 3-argument call through AEROLOG_INFO and through spdlog with aerolog::spdlog_sink\n"
                 "  (_mt, _st, SPDLOG_LOGGER_INFO with file:line) and with spdlog's null sink: P50..max\n"
                 "  single-call latency (ns), the per-call time of 20-call batches, and throughput for 1M\n"
                 "  and 10M calls. A thread on CPU 1 drains each ring (64 MiB, spin when full: nothing is\n"
                 "  dropped) as the sidecar does, without a disk.\n");
  pin(0);
  const double bracket = calibrate(aerolog::TscClock::calibrate().ticks_per_ns());
  char dir[] = "/dev/shm/aerolog-bench-spdlog.XXXXXX";
  if (!::mkdtemp(dir)) return 1;
  aerolog::ProducerOptions ring;
  ring.shm_dir = dir;
  ring.capacity = 64u << 20;
  ring.on_full = aerolog::FullPolicy::spin;
  aerolog::LoggerOptions o;
  o.ring = ring;
  auto log = aerolog::Logger::open("bench", o);
  log.preallocate();
  auto mt = std::make_shared<aerolog::spdlog_sink_mt>("spdlog-mt", ring);
  auto st = std::make_shared<aerolog::spdlog_sink_st>("spdlog-st", ring);
  auto located = std::make_shared<aerolog::spdlog_sink_mt>("spdlog-loc", ring);
  Rings rings{dir,
              log,
              std::make_shared<spdlog::logger>("mt", mt),
              std::make_shared<spdlog::logger>("st", st),
              std::make_shared<spdlog::logger>("loc", located),
              std::make_shared<spdlog::logger>("null", std::make_shared<spdlog::sinks::null_sink_mt>())};
  std::vector<std::vector<Row>> runs;
  for (int r = 0; r < cfg.repeat; ++r) {
    std::fprintf(stderr, "run %d/%d...\n", r + 1, cfg.repeat);
    runs.push_back(run_once(cfg, rings));
  }
  const std::vector<Summary> rows = summarize(runs);
  print_table(rows);
  const std::uint64_t dropped = mt->stats().dropped + st->stats().dropped + located->stats().dropped;
  std::printf("\ndropped by the sinks: %llu\n", static_cast<unsigned long long>(dropped));
  std::system(("rm -rf '" + std::string(dir) + "'").c_str());
  return write_json(cfg, "spdlog_sink", 0, bracket, rows) ? 0 : 1;
}
