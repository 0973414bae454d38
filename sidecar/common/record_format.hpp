// Decoding records for people and scripts: the standard trading types pretty-printed, log
// events rendered with {fmt}, others as hex, in text, CSV or JSON lines. scripts/alog.py prints
// the same text and CSV byte for byte.
#pragma once
#include <aerolog/log_decoder.hpp>
#include <aerolog/proto/records.hpp>
#include <aerolog/reader.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace aerolog::common {

enum class Format { text, csv, json };

// The CSV columns (FORMAT.md 7.9); JSON lines have the same keys, the empty ones left out.
inline constexpr char kCsvHeader[] = "seq,ts,type,symbol,event,side,price,qty,id,text,exch_ts,leaves_qty,ref_id,stream";

// One stream's records in seq order (log events need the LogSite records before them, or the
// stream's site catalog). LogSite records themselves print nothing (format() returns "").
class RecordFormatter {
 public:
  RecordFormatter(Format f, std::string stream) : format_(f), stream_(std::move(stream)) {}
  LogDecoder& decoder() { return decoder_; }
  // The record's line (valid until the next call).
  const std::string& format(const Record& r);

 private:
  void log_event(const Record& r, const LogEvent& e);
  Format format_;
  std::string stream_;
  LogDecoder decoder_;
  std::string line_;
};

// Any record but a log event or site, of stream `stream` (the CSV's last column, JSON's "stream").
std::string format_record(const Record& r, Format f, const std::string& stream);
std::string format_time(std::uint64_t ns);                 // 2012-06-21T13:30:00.004241176Z
void append_time(std::string& out, std::uint64_t ns);      // the same, appended
bool parse_time(const std::string& s, std::uint64_t& ns);  // ns since the epoch, or ISO 8601 UTC
std::string format_price(std::int64_t fixed);              // 1e-8 fixed point -> "585.33000000"
// A log event's argument as plain text: numbers in decimal (floats shortest, prices with 8
// places), booleans true/false, a character or a string as itself (JSON quotes what needs it).
std::string arg_text(const LogArg& a);
// What shows instead of a record that does not decode: a log event ("undecodable (<why>): <hex
// of the payload>"), a standard record too short for its type ("malformed: <n> bytes: <hex>").
std::string undecodable_text(const std::string& why, std::span<const std::byte> payload);
std::string malformed_text(std::span<const std::byte> payload);
// A Dropped record's text: "records dropped (ring full) since <first drop's time>".
std::string dropped_text(const proto::Dropped& d);

}  // namespace aerolog::common
