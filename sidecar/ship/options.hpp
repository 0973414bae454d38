// Every aerolog-ship option, its default and its meaning: one struct, registered with CLI11 so
// the same names work as --flags and as keys of the TOML file given with --config.
#pragma once
#include <aerolog/proto/control.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace CLI {
class App;
}
namespace aerolog::common {
class TomlConfig;
}

namespace aerolog::ship {

struct Options {
  std::string wal_dir;                                  // the sidecar's WAL root (empty: the running sidecar's)
  std::string shm_dir = proto::kDefaultShmDir;          // where the rings (and their durable HWM) are
  std::string state_dir = proto::kDefaultShipStateDir;  // <state-dir>/<sink>/<stream>.ckpt
  std::string host;                                     // names this box in the sinks (default: hostname)

  std::string clickhouse_url;  // http://127.0.0.1:8123 (empty: sink off)
  std::string clickhouse_database = "default";
  std::string clickhouse_table = "aerolog_records";
  std::string clickhouse_logs = "aerolog_logs";   // the log view (its rows: <logs>_data)
  std::string clickhouse_user;                    // empty: the server's default user
  std::uint32_t clickhouse_batch_rows = 200'000;  // rows per INSERT (ClickHouse: atomic below 1,048,576)
  std::uint64_t clickhouse_linger_ms = 200;       // send a partial batch once it is this old
  std::uint64_t clickhouse_timeout_ms = 30'000;

  std::string nats_url;                        // nats://127.0.0.1:4222 (empty: sink off)
  std::string nats_stream = "AEROLOG";         // JetStream stream, created if missing
  std::string nats_subject = "aerolog";        // messages go to <subject>.<host>.<stream>
  std::uint32_t nats_in_flight = 64;           // async publishes awaiting their ack
  std::uint64_t nats_batch_bytes = 256 << 10;  // body bytes per message
  std::uint64_t nats_linger_ms = 5;
  std::uint64_t nats_ack_timeout_ms = 5000;
  std::uint64_t nats_duplicate_window_s = 600;  // for a stream aerolog-ship creates

  std::uint64_t checkpoint_interval_ms = 100;  // at most this often per stream and sink
  std::uint64_t max_backoff_ms = 10'000;       // reconnect backoff doubles from 100 ms up to this
  std::uint64_t scan_interval_ms = 1000;       // look for new streams in --wal-dir
  bool once = false;                           // ship what is durable now, then exit
  std::string log_level = "info";
  std::string log_file;  // empty: stderr ('-' also: stderr)
};

// Registers every option and --config; the config file's reader, for parse_cli's messages.
std::shared_ptr<common::TomlConfig> add_options(CLI::App& app, Options& o);

}  // namespace aerolog::ship
