// A stream's ring: attaching it (checks, and reconciling it with the WAL: what to skip, what to
// refuse), the continuation ring after a reboot, a ring replaced, truncated or refused and looked
// at again, and retiring an idle ring. The ring is untrusted shared memory throughout.
#include "stream.hpp"

#include "clock.hpp"
#include "files.hpp"
#include "ring_file.hpp"
#include "ring_guard.hpp"
#include "ring_scan.hpp"

#include <aerolog/error.hpp>
#include <aerolog/proto/frame.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace aerolog::sidecar {

using namespace common;  // files, clocks, errno errors
using namespace proto;
using std::memory_order_acquire, std::memory_order_relaxed, std::memory_order_release;

// No ring but a WAL: /dev/shm was wiped (a reboot) or the ring was removed. Recreate the ring,
// retired, with its seqs continuing the WAL, so that the next producer publishes seq N + 1 and
// is told nothing it did not write is durable. A ring a producer made first is left alone (and
// refused at attach if it does not continue the WAL).
void Stream::continue_after_reboot(const std::string& ring) {
  try {
    if (detail::create_continuation_ring(ring, name_, durable_seq_, owner_uid_))
      log_->info("stream {}: no ring in {}: created it retired, continuing the WAL at seq {}", name_, opt_.shm_dir,
                 durable_seq_ + 1);
  } catch (const Error& e) {
    log_->error(
        "stream {}: cannot recreate its ring after a reboot ({}); a producer starting now would "
        "restart at seq 1 and be refused",
        name_, e.what());
  }
}

// False while the ring cannot be served yet; the sidecar tries again at its next scan. Every
// reason except a ring that is gone again, being created or retired is logged once (error_).
bool Stream::attach(const std::string& ring_path, RingCandidate c) {
  if (hdr_) return true;
  auto not_served = [&](const std::string& why) {
    if (error_ != why) log_->error("stream {}: ring not served: {}", name_, why);
    error_ = why;
    return false;
  };
  if (!c.problem.empty()) return not_served(c.problem);
  if (c.absent || c.probe.kind != detail::RingProbe::live) return false;  // gone, being created, or retired
  const detail::RingProbe probe = c.probe;
  const struct stat st = c.st;
  // A stream is its first producer's user's: another user's ring for it (a member of the group
  // taking a name after a reboot) is never drained into its WAL. Our own ring is the continuation.
  if (st.st_uid != ::geteuid() && st.st_uid != owner_uid_) {
    if (owner_uid_ != static_cast<uid_t>(-1))
      return not_served(ring_path + " is uid " + std::to_string(st.st_uid) + "'s, but stream " + name_ +
                        " belongs to uid " + std::to_string(owner_uid_) + " (" + dir_ + "/" + kStreamOwnerName +
                        "; remove that file to give the stream to another user)");
    try {
      write_file_durably(dir_, kStreamOwnerName, std::to_string(st.st_uid) + "\n");
    } catch (const std::exception& e) {
      return not_served(std::string("cannot record its owner: ") + e.what());
    }
    owner_uid_ = st.st_uid;
  }
  Fd fd = std::move(c.fd);
  map_len_ = kRingHeaderSize + probe.capacity;
  void* m = ::mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd.get(), 0);
  if (m == MAP_FAILED) return not_served("map " + ring_path + ": " + std::strerror(errno));
  guard_ = common::guard::add(m, map_len_);
  if (guard_ < 0) {  // every SIGBUS guard slot taken: an unguarded ring could kill the sidecar
    ::munmap(m, map_len_);
    return not_served("no SIGBUS guard slot left for " + ring_path + " (1024 rings mapped)");
  }
  hdr_ = static_cast<RingHeader*>(m);
  data_ = static_cast<const std::byte*>(m) + kRingHeaderSize;
  cap_ = probe.capacity;
  ring_fd_ = fd.release();
  ring_ino_ = st.st_ino;
  ring_path_ = ring_path;
  max_frame_ = hdr_->id.max_frame;
  hdr_->sidecar.sidecar_pid.store(static_cast<std::uint32_t>(::getpid()), memory_order_relaxed);
  if (state_ == RingState::refused) {  // show why in the ring, never drain it
    fail(state_, 0, error_);
    return true;
  }

  if (std::string(hdr_->id.stream, strnlen(hdr_->id.stream, sizeof hdr_->id.stream)) != name_) {
    fail(RingState::quarantined, 0, "ring header names another stream");
    return true;
  }
  if (!detail::max_frame_valid(max_frame_, cap_)) {
    fail(RingState::quarantined, 0, "ring header max_frame out of range");
    return true;
  }
  const std::uint64_t w = hdr_->producer.write_pos.load(memory_order_acquire);
  const std::uint64_t r = hdr_->consumer.read_pos.load(memory_order_acquire);
  const std::uint64_t d = hdr_->durable.durable_seq.load(memory_order_acquire);
  const detail::RingView view{data_, cap_, max_frame_};
  detail::RingScan scan = detail::scan_ring(view, r, w);
  if (!scan.error.empty()) {
    fail(RingState::quarantined, 0,
         "ring contents invalid at position " + std::to_string(scan.bad_pos) + ": " + scan.error);
    return true;
  }
  hdr_->counters.wal_last_seq.store(durable_seq_, memory_order_relaxed);  // 0 for an empty WAL
  if (d > durable_seq_) {  // also with no WAL at all: a lost WAL directory must not go unnoticed
    fail(RingState::refused, 0,
         "the ring says seq " + std::to_string(d) + " was made durable but the WAL in " + dir_ +
             (wal_empty_ ? " is empty" : " ends at seq " + std::to_string(durable_seq_)));
    return true;
  }
  // Skip what the WAL already holds (a crash between the HWM store and the read_pos store).
  cursor_ = r;
  if (!wal_empty_) {
    detail::FrameAt f;
    std::uint64_t skipped_seq = 0, skipped_ts = 0;
    while (cursor_ < w && !detail::check_frame(view, cursor_, w, f) && (f.pad || f.header.seq <= durable_seq_)) {
      if (!f.pad) skipped_seq = f.header.seq, skipped_ts = f.header.timestamp;
      cursor_ += f.stride;
    }
    // Records skipped as already durable must be the WAL's own: the last one is its last record.
    // A ring with nothing to skip and nothing undrained must have been told the WAL's end.
    const bool ring_is_ours =
        skipped_seq ? skipped_seq == durable_seq_ && skipped_ts == seg_.last_ts : cursor_ < w || d == durable_seq_;
    if (!ring_is_ours) {
      fail_ring(scan.records ? scan.first_seq : d + 1);
      return true;
    }
    if (cursor_ < w && !f.pad && f.header.seq != durable_seq_ + 1) {  // a gap: records are missing
      fail_ring(f.header.seq);
      return true;
    }
  } else {
    next_seq_ = scan.records ? scan.first_seq : d + 1;
    durable_seq_ = next_seq_ - 1;
    if (next_seq_ != 1) log_->info("stream {}: new WAL starts at seq {}", name_, next_seq_);
  }
  durable_pos_ = cursor_;
  last_w_ = w;
  hdr_->durable.durable_seq.store(std::max(d, durable_seq_), memory_order_release);
  hdr_->durable.durable_pos.store(durable_pos_, memory_order_release);
  hdr_->consumer.read_pos.store(durable_pos_, memory_order_release);
  clear_error();  // what this or another sidecar said of the ring before no longer holds
  flush_req_ = hdr_->sidecar.flush_ack.load(memory_order_relaxed);
  log_->info("stream {}: attached {} ({} MiB ring, {} undrained records, next seq {})", name_, ring_path, cap_ >> 20,
             scan.records, next_seq_);
  return true;
}

// The ring does not continue the WAL: typically /dev/shm was wiped by a reboot and the producer
// made a new ring (seqs from 1) before the sidecar recreated it. Nothing in it is acknowledged,
// ever: it is not drained and its durable_seq is not touched. `aerologctl adopt` renumbers its
// unacknowledged records to follow the WAL (docs/operating.md, "After a reboot"); the sidecar looks again
// whenever the ring changes (check_replaced, recheck_ring).
void Stream::fail_ring(std::uint64_t ring_first) {
  ring_refused_ = true;
  recheck_at_ns_ = mono_ns() + kRetryNs;
  fail(RingState::refused, 0,
       "ring seqs from " + std::to_string(ring_first) + " do not continue the WAL (ends at " +
           std::to_string(durable_seq_) + "): see aerologctl adopt");
}

void Stream::detach() {
  common::guard::remove(guard_);
  guard_ = -1;
  if (hdr_) ::munmap(hdr_, map_len_);
  if (ring_fd_ >= 0) ::close(ring_fd_);
  hdr_ = nullptr;
  data_ = nullptr;
  ring_fd_ = -1;
  ring_ino_ = 0;
}

// A ring file removed or replaced by another file: keep draining the old mapping (a producer
// may still hold it) until it is empty, then let go so the new file can be attached.
void Stream::check_replaced() {
  if (!hdr_) return;
  struct stat st;
  if (::fstat(ring_fd_, &st) == 0 && static_cast<std::uint64_t>(st.st_size) < map_len_) {
    fail(RingState::quarantined, 0,
         "ring file " + ring_path_ + " was truncated underneath the sidecar (" + std::to_string(st.st_size) + " of " +
             std::to_string(map_len_) + " bytes)");
    detach();  // touching the lost pages would fault
    return;
  }
  const bool gone = ::stat(ring_path_.c_str(), &st) != 0 || st.st_ino != ring_ino_;
  if (!gone) return;
  const bool empty = inflight_.empty() && durable_pos_ == hdr_->producer.write_pos.load(memory_order_acquire);
  if (!empty && state_ == RingState::ok) return;
  log_->warn("stream {}: ring file {} was removed or replaced; the old ring is {}: detached", name_, ring_path_,
             empty ? "fully durable" : "not being served");
  detach();
}

// A ring refused for not continuing the WAL is looked at again every second (the sidecar then
// re-attaches it): `aerologctl adopt` may have renumbered it, or a new ring may have replaced it.
// If it was deleted, the continuation ring takes its place, as after a reboot.
void Stream::recheck_ring(std::uint64_t now) {
  if (!ring_refused_ || now < recheck_at_ns_) return;
  recheck_at_ns_ = now + kRetryNs;
  detach();
  ring_refused_ = false;
  state_ = RingState::ok;  // error_ is kept: the same refusal again is logged quietly
  if (!wal_empty_ && ::access(ring_path_.c_str(), F_OK) != 0 && errno == ENOENT) continue_after_reboot(ring_path_);
}

// A ring whose producer is gone and whose records are all durable is shrunk to its header
// after the grace period; the next producer regrows it and the seqs carry on.
void Stream::retire_if_idle(std::uint64_t now) {
  if (!hdr_ || state_ != RingState::ok || !inflight_.empty() ||
      durable_pos_ != hdr_->producer.write_pos.load(memory_order_acquire) || detail::producer_lock_held(ring_fd_)) {
    idle_since_ns_ = 0;
    return;
  }
  if (!idle_since_ns_) idle_since_ns_ = now;
  if (now - idle_since_ns_ < opt_.retire_grace_s * 1'000'000'000ull) return;
  struct flock l {};
  l.l_type = F_WRLCK;
  l.l_whence = SEEK_SET;
  if (::fcntl(ring_fd_, F_OFD_SETLK, &l) != 0) return;  // a producer is opening it right now
  if (durable_pos_ != hdr_->producer.write_pos.load(memory_order_acquire)) return;  // lock dies with detach()
  ::munmap(hdr_, map_len_);
  hdr_ = nullptr;
  if (::ftruncate(ring_fd_, kRingHeaderSize) != 0) log_->warn("stream {}: retire: {}", name_, std::strerror(errno));
  log_->info("stream {}: producer gone and ring drained for {} s: retired {} (shrunk to its header)", name_,
             opt_.retire_grace_s, ring_path_);
  detach();
  idle_since_ns_ = 0;
}

}  // namespace aerolog::sidecar
