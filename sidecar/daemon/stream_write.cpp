// Blocks in flight: build_block() copies whole frames from the ring into a block (header, CRC,
// padding to a page), submit() writes it at the segment's write offset (RWF_DSYNC or a linked
// fdatasync), on_cqe() marks it done and advance() moves the HWM over the contiguous prefix of
// done blocks (not into a segment whose roll is not yet named): durable_seq/durable_pos first,
// and only then read_pos (frees the ring space).
#include "stream.hpp"

#include "clock.hpp"
#include "failpoint.hpp"
#include "ring_guard.hpp"
#include "ring_scan.hpp"
#include "sys_error.hpp"

#include <aerolog/proto/crc32c.hpp>
#include <aerolog/proto/frame.hpp>
#include <aerolog/proto/log.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <unistd.h>

namespace aerolog::sidecar {

using namespace common;  // files, clocks, errno errors
using namespace proto;
using std::memory_order_relaxed, std::memory_order_release;

// Copies whole frames starting before `upto` (the last may end past it, never past `end`).
bool Stream::build_block(std::uint64_t upto, std::uint64_t end) {
  Block* b = free_.back();
  std::byte* out = b->buf.data();
  const detail::RingView view{data_, cap_, max_frame_};
  std::uint32_t len = kBlockHeaderSize, count = 0;
  std::uint64_t pos = cursor_, seq = next_seq_, first_ts = 0, last_ts = 0;
  std::vector<std::uint32_t> sites;  // offsets of LogSite frames in the block
  while (pos < upto) {
    detail::FrameAt f;
    if (const char* err = detail::check_frame(view, pos, end, f)) {
      fail(RingState::quarantined, 0, std::string("bad frame at ring position ") + std::to_string(pos) + ": " + err);
      return false;
    }
    if (f.pad) {
      pos += f.stride;
      continue;
    }
    if (f.header.seq != seq) {
      fail(RingState::quarantined, 0,
           "seq jump at ring position " + std::to_string(pos) + ": expected " + std::to_string(seq) + ", found " +
               std::to_string(f.header.seq));
      return false;
    }
    if (count && len + f.stride > opt_.max_block) break;
    // The header from our checked copy, the payload from shm, zeros for the alignment bytes.
    std::memcpy(out + len, &f.header, kFrameHeaderSize);
    std::memcpy(out + len + kFrameHeaderSize, f.payload, f.header.length - kFrameHeaderSize);
    std::memset(out + len + f.header.length, 0, f.stride - f.header.length);
    if (f.header.type == kTypeLogSite) sites.push_back(len);
    if (!count) first_ts = f.header.timestamp;
    last_ts = f.header.timestamp;
    len += f.stride;
    ++count;
    ++seq;
    pos += f.stride;
  }
  if (common::guard::faulted(guard_)) return false;  // the ring shrank while we copied: the copy is garbage
  cursor_ = pos;
  if (!count) {  // only padding: nothing to write, freed once everything before it is durable
    if (inflight_.empty()) advance();
    return false;
  }
  auto* h = reinterpret_cast<BlockHeader*>(out);
  *h = BlockHeader{kBlockMagic, 0, len, count, next_seq_, seq - 1, seg_.generation, first_ts, last_ts, durable_seq_};
  b->length = len;
  b->disk_len = static_cast<std::uint32_t>(align_up(len, kPage));
  std::memset(out + len, 0, b->disk_len - len);
  h->crc = crc32c(out + kBlockCrcOffset, len - kBlockCrcOffset);
  b->first_seq = next_seq_;
  b->last_seq = seq - 1;
  b->ring_end = pos;
  for (std::uint32_t at : sites)
    catalog_.add(*reinterpret_cast<const FrameHeader*>(out + at), out + at + kFrameHeaderSize);
  if (catalog_.pending()) {
    try {
      catalog_.write();
    } catch (const std::exception& e) {
      fail(RingState::io_error, errno_of(e), std::string("site catalog: ") + e.what());
      return false;
    }
    AEROLOG_CRASH_POINT("site_catalog_written");  // an entry whose block is not written
  }
  next_seq_ = seq;
  submit(b, !sites.empty());
  return true;
}

// With `sync_catalog` the block's write is linked after an fdatasync of the site catalog: the
// HWM never passes a LogSite frame whose catalog entry is not durable.
void Stream::submit(Block* b, bool sync_catalog) {
  free_.pop_back();
  b->seg_off = seg_.write_off;
  b->generation = seg_.generation;
  seg_.write_off += b->disk_len;
  b->error = 0;
  b->done = false;
  b->submit_ns = mono_ns();
  // Only the first K sectors of this block reach the disk, then the power goes. Counted over
  // blocks in a named segment: a block in a segment still being named is discarded with the
  // spare at recovery, so tearing it would test nothing (and make the Nth block a matter of timing).
  if (named_ && fp::hit("torn_write")) {
    // At most half the block arrives, so some of its checked bytes are surely missing.
    const std::size_t torn =
        std::min<std::size_t>(b->length / 2, 512u * static_cast<unsigned>(std::max(1, fp::arg("torn_write"))));
    std::memset(b->buf.data() + torn, 0, b->disk_len - torn);  // the sectors that never arrived
    (void)!::pwrite(seg_.fd, b->buf.data(), align_up(torn, kPage), static_cast<off_t>(b->seg_off));
    ::fdatasync(seg_.fd);
    fp::crash("torn_write");
  }
  // The linked SQEs go in one submission.
  uring_.reserve((opt_.durability == Durability::fdatasync ? 2 : 1) + (sync_catalog ? 1 : 0));
  b->pending_cqes = 0;
  if (sync_catalog) {
    io_uring_sqe* cat = uring_.sqe();
    io_uring_prep_fsync(cat, catalog_.fd(), IORING_FSYNC_DATASYNC);
    cat->flags |= IOSQE_IO_LINK;  // a failure cancels the block's write
    io_uring_sqe_set_data64(cat, reinterpret_cast<std::uintptr_t>(b) | kCqeSync);
    b->pending_cqes = 1;
  }
  io_uring_sqe* sqe = uring_.sqe();
  io_uring_prep_write(sqe, seg_.fd, b->buf.data(), b->disk_len, b->seg_off);
  if (opt_.durability == Durability::dsync) sqe->rw_flags = RWF_DSYNC;
  io_uring_sqe_set_data64(sqe, reinterpret_cast<std::uintptr_t>(b));
  b->pending_cqes += 1;
  if (opt_.durability == Durability::fdatasync) {
    sqe->flags |= IOSQE_IO_LINK;
    io_uring_sqe* sync = uring_.sqe();
    io_uring_prep_fsync(sync, seg_.fd, IORING_FSYNC_DATASYNC);
    io_uring_sqe_set_data64(sync, reinterpret_cast<std::uintptr_t>(b) | kCqeSync);
    b->pending_cqes += 1;
  }
  inflight_.push_back(b);
}

void Stream::on_cqe(Block* b, int res, bool is_sync) {
  if (fp::hit(is_sync ? "fsync_eio" : "write_eio")) res = -EIO;  // an injected I/O error
  AEROLOG_CRASH_POINT("after_write_complete");
  if (res < 0 && !b->error) b->error = -res;
  if (!is_sync && res >= 0 && static_cast<std::uint32_t>(res) != b->disk_len && !b->error) b->error = EIO;
  if (--b->pending_cqes > 0) return;
  b->done = true;
  advance();
}

void Stream::advance() {
  bool moved = false;
  const std::uint64_t now = mono_ns();
  while (!inflight_.empty() && inflight_.front()->done) {
    Block* b = inflight_.front();
    if (b->error) {
      if (state_ == RingState::ok) {
        failed_off_ = b->seg_off;
        failed_gen_ = b->generation;
        fail(RingState::io_error, b->error,
             "write of seqs " + std::to_string(b->first_seq) + ".." + std::to_string(b->last_seq) + " to " +
                 (b->generation == seg_.generation ? seg_ : prev_).path + " failed");
      }
      break;
    }
    if (!named_ && b->generation == seg_.generation) break;  // durable, but in a segment not yet named
    inflight_.pop_front();
    const auto* h = reinterpret_cast<const BlockHeader*>(b->buf.data());
    (b->generation == seg_.generation ? seg_ : prev_).note_block(*h, b->seg_off);
    durable_seq_ = b->last_seq;
    durable_pos_ = b->ring_end;
    totals_.blocks++;
    totals_.bytes += b->disk_len;
    totals_.frames += h->count;
    if (hdr_) {
      auto& c = hdr_->counters;
      const std::uint64_t took = now - b->submit_ns;
      c.blocks_written.store(c.blocks_written.load(memory_order_relaxed) + 1, memory_order_relaxed);
      c.bytes_written.store(c.bytes_written.load(memory_order_relaxed) + b->disk_len, memory_order_relaxed);
      c.frames_written.store(c.frames_written.load(memory_order_relaxed) + h->count, memory_order_relaxed);
      c.write_ns_last.store(took, memory_order_relaxed);
      if (took > c.write_ns_max.load(memory_order_relaxed)) c.write_ns_max.store(took, memory_order_relaxed);
    }
    free_.push_back(b);
    moved = true;
  }
  // The chain starts once: after it prev_ is gone (success) or the state is io_error (failure).
  if (prev_.fd >= 0 && naming_cqes_ == 0 && state_ == RingState::ok && prev_done()) start_naming();
  if (inflight_.empty() && state_ == RingState::ok && cursor_ > durable_pos_) {
    durable_pos_ = cursor_;  // only padding frames lie between
    moved = true;
  }
  if (moved && !error_.empty() && state_ == RingState::ok) {
    log_->info("stream {}: writing again, durable through seq {} (after: {})", name_, durable_seq_, error_);
    error_.clear();
  }
  if (!moved || !hdr_) return;
  hdr_->durable.durable_seq.store(std::max(durable_seq_, hdr_->durable.durable_seq.load(memory_order_relaxed)),
                                  memory_order_release);
  hdr_->durable.durable_pos.store(durable_pos_, memory_order_release);
  hdr_->durable.durable_ns.store(wall_ns(), memory_order_relaxed);
  AEROLOG_CRASH_POINT("after_hwm_store");
  hdr_->consumer.read_pos.store(durable_pos_, memory_order_release);  // only now is the space free
  if (durable_pos_ >= flush_target_) hdr_->sidecar.flush_ack.store(flush_req_, memory_order_release);
}

}  // namespace aerolog::sidecar
