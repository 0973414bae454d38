// A stream's WAL segments: recovering the directory at start (segment.cpp's rules, knowing what
// the ring says was acknowledged), rolling to a prepared spare when the active segment is full,
// and after a write or sync error going back to the HWM in a fresh segment.
#include "stream.hpp"

#include "clock.hpp"
#include "failpoint.hpp"
#include "files.hpp"
#include "ring_file.hpp"
#include "safe_file.hpp"
#include "sys_error.hpp"
#include "wal_files.hpp"

#include <aerolog/error.hpp>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
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
  read_owner();
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
  try {
    if (const std::string damage = catalog_.open(dir_, r.empty ? 0 : r.last.last_seq); !damage.empty())
      log_->error("stream {}: {}", name_, damage);
  } catch (const std::exception& e) {
    fail(RingState::refused, errno_of(e), std::string("site catalog: ") + e.what());
    return;
  }
  if (!r.empty) {
    seg_ = std::move(r.last);
    wal_empty_ = false;
    durable_seq_ = seg_.last_seq;
    next_seq_ = durable_seq_ + 1;
    log_->info("stream {}: WAL recovered through seq {} (segment {}, offset {})", name_, durable_seq_,
               detail::segment_file_name(seg_.base_seq), seg_.write_off);
    continue_after_reboot(ring);
  }
  next_spare();
}

void Stream::read_owner() {
  if (const auto uid = stream_owner(dir_))
    owner_uid_ = *uid;
  else if (::access((dir_ + "/" + kStreamOwnerName).c_str(), F_OK) == 0)
    log_->warn("stream {}: {}/{} is not a uid; the next ring attached names the owner again", name_, dir_,
               kStreamOwnerName);
}

// Segments start at --min-segment-size and each is twice the one before, up to --segment-size:
// a stream that logs a few lines costs a few MiB (its segment and its spare), a busy one has
// full preallocated segments after a few rolls (4, 8, 16, 32, then 64 MiB by default).
std::uint64_t Stream::next_segment_size() const {
  if (seg_.size == 0) return opt_.min_segment_size;
  return std::min(opt_.segment_size, std::max(opt_.min_segment_size, 2 * seg_.size));
}

void Stream::next_spare() {
  if (apply_retention()) return;
  // A stream's first segment is zeroed before it is used even on a busy disk (a light stream
  // would otherwise commit metadata with every write to it); later ones as --zero-spares says.
  preparer_.request(spare_, spare_path_, next_segment_size(), seg_.fd < 0 && opt_.zero_spares != Zeroing::never);
}

namespace {
// Moves a segment out and leaves an empty one behind (fd -1): SegmentFile's fd is a plain int.
SegmentFile take(SegmentFile& s) {
  SegmentFile out = std::move(s);
  s = SegmentFile{};
  return out;
}
}  // namespace

// A roll, off the critical path: the prepared spare becomes seg_ at once and the blocks that did
// not fit go to it right away. What must happen in order happens in the naming chain: once no
// block of the old segment is in flight (so a crash can never leave a named segment after a
// hole), the header write (RWF_DSYNC), the rename to <base_seq>.alog and the directory fsync are
// submitted as one linked io_uring chain, and the HWM waits at the old segment's end until they
// complete. The old segment is then closed and indexed by the preparer thread. Nothing
// here waits for a disk: other streams go on, and so does this one's writing.
bool Stream::ensure_segment(std::uint64_t need, std::uint64_t first_seq) {
  if (seg_.fd >= 0 && seg_.write_off + need <= seg_.size) return true;
  if (state_ != RingState::ok || prev_.fd >= 0 || !named_) return false;  // one roll at a time
  if (!sealed()) return false;
  switch (spare_->state.load()) {
    case Spare::none:
      next_spare();
      return false;
    case Spare::pending:
      return false;
    case Spare::failed:
      if (!inflight_.empty())
        return false;  // the blocks in flight land first: then the HWM stays where the error shows
      spare_->state = Spare::none;
      fail(RingState::io_error, spare_->error_code, "cannot prepare the next segment (" + spare_->error + ")");
      return false;
    default:
      break;
  }
  {
    std::unique_lock io(spare_->io, std::try_to_lock);
    if (!io) return false;  // the preparer is writing zeros into it: a later poll takes it
    ++spare_->epoch;        // and no more zeros go there
  }
  SegmentFile next;
  try {
    if (!dir_fd_) dir_fd_ = Fd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir_fd_) throw_errno("open directory " + dir_);
    next = open_spare(spare_path_, dir_ + "/" + detail::segment_file_name(first_seq), first_seq, seg_.generation + 1);
  } catch (const std::exception& e) {
    spare_->state = Spare::none;
    fail(RingState::io_error, errno_of(e), std::string("cannot start a segment (") + e.what() + ")");
    return false;
  }
  spare_->state = Spare::none;  // asked for again once the name is free (after the rename)
  if (seg_.fd >= 0) {
    seg_.write_off = seg_.size;  // full: nothing more goes there
    prev_ = take(seg_);
  }
  seg_ = std::move(next);
  named_ = false;
  naming_error_ = 0;
  fill_segment_header(header_page_.data(), name_, seg_);
  AEROLOG_CRASH_POINT("roll_started");
  wal_empty_ = false;
  if (hdr_) hdr_->counters.segment_base.store(first_seq, memory_order_relaxed);
  if (prev_done()) start_naming();
  return seg_.write_off + need <= seg_.size;
}

bool Stream::sealed() {
  if (!sealing_) return true;
  if (!sealing_->done) return false;
  if (!sealing_->error.empty()) log_->error("stream {}: sealing: {}", name_, sealing_->error);
  sealing_.reset();
  return true;
}

bool Stream::prev_done() const {
  if (prev_.fd < 0) return true;
  for (const Block* b : inflight_)
    if (b->generation == prev_.generation) return false;
  return true;
}

void Stream::start_naming() {
  naming_cqes_ = 3;
  uring_.reserve(3);
  io_uring_sqe* w = uring_.sqe();
  io_uring_prep_write(w, seg_.fd, header_page_.data(), kSegmentHeaderSize, 0);
  w->rw_flags = RWF_DSYNC;
  w->flags |= IOSQE_IO_LINK;
  io_uring_sqe_set_data64(w, reinterpret_cast<std::uintptr_t>(this) | kCqeNaming | kCqeHeader);
  io_uring_sqe* r = uring_.sqe();
  io_uring_prep_renameat(r, AT_FDCWD, spare_path_.c_str(), AT_FDCWD, seg_.path.c_str(), 0);
  r->flags |= IOSQE_IO_LINK;
  io_uring_sqe_set_data64(r, reinterpret_cast<std::uintptr_t>(this) | kCqeNaming);
  io_uring_sqe* f = uring_.sqe();
  io_uring_prep_fsync(f, dir_fd_.get(), 0);
  io_uring_sqe_set_data64(f, reinterpret_cast<std::uintptr_t>(this) | kCqeNaming);
}

void Stream::on_naming_cqe(int res, bool is_header) {
  if (res < 0 && !naming_error_) naming_error_ = -res;  // the steps after a failed one report ECANCELED
  if (is_header && res >= 0 && res != static_cast<int>(kSegmentHeaderSize) && !naming_error_) naming_error_ = EIO;
  if (--naming_cqes_ > 0) return;
  if (naming_error_) {
    fail(RingState::io_error, naming_error_,
         "cannot name segment " + detail::segment_file_name(seg_.base_seq) + " (header, rename or directory fsync)");
    return;
  }
  AEROLOG_CRASH_POINT("roll_named");
  named_ = true;
  log_->info("stream {}: segment {} started (generation {})", name_, detail::segment_file_name(seg_.base_seq),
             seg_.generation);
  if (prev_.fd >= 0) {  // sealed() held when this roll began: the slot is free
    sealing_ = std::make_shared<Sealing>();
    sealing_->dir = dir_;
    sealing_->seg = take(prev_);
    preparer_.seal_later(sealing_);
  }
  next_spare();
  advance();
}

// After a write or sync error: wait until nothing is in flight, give up the segment (zeroing
// what the failed attempt wrote, best effort), and go back to the HWM. The ring still holds
// every record after it, so the retry rewrites them into a fresh segment. A roll not yet named
// is undone first: its file is the spare (made again) or a name the retry's roll replaces.
void Stream::recover_from_io_error(std::uint64_t now) {
  for (Block* b : inflight_)
    if (!b->done) return;
  if (naming_cqes_ > 0) return;
  for (Block* b : inflight_) free_.push_back(b);
  inflight_.clear();
  if (!named_) {
    if (seg_.fd >= 0) ::close(seg_.fd);
    seg_ = take(prev_);
    named_ = true;
    naming_error_ = 0;
  }
  if (seg_.fd >= 0) {
    if (failed_gen_ == seg_.generation && seg_.write_off > failed_off_ && failed_off_ >= kSegmentHeaderSize) {
      AlignedBuffer zeros(kPage);
      for (std::uint64_t p = failed_off_; p < seg_.write_off; p += kPage)
        if (::pwrite(seg_.fd, zeros.data(), kPage, static_cast<off_t>(p)) != kPage) break;
    }
    seg_.write_off = seg_.size;  // never written again: the retry goes to a fresh segment
    if (::fdatasync(seg_.fd) != 0) log_->warn("stream {}: fdatasync after error: {}", name_, std::strerror(errno));
    if (std::string err = seal(dir_, seg_); !err.empty()) log_->warn("stream {}: sealing after error: {}", name_, err);
  }
  failed_off_ = 0;
  failed_gen_ = 0;
  cursor_ = durable_pos_;
  next_seq_ = durable_seq_ + 1;
  if (now < retry_at_ns_) return;
  log_->info("stream {}: retrying from seq {} after: {}", name_, next_seq_, error_);
  clear_error();
}

}  // namespace aerolog::sidecar
