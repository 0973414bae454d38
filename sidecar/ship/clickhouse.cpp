#include "clickhouse.hpp"

#include "rowbinary.hpp"

#include <aerolog/proto/names.hpp>
#include <aerolog/proto/records.hpp>

#include <curl/curl.h>

#include <algorithm>
#include <cstddef>
#include <cctype>
#include <cstdlib>
#include <cstring>

namespace aerolog::ship {

using namespace proto;
using namespace rowbinary;

namespace {

std::size_t on_body(char* p, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
}

std::string url_encode(const std::string& s) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out.push_back(static_cast<char>(c));
    else
      out += {'%', hex[c >> 4], hex[c & 15]};
  }
  return out;
}

// One typed column of a view: SQL expression over `payload` (1-based substring offsets).
struct Col {
  const char* name;
  const char* kind;  // i64 u64 u8 u16 u32 price text, or an enumeration: side action event verdict
  std::size_t off;
};

// A u8 enumeration as an Enum8 of the names every output uses (proto/names.hpp); a value with
// no name reads as '?' (never an error in a query).
template <std::size_t N>
std::string enum8(const std::string& u8, const char* const (&names)[N]) {
  std::string values, labels, type = "Enum8('?' = -1";
  for (std::size_t i = 0; i < N; ++i) {
    if (!*names[i]) continue;
    values += (values.empty() ? "" : ", ") + std::to_string(i);
    labels += std::string(labels.empty() ? "" : ", ") + "'" + names[i] + "'";
    type += std::string(", '") + names[i] + "' = " + std::to_string(i);
  }
  return "CAST(transform(" + u8 + ", [" + values + "], [" + labels + "], '?') AS " + type + "))";
}

std::string expr(const Col& c) {
  const std::string at = "substring(payload, " + std::to_string(c.off + 1) + ", ";
  const std::string k = c.kind;
  if (k == "text") return "replaceAll(" + at + std::to_string(kSymbolSize) + "), '\\0', '')";
  if (k == "price") return "reinterpretAsInt64(" + at + "8)) / " + std::to_string(kPriceScale) + ".";
  if (k == "i64") return "reinterpretAsInt64(" + at + "8))";
  if (k == "u64") return "reinterpretAsUInt64(" + at + "8))";
  if (k == "u32") return "reinterpretAsUInt32(" + at + "4))";
  if (k == "u16") return "reinterpretAsUInt16(" + at + "2))";
  const std::string u8 = "reinterpretAsUInt8(" + at + "1))";
  if (k == "side") return enum8(u8, kSideNames);
  if (k == "action") return enum8(u8, kOrderActionNames);
  if (k == "event") return enum8(u8, kBookEventNames);
  if (k == "verdict") return enum8(u8, kRiskVerdictNames);
  return u8;
}

struct View {
  const char* suffix;
  std::uint16_t type;
  std::vector<Col> cols;
};

std::vector<View> views() {
#define C(T, f, kind) \
  Col { #f, kind, offsetof(T, f) }
  return {
      {"trades",
       kTypeTrade,
       {C(Trade, symbol, "text"), C(Trade, price, "price"), C(Trade, qty, "i64"), C(Trade, trade_id, "u64"),
        C(Trade, order_id, "u64"), C(Trade, exch_ts, "u64"), C(Trade, aggressor, "side")}},
      {"orders",
       kTypeOrder,
       {C(Order, symbol, "text"), C(Order, order_id, "u64"), C(Order, orig_order_id, "u64"), C(Order, price, "price"),
        C(Order, qty, "i64"), C(Order, leaves_qty, "i64"), C(Order, exch_ts, "u64"), C(Order, action, "action"),
        C(Order, side, "side")}},
      {"quotes",
       kTypeQuote,
       {C(Quote, symbol, "text"), C(Quote, bid_price, "price"), C(Quote, bid_qty, "i64"), C(Quote, ask_price, "price"),
        C(Quote, ask_qty, "i64"), C(Quote, exch_ts, "u64")}},
      {"market_data",
       kTypeMarketData,
       {C(MarketData, symbol, "text"), C(MarketData, order_id, "u64"), C(MarketData, price, "price"),
        C(MarketData, qty, "i64"), C(MarketData, exch_ts, "u64"), C(MarketData, event, "event"),
        C(MarketData, side, "side"), C(MarketData, level, "u16")}},
      {"risk",
       kTypeRisk,
       {C(Risk, account, "text"), C(Risk, symbol, "text"), C(Risk, position, "i64"), C(Risk, exposure, "price"),
        C(Risk, limit, "price"), C(Risk, pnl, "price"), C(Risk, check_id, "u32"), C(Risk, verdict, "verdict")}},
  };
#undef C
}

}  // namespace

std::vector<std::string> clickhouse_schema(const std::string& db, const std::string& table, const std::string& logs) {
  const std::string t = "`" + db + "`.`" + table + "`";
  std::vector<std::string> out{"CREATE TABLE IF NOT EXISTS " + t +
                               " (host String, stream String, seq UInt64, ts_ns UInt64, type UInt16, payload String)"
                               " ENGINE = ReplacingMergeTree()"
                               " PARTITION BY toYYYYMM(toDate(toDateTime(intDiv(ts_ns, 1000000000))))"
                               " ORDER BY (host, stream, seq)"};
  // ts: the record's time to the second as a DateTime (for ClickHouse's date functions), ts_ns exact.
  const std::string head = " AS SELECT toDateTime(intDiv(ts_ns, 1000000000), 'UTC') AS ts, host, stream, seq, ts_ns";
  for (const View& v : views()) {
    std::string sql = "CREATE VIEW IF NOT EXISTS `" + db + "`.`" + table + "_" + v.suffix + "`" + head;
    for (const Col& c : v.cols) sql += ", " + expr(c) + " AS " + c.name;
    sql += " FROM " + t + " FINAL WHERE type = " + std::to_string(v.type);
    out.push_back(sql);
  }
  out.push_back("CREATE VIEW IF NOT EXISTS `" + db + "`.`" + table + "_text`" + head + ", " +
                enum8("reinterpretAsUInt8(substring(payload, 1, 1))", kLevelNames) + " AS level, substring(payload, " +
                std::to_string(sizeof(TextHeader) + 1) + ") AS text FROM " + t +
                " FINAL WHERE type = " + std::to_string(kTypeText));
  for (std::string& sql : clickhouse_log_schema(db, logs)) out.push_back(std::move(sql));
  return out;
}

std::optional<std::string> clickhouse_name_clash(const std::string& table, const std::string& logs) {
  std::vector<std::string> names{table, table + "_text", logs, clickhouse_log_table(logs)};
  for (const View& v : views()) names.push_back(table + "_" + v.suffix);
  std::sort(names.begin(), names.end());
  const auto twice = std::adjacent_find(names.begin(), names.end());
  if (twice == names.end()) return std::nullopt;
  return *twice;
}

ClickHouseSink::ClickHouseSink(const Options& o) : o_(o), logs_(o.wal_dir, o.host) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  put_string(host_prefix_, o.host.data(), o.host.size());
}

ClickHouseSink::~ClickHouseSink() { disconnect(); }

void ClickHouseSink::disconnect() {
  if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
  curl_ = nullptr;
  acked_.clear();
}

std::string ClickHouseSink::query(const std::string& sql, const std::string& body) {
  if (!curl_) curl_ = curl_easy_init();
  if (!curl_) throw SinkError("clickhouse: cannot initialise libcurl");
  CURL* c = static_cast<CURL*>(curl_);
  curl_easy_reset(c);
  std::string url = o_.clickhouse_url + "/?database=" + url_encode(o_.clickhouse_database);
  const std::string* data = &sql;
  if (!body.empty()) {
    url += "&query=" + url_encode(sql);
    data = &body;
  }
  if (!o_.clickhouse_user.empty()) url += "&user=" + url_encode(o_.clickhouse_user);
  std::string password;
  if (const char* p = std::getenv("AEROLOG_CLICKHOUSE_PASSWORD")) password = p;
  curl_slist* headers = nullptr;
  if (!password.empty()) headers = curl_slist_append(headers, ("X-ClickHouse-Key: " + password).c_str());
  headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
  std::string response;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, data->data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(data->size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(o_.clickhouse_timeout_ms));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  const CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    disconnect();
    throw SinkError("clickhouse " + o_.clickhouse_url + ": " + curl_easy_strerror(rc));
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) {
    if (response.size() > 400) response.resize(400);
    while (!response.empty() && (response.back() == '\n' || response.back() == ' ')) response.pop_back();
    throw SinkError("clickhouse: HTTP " + std::to_string(status) + ": " + response);
  }
  return response;
}

void ClickHouseSink::connect() {
  for (const std::string& sql : clickhouse_schema(o_.clickhouse_database, o_.clickhouse_table, o_.clickhouse_logs))
    query(sql);
}

void ClickHouseSink::add_stream(std::uint32_t id, const std::string& stream) {
  if (stream_cols_.size() <= id) stream_cols_.resize(id + 1);
  stream_cols_[id].clear();
  put_string(stream_cols_[id], stream.data(), stream.size());
  logs_.add_stream(id, stream);
}

void ClickHouseSink::begin(Batch& b) {
  b.body.clear();
  b.body.reserve(std::size_t{o_.clickhouse_batch_rows} * 96);
  b.log_rows.clear();
}

void ClickHouseSink::append(Batch& b, const Record& r) {
  std::string& s = b.body;
  s += host_prefix_;
  s += stream_cols_[b.stream];
  put_le(s, r.seq);
  put_le(s, r.timestamp);
  put_le(s, r.type);
  put_string(s, r.payload.data(), r.payload.size());
  logs_.append(b.log_rows, b.stream, r);
}

void ClickHouseSink::send(Batch&& b) {
  query("INSERT INTO `" + o_.clickhouse_table + "` FORMAT RowBinary", b.body);
  // The same (host, stream, seq) keys: after a failure between the two INSERTs the batch is sent
  // again whole, and both tables collapse the repeated rows.
  if (!b.log_rows.empty())
    query("INSERT INTO `" + clickhouse_log_table(o_.clickhouse_logs) + "` FORMAT RowBinary", b.log_rows);
  b.body = {};
  b.log_rows = {};
  acked_.push_back(std::move(b));
}

void ClickHouseSink::collect(std::vector<Batch>& acked) {
  for (Batch& b : acked_) acked.push_back(std::move(b));
  acked_.clear();
}

}  // namespace aerolog::ship
