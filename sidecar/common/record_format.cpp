#include "record_format.hpp"

#include <aerolog/proto/log.hpp>
#include <aerolog/proto/names.hpp>
#include <aerolog/proto/records.hpp>

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace aerolog::common {

using namespace proto;

namespace {

struct Fields {  // one decoded record, in the CSV's columns (after seq and ts)
  std::string type, symbol, event, side, price, qty, id, text, exch_ts, leaves_qty, ref_id;
};
std::string known(std::uint64_t v) { return v ? std::to_string(v) : ""; }  // 0: not known, or none

std::string fixed_str(const char* s, std::size_t n) { return std::string(s, strnlen(s, n)); }
// The name of an enum value from its table, or `unknown` past the end.
template <class E, std::size_t N>
const char* name_of(E v, const char* const (&names)[N], const char* unknown) {
  const auto i = static_cast<std::size_t>(v);
  return i < N ? names[i] : unknown;
}
const char* side_name(Side s) { return name_of(s, kSideNames, ""); }  // unknown (0) and others: empty
std::string hex(std::span<const std::byte> p) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (std::byte b : p) {
    s += d[std::to_integer<unsigned>(b) >> 4];
    s += d[std::to_integer<unsigned>(b) & 15];
  }
  return s;
}

template <class T>
bool as(const Record& r, T& out) {
  if (r.payload.size() < sizeof(T)) return false;
  std::memcpy(&out, r.payload.data(), sizeof(T));
  return true;
}

Fields decode(const Record& r) {
  Fields f;
  bool ok = true;
  switch (r.type) {
    case kTypeTrade: {
      Trade t;
      if ((ok = as(r, t))) {
        f = {"Trade",
             fixed_str(t.symbol, sizeof t.symbol),
             "trade",
             side_name(t.aggressor),
             format_price(t.price),
             std::to_string(t.qty),
             std::to_string(t.trade_id),
             "",
             known(t.exch_ts),
             "",
             known(t.order_id)};
      }
      break;
    }
    case kTypeOrder: {
      Order o;
      if ((ok = as(r, o))) {
        f = {"Order",
             fixed_str(o.symbol, sizeof o.symbol),
             name_of(o.action, kOrderActionNames, "action?"),
             side_name(o.side),
             format_price(o.price),
             std::to_string(o.qty),
             std::to_string(o.order_id),
             "",
             known(o.exch_ts),
             std::to_string(o.leaves_qty),
             known(o.orig_order_id)};
      }
      break;
    }
    case kTypeQuote: {
      Quote q;
      if ((ok = as(r, q))) {
        f = {"Quote",
             fixed_str(q.symbol, sizeof q.symbol),
             "quote",
             "",
             format_price(q.bid_price),
             std::to_string(q.bid_qty),
             "",
             "ask " + format_price(q.ask_price) + " x " + std::to_string(q.ask_qty),
             known(q.exch_ts),
             "",
             ""};
      }
      break;
    }
    case kTypeMarketData: {
      MarketData m;
      if ((ok = as(r, m))) {
        f = {"MarketData",
             fixed_str(m.symbol, sizeof m.symbol),
             name_of(m.event, kBookEventNames, "event?"),
             side_name(m.side),
             format_price(m.price),
             std::to_string(m.qty),
             std::to_string(m.order_id),
             "",
             known(m.exch_ts),
             "",
             ""};
      }
      break;
    }
    case kTypeRisk: {
      Risk k;
      if ((ok = as(r, k))) {
        f = {"Risk",
             fixed_str(k.symbol, sizeof k.symbol),
             name_of(k.verdict, kRiskVerdictNames, "verdict?"),
             "",
             format_price(k.exposure),
             std::to_string(k.position),
             std::to_string(k.check_id),
             fixed_str(k.account, sizeof k.account),
             "",
             "",
             ""};
      }
      break;
    }
    case kTypeText: {
      TextHeader t;
      if ((ok = as(r, t))) {
        f.type = "Text";
        f.event = name_of(t.level, kLevelNames, "level?");
        f.text.assign(reinterpret_cast<const char*>(r.payload.data()) + sizeof t, r.payload.size() - sizeof t);
      }
      break;
    }
    case kTypeDropped: {
      Dropped d;
      if ((ok = as(r, d))) {
        f.type = "Dropped";
        f.qty = std::to_string(d.count);
        f.text = dropped_text(d);
      }
      break;
    }
    default:
      f.type = std::to_string(r.type);
      f.text = hex(r.payload);
  }
  if (!ok) {
    f = {};
    f.type = std::to_string(r.type);
    f.text = malformed_text(r.payload);
  }
  return f;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

namespace {

// Bytes of the valid UTF-8 sequence at s[i] (a byte >= 0x80), 0 if it is not one (RFC 3629:
// no overlong forms, no surrogates, nothing above U+10FFFF).
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
  const unsigned c = b(0);
  const auto cont = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xbf) { return b(k) >= lo && b(k) <= hi; };
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) return cont(1, c == 0xe0 ? 0xa0 : 0x80, c == 0xed ? 0x9f : 0xbf) && cont(2) ? 3 : 0;
  if (c >= 0xf0 && c <= 0xf4)
    return cont(1, c == 0xf0 ? 0x90 : 0x80, c == 0xf4 ? 0x8f : 0xbf) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

// Bytes at s[i] a terminal must not be sent as they are: a C0 control but tab and newline, DEL,
// a C1 control (U+0080-U+009F, C2 80-9F in UTF-8); 0 for any other byte.
std::size_t control_at(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) return 1;
  if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9f &&
      static_cast<unsigned char>(s[i + 1]) >= 0x80)
    return 2;
  return 0;
}

}  // namespace

std::string json_string(const std::string& s) {
  std::string q = "\"";
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      q += '\\', q += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      q += b;
    } else if (c < 0x80) {
      q += static_cast<char>(c);
    } else if (const std::size_t n = utf8_length(s, i)) {
      q.append(s, i, n);
      i += n - 1;
    } else {
      q += "\\ufffd";  // not UTF-8: the JSON stays valid, the byte is shown as U+FFFD
    }
  }
  return q + "\"";
}

void make_terminal_safe(std::string& line) {
  std::size_t i = 0;
  while (i < line.size() && !control_at(line, i)) ++i;
  if (i == line.size()) return;  // the common case: nothing to change, nothing copied
  std::string out(line, 0, i);
  while (i < line.size()) {
    const std::size_t n = control_at(line, i);
    if (!n) {
      out += line[i++];
      continue;
    }
    for (std::size_t k = 0; k < n; ++k) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", static_cast<unsigned char>(line[i + k]));
      out += b;
    }
    i += n;
  }
  line.swap(out);
}

std::string line_of(const Record& r, const Fields& f, Format fmt, const std::string& stream);

}  // namespace

const std::string& RecordFormatter::format(const Record& r) {
  line_.clear();
  if (r.type != kTypeLogSite && r.type != kTypeLogEvent) {
    line_ = format_record(r, format_, stream_);
  } else if (const LogEvent* e = decoder_.decode(r)) {
    log_event(r, *e);
  } else if (r.type != kTypeLogSite || !decoder_.error().empty()) {
    Fields f;  // undecodable: why, and the raw bytes
    f.type = r.type == kTypeLogSite ? "LogSite" : "Log";
    f.text = undecodable_text(decoder_.error(), r.payload);
    line_ = line_of(r, f, format_, stream_);
  }
  if (format_ != Format::json) make_terminal_safe(line_);  // JSON escapes every control itself
  return line_;
}

void RecordFormatter::log_event(const Record& r, const LogEvent& e) {
  const LogSite& s = *e.site;
  const std::string_view level = level_name(s.level);
  const std::string_view file = std::string_view(s.file).substr(s.file.rfind('/') + 1);  // npos + 1 == 0
  if (format_ == Format::text) {  // the common case, without temporaries
    append_time(line_, r.timestamp);
    line_.append(" ").append(level).append(" ").append(stream_).append(" ").append(file).append(":");
    char n[16];
    line_.append(n, static_cast<std::size_t>(std::to_chars(n, n + sizeof n, s.line).ptr - n)).append(" ");
    decoder_.render_to(line_, e);
    return;
  }
  const std::string message = decoder_.render(e);
  switch (format_) {
    case Format::csv:
      line_ = std::to_string(r.seq) + "," + std::to_string(r.timestamp) + ",Log," +
              csv_field(std::string(file) + ":" + std::to_string(s.line)) + "," + std::string(level) + ",,,," +
              std::to_string(s.id) + "," + csv_field(message) + ",,,," + csv_field(stream_);
      return;
    case Format::json: {
      std::string args;
      for (const LogArg& a : e.args) {
        if (!args.empty()) args += ",";
        const bool quoted = a.type == ArgType::string || a.type == ArgType::character ||
                            ((a.type == ArgType::f32 || a.type == ArgType::f64) && !std::isfinite(a.f));
        args += quoted ? json_string(arg_text(a)) : arg_text(a);
      }
      line_ = "{\"seq\":" + std::to_string(r.seq) + ",\"ts\":" + std::to_string(r.timestamp) +
              ",\"type\":\"Log\",\"stream\":" + json_string(stream_) + ",\"level\":" + json_string(std::string(level)) +
              ",\"site\":" + std::to_string(s.id) + ",\"file\":" + json_string(s.file) +
              ",\"line\":" + std::to_string(s.line) + ",\"function\":" + json_string(s.function) +
              ",\"format\":" + json_string(s.format) + ",\"args\":[" + args + "],\"message\":" + json_string(message) +
              "}";
      return;
    }
    default:
      return;
  }
}

std::string undecodable_text(const std::string& why, std::span<const std::byte> payload) {
  return "undecodable (" + why + "): " + hex(payload);
}

std::string dropped_text(const Dropped& d) { return "records dropped (ring full) since " + format_time(d.first_ns); }

std::string malformed_text(std::span<const std::byte> payload) {
  return "malformed: " + std::to_string(payload.size()) + " bytes: " + hex(payload);
}

std::string arg_text(const LogArg& a) {
  switch (a.type) {
    case ArgType::string:
      return std::string(a.text);
    case ArgType::character:
      return std::string(1, static_cast<char>(a.u));
    case ArgType::boolean:
      return a.u ? "true" : "false";
    case ArgType::f32:  // shortest round-trip of the float itself: 0.1f is "0.1", as the message shows it
      return fmt::format("{}", static_cast<float>(a.f));
    case ArgType::f64:
      return fmt::format("{}", a.f);
    case ArgType::price:
      return format_price(a.i);
    case ArgType::i8:
    case ArgType::i16:
    case ArgType::i32:
    case ArgType::i64:
      return std::to_string(a.i);
    default:
      return std::to_string(a.u);
  }
}

std::string format_price(std::int64_t v) {
  const bool neg = v < 0;
  const unsigned long long a = neg ? 0ull - static_cast<unsigned long long>(v) : static_cast<unsigned long long>(v);
  char b[40];
  std::snprintf(b, sizeof b, "%s%llu.%08llu", neg ? "-" : "", a / kPriceScale, a % kPriceScale);
  return b;
}

std::string format_time(std::uint64_t ns) {
  std::string s;
  append_time(s, ns);
  return s;
}

void append_time(std::string& out, std::uint64_t ns) {
  // The date and time to the second change rarely between records: formatted once per second.
  thread_local std::time_t cached_s = -1;
  thread_local char date[32];
  const std::time_t s = static_cast<std::time_t>(ns / 1'000'000'000ull);
  if (s != cached_s) {
    std::tm tm;
    gmtime_r(&s, &tm);
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    cached_s = s;
  }
  char frac[11] = {'.', '0', '0', '0', '0', '0', '0', '0', '0', '0', 'Z'};
  for (std::uint64_t f = ns % 1'000'000'000ull, i = 9; f; f /= 10, --i) frac[i] = static_cast<char>('0' + f % 10);
  out.append(date, 19).append(frac, sizeof frac);
}

bool parse_time(const std::string& s, std::uint64_t& ns) {
  if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos)
    return std::from_chars(s.data(), s.data() + s.size(), ns).ec == std::errc();  // false when out of range
  std::tm tm{};
  const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return false;
  std::uint64_t frac = 0;
  if (*rest == '.') {
    int digits = 0;
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest)
      if (digits++ < 9) frac = frac * 10 + static_cast<std::uint64_t>(*rest - '0');
    for (; digits < 9; ++digits) frac *= 10;
  }
  if (*rest == 'Z') ++rest;
  if (*rest) return false;
  const std::time_t t = timegm(&tm);
  ns = static_cast<std::uint64_t>(t) * 1'000'000'000ull + frac;
  return true;
}

std::string format_record(const Record& r, Format fmt, const std::string& stream) {
  return line_of(r, decode(r), fmt, stream);
}

namespace {
std::string line_of(const Record& r, const Fields& f, Format fmt, const std::string& stream) {
  switch (fmt) {
    case Format::csv:
      return std::to_string(r.seq) + "," + std::to_string(r.timestamp) + "," + f.type + "," + csv_field(f.symbol) +
             "," + f.event + "," + f.side + "," + f.price + "," + f.qty + "," + f.id + "," + csv_field(f.text) + "," +
             f.exch_ts + "," + f.leaves_qty + "," + f.ref_id + "," + csv_field(stream);
    case Format::json: {
      std::string j = "{\"seq\":" + std::to_string(r.seq) + ",\"ts\":" + std::to_string(r.timestamp) +
                      ",\"type\":" + json_string(f.type);
      auto add = [&](const char* k, const std::string& v, bool number = false) {
        if (!v.empty()) j += std::string(",\"") + k + "\":" + (number ? v : json_string(v));
      };
      add("symbol", f.symbol);
      add("event", f.event);
      add("side", f.side);
      add("price", f.price, true);
      add("qty", f.qty, true);
      add("id", f.id, true);
      add("text", f.text);
      add("exch_ts", f.exch_ts, true);
      add("leaves_qty", f.leaves_qty, true);
      add("ref_id", f.ref_id, true);
      add("stream", stream);
      return j + "}";
    }
    case Format::text:
    default: {
      std::string t = format_time(r.timestamp) + " #" + std::to_string(r.seq) + " " + f.type;
      for (const std::string* s : {&f.event, &f.symbol, &f.side})
        if (!s->empty()) t += " " + *s;
      if (!f.qty.empty()) t += " " + f.qty;
      if (!f.price.empty()) t += " @ " + f.price;
      if (!f.id.empty()) t += " id=" + f.id;
      if (!f.text.empty()) t += " " + f.text;
      return t;
    }
  }
}

}  // namespace

}  // namespace aerolog::common
