// A stream's site catalog, <dir>/sites (proto/log.hpp, FORMAT.md 11.4): every LogSite frame the
// stream writes to its WAL is appended here too, and made durable before the block holding it
// (the block's write is linked after an fdatasync of this file), so an acknowledged log event's
// site outlives the segment retention deletes. Used by the drain loop only.
#pragma once
#include "files.hpp"

#include <aerolog/proto/frame.hpp>

#include <cstdint>
#include <string>

namespace aerolog::sidecar {

class SiteCatalog {
 public:
  // Opens (creating it durably) the catalog of `dir` and keeps only its entries with seq
  // <= `wal_last_seq`: a torn append, or a site whose record recovery did not find in the WAL
  // (it was never acknowledged, and the seq may be given to another record), is cut off. A
  // damaged entry before them is left as it is (readers skip it): returns what it was, for the
  // log ("" if none). Throws std::system_error.
  std::string open(const std::string& dir, std::uint64_t wal_last_seq);
  // Queues a LogSite frame (header + payload) for the next write().
  void add(const proto::FrameHeader& h, const std::byte* payload);
  bool pending() const { return !pending_.empty(); }
  // Appends what add() queued (page cache; the caller links an fdatasync before the block that
  // holds those frames). Throws std::system_error.
  void write();
  int fd() const { return fd_.get(); }

 private:
  std::string path_;
  common::Fd fd_;
  std::string pending_;
};

}  // namespace aerolog::sidecar
