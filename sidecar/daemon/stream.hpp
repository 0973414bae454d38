// One stream: its ring in shm (untrusted), its WAL directory, and the blocks in flight between.
//
// Drain protocol (proto/FORMAT.md 2.4):
//   poll():    copy committed frames from cursor_ into a block (validated, seq-checked),
//              submit it at the active segment's write offset; up to `depth` in flight.
//   on_cqe():  mark the block done; advance over the contiguous prefix of done blocks:
//              store durable_seq/durable_pos, and only then read_pos (frees ring space).
//   errors:    a failed block stops the stream; once nothing is in flight it goes back to the
//              HWM (the ring still holds everything after it) and rewrites into a fresh segment.
// The jobs live in stream.cpp (loop, housekeeping, failure), stream_ring.cpp (attach, reconcile,
// lifecycle), stream_write.cpp (blocks and the HWM), stream_segment.cpp (recovery, rolls, I/O
// error retries) and stream_retention.cpp.
#pragma once
#include "files.hpp"
#include "options.hpp"
#include "preparer.hpp"
#include "ring_check.hpp"
#include "segment.hpp"
#include "site_catalog.hpp"
#include "uring.hpp"

#include <aerolog/proto/ring.hpp>

#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace spdlog {
class logger;
}

namespace aerolog::sidecar {

using proto::RingState;  // a stream's state is exactly what its ring shows (FORMAT.md 2.2)

class Stream;

// io_uring user_data: a Block* (| kCqeSync on its linked fdatasync), or a Stream* | kCqeNaming
// for the three steps of a roll's naming chain (| kCqeHeader on the header write).
inline constexpr std::uint64_t kCqeSync = 1, kCqeNaming = 2, kCqeHeader = 4, kCqeTags = 7;

struct Block {
  Stream* owner;
  common::AlignedBuffer buf;
  std::uint32_t length = 0;    // header + frames
  std::uint32_t disk_len = 0;  // padded to 4096
  std::uint64_t first_seq = 0, last_seq = 0;
  std::uint64_t ring_end = 0;  // ring position after the block's last frame
  std::uint64_t seg_off = 0;
  std::uint64_t generation = 0;  // of the segment it is written to
  std::uint64_t submit_ns = 0;
  int pending_cqes = 0;
  int error = 0;  // first errno from its CQEs
  bool done = false;
  explicit Block(Stream* s, std::size_t cap) : owner(s), buf(cap) {}
};

struct StreamTotals {
  std::uint64_t blocks = 0, bytes = 0, frames = 0, io_errors = 0;
};

class Stream {
 public:
  Stream(std::string name, const Options& opt, Uring& uring, Preparer& preparer, StreamTotals& totals);
  ~Stream();

  void recover_wal();                                          // the WAL side, at start or first sight
  bool attach(const std::string& ring_path, RingCandidate c);  // false: not a ready ring yet (retry later)
  bool poll(std::uint64_t now_ns, bool stopping);              // true if it did work
  void on_cqe(Block* b, int res, bool is_sync);
  void on_naming_cqe(int res, bool is_header);
  void housekeeping(std::uint64_t now_ns);
  bool drained() const;  // everything committed is durable, nothing in flight
  void sync_for_stop();

  const std::string& name() const { return name_; }
  bool attached() const { return hdr_ != nullptr; }
  std::size_t inflight() const { return inflight_.size() + naming_cqes_; }
  RingState state() const { return state_; }
  const std::string& error() const { return error_; }
  std::uint64_t durable_seq() const { return durable_seq_; }
  std::uint64_t ring_inode() const { return ring_ino_; }
  uid_t owner_uid() const { return owner_uid_; }  // the stream's user ((uid_t)-1: not known yet)

 private:
  bool build_block(std::uint64_t upto, std::uint64_t end);
  void submit(Block* b, bool sync_catalog);
  void advance();
  bool ensure_segment(std::uint64_t need, std::uint64_t first_seq);
  bool prev_done() const;  // no block of the segment a roll left is in flight
  void start_naming();
  bool sealed();  // the segment the last roll left is closed and indexed (its error, if any, logged)
  void fail(RingState s, int err, const std::string& why);
  void clear_error();  // state ok, and the ring's error text and errno wiped (error_ is kept, to log a repeat quietly)
  void recover_from_io_error(std::uint64_t now_ns);
  void read_owner();
  void retire_if_idle(std::uint64_t now_ns);
  bool apply_retention();  // true: it recycled a segment as the next spare
  void next_spare();       // recycled by retention, else made by the preparer
  std::uint64_t next_segment_size() const;
  void detach();
  void check_replaced();
  void continue_after_reboot(const std::string& ring);
  void fail_ring(std::uint64_t ring_first);
  void recheck_ring(std::uint64_t now_ns);

  static constexpr std::uint64_t kRetryNs = 1'000'000'000ull;            // I/O error retry, refused-ring recheck
  static constexpr std::uint64_t kRetentionEveryNs = 10'000'000'000ull;  // retention pass period
  static constexpr std::uint64_t kBusyPollNs = 5'000;  // polls closer than this mean the producer is busy

  std::string name_, dir_;
  std::string spare_path_;  // <dir>/.spare.alog: the preparer's target, a roll's rename source
  const Options& opt_;
  Uring& uring_;
  Preparer& preparer_;
  StreamTotals& totals_;
  std::shared_ptr<spdlog::logger> log_;

  // ring (untrusted shared memory)
  std::string ring_path_;
  int ring_fd_ = -1;
  std::uint64_t ring_ino_ = 0;
  uid_t owner_uid_ = static_cast<uid_t>(-1);  // <dir_>/owner: the first producer's user, kept in the WAL
  std::size_t map_len_ = 0;
  proto::RingHeader* hdr_ = nullptr;
  const std::byte* data_ = nullptr;
  std::uint64_t cap_ = 0;
  std::uint32_t max_frame_ = 0;
  int guard_ = -1;  // ring_guard slot (SIGBUS on a truncated ring)

  // drain state
  std::uint64_t cursor_ = 0;       // ring position of the next frame to copy
  std::uint64_t next_seq_ = 0;     // seq the next frame must carry (0: not known yet)
  std::uint64_t durable_seq_ = 0;  // HWM: every seq <= this is on disk
  std::uint64_t durable_pos_ = 0;
  std::uint64_t last_w_ = 0, last_poll_ns_ = 0, pending_since_ns_ = 0;
  std::uint64_t flush_req_ = 0, flush_target_ = 0;
  std::vector<std::unique_ptr<Block>> blocks_;
  std::vector<Block*> free_;
  std::deque<Block*> inflight_;  // in submit order

  // WAL. A roll (stream_segment.cpp) opens the spare as seg_ at once and blocks go to it; its
  // naming chain (header write, rename, directory fsync) starts once no block of prev_ is in
  // flight, and until it completes the HWM does not pass into seg_.
  bool wal_empty_ = true;
  SegmentFile seg_;
  SegmentFile prev_;      // the segment a roll left, until seg_ is named (fd >= 0)
  bool named_ = true;     // seg_'s name and header are durable
  int naming_cqes_ = 0;   // CQEs of that chain still to come
  int naming_error_ = 0;  // first errno of the chain
  common::AlignedBuffer header_page_{proto::kSegmentHeaderSize};
  common::Fd dir_fd_;                 // the stream directory, for the chain's fsync
  std::shared_ptr<Sealing> sealing_;  // prev_, handed to the preparer to close and index
  std::shared_ptr<Spare> spare_;
  SiteCatalog catalog_;           // LogSite frames, durable before the blocks holding them
  std::uint64_t failed_off_ = 0;  // first offset written by a failed attempt (to zero)
  std::uint64_t failed_gen_ = 0;  // and the generation of its segment

  RingState state_ = RingState::ok;
  bool ring_refused_ = false;  // refused because of the ring (not the WAL): looked at again
  std::string error_;
  std::uint64_t recheck_at_ns_ = 0;
  std::uint64_t retry_at_ns_ = 0, idle_since_ns_ = 0, next_retention_ns_ = 0;
  std::uint64_t held_base_ = 0, unshipped_deleted_ = 0;  // retention held for aerolog-ship; cap deletions
};

}  // namespace aerolog::sidecar
