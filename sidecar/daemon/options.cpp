#include "options.hpp"

#include <aerolog/proto/names.hpp>

#include <CLI/CLI.hpp>

#include <map>

namespace aerolog::sidecar {

const char* to_string(Idle i) { return i == Idle::spin ? "spin" : i == Idle::backoff ? "backoff" : "sleep"; }

void add_options(CLI::App& app, Options& o) {
  static const std::map<std::string, Idle> idle{
      {"spin", Idle::spin}, {"backoff", Idle::backoff}, {"sleep", Idle::sleep}};
  static const std::map<std::string, Zeroing> zeroing{
      {"idle", Zeroing::idle}, {"always", Zeroing::always}, {"never", Zeroing::never}};
  app.set_config("--config", "", "TOML file with the same option names as keys (e.g. wal-dir = \"/data/wal\")");
  app.add_option("--shm-dir", o.shm_dir, "directory watched for rings (aerolog.<stream>)")->capture_default_str();
  app.add_option("--wal-dir", o.wal_dir, "WAL root: <wal-dir>/<stream>/<base_seq>.alog")->capture_default_str();
  app.add_option_function<std::string>(
         "--durability",
         [&o](const std::string& v) { o.durability = *proto::durability_named(CLI::detail::to_lower(v)); },
         "dsync: O_DIRECT writes with RWF_DSYNC; fdatasync: O_DIRECT write + linked fdatasync; "
         "none: no sync at all (benchmarks only, status says so loudly)")
      ->check(CLI::IsMember({"dsync", "fdatasync", "none"}, CLI::ignore_case))
      ->type_name("dsync|fdatasync|none")
      ->default_str("dsync");
  app.add_option("--depth", o.depth, "blocks in flight per stream")->check(CLI::Range(1u, 64u))->capture_default_str();
  app.add_option("--max-block", o.max_block, "most frame bytes per block (group commit takes up to this)")
      ->check(CLI::Range(std::uint64_t{4096}, std::uint64_t{64} << 20))
      ->capture_default_str();
  app.add_option("--batch-delay-us", o.batch_delay_us,
                 "wait up to this long for a block to fill before writing it (0: write at once)")
      ->capture_default_str();
  app.add_option("--segment-size", o.segment_size, "bytes per segment file, preallocated")
      ->check(CLI::Range(std::uint64_t{1} << 20, std::uint64_t{1} << 40))
      ->capture_default_str();
  app.add_option_function<std::string>(
         "--zero-spares", [&o](const std::string& v) { o.zero_spares = zeroing.at(CLI::detail::to_lower(v)); },
         "when the next segment's preallocated extents are written as zeros (a write into an unwritten extent "
         "commits metadata): idle, before the spare is used unless a stream waits on the disk (then later); "
         "always, before the spare is used; never")
      ->check(CLI::IsMember({"idle", "always", "never"}, CLI::ignore_case))
      ->type_name("idle|always|never")
      ->default_str("idle");
  app.add_option("--retention-bytes", o.retention_bytes,
                 "keep sealed segments under this total per stream (0: no limit)")
      ->capture_default_str();
  app.add_option("--retention-age", o.retention_age_s, "delete sealed segments older than this many seconds (0: never)")
      ->capture_default_str();
  app.add_option("--ship-state-dir", o.ship_state_dir,
                 "aerolog-ship's --state-dir: retention never deletes a segment a sink there still needs "
                 "(empty: ignore the shipper)")
      ->capture_default_str();
  app.add_option("--retention-cap-bytes", o.retention_cap_bytes,
                 "hard cap per stream: above it the oldest segments go even if a sink still needs them "
                 "(logged, with the seqs lost to the sink; 0: no cap)")
      ->capture_default_str();
  app.add_option("--retire-grace", o.retire_grace_s,
                 "seconds after its producer is gone before a fully durable ring is shrunk to its header")
      ->capture_default_str();
  app.add_option("--scan-interval-ms", o.scan_interval_ms, "periodic rescan of --shm-dir besides inotify")
      ->check(CLI::Range(std::uint64_t{10}, std::uint64_t{60000}))
      ->capture_default_str();
  app.add_option_function<std::string>(
         "--idle", [&o](const std::string& v) { o.idle = idle.at(CLI::detail::to_lower(v)); },
         "idle strategy: spin (burns a core, lowest latency), backoff, sleep")
      ->check(CLI::IsMember({"spin", "backoff", "sleep"}, CLI::ignore_case))
      ->type_name("spin|backoff|sleep")
      ->default_str("backoff");
  app.add_option("--spin-us", o.spin_us, "backoff: busy poll this long after the last work")->capture_default_str();
  app.add_option("--max-sleep-us", o.max_sleep_us, "backoff/sleep: longest nap between polls")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1000000}))
      ->capture_default_str();
  app.add_option("--cpu", o.cpu, "pin the main loop to this CPU (-1: no pinning)")->capture_default_str();
  app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error, critical, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.add_option("--log-file", o.log_file,
                 "log file; '-' for stderr (default: stderr without timestamps under journald, "
                 "else <wal-dir>/sidecar.log)");
  app.add_option("--stop-timeout", o.stop_timeout_s, "on SIGTERM/SIGINT, drain for at most this many seconds")
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
      ->check(CLI::Range(proto::kRingMinCapacity, proto::kRingMaxCapacity))
      ->capture_default_str();
}

}  // namespace aerolog::sidecar
