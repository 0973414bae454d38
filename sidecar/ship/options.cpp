#include "options.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>

namespace aerolog::ship {

namespace {

// A ClickHouse name the shipper puts in backquotes in its SQL: letters, digits and '_'.
const CLI::Validator kSqlName(
    [](const std::string& s) {
      const bool ok = !s.empty() && s.size() <= 128 && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
      });
      return ok ? std::string() : "'" + s + "' is not a ClickHouse name of letters, digits and '_' (at most 128)";
    },
    "NAME");

}  // namespace

void add_options(CLI::App& app, Options& o) {
  app.set_config("--config", "",
                 "TOML file with the same option names as keys (e.g. clickhouse-url = \"http://db:8123\")");
  app.add_option("--wal-dir", o.wal_dir, "the sidecar's WAL root (<wal-dir>/<stream>/*.alog)")->capture_default_str();
  app.add_option("--shm-dir", o.shm_dir, "the sidecar's ring directory: a stream's durable HWM is read from its ring")
      ->capture_default_str();
  app.add_option("--state-dir", o.state_dir, "checkpoints: <state-dir>/<sink>/<stream>.ckpt")->capture_default_str();
  app.add_option("--host", o.host, "this box's name in the sinks (default: the host name)");

  app.add_option("--clickhouse-url", o.clickhouse_url,
                 "ClickHouse HTTP interface, e.g. http://127.0.0.1:8123 (empty: off)");
  app.add_option("--clickhouse-database", o.clickhouse_database,
                 "database of the table (this and the two names below: letters, digits and '_'; no two of the "
                 "tables and views may share a name)")
      ->check(kSqlName)
      ->capture_default_str();
  app.add_option("--clickhouse-table", o.clickhouse_table,
                 "table (created if missing), prefix of its views (<table>_trades, ...)")
      ->check(kSqlName)
      ->capture_default_str();
  app.add_option("--clickhouse-logs", o.clickhouse_logs,
                 "view of the log lines (created if missing), over the table <logs>_data")
      ->check(kSqlName)
      ->capture_default_str();
  app.add_option("--clickhouse-user", o.clickhouse_user,
                 "user (password, if any, from the environment variable AEROLOG_CLICKHOUSE_PASSWORD)");
  app.add_option("--clickhouse-batch-rows", o.clickhouse_batch_rows, "rows per INSERT")
      ->check(CLI::Range(1u, 1'000'000u))
      ->capture_default_str();
  app.add_option("--clickhouse-linger-ms", o.clickhouse_linger_ms,
                 "send a partial batch once its oldest record waited this long")
      ->capture_default_str();
  app.add_option("--clickhouse-timeout-ms", o.clickhouse_timeout_ms, "give up on one INSERT after this long")
      ->check(CLI::Range(std::uint64_t{100}, std::uint64_t{3'600'000}))
      ->capture_default_str();

  app.add_option("--nats-url", o.nats_url, "NATS server with JetStream, e.g. nats://127.0.0.1:4222 (empty: off)");
  app.add_option("--nats-stream", o.nats_stream, "JetStream stream, created if missing (subjects <nats-subject>.>)")
      ->capture_default_str();
  app.add_option("--nats-subject", o.nats_subject, "subject prefix: messages go to <prefix>.<host>.<stream>")
      ->capture_default_str();
  app.add_option("--nats-in-flight", o.nats_in_flight, "async publishes awaiting their ack, at most")
      ->check(CLI::Range(1u, 4096u))
      ->capture_default_str();
  app.add_option("--nats-batch-bytes", o.nats_batch_bytes,
                 "body bytes per message (a bigger record goes alone; capped by the server's max_payload)")
      ->check(CLI::Range(std::uint64_t{4096}, std::uint64_t{64} << 20))
      ->capture_default_str();
  app.add_option("--nats-linger-ms", o.nats_linger_ms, "send a partial batch once its oldest record waited this long")
      ->capture_default_str();
  app.add_option("--nats-ack-timeout-ms", o.nats_ack_timeout_ms, "a publish not acknowledged by then has failed")
      ->check(CLI::Range(std::uint64_t{100}, std::uint64_t{600'000}))
      ->capture_default_str();
  app.add_option("--nats-duplicate-window", o.nats_duplicate_window_s,
                 "seconds of duplicate detection for a stream aerolog-ship creates")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{7 * 86400}))
      ->capture_default_str();

  app.add_option("--checkpoint-interval-ms", o.checkpoint_interval_ms,
                 "write a stream's checkpoint at most this often (records acknowledged since are re-sent "
                 "after a crash and collapsed by the sink)")
      ->capture_default_str();
  app.add_option("--max-backoff-ms", o.max_backoff_ms, "reconnect backoff doubles from 100 ms up to this")
      ->check(CLI::Range(std::uint64_t{100}, std::uint64_t{600'000}))
      ->capture_default_str();
  app.add_option("--scan-interval-ms", o.scan_interval_ms, "look for new streams in --wal-dir this often")
      ->check(CLI::Range(std::uint64_t{10}, std::uint64_t{60'000}))
      ->capture_default_str();
  app.add_flag("--once", o.once, "ship every record that is durable now to every sink, then exit (0 when all arrived)");
  app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error, critical, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.add_option("--log-file", o.log_file, "log file (default and '-': stderr; journald adds the time)");
}

}  // namespace aerolog::ship
