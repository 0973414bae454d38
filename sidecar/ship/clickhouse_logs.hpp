// Sink `clickhouse`, the log table: each stream's log lines as rows of <logs>_data, read through
// the view <logs> (FINAL; --clickhouse-logs, default aerolog_logs). A LogEvent is decoded with
// the sites of the stream (its LogSite records as the batches pass them, and the site catalog
// for those before the checkpoint or skipped) and rendered as `aerologctl cat` renders it; Text
// records and Dropped markers are rows too; other records are not. The rows go with the batch
// of their records and are keyed by (host, stream, seq) like the record table, so a batch
// re-sent after a failure collapses in both. Layout: FORMAT.md 10.2.
#pragma once
#include <aerolog/log_decoder.hpp>
#include <aerolog/reader.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace aerolog::ship {

class LogRows {
 public:
  LogRows(std::string wal_dir, const std::string& host);
  void add_stream(std::uint32_t id, const std::string& stream);
  // Appends the record's row (RowBinary) to `body` if it is a log line.
  void append(std::string& body, std::uint32_t id, const Record& r);

 private:
  struct Stream {
    std::string dir, key;  // key: host and stream, RowBinary-encoded
    LogDecoder decoder;
    std::uint64_t fed = 0;                    // the highest seq the decoder has seen
    std::int64_t catalog_size = -1;           // the site catalog's size when last read (-1: never)
    bool reload_catalog();                    // reads it again if it changed; true if it did
    const LogEvent* decode(const Record& r);  // with the catalog read again once, if it helps
  };
  std::string wal_dir_, host_;
  std::vector<std::unique_ptr<Stream>> streams_;
  std::string message_;
};

// The table the rows of the log view `logs` go into, and the CREATE TABLE and CREATE VIEW
// statements (IF NOT EXISTS) of both.
std::string clickhouse_log_table(const std::string& logs);
std::vector<std::string> clickhouse_log_schema(const std::string& db, const std::string& logs);

}  // namespace aerolog::ship
