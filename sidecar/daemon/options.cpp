#include "options.hpp"

#include "cli.hpp"
#include "config_file.hpp"
#include "units.hpp"

#include <aerolog/proto/names.hpp>

#include <CLI/CLI.hpp>

#include <map>

namespace aerolog::sidecar {

const char* to_string(Idle i) { return i == Idle::spin ? "spin" : i == Idle::backoff ? "backoff" : "sleep"; }

std::shared_ptr<common::TomlConfig> add_options(CLI::App& app, Options& o) {
  using common::duration_value, common::one_of, common::size_value;
  static const std::map<std::string, Idle> idle{
      {"spin", Idle::spin}, {"backoff", Idle::backoff}, {"sleep", Idle::sleep}};
  static const std::map<std::string, Zeroing> zeroing{
      {"idle", Zeroing::idle}, {"always", Zeroing::always}, {"never", Zeroing::never}};
  auto config = common::use_toml_config(
      app,
      "TOML file whose keys are the option names (wal-dir = \"/data/wal\", segment-size = \"64M\"); "
      "a flag beats the file, which beats the environment");
  common::add_shm_dir(app, o.shm_dir, "directory watched for rings (aerolog.<stream>)");
  common::add_wal_dir(app, o.wal_dir, "WAL root: <wal-dir>/<stream>/<base_seq>.alog")->capture_default_str();
  app.add_option_function<std::string>(
         "--durability", [&o](const std::string& v) { o.durability = *proto::durability_named(v); },
         "dsync: O_DIRECT writes with RWF_DSYNC; fdatasync: O_DIRECT write + linked fdatasync; "
         "none: no sync at all (benchmarks only, status says so loudly)")
      ->transform(one_of({"dsync", "fdatasync", "none"}))
      ->default_str("dsync");
  app.add_option("--depth", o.depth, "blocks in flight per stream")->check(CLI::Range(1u, 64u))->capture_default_str();
  app.add_option("--max-block", o.max_block, "most frame bytes per block (group commit takes up to this)")
      ->transform(size_value())
      ->check(CLI::Range(std::uint64_t{4096}, std::uint64_t{64} << 20))
      ->capture_default_str();
  app.add_option("--batch-delay-us", o.batch_delay_us,
                 "wait up to this long for a block to fill before writing it (0: write at once)")
      ->transform(duration_value("us"))
      ->capture_default_str();
  app.add_option("--segment-size", o.segment_size,
                 "bytes per segment file, preallocated, once a stream's segments grew")
      ->transform(size_value())
      ->check(CLI::Range(std::uint64_t{1} << 20, std::uint64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--min-segment-size", o.min_segment_size,
                 "a stream's first segment; each roll doubles the next one up to --segment-size, so a quiet "
                 "stream costs little disk (raised to what two of the largest blocks need)")
      ->transform(size_value())
      ->check(CLI::Range(std::uint64_t{1} << 20, std::uint64_t{1} << 40))
      ->capture_default_str();
  app.add_option_function<std::string>(
         "--zero-spares", [&o](const std::string& v) { o.zero_spares = zeroing.at(v); },
         "when the next segment's preallocated extents are written as zeros (a write into an unwritten extent "
         "commits metadata): idle, before the spare is used unless a stream waits on the disk (then later); "
         "always, before the spare is used; never")
      ->transform(one_of({"idle", "always", "never"}))
      ->default_str("idle");
  app.add_option("--retention-bytes", o.retention_bytes,
                 "keep sealed segments under this total per stream (0: no limit)")
      ->transform(size_value())
      ->capture_default_str();
  app.add_option("--retention-age", o.retention_age_s, "delete sealed segments older than this many seconds (0: never)")
      ->transform(duration_value("s"))
      ->capture_default_str();
  app.add_option("--ship-state-dir", o.ship_state_dir,
                 "aerolog-ship's --state-dir: retention never deletes a segment a sink there still needs "
                 "(empty: ignore the shipper)")
      ->capture_default_str();
  app.add_option("--retention-cap-bytes", o.retention_cap_bytes,
                 "hard cap per stream: above it the oldest segments go even if a sink still needs them "
                 "(logged, with the seqs lost to the sink; 0: no cap)")
      ->transform(size_value())
      ->capture_default_str();
  app.add_option("--retire-grace", o.retire_grace_s,
                 "seconds after its producer is gone before a fully durable ring is shrunk to its header")
      ->transform(duration_value("s"))
      ->capture_default_str();
  app.add_option("--scan-interval-ms", o.scan_interval_ms, "periodic rescan of --shm-dir besides inotify")
      ->transform(duration_value("ms"))
      ->check(CLI::Range(std::uint64_t{10}, std::uint64_t{60000}))
      ->capture_default_str();
  app.add_option_function<std::string>(
         "--idle", [&o](const std::string& v) { o.idle = idle.at(v); },
         "idle strategy: spin (burns a core, lowest latency), backoff, sleep")
      ->transform(one_of({"spin", "backoff", "sleep"}))
      ->default_str("backoff");
  app.add_option("--spin-us", o.spin_us, "backoff: busy poll this long after the last work")
      ->transform(duration_value("us"))
      ->capture_default_str();
  app.add_option("--max-sleep-us", o.max_sleep_us, "backoff/sleep: longest nap between polls")
      ->transform(duration_value("us"))
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1000000}))
      ->capture_default_str();
  app.add_option("--cpu", o.cpu, "pin the main loop to this CPU (-1: no pinning)")->capture_default_str();
  app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error, critical, off")
      ->transform(one_of({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.add_option("--log-file", o.log_file,
                 "log file; '-' for stderr (default: stderr without timestamps under journald, "
                 "else <wal-dir>/sidecar.log)");
  app.add_option("--stop-timeout", o.stop_timeout_s, "on SIGTERM/SIGINT, drain for at most this many seconds")
      ->transform(duration_value("s"))
      ->capture_default_str();
  app.add_option("--max-streams", o.max_streams,
                 "streams served at once; a ring beyond it is not served (logged, counted in status)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 20))
      ->capture_default_str();
  app.add_option("--max-streams-per-user", o.max_streams_per_user,
                 "streams whose rings one user owns; a ring beyond it is not served")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 20))
      ->capture_default_str();
  app.add_option("--max-ring-capacity", o.max_ring_capacity,
                 "largest ring data area served, in bytes; a ring whose header claims more is not served")
      ->transform(size_value())
      ->check(CLI::Range(proto::kRingMinCapacity, proto::kRingMaxCapacity))
      ->capture_default_str();
  return config;
}

}  // namespace aerolog::sidecar
