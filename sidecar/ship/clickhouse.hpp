// Sink `clickhouse`: INSERT ... FORMAT RowBinary over the HTTP interface (libcurl), one batch
// per INSERT, synchronously. The table is a ReplacingMergeTree ordered by (host, stream, seq),
// so a batch re-sent after a crash collapses; typed views decode the standard records. The log
// lines of a batch go into the log table (clickhouse_logs.hpp) by a second INSERT, before the
// batch counts as acknowledged.
#pragma once
#include "clickhouse_logs.hpp"
#include "options.hpp"
#include "sink.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace aerolog::ship {

class ClickHouseSink final : public Sink {
 public:
  explicit ClickHouseSink(const Options& o);
  ~ClickHouseSink() override;
  const char* name() const override { return "clickhouse"; }
  void connect() override;
  void disconnect() override;
  void add_stream(std::uint32_t id, const std::string& stream) override;
  std::uint64_t resume_after(std::uint32_t, std::uint64_t checkpoint) override { return checkpoint; }
  std::uint32_t max_records() const override { return o_.clickhouse_batch_rows; }
  std::uint64_t max_bytes() const override { return 256ull << 20; }
  std::uint64_t max_message_bytes() const override { return UINT64_MAX; }
  std::uint64_t linger_ns() const override { return o_.clickhouse_linger_ms * 1'000'000; }
  void begin(Batch& b) override;
  void append(Batch& b, const Record& r) override;
  void finish(Batch&) override {}
  bool can_send() const override { return true; }
  void send(Batch&& b) override;
  void collect(std::vector<Batch>& acked) override;
  std::size_t in_flight() const override { return 0; }

  // Runs one statement; returns the response body. Throws SinkError. (Also used by the tests.)
  std::string query(const std::string& sql, const std::string& body = {});

 private:
  const Options& o_;
  void* curl_ = nullptr;
  std::string host_prefix_;               // RowBinary-encoded host, shared by every row
  std::vector<std::string> stream_cols_;  // RowBinary-encoded stream name, by stream id
  LogRows logs_;
  std::vector<Batch> acked_;
};

// The CREATE TABLE and CREATE VIEW statements (IF NOT EXISTS) for `db`.`table`, its typed views,
// and the log view `logs` with its table.
std::vector<std::string> clickhouse_schema(const std::string& db, const std::string& table, const std::string& logs);

// A name clickhouse_schema would give two of its tables and views, if any.
std::optional<std::string> clickhouse_name_clash(const std::string& table, const std::string& logs);

}  // namespace aerolog::ship
