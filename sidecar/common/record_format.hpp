// Decoding records for people and scripts: the standard trading types pretty-printed, others
// as hex, in text, CSV or JSON lines. scripts/alog.py prints the same CSV byte for byte.
#pragma once
#include <aerolog/reader.hpp>

#include <cstdint>
#include <string>

namespace aerolog::common {

enum class Format { text, csv, json };

inline constexpr char kCsvHeader[] = "seq,timestamp_ns,type,symbol,event,side,price,qty,id,text";

std::string format_record(const Record& r, Format f);
std::string format_time(std::uint64_t ns);                 // 2012-06-21T13:30:00.004241176Z
bool parse_time(const std::string& s, std::uint64_t& ns);  // ns since the epoch, or ISO 8601 UTC
std::string format_price(std::int64_t fixed);              // 1e-8 fixed point -> "585.33000000"

}  // namespace aerolog::common
