// Deferred-format log records: a call site's metadata (LogSite) precedes, in the same stream,
// the first event that uses it; an event (LogEvent) is the site id and the raw arguments.
// Rendering happens at read time with {fmt}. Byte layout: proto/FORMAT.md, "Log records".
#pragma once
#include <aerolog/proto/records.hpp>

#include <cstddef>
#include <cstdint>

namespace aerolog::proto {

// How one argument is stored in an event (little-endian, no padding between arguments).
enum class ArgType : std::uint8_t {
  i8 = 1,
  i16 = 2,
  i32 = 3,
  i64 = 4,
  u8 = 5,
  u16 = 6,
  u32 = 7,
  u64 = 8,
  f32 = 9,
  f64 = 10,
  boolean = 11,    // 1 byte, 0 or 1
  character = 12,  // 1 byte
  string = 13,     // u32 byte length, then the bytes (UTF-8, no NUL)
  price = 14,      // i64 fixed point, value * kPriceScale (records.hpp)
};
inline constexpr std::uint8_t kMaxArgType = 14;

// Bytes of a fixed-size argument; 0 for a string (4 + its length).
constexpr std::uint32_t arg_size(ArgType t) {
  switch (t) {
    case ArgType::i8:
    case ArgType::u8:
    case ArgType::boolean:
    case ArgType::character:
      return 1;
    case ArgType::i16:
    case ArgType::u16:
      return 2;
    case ArgType::i32:
    case ArgType::u32:
    case ArgType::f32:
      return 4;
    case ArgType::string:
      return 0;
    default:
      return 8;
  }
}

inline constexpr std::uint32_t kMaxLogArgs = 32;
// Readers refuse a width or precision above this in a format spec (FORMAT.md 11.3).
inline constexpr std::uint32_t kMaxFormatWidth = 1024;

// Payload of kTypeLogSite: this header, then arg_count ArgType bytes, then the format string,
// the file name and the function name (UTF-8, not NUL terminated, lengths below).
struct LogSiteHeader {
  std::uint32_t site;  // id within the stream; a later LogSite with the same id replaces it
  std::uint32_t line;
  Level level;
  std::uint8_t arg_count;
  std::uint16_t format_len;
  std::uint16_t file_len;
  std::uint16_t function_len;
};

// Payload of kTypeLogEvent: this header, then the arguments as the site's types say.
struct LogEventHeader {
  std::uint32_t site;
};

// The site catalog, <wal_dir>/<stream>/sites: the sidecar appends every LogSite frame it writes
// to the stream's WAL, so that events stay decodable after retention deleted the segment that
// held their LogSite. Entries: this header, then the frame (FrameHeader + payload, seq
// included) zero padded to 8 bytes. An entry whose length or CRC is wrong is the torn end of an
// append: the catalog ends before it.
inline constexpr char kSiteCatalogName[] = "sites";
struct SiteCatalogEntry {
  std::uint32_t length;  // of the frame, unpadded
  std::uint32_t crc;     // CRC32C of the frame's `length` bytes
};

static_assert(sizeof(SiteCatalogEntry) == 8);
static_assert(sizeof(LogSiteHeader) == 16 && offsetof(LogSiteHeader, level) == 8);
static_assert(offsetof(LogSiteHeader, format_len) == 10 && offsetof(LogSiteHeader, function_len) == 14);
static_assert(sizeof(LogEventHeader) == 4);

}  // namespace aerolog::proto
