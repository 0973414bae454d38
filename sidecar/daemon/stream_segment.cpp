// A stream's WAL segments: recovering the directory at start (segment.cpp's rules, knowing what
// the ring says was acknowledged), rolling to a prepared spare when the active segment is full,
// and after a write or sync error going back to the HWM in a fresh segment.
#include "stream.hpp"

#include "clock.hpp"
#include "failpoint.hpp"
#include "files.hpp"
#include "ring_file.hpp"
#include "sys_error.hpp"
#include "wal_files.hpp"

#include <aerolog/error.hpp>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

#include <unistd.h>

namespace aerolog::sidecar {

using namespace common;  // files, clocks, errno errors
using namespace proto;
using std::memory_order_relaxed, std::memory_order_release;

void Stream::recover_wal() {
  try {
    make_dirs_durably(dir_);
  } catch (const std::exception& e) {
    fail(RingState::refused, errno_of(e), e.what());
    return;
  }
  // What a producer may have seen acknowledged: recovery must find it in the WAL, whole.
  const std::string ring = detail::ring_path(opt_.shm_dir, name_);
  const std::uint64_t acked = detail::peek_durable_seq(ring, name_).value_or(0);
  Recovery r;
  try {
    r = recover_last_segment(dir_, name_, acked);
  } catch (const std::exception& e) {
    fail(RingState::refused, 0, std::string("recovery failed: ") + e.what());
    return;
  }
  if (r.refused) {
    fail(RingState::refused, 0, r.error);
    return;
  }
  if (!r.note.empty()) log_->warn("stream {}: {}", name_, r.note);
  if (!r.empty) {
    seg_ = std::move(r.last);
    wal_empty_ = false;
    durable_seq_ = seg_.last_seq;
    next_seq_ = durable_seq_ + 1;
    log_->info("stream {}: WAL recovered through seq {} (segment {}, offset {})", name_, durable_seq_,
               detail::segment_file_name(seg_.base_seq), seg_.write_off);
    continue_after_reboot(ring);
  }
  preparer_.request(spare_, dir_ + "/" + kSpareName, opt_.segment_size);
}

bool Stream::ensure_segment(std::uint64_t need, std::uint64_t first_seq) {
  if (seg_.fd >= 0 && seg_.write_off + need <= seg_.size) return true;
  if (!inflight_.empty() || state_ != RingState::ok) return false;  // roll once the old segment is quiet
  switch (spare_->state.load()) {
    case Spare::none:
      preparer_.request(spare_, dir_ + "/" + kSpareName, opt_.segment_size);
      return false;
    case Spare::pending:
      return false;
    case Spare::failed:
      spare_->state = Spare::none;
      fail(RingState::io_error, spare_->error_code, "cannot prepare the next segment (" + spare_->error + ")");
      return false;
    default:
      break;
  }
  if (seg_.fd >= 0) {
    if (std::string err = seal(dir_, seg_); !err.empty()) log_->error("stream {}: sealing: {}", name_, err);
  }
  const std::uint64_t generation = seg_.generation + 1;
  AEROLOG_CRASH_POINT("roll_after_seal");
  try {
    seg_ = activate_spare(dir_, dir_ + "/" + kSpareName, name_, first_seq, generation);
  } catch (const std::exception& e) {
    spare_->state = Spare::none;
    fail(RingState::io_error, errno_of(e), std::string("cannot start a segment (") + e.what() + ")");
    return false;
  }
  spare_->state = Spare::none;
  preparer_.request(spare_, dir_ + "/" + kSpareName, opt_.segment_size);
  wal_empty_ = false;
  if (hdr_) hdr_->counters.segment_base.store(first_seq, memory_order_relaxed);
  log_->info("stream {}: segment {} started (generation {})", name_, detail::segment_file_name(first_seq), generation);
  return seg_.write_off + need <= seg_.size;
}

// After a write or sync error: wait until nothing is in flight, give up the segment (zeroing
// what the failed attempt wrote, best effort), and go back to the HWM. The ring still holds
// every record after it, so the retry rewrites them into a fresh segment.
void Stream::recover_from_io_error(std::uint64_t now) {
  for (Block* b : inflight_)
    if (!b->done) return;
  for (Block* b : inflight_) free_.push_back(b);
  inflight_.clear();
  if (seg_.fd >= 0) {
    if (seg_.write_off > failed_off_ && failed_off_ >= kSegmentHeaderSize) {
      AlignedBuffer zeros(kPage);
      for (std::uint64_t p = failed_off_; p < seg_.write_off; p += kPage)
        if (::pwrite(seg_.fd, zeros.data(), kPage, static_cast<off_t>(p)) != kPage) break;
    }
    seg_.write_off = seg_.size;  // never written again: the retry goes to a fresh segment
    if (std::string err = seal(dir_, seg_); !err.empty()) log_->warn("stream {}: sealing after error: {}", name_, err);
  }
  failed_off_ = 0;
  cursor_ = durable_pos_;
  next_seq_ = durable_seq_ + 1;
  if (now < retry_at_ns_) return;
  log_->info("stream {}: retrying from seq {} after: {}", name_, next_seq_, error_);
  state_ = RingState::ok;
  if (hdr_) hdr_->sidecar.state.store(static_cast<std::uint32_t>(RingState::ok), memory_order_release);
}

}  // namespace aerolog::sidecar
