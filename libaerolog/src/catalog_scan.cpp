#include "catalog_scan.hpp"

#include <aerolog/proto/crc32c.hpp>
#include <aerolog/proto/log.hpp>

#include <cstring>

namespace aerolog::detail {

using namespace proto;

namespace {

// The entry at `at` if its length fits and its CRC is right: the frame's length, else 0.
std::uint32_t entry_at(std::span<const std::byte> b, std::size_t at) {
  if (at + sizeof(SiteCatalogEntry) + kFrameHeaderSize > b.size()) return 0;
  SiteCatalogEntry e;
  std::memcpy(&e, b.data() + at, sizeof e);
  const std::size_t frame = at + sizeof e;
  if (e.length < kFrameHeaderSize || e.length > b.size() - frame) return 0;
  return crc32c(b.data() + frame, e.length) == e.crc ? e.length : 0;
}

}  // namespace

CatalogScan scan_catalog(std::span<const std::byte> b, const CatalogSite& site) {
  CatalogScan s;
  auto damaged = [&](std::size_t at, std::string why) {
    if (!s.damaged++) {
      s.first_damage = at;
      s.damage = std::move(why);
    }
  };
  std::size_t at = 0;
  while (at < b.size()) {
    const std::uint32_t length = entry_at(b, at);
    if (!length) {  // the next valid entry, if any: what lies between is damage, else a torn end
      std::size_t next = at + 8;
      while (next < b.size() && !entry_at(b, next)) next += 8;
      if (next >= b.size()) {
        s.torn = true;
        break;
      }
      damaged(at, "bytes " + std::to_string(at) + ".." + std::to_string(next) + " are no valid entry");
      at = next;
      continue;
    }
    const std::byte* frame = b.data() + at + sizeof(SiteCatalogEntry);
    FrameHeader h;
    std::memcpy(&h, frame, sizeof h);
    if (h.type != kTypeLogSite)
      damaged(at, "the entry at offset " + std::to_string(at) + " holds a record of type " + std::to_string(h.type) +
                      ", not a LogSite");
    else if (!site(at, h, {frame + kFrameHeaderSize, length - kFrameHeaderSize}))
      damaged(at, "the LogSite at offset " + std::to_string(at) + " (seq " + std::to_string(h.seq) + ") is malformed");
    else
      ++s.sites;
    at += sizeof(SiteCatalogEntry) + frame_stride(length);
    s.end = std::min(at, b.size());
  }
  return s;
}

}  // namespace aerolog::detail
