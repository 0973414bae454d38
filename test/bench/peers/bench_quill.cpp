// Quill beside AeroLog (built only when AEROLOG_PEERS_DIR holds Quill's sources; see
// scripts/bench.sh): the same 40 bytes per call, five uint64 arguments, deferred formatting; and
// bench_logger's 3- and 5-argument calls.
// Quill v12: BoundedBlocking queue of 128 MiB (a full queue waits, nothing is dropped), its
// backend thread pinned to CPU 1 with its default idle sleep, formatting into a NullSink (no
// disk, like bench_producer's drainer). The caller is on CPU 0.
#include "../bench_util.hpp"

#include <aerolog/clock.hpp>

#include "quill/Backend.h"
#include "quill/Frontend.h"
#include "quill/LogMacros.h"
#include "quill/Logger.h"
#include "quill/sinks/NullSink.h"

#include <cstdint>
#include <cstdio>

namespace {

using namespace bench;

struct BenchFrontendOptions {
  static constexpr quill::QueueType queue_type = quill::QueueType::BoundedBlocking;
  static constexpr std::size_t initial_queue_capacity = 128u * 1024u * 1024u;
  static constexpr std::uint32_t blocking_queue_retry_interval_ns = 800;
  static constexpr std::size_t unbounded_queue_max_capacity = 2ull * 1024u * 1024u * 1024u;
  static constexpr quill::HugePagesPolicy huge_pages_policy = quill::HugePagesPolicy::Never;
};
using Frontend = quill::FrontendImpl<BenchFrontendOptions>;
using Logger = quill::LoggerImpl<BenchFrontendOptions>;

std::vector<Row> run_once(const Config& cfg, Logger* log) {
  std::vector<Row> rows;
  std::uint64_t i = 0;
  const char* sym = "AAPL";
  double px = 585.33;
  auto measure = [&](const char* name, auto&& op) {
    Row r{name};
    r.cross_core_ns = cross_core_ns();
    latency(r, cfg.samples, op, [&] { log->flush_log(); });
    log->flush_log();  // each phase starts with an empty queue
    r.tput_small = throughput(cfg.small, op);
    log->flush_log();
    r.tput_large = throughput(cfg.slow_large, op);
    log->flush_log();
    rows.push_back(r);
  };
  measure("Quill v12 BoundedBlocking", [&] {
    ++i;
    LOG_INFO(log, "{} {} {} {} {}", i, i + 1, i + 2, i + 3, i + 4);
  });
  // bench_logger's calls
  measure("Quill v12, 3 args", [&] {
    ++i;
    LOG_INFO(log, "fill {} @ {} {}", i, px, sym);
  });
  measure("Quill v12, 5 args", [&] {
    ++i;
    LOG_INFO(log, "{} {} {} {} {}", i, i + 1, px, sym, i + 2);
  });
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  const Config cfg = parse_args(argc, argv,
                                "usage: bench_quill [--samples N] [--large N] [--repeat R] [--json FILE] [--quick]\n"
                                "  bench_producer's measurements for Quill (5 x uint64, deferred format).\n");
  pin(0);
  const double bracket = calibrate(aerolog::TscClock::calibrate().ticks_per_ns());
  quill::BackendOptions bo;
  bo.cpu_affinity = {1};
  quill::Backend::start(bo);
  Logger* log = Frontend::create_or_get_logger("bench", Frontend::create_or_get_sink<quill::NullSink>("null"));
  Frontend::preallocate();
  std::vector<std::vector<Row>> runs;
  for (int r = 0; r < cfg.repeat; ++r) runs.push_back(run_once(cfg, log));
  const std::vector<Summary> rows = summarize(runs);
  print_table(rows);
  quill::Backend::stop();
  return write_json(cfg, "quill", 40, bracket, rows) ? 0 : 1;
}
