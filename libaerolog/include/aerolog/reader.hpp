// The read side: zero-copy iteration over a stream's .alog segments (mmap), seek by seq and
// by time through the sparse index, tolerant of a torn tail, and a follow mode that picks up
// new blocks and segments as the sidecar writes them.
//
//   auto r = aerolog::Reader::open("/var/lib/aerolog/md-feed");   // or one .alog file
//   r.seek_seq(1000);
//   while (const aerolog::Record* rec = r.next()) use(*rec);      // nullptr: nothing more now
//
// A record's payload points into the mapping and stays valid until the Reader moves to
// another segment or is destroyed.
#pragma once
#include <aerolog/error.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace aerolog {

struct Record {
  std::uint64_t seq;
  std::uint64_t timestamp;  // ns since the epoch
  std::uint16_t type;
  std::uint16_t flags;
  std::span<const std::byte> payload;
};

class Reader {
 public:
  // A stream directory (<wal_dir>/<stream>) or a single segment file. Throws Error, e.g. for a
  // segment whose header fails the checks of proto/FORMAT.md 4.1 (damaged, truncated, renamed,
  // or another stream's): every segment's header in the directory is checked here.
  static Reader open(const std::string& path);
  Reader(Reader&&) noexcept;
  Reader& operator=(Reader&&) noexcept;
  ~Reader();

  // Positions at the first record with seq >= `seq` (or time >= `ns`). Uses the segment names
  // and the sparse index, then block headers: it never scans records from the start.
  // False if there is no such record yet (next() will find it once it is written).
  bool seek_seq(std::uint64_t seq);
  bool seek_time(std::uint64_t ns);

  // The next record, or nullptr when nothing more is readable now. Records only come in seq
  // order with no gap; a block that fails its checks ends the segment (a torn tail) and, if a
  // later segment continues the seqs, reading goes on there.
  const Record* next();
  // Why next() stopped short of the end of the log, or "" if it did not. Damage is a segment
  // whose header fails its checks (one that appeared after open()), a later segment that does
  // not continue the seqs (records are missing), or a bad block followed by one written after
  // it was acknowledged (mid-log corruption: the sidecar refuses such a stream). A torn tail at
  // the end of the last segment is not damage: the log ends there (the sidecar zeroes it at its
  // next start). Call it once next() returned nullptr and you are done reading, not in a
  // polling loop: it may scan the rest of the segment.
  std::string damage() const;
  // Stops next() at records with seq > limit (e.g. the ring's durable seq when following).
  void set_limit(std::uint64_t max_seq) { limit_ = max_seq; }

  std::uint64_t first_seq() const;  // of the oldest segment present (0 if none)
  const std::string& path() const;
  std::uint64_t blocks_read() const { return blocks_; }

 private:
  struct Impl;
  explicit Reader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::uint64_t limit_ = ~std::uint64_t{0};
  std::uint64_t blocks_ = 0;
};

// Pluggable consumers: each sees every record once, in order, and keeps its own counters.
class ConsumerSet {
 public:
  using Callback = std::function<void(const Record&)>;
  struct Counters {
    std::uint64_t records = 0, bytes = 0, last_seq = 0;
  };
  void add(std::string name, Callback cb, std::uint16_t type_filter = 0);  // 0: every type
  // Feeds everything readable now; returns the number of records read.
  std::uint64_t poll(Reader& reader);
  const Counters& counters(const std::string& name) const;

 private:
  struct Entry {
    std::string name;
    Callback cb;
    std::uint16_t type;
    Counters counters;
  };
  std::vector<Entry> consumers_;
};

}  // namespace aerolog
