#include "clickhouse_logs.hpp"

#include "record_format.hpp"
#include "rowbinary.hpp"

#include <aerolog/proto/log.hpp>
#include <aerolog/proto/records.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>

namespace aerolog::ship {

using namespace proto;
using namespace rowbinary;

namespace {

static_assert(static_cast<int>(Level::trace) == 0 && static_cast<int>(Level::critical) == 5,
              "the level Enum8 below has the values of proto::Level");

// What a row says where the record cannot give it: events that do not decode, Dropped markers,
// a Text record's level outside the enumeration.
constexpr Level kNoticeLevel = Level::warn;

template <class T>
bool load(const Record& r, T& out) {
  if (r.payload.size() < sizeof(T)) return false;
  std::memcpy(&out, r.payload.data(), sizeof(T));
  return true;
}

// One row, in the table's column order.
void put_row(std::string& b, const std::string& key, const Record& r, std::uint16_t type, Level level,
             const LogSite* site, std::uint32_t site_id, const std::vector<LogArg>& args, std::string_view message) {
  b += key;
  put_le(b, r.seq);
  put_le(b, r.timestamp);
  put_le(b, static_cast<std::int8_t>(type));
  put_le(b, static_cast<std::int8_t>(level));
  put_le(b, site_id);
  const std::string none;
  put_string(b, site ? site->file : none);
  put_le(b, site ? site->line : std::uint32_t{0});
  put_string(b, site ? site->function : none);
  put_string(b, site ? site->format : none);
  put_varint(b, args.size());
  for (const LogArg& a : args) put_string(b, common::arg_text(a));
  put_string(b, message.data(), message.size());
}

}  // namespace

std::string clickhouse_log_table(const std::string& logs) { return logs + "_data"; }

std::vector<std::string> clickhouse_log_schema(const std::string& db, const std::string& logs) {
  const std::string data = "`" + db + "`.`" + clickhouse_log_table(logs) + "`";
  return {
      "CREATE TABLE IF NOT EXISTS " + data +
          " (host String, stream String, seq UInt64, ts_ns UInt64, type Enum8('Text' = " + std::to_string(kTypeText) +
          ", 'Log' = " + std::to_string(kTypeLogEvent) + ", 'Dropped' = " + std::to_string(kTypeDropped) +
          "), level Enum8('trace' = 0, 'debug' = 1, 'info' = 2, 'warn' = 3, 'error' = 4, 'critical' = 5),"
          " site UInt32, file String, line UInt32, function String, format String, args Array(String), message String)"
          " ENGINE = ReplacingMergeTree()"
          " PARTITION BY toYYYYMM(toDate(toDateTime(intDiv(ts_ns, 1000000000))))"
          " ORDER BY (host, stream, seq)",
      "CREATE VIEW IF NOT EXISTS `" + db + "`.`" + logs +
          "` AS SELECT toDateTime(intDiv(ts_ns, 1000000000), 'UTC') AS ts, host, stream, seq, level, file, line,"
          " function, format, message, args, type, site, ts_ns FROM " +
          data + " FINAL",
  };
}

LogRows::LogRows(std::string wal_dir, const std::string& host) : wal_dir_(std::move(wal_dir)), host_(host) {}

void LogRows::add_stream(std::uint32_t id, const std::string& stream) {
  if (streams_.size() <= id) streams_.resize(id + 1);
  streams_[id] = std::make_unique<Stream>();
  Stream& s = *streams_[id];
  s.dir = wal_dir_ + "/" + stream;
  put_string(s.key, host_);
  put_string(s.key, stream);
}

bool LogRows::Stream::reload_catalog() {
  std::error_code ec;
  const auto size = std::filesystem::file_size(dir + "/" + kSiteCatalogName, ec);
  if (ec || static_cast<std::int64_t>(size) == catalog_size) return false;
  catalog_size = static_cast<std::int64_t>(size);
  try {
    decoder.load_catalog(dir);
  } catch (const Error&) {
    // damaged: the sites before the damage are in; an event of a later one will not decode
  }
  return true;
}

const LogEvent* LogRows::Stream::decode(const Record& r) {
  const LogEvent* e = decoder.decode(r);
  if (!e && r.type == kTypeLogEvent && reload_catalog()) e = decoder.decode(r);  // its site came after our read
  return e;
}

void LogRows::append(std::string& body, std::uint32_t id, const Record& r) {
  Stream& s = *streams_.at(id);
  // Records before this one were never passed here (a resume after the checkpoint, a seq range
  // the retention cap deleted): their sites are in the catalog.
  if (r.seq > s.fed + 1) s.reload_catalog();
  s.fed = std::max(s.fed, r.seq);
  static const std::vector<LogArg> no_args;
  switch (r.type) {
    case kTypeLogSite:
      s.decoder.decode(r);
      return;
    case kTypeLogEvent:
      if (const LogEvent* e = s.decode(r)) {
        message_.clear();
        s.decoder.render_to(message_, *e);
        put_row(body, s.key, r, kTypeLogEvent, e->site->level, e->site, e->site->id, e->args, message_);
      } else {
        LogEventHeader h{};
        load(r, h);
        put_row(body, s.key, r, kTypeLogEvent, kNoticeLevel, nullptr, h.site, no_args,
                common::undecodable_text(s.decoder.error(), r.payload));
      }
      return;
    case kTypeText: {
      TextHeader t;
      if (!load(r, t)) {
        put_row(body, s.key, r, kTypeText, kNoticeLevel, nullptr, 0, no_args, common::malformed_text(r.payload));
        return;
      }
      const Level level =
          static_cast<unsigned>(t.level) <= static_cast<unsigned>(Level::critical) ? t.level : kNoticeLevel;
      put_row(body, s.key, r, kTypeText, level, nullptr, 0, no_args,
              {reinterpret_cast<const char*>(r.payload.data()) + sizeof t, r.payload.size() - sizeof t});
      return;
    }
    case kTypeDropped: {
      Dropped d;
      put_row(body, s.key, r, kTypeDropped, kNoticeLevel, nullptr, 0, no_args,
              load(r, d) ? std::to_string(d.count) + " " + common::dropped_text(d) : common::malformed_text(r.payload));
      return;
    }
    default:
      return;
  }
}

}  // namespace aerolog::ship
