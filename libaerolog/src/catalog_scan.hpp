// Reading a stream's site catalog (<wal_dir>/<stream>/sites, FORMAT.md 11.4): the one walk that
// the LogDecoder, `aerologctl verify` and the sidecar's recovery share. A bad entry is skipped by
// looking for the next valid one at the following 8-byte-aligned offsets, so one damaged entry
// costs its own sites only, never every site after it.
#pragma once
#include <aerolog/proto/frame.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

namespace aerolog::detail {

struct CatalogScan {
  std::size_t sites = 0;         // valid LogSite entries
  std::size_t end = 0;           // offset just after the last valid entry
  std::size_t damaged = 0;       // entries or regions skipped before `end`
  std::size_t first_damage = 0;  // offset of the first of them
  std::string damage;            // what it was ("" if none)
  bool torn = false;             // bytes after `end` that hold no valid entry: an append cut short
};

// Calls site(entry offset, frame header, payload) for each valid entry holding a LogSite frame,
// in file order; site() returns false for a LogSite whose payload is malformed (that entry is
// then damage). A CRC-valid entry of another type is damage too.
using CatalogSite = std::function<bool(std::size_t, const proto::FrameHeader&, std::span<const std::byte>)>;
CatalogScan scan_catalog(std::span<const std::byte> bytes, const CatalogSite& site);

}  // namespace aerolog::detail
