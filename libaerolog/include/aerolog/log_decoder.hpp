// Reading what aerolog::Logger wrote: feed a stream's records in seq order (from aerolog::Reader);
// LogSite records are remembered, each LogEvent comes back decoded (its site, its arguments)
// and renders with {fmt} exactly as the call would have formatted it.
//
//   aerolog::LogDecoder d;
//   d.load_catalog(dir);                 // sites of segments retention deleted (FORMAT.md 11.4)
//   while (const aerolog::Record* r = reader.next())
//     if (const aerolog::LogEvent* e = d.decode(*r)) std::puts(d.render(*e).c_str());
#pragma once
#include <aerolog/proto/log.hpp>
#include <aerolog/reader.hpp>

#include <fmt/args.h>
#include <fmt/format.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace aerolog {

struct LogSite {
  std::uint32_t id = 0;
  std::uint64_t seq = 0;  // of its LogSite record
  proto::Level level = proto::Level::info;
  std::uint32_t line = 0;
  std::string format, file, function;
  std::vector<proto::ArgType> types;
};

struct LogArg {
  proto::ArgType type;
  union {
    std::int64_t i;   // i8..i64, price (the fixed-point value)
    std::uint64_t u;  // u8..u64, boolean, character
    double f;         // f32, f64
  };
  std::string_view text;  // string: points into the record
};

struct LogEvent {
  std::uint64_t seq = 0, timestamp = 0;
  const LogSite* site = nullptr;
  std::vector<LogArg> args;
};

class LogDecoder {
 public:
  // A LogEvent record decoded, or nullptr for any other record (a LogSite is remembered). A
  // LogEvent that cannot be decoded (its site unknown, its bytes short) also gives nullptr and
  // error() says why; rendering goes on with the next record.
  const LogEvent* decode(const Record& r);
  const std::string& error() const { return error_; }
  // The message: the site's format applied to the arguments ({fmt}). A format {fmt} refuses
  // (only possible for a site not written by Logger) renders as the format and the raw values.
  std::string render(const LogEvent& e) const;
  void render_to(std::string& out, const LogEvent& e) const;  // appends the message
  // The sites the sidecar kept for a stream directory (FORMAT.md 11.4), so that events whose
  // LogSite was in a segment retention has deleted, or before a seek, still decode. False if
  // there is no catalog. A damaged entry is skipped (its sites are missing, no other);
  // catalog_damage() then says what the first one was ("" if none).
  bool load_catalog(const std::string& stream_dir);
  const std::string& catalog_damage() const { return catalog_damage_; }
  // Remembers a LogSite record (what decode() does with one); false if it is malformed.
  bool add_site(std::uint64_t seq, std::span<const std::byte> payload);
  std::size_t sites() const { return by_id_.size(); }

 private:
  const LogSite* find(std::uint32_t id, std::uint64_t seq);
  std::map<std::uint32_t, std::map<std::uint64_t, LogSite>> by_id_;  // id -> seq -> site
  struct Hit {  // by id: the definition in force for seqs (from, until)
    std::uint64_t from = 0, until = 0;
    const LogSite* site = nullptr;
  };
  std::vector<Hit> hits_;  // a cache in front of by_id_, cleared when a site is added
  LogEvent event_;
  std::string error_, catalog_damage_;
  mutable fmt::dynamic_format_arg_store<fmt::format_context> store_;  // render()'s, reused
  mutable fmt::memory_buffer text_;
};

// "trace" .. "critical": the one spelling of every output (proto/names.hpp), "level?" past them.
const char* level_name(proto::Level l);

}  // namespace aerolog
