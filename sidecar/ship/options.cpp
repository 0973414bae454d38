#include "options.hpp"

#include "cli.hpp"
#include "config_file.hpp"
#include "units.hpp"

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

std::shared_ptr<common::TomlConfig> add_options(CLI::App& app, Options& o) {
  using common::duration_value, common::one_of, common::size_value;
  auto config = common::use_toml_config(
      app,
      "TOML file whose keys are the option names (clickhouse-url = \"http://db:8123\"); a flag beats "
      "the file, which beats the environment");
  common::add_wal_dir(app, o.wal_dir,
                      "the sidecar's WAL root (<wal-dir>/<stream>/*.alog; default: the running sidecar's, else "
                      "/var/lib/aerolog)");
  common::add_shm_dir(app, o.shm_dir, "the sidecar's ring directory: a stream's durable HWM is read from its ring");
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
      ->transform(duration_value("ms"))
      ->capture_default_str();
  app.add_option("--clickhouse-timeout-ms", o.clickhouse_timeout_ms, "give up on one INSERT after this long")
      ->transform(duration_value("ms"))
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
      ->transform(size_value())
      ->check(CLI::Range(std::uint64_t{4096}, std::uint64_t{64} << 20))
      ->capture_default_str();
  app.add_option("--nats-linger-ms", o.nats_linger_ms, "send a partial batch once its oldest record waited this long")
      ->transform(duration_value("ms"))
      ->capture_default_str();
  app.add_option("--nats-ack-timeout-ms", o.nats_ack_timeout_ms, "a publish not acknowledged by then has failed")
      ->transform(duration_value("ms"))
      ->check(CLI::Range(std::uint64_t{100}, std::uint64_t{600'000}))
      ->capture_default_str();
  app.add_option("--nats-duplicate-window", o.nats_duplicate_window_s,
                 "seconds of duplicate detection for a stream aerolog-ship creates")
      ->transform(duration_value("s"))
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{7 * 86400}))
      ->capture_default_str();

  app.add_option("--checkpoint-interval-ms", o.checkpoint_interval_ms,
                 "write a stream's checkpoint at most this often (records acknowledged since are re-sent "
                 "after a crash and collapsed by the sink)")
      ->transform(duration_value("ms"))
      ->capture_default_str();
  app.add_option("--max-backoff-ms", o.max_backoff_ms, "reconnect backoff doubles from 100 ms up to this")
      ->transform(duration_value("ms"))
      ->check(CLI::Range(std::uint64_t{100}, std::uint64_t{600'000}))
      ->capture_default_str();
  app.add_option("--scan-interval-ms", o.scan_interval_ms, "look for new streams in --wal-dir this often")
      ->transform(duration_value("ms"))
      ->check(CLI::Range(std::uint64_t{10}, std::uint64_t{60'000}))
      ->capture_default_str();
  app.add_flag("--once", o.once, "ship every record that is durable now to every sink, then exit (0 when all arrived)");
  app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error, critical, off")
      ->transform(one_of({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.add_option("--log-file", o.log_file, "log file (default and '-': stderr; journald adds the time)");
  return config;
}

}  // namespace aerolog::ship
