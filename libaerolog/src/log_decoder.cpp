// Decoding and rendering log records (FORMAT.md 11).
#include <aerolog/log_decoder.hpp>

#include "catalog_scan.hpp"
#include <aerolog/logger.hpp>
#include <aerolog/proto/crc32c.hpp>
#include <aerolog/proto/frame.hpp>
#include <aerolog/proto/names.hpp>

#include <fmt/args.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <fstream>
#include <iterator>

namespace aerolog {

using namespace proto;

namespace {

template <class T>
T load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// The value as the call's C++ type, so that {fmt} applies the same spec to it.
void push(fmt::dynamic_format_arg_store<fmt::format_context>& store, const LogArg& a) {
  switch (a.type) {
    case ArgType::i8:
      return store.push_back(static_cast<std::int8_t>(a.i));
    case ArgType::i16:
      return store.push_back(static_cast<std::int16_t>(a.i));
    case ArgType::i32:
      return store.push_back(static_cast<std::int32_t>(a.i));
    case ArgType::i64:
      return store.push_back(a.i);
    case ArgType::u8:
      return store.push_back(static_cast<std::uint8_t>(a.u));
    case ArgType::u16:
      return store.push_back(static_cast<std::uint16_t>(a.u));
    case ArgType::u32:
      return store.push_back(static_cast<std::uint32_t>(a.u));
    case ArgType::u64:
      return store.push_back(a.u);
    case ArgType::f32:
      return store.push_back(static_cast<float>(a.f));
    case ArgType::f64:
      return store.push_back(a.f);
    case ArgType::boolean:
      return store.push_back(a.u != 0);
    case ArgType::character:
      return store.push_back(static_cast<char>(a.u));
    case ArgType::string:
      return store.push_back(fmt::string_view(a.text.data(), a.text.size()));
    case ArgType::price:
      return store.push_back(Price{a.i});
  }
}

std::string raw(const LogArg& a) {
  switch (a.type) {
    case ArgType::string:
      return std::string(a.text);
    case ArgType::f32:
    case ArgType::f64:
      return fmt::format("{}", a.f);
    case ArgType::price:
      return fmt::format("{}", Price{a.i});
    case ArgType::i8:
    case ArgType::i16:
    case ArgType::i32:
    case ArgType::i64:
      return std::to_string(a.i);
    default:
      return std::to_string(a.u);
  }
}

// The format string comes from the producer's ring, like every byte a reader sees: a width or
// precision of 2e9 would make {fmt} write 2 GB for one event. Every width and precision in a
// spec, literal or taken from an argument ({:>{}}), must be at most kMaxFormatWidth (FORMAT.md
// 11.3); returns what is not ("" if none). Argument ids follow {fmt}: the outer field's first,
// then its nested ones, automatic numbering in the order they appear.
std::string unbounded_spec(std::string_view f, const std::vector<LogArg>& args) {
  std::size_t next_auto = 0;
  auto arg_id = [&](std::size_t& k) -> std::optional<std::size_t> {  // at the id's first char, up to ':' or '}'
    std::size_t id = 0;
    bool digits = false, named = false;
    for (; k < f.size() && f[k] != ':' && f[k] != '}'; ++k) {
      if (f[k] >= '0' && f[k] <= '9' && !named && id < 1000000)
        id = id * 10 + static_cast<std::size_t>(f[k] - '0'), digits = true;
      else
        named = true;
    }
    if (named) return std::nullopt;  // {fmt} refuses named arguments here itself
    return digits ? id : next_auto++;
  };
  auto too_big = [&](std::uint64_t v) { return v > kMaxFormatWidth; };
  for (std::size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '{') continue;
    if (i + 1 < f.size() && f[i + 1] == '{') {
      ++i;
      continue;
    }
    std::size_t k = i + 1;
    arg_id(k);
    if (k < f.size() && f[k] == ':') {
      for (++k; k < f.size() && f[k] != '}'; ++k) {
        if (f[k] == '{') {  // a width or precision from an argument
          ++k;
          const auto id = arg_id(k);
          if (id && *id < args.size()) {
            const LogArg& a = args[*id];
            const bool is_signed = a.type >= ArgType::i8 && a.type <= ArgType::i64;
            if (is_signed ? (a.i < 0 || too_big(static_cast<std::uint64_t>(a.i)))
                          : a.type >= ArgType::u8 && a.type <= ArgType::u64 && too_big(a.u))
              return "a width or precision of " + raw(a) + " from argument " + std::to_string(*id);
          }
          if (k >= f.size()) break;
        } else if (f[k] >= '0' && f[k] <= '9') {
          const std::size_t from = k;
          std::uint64_t v = 0;
          for (; k < f.size() && f[k] >= '0' && f[k] <= '9'; ++k)
            v = std::min<std::uint64_t>(v * 10 + (f[k] - '0'), 1u << 30);
          if (too_big(v))
            return "a width or precision of " + std::string(f.substr(from, std::min<std::size_t>(k - from, 20)));
          --k;
        }
      }
    }
    i = k;
  }
  return {};
}

}  // namespace

const char* level_name(Level l) { return proto::name_of(l); }

bool LogDecoder::add_site(std::uint64_t seq, std::span<const std::byte> p) {
  if (p.size() < sizeof(LogSiteHeader)) return false;
  const auto h = load<LogSiteHeader>(p.data());
  const std::size_t need = sizeof h + h.arg_count + std::size_t{h.format_len} + h.file_len + h.function_len;
  if (p.size() < need || h.arg_count > kMaxLogArgs || static_cast<unsigned>(h.level) > 5) return false;
  LogSite s;
  s.id = h.site;
  s.seq = seq;
  s.level = h.level;
  s.line = h.line;
  const auto* at = reinterpret_cast<const char*>(p.data()) + sizeof h;
  for (unsigned i = 0; i < h.arg_count; ++i) {
    const auto t = static_cast<std::uint8_t>(at[i]);
    if (t == 0 || t > kMaxArgType) return false;
    s.types.push_back(static_cast<ArgType>(t));
  }
  at += h.arg_count;
  s.format.assign(at, h.format_len);
  s.file.assign(at + h.format_len, h.file_len);
  s.function.assign(at + h.format_len + h.file_len, h.function_len);
  hits_.clear();
  by_id_[s.id][seq] = std::move(s);
  return true;
}

// The definition in force at `seq`: the latest LogSite with this id before it.
const LogSite* LogDecoder::find(std::uint32_t id, std::uint64_t seq) {
  if (id < hits_.size() && hits_[id].site && seq > hits_[id].from && seq < hits_[id].until) return hits_[id].site;
  const auto s = by_id_.find(id);
  if (s == by_id_.end()) return nullptr;
  auto it = s->second.lower_bound(seq);
  if (it == s->second.begin()) return nullptr;
  const auto next = it;
  const LogSite* site = &(--it)->second;
  if (id < (1u << 20)) {  // ids are small, from 1
    if (id >= hits_.size()) hits_.resize(id + 1);
    hits_[id] = {site->seq, next == s->second.end() ? ~std::uint64_t{0} : next->first, site};
  }
  return site;
}

const LogEvent* LogDecoder::decode(const Record& r) {
  error_.clear();
  if (r.type == kTypeLogSite) {
    if (!add_site(r.seq, r.payload)) error_ = "seq " + std::to_string(r.seq) + ": malformed log site record";
    return nullptr;
  }
  if (r.type != kTypeLogEvent) return nullptr;
  const std::byte* p = r.payload.data();
  const std::byte* end = p + r.payload.size();
  if (r.payload.size() < sizeof(LogEventHeader)) {
    error_ = "seq " + std::to_string(r.seq) + ": log event shorter than its header";
    return nullptr;
  }
  const auto id = load<std::uint32_t>(p);
  p += sizeof(LogEventHeader);
  const LogSite* site = find(id, r.seq);
  if (!site) {
    error_ = "seq " + std::to_string(r.seq) + ": log event of site " + std::to_string(id) +
             ", which no earlier record or the site catalog defines";
    return nullptr;
  }
  event_.seq = r.seq;
  event_.timestamp = r.timestamp;
  event_.site = site;
  event_.args.clear();
  for (ArgType t : site->types) {
    LogArg a{};
    a.type = t;
    const std::uint32_t n = arg_size(t);
    if (t == ArgType::string) {
      if (end - p < 4 || static_cast<std::uint64_t>(end - p - 4) < load<std::uint32_t>(p)) break;
      const auto len = load<std::uint32_t>(p);
      a.text = std::string_view(reinterpret_cast<const char*>(p + 4), len);
      p += 4 + len;
    } else {
      if (end - p < n) break;
      switch (t) {
        case ArgType::i8:
          a.i = load<std::int8_t>(p);
          break;
        case ArgType::i16:
          a.i = load<std::int16_t>(p);
          break;
        case ArgType::i32:
          a.i = load<std::int32_t>(p);
          break;
        case ArgType::i64:
        case ArgType::price:
          a.i = load<std::int64_t>(p);
          break;
        case ArgType::f32:
          a.f = load<float>(p);
          break;
        case ArgType::f64:
          a.f = load<double>(p);
          break;
        case ArgType::u8:
        case ArgType::boolean:
        case ArgType::character:
          a.u = load<std::uint8_t>(p);
          break;
        case ArgType::u16:
          a.u = load<std::uint16_t>(p);
          break;
        case ArgType::u32:
          a.u = load<std::uint32_t>(p);
          break;
        default:
          a.u = load<std::uint64_t>(p);
      }
      p += n;
    }
    event_.args.push_back(a);
  }
  if (event_.args.size() != site->types.size() || p != end) {
    error_ = "seq " + std::to_string(r.seq) + ": log event's bytes do not match the types of site " +
             std::to_string(id) + " (" + site->file + ":" + std::to_string(site->line) + ")";
    return nullptr;
  }
  return &event_;
}

std::string LogDecoder::render(const LogEvent& e) const {
  std::string s;
  render_to(s, e);
  return s;
}

void LogDecoder::render_to(std::string& out, const LogEvent& e) const {
  if (std::string why = unbounded_spec(e.site->format, e.args); !why.empty()) {
    out += e.site->format + " [format error: " + why + ", above " + std::to_string(kMaxFormatWidth) + "; arguments:";
    for (const LogArg& a : e.args) out += " " + raw(a);
    out += "]";
    return;
  }
  store_.clear();
  for (const LogArg& a : e.args) push(store_, a);
  try {
    text_.clear();
    fmt::vformat_to(fmt::appender(text_), e.site->format, store_);
    out.append(text_.data(), text_.size());
  } catch (const fmt::format_error& x) {
    out += e.site->format + " [format error: " + x.what() + "; arguments:";
    for (const LogArg& a : e.args) out += " " + raw(a);
    out += "]";
  }
}

bool LogDecoder::load_catalog(const std::string& stream_dir) {
  std::ifstream f(stream_dir + "/" + kSiteCatalogName, std::ios::binary);
  if (!f) return false;
  const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const detail::CatalogScan scan = detail::scan_catalog(
      {reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()},
      [&](std::size_t, const FrameHeader& h, std::span<const std::byte> payload) { return add_site(h.seq, payload); });
  catalog_damage_ = scan.damage;
  return true;
}

}  // namespace aerolog
