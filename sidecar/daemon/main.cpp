// aerolog-sidecar: drains every AeroLog ring into durable .alog segments.
#include "cli.hpp"
#include "failpoint.hpp"
#include "options.hpp"
#include "sidecar.hpp"
#include "files.hpp"
#include "logging.hpp"
#include "stop_signals.hpp"

#include <aerolog/proto/frame.hpp>
#include <aerolog/proto/names.hpp>
#include <aerolog/proto/segment.hpp>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <sched.h>
#include <unistd.h>

namespace {

// Under systemd (JOURNAL_STREAM) with no --log-file: the journal; else the file, by default
// <wal-dir>/sidecar.log; "-": stderr. Returns the file ("" for the journal or stderr).
std::string setup_logging(const aerolog::sidecar::Options& o) {
  const bool journal = o.log_file.empty() && std::getenv("JOURNAL_STREAM");
  const std::string file = journal ? "" : o.log_file.empty() ? o.wal_dir + "/sidecar.log" : o.log_file;
  spdlog::set_default_logger(aerolog::common::make_logger("aerolog", file, o.log_level));
  return file == "-" ? "" : file;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace aerolog::sidecar;
  using namespace aerolog::common;
  const int signal_fd = aerolog::common::stop_signal_fd();  // first: before any thread exists
  Options o;
  CLI::App app{
      "aerolog-sidecar: drains every AeroLog ring in --shm-dir into durable .alog segments in\n"
      "--wal-dir and publishes each stream's durable seq (HWM) back into its ring. Run by systemd\n"
      "(Type=notify); SIGTERM/SIGINT drain every ring, sync and exit 0."};
  const auto config = add_options(app, o);
  bool check_only = false;
  app.add_flag("--check-config", check_only, "check the flags and the --config file, say so, and exit (0 valid, 2 not)")
      ->configurable(false);
  app.footer(
      "Exit status: 0 stopped cleanly; 1 runtime error (message on stderr and in the log);\n"
      "2 invalid flags or config file.");
  if (auto rc = aerolog::common::parse_cli(app, argc, argv, "aerolog-sidecar", config.get())) return *rc;
  fp::init();
  const std::uint64_t biggest_block =
      std::max<std::uint64_t>(o.max_block, aerolog::proto::kBlockHeaderSize + aerolog::proto::kMaxFrameSize);
  if (o.segment_size < 2 * biggest_block + aerolog::proto::kSegmentHeaderSize) {
    std::fprintf(stderr, "aerolog-sidecar: --segment-size %llu is too small for --max-block %llu (need >= %llu)\n",
                 static_cast<unsigned long long>(o.segment_size), static_cast<unsigned long long>(o.max_block),
                 static_cast<unsigned long long>(2 * biggest_block + aerolog::proto::kSegmentHeaderSize));
    return 2;
  }
  // Segments start small: at least two of the largest blocks (rounded up to 1 MiB), at most full size.
  const std::uint64_t smallest =
      (2 * biggest_block + aerolog::proto::kSegmentHeaderSize + (1u << 20) - 1) & ~std::uint64_t{(1u << 20) - 1};
  o.min_segment_size = std::min(std::max(o.min_segment_size, smallest), o.segment_size);
  if (check_only) {
    std::printf("aerolog-sidecar: configuration valid: shm %s, WAL %s, durability %s, segments %llu to %llu bytes\n",
                o.shm_dir.c_str(), o.wal_dir.c_str(), aerolog::proto::name_of(o.durability),
                static_cast<unsigned long long>(o.min_segment_size), static_cast<unsigned long long>(o.segment_size));
    return 0;
  }
  std::string log_file;
  try {
    make_dirs_durably(o.wal_dir, 0750);
    log_file = setup_logging(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "aerolog-sidecar: cannot open the log: %s\n", e.what());
    return 1;
  }
  if (o.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(o.cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) spdlog::warn("cannot pin to CPU {}", o.cpu);
  }
  try {
    Sidecar s(o);
    // Started by hand (on a terminal) with the log in a file: say on the terminal where it went.
    return s.run(signal_fd, ::isatty(STDERR_FILENO) && !log_file.empty() ? log_file : "");
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    std::fprintf(stderr, "aerolog-sidecar: %s\n", e.what());
    return 1;
  }
}
