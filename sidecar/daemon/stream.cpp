#include "stream.hpp"

#include "failpoint.hpp"
#include "ring_file.hpp"
#include "ring_guard.hpp"
#include "ring_scan.hpp"
#include "ship_checkpoint.hpp"
#include "wal_files.hpp"
#include "clock.hpp"
#include "sys_error.hpp"
#include "files.hpp"

#include <aerolog/error.hpp>
#include <aerolog/proto/crc32c.hpp>
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
using std::memory_order_acquire;
using std::memory_order_relaxed;
using std::memory_order_release;

const char* to_string(StreamState s) {
  switch (s) {
    case StreamState::ok:
      return "ok";
    case StreamState::quarantined:
      return "quarantined";
    case StreamState::io_error:
      return "io_error";
    case StreamState::refused:
      return "refused";
  }
  return "?";
}

namespace {

bool owned_by_us_or_our_group(const struct stat& st) {
  if (st.st_uid == ::geteuid() || st.st_gid == ::getegid()) return true;
  gid_t groups[256];
  const int n = ::getgroups(256, groups);
  for (int i = 0; i < n; ++i)
    if (groups[i] == st.st_gid) return true;
  return false;
}

constexpr std::uint64_t kRetryNs = 1'000'000'000ull;
constexpr std::uint64_t kRetentionEveryNs = 10'000'000'000ull;
constexpr std::uint64_t kBusyPollNs = 5'000;  // polls closer than this mean the producer is busy
}  // namespace

Stream::Stream(std::string name, const Options& opt, Uring& uring, Preparer& preparer, StreamTotals& totals)
    : name_(std::move(name)),
      dir_(opt.wal_dir + "/" + name_),
      opt_(opt),
      uring_(uring),
      preparer_(preparer),
      totals_(totals),
      log_(spdlog::default_logger()),
      spare_(std::make_shared<Spare>()) {
  const std::size_t cap = align_up(std::max<std::uint64_t>(opt.max_block, kBlockHeaderSize + kMaxFrameSize), kPage);
  for (std::uint32_t i = 0; i < opt.depth; ++i) {
    blocks_.push_back(std::make_unique<Block>(this, cap));
    free_.push_back(blocks_.back().get());
  }
}

Stream::~Stream() {
  detach();
  if (seg_.fd >= 0) ::close(seg_.fd);
}

void Stream::recover() {
  try {
    make_dirs_durably(dir_);
  } catch (const std::exception& e) {
    fail(StreamState::refused, errno_of(e), e.what());
    return;
  }
  // What a producer may have seen acknowledged: recovery must find it in the WAL, whole.
  const std::string ring = detail::ring_path(opt_.shm_dir, name_);
  const std::uint64_t acked = detail::peek_durable_seq(ring, name_).value_or(0);
  Recovery r;
  try {
    r = sidecar::recover(dir_, name_, acked);
  } catch (const std::exception& e) {
    fail(StreamState::refused, 0, std::string("recovery failed: ") + e.what());
    return;
  }
  if (r.refused) {
    fail(StreamState::refused, 0, r.error);
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

// No ring but a WAL: /dev/shm was wiped (a reboot) or the ring was removed. Recreate the ring,
// retired, with its seqs continuing the WAL, so that the next producer publishes seq N + 1 and
// is told nothing it did not write is durable. A ring a producer made first is left alone (and
// refused at attach if it does not continue the WAL).
void Stream::continue_after_reboot(const std::string& ring) {
  try {
    if (detail::create_continuation_ring(ring, name_, durable_seq_))
      log_->info("stream {}: no ring in {}: created it retired, continuing the WAL at seq {}", name_, opt_.shm_dir,
                 durable_seq_ + 1);
  } catch (const Error& e) {
    log_->error(
        "stream {}: cannot recreate its ring after a reboot ({}); a producer starting now would "
        "restart at seq 1 and be refused",
        name_, e.what());
  }
}

bool Stream::attach(const std::string& ring_path) {
  if (hdr_) return true;
  Fd fd(::open(ring_path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return false;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return false;
  if (!owned_by_us_or_our_group(st)) {
    const std::string why = ring_path + " is owned by uid " + std::to_string(st.st_uid) + " gid " +
                            std::to_string(st.st_gid) + ", neither our user nor one of our groups: not served";
    if (error_ != why) log_->error("stream {}: {}", name_, why);
    error_ = why;
    return false;
  }
  detail::RingProbe probe;
  try {
    probe = detail::probe_ring(fd.get(), ring_path);
  } catch (const Error& e) {
    if (error_ != e.what()) log_->error("stream {}: ring not served: {}", name_, e.what());
    error_ = e.what();
    return false;
  }
  if (probe.kind != detail::RingProbe::live) return false;  // being created, or retired
  map_len_ = kRingHeaderSize + probe.capacity;
  void* m = ::mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd.get(), 0);
  if (m == MAP_FAILED) return false;
  hdr_ = static_cast<RingHeader*>(m);
  data_ = static_cast<const std::byte*>(m) + kRingHeaderSize;
  guard_ = guard::add(m, map_len_);
  cap_ = probe.capacity;
  ring_fd_ = fd.release();
  ring_ino_ = st.st_ino;
  ring_path_ = ring_path;
  max_frame_ = hdr_->id.max_frame;
  hdr_->sidecar.sidecar_pid.store(static_cast<std::uint32_t>(::getpid()), memory_order_relaxed);
  if (state_ == StreamState::refused) {  // show why in the ring, never drain it
    fail(state_, 0, error_);
    return true;
  }

  if (std::string(hdr_->id.stream, strnlen(hdr_->id.stream, sizeof hdr_->id.stream)) != name_) {
    fail(StreamState::quarantined, 0, "ring header names another stream");
    return true;
  }
  if (max_frame_ < kFrameHeaderSize + 8 || max_frame_ > std::min<std::uint64_t>(kMaxFrameSize, cap_ / 4)) {
    fail(StreamState::quarantined, 0, "ring header max_frame out of range");
    return true;
  }
  const std::uint64_t w = hdr_->producer.write_pos.load(memory_order_acquire);
  const std::uint64_t r = hdr_->consumer.read_pos.load(memory_order_acquire);
  const std::uint64_t d = hdr_->durable.durable_seq.load(memory_order_acquire);
  const detail::RingView view{data_, cap_, max_frame_};
  detail::RingScan scan = detail::scan_ring(view, r, w);
  if (!scan.error.empty()) {
    fail(StreamState::quarantined, 0,
         "ring contents invalid at position " + std::to_string(scan.bad_pos) + ": " + scan.error);
    return true;
  }
  hdr_->counters.wal_last_seq.store(wal_empty_ ? 0 : durable_seq_, memory_order_relaxed);
  if (d > durable_seq_) {  // also with no WAL at all: a lost WAL directory must not go unnoticed
    fail(StreamState::refused, 0,
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
  hdr_->sidecar.state.store(static_cast<std::uint32_t>(RingState::ok), memory_order_release);
  flush_req_ = hdr_->sidecar.flush_ack.load(memory_order_relaxed);
  log_->info("stream {}: attached {} ({} MiB ring, {} undrained records, next seq {})", name_, ring_path, cap_ >> 20,
             scan.records, next_seq_);
  return true;
}

// The ring does not continue the WAL: typically /dev/shm was wiped by a reboot and the producer
// made a new ring (seqs from 1) before the sidecar recreated it. Nothing in it is acknowledged,
// ever: it is not drained and its durable_seq is not touched. `aerologctl adopt` renumbers its
// unacknowledged records to follow the WAL (README, "After a reboot"); the sidecar looks again
// whenever the ring changes (check_replaced, recheck_ring).
void Stream::fail_ring(std::uint64_t ring_first) {
  ring_refused_ = true;
  recheck_at_ns_ = mono_ns() + kRetryNs;
  fail(StreamState::refused, 0,
       "ring seqs from " + std::to_string(ring_first) + " do not continue the WAL (ends at " +
           std::to_string(durable_seq_) + "): see aerologctl adopt");
}

void Stream::detach() {
  guard::remove(guard_);
  guard_ = -1;
  if (hdr_) ::munmap(hdr_, map_len_);
  if (ring_fd_ >= 0) ::close(ring_fd_);
  hdr_ = nullptr;
  data_ = nullptr;
  ring_fd_ = -1;
  ring_ino_ = 0;
}

bool Stream::poll(std::uint64_t now, bool stopping) {
  if (!hdr_ || state_ != StreamState::ok) return false;
  if (guard::faulted(guard_)) {
    fail(StreamState::quarantined, 0,
         "ring file " + ring_path_ + " was truncated underneath the sidecar (SIGBUS caught)");
    return false;
  }
  const std::uint64_t w = hdr_->producer.write_pos.load(memory_order_acquire);
  if (w < cursor_ || w - durable_pos_ > cap_) {
    fail(StreamState::quarantined, 0,
         "ring write position " + std::to_string(w) + " is behind the sidecar (" + std::to_string(cursor_) +
             ") or beyond capacity");
    return false;
  }
  const std::uint64_t req = hdr_->flush.flush_request.load(memory_order_relaxed);
  if (req != flush_req_) {  // a new flush request: everything committed now must become durable
    flush_req_ = req;
    flush_target_ = w;
    if (durable_pos_ >= w) hdr_->sidecar.flush_ack.store(req, memory_order_release);
  }
  // While the producer is busy, stay off the page it is writing: the hardware prefetcher would
  // pull its next lines away from it. A pause (w unchanged) or a slow poll takes everything.
  std::uint64_t upto = w;
  if (!stopping && w != last_w_ && now - last_poll_ns_ < kBusyPollNs) {
    const std::uint64_t page = w & ~std::uint64_t{kPage - 1};
    upto = page > cursor_ ? page : cursor_;
  }
  last_w_ = w;
  last_poll_ns_ = now;
  if (upto <= cursor_) return false;
  if (opt_.batch_delay_us && !stopping && flush_target_ <= cursor_) {
    if (!pending_since_ns_) pending_since_ns_ = now;
    if (upto - cursor_ < opt_.max_block && now - pending_since_ns_ < opt_.batch_delay_us * 1000) return false;
  }
  bool did = false;
  while (!free_.empty() && cursor_ < upto && state_ == StreamState::ok) {
    const std::uint64_t bound = std::min<std::uint64_t>(kBlockHeaderSize + (w - cursor_), free_.back()->buf.size());
    if (!ensure_segment(align_up(bound, kPage), next_seq_)) break;
    if (!build_block(upto, w)) break;
    did = true;
  }
  pending_since_ns_ = 0;
  return did;
}

// Copies whole frames starting before `upto` (the last may end past it, never past `end`).
bool Stream::build_block(std::uint64_t upto, std::uint64_t end) {
  Block* b = free_.back();
  std::byte* out = b->buf.data();
  const detail::RingView view{data_, cap_, max_frame_};
  std::uint32_t len = kBlockHeaderSize, count = 0;
  std::uint64_t pos = cursor_, seq = next_seq_, first_ts = 0, last_ts = 0;
  while (pos < upto) {
    detail::FrameAt f;
    if (const char* err = detail::check_frame(view, pos, end, f)) {
      fail(StreamState::quarantined, 0, std::string("bad frame at ring position ") + std::to_string(pos) + ": " + err);
      return false;
    }
    if (f.pad) {
      pos += f.stride;
      continue;
    }
    if (f.header.seq != seq) {
      fail(StreamState::quarantined, 0,
           "seq jump at ring position " + std::to_string(pos) + ": expected " + std::to_string(seq) + ", found " +
               std::to_string(f.header.seq));
      return false;
    }
    if (count && len + f.stride > opt_.max_block) break;
    // The header from our checked copy, the payload from shm, zeros for the alignment bytes.
    std::memcpy(out + len, &f.header, kFrameHeaderSize);
    std::memcpy(out + len + kFrameHeaderSize, f.payload, f.header.length - kFrameHeaderSize);
    std::memset(out + len + f.header.length, 0, f.stride - f.header.length);
    if (!count) first_ts = f.header.timestamp;
    last_ts = f.header.timestamp;
    len += f.stride;
    ++count;
    ++seq;
    pos += f.stride;
  }
  if (guard::faulted(guard_)) return false;  // the ring shrank while we copied: the copy is garbage
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
  next_seq_ = seq;
  submit(b);
  return true;
}

void Stream::submit(Block* b) {
  free_.pop_back();
  b->seg_off = seg_.write_off;
  seg_.write_off += b->disk_len;
  b->error = 0;
  b->done = false;
  b->submit_ns = mono_ns();
  if (fp::hit("torn_write")) {  // only the first K sectors of this block reach the disk, then the power goes
    // At most half the block arrives, so some of its checked bytes are surely missing.
    const std::size_t torn =
        std::min<std::size_t>(b->length / 2, 512u * static_cast<unsigned>(std::max(1, fp::arg("torn_write"))));
    std::memset(b->buf.data() + torn, 0, b->disk_len - torn);  // the sectors that never arrived
    (void)!::pwrite(seg_.fd, b->buf.data(), align_up(torn, kPage), static_cast<off_t>(b->seg_off));
    ::fdatasync(seg_.fd);
    fp::crash("torn_write");
  }
  io_uring_sqe* sqe = uring_.sqe();
  io_uring_prep_write(sqe, seg_.fd, b->buf.data(), b->disk_len, b->seg_off);
  if (opt_.durability == Durability::dsync) sqe->rw_flags = RWF_DSYNC;
  io_uring_sqe_set_data64(sqe, reinterpret_cast<std::uintptr_t>(b));
  b->pending_cqes = 1;
  if (opt_.durability == Durability::fdatasync) {
    sqe->flags |= IOSQE_IO_LINK;
    io_uring_sqe* sync = uring_.sqe();
    io_uring_prep_fsync(sync, seg_.fd, IORING_FSYNC_DATASYNC);
    io_uring_sqe_set_data64(sync, reinterpret_cast<std::uintptr_t>(b) | 1);
    b->pending_cqes = 2;
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
      if (state_ == StreamState::ok) {
        failed_off_ = b->seg_off;
        fail(StreamState::io_error, b->error,
             "write of seqs " + std::to_string(b->first_seq) + ".." + std::to_string(b->last_seq) + " to " + seg_.path +
                 " failed");
      }
      break;
    }
    inflight_.pop_front();
    const auto* h = reinterpret_cast<const BlockHeader*>(b->buf.data());
    seg_.note_block(*h, b->seg_off);
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
  if (inflight_.empty() && state_ == StreamState::ok && cursor_ > durable_pos_) {
    durable_pos_ = cursor_;  // only padding frames lie between
    moved = true;
  }
  if (moved && !error_.empty() && state_ == StreamState::ok) {
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

bool Stream::ensure_segment(std::uint64_t need, std::uint64_t first_seq) {
  if (seg_.fd >= 0 && seg_.write_off + need <= seg_.size) return true;
  if (!inflight_.empty() || state_ != StreamState::ok) return false;  // roll once the old segment is quiet
  switch (spare_->state.load()) {
    case Spare::none:
      preparer_.request(spare_, dir_ + "/" + kSpareName, opt_.segment_size);
      return false;
    case Spare::pending:
      return false;
    case Spare::failed:
      spare_->state = Spare::none;
      fail(StreamState::io_error, spare_->error_code, "cannot prepare the next segment (" + spare_->error + ")");
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
    fail(StreamState::io_error, errno_of(e), std::string("cannot start a segment (") + e.what() + ")");
    return false;
  }
  spare_->state = Spare::none;
  preparer_.request(spare_, dir_ + "/" + kSpareName, opt_.segment_size);
  wal_empty_ = false;
  if (hdr_) hdr_->counters.segment_base.store(first_seq, memory_order_relaxed);
  log_->info("stream {}: segment {} started (generation {})", name_, detail::segment_file_name(first_seq), generation);
  return seg_.write_off + need <= seg_.size;
}

void Stream::fail(StreamState s, int err, const std::string& why) {
  std::string text =
      err ? std::string(std::strerror(err)) + ": " + why : why;  // the cause first: status shows ~95 chars
  const bool repeat = text == error_;                            // a retry failing the same way again: log it quietly
  state_ = s;
  error_ = std::move(text);
  log_->log(repeat ? spdlog::level::debug : spdlog::level::err, "stream {}: {} ({})", name_, error_, to_string(s));
  if (s == StreamState::io_error) {
    ++totals_.io_errors;
    retry_at_ns_ = mono_ns() + kRetryNs;
  }
  if (!hdr_) return;
  const RingState rs = s == StreamState::io_error  ? RingState::io_error
                       : s == StreamState::refused ? RingState::refused
                                                   : RingState::quarantined;
  if (s == StreamState::quarantined)
    hdr_->counters.quarantines.store(hdr_->counters.quarantines.load(memory_order_relaxed) + 1, memory_order_relaxed);
  if (s == StreamState::io_error)
    hdr_->counters.io_errors.store(hdr_->counters.io_errors.load(memory_order_relaxed) + 1, memory_order_relaxed);
  std::snprintf(hdr_->sidecar.error, sizeof hdr_->sidecar.error, "%s", error_.c_str());
  hdr_->sidecar.error_errno.store(static_cast<std::uint32_t>(err), memory_order_relaxed);
  hdr_->sidecar.state.store(static_cast<std::uint32_t>(rs), memory_order_release);
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
  state_ = StreamState::ok;
  if (hdr_) hdr_->sidecar.state.store(static_cast<std::uint32_t>(RingState::ok), memory_order_release);
}

void Stream::housekeeping(std::uint64_t now) {
  if (hdr_) hdr_->sidecar.heartbeat_ns.store(wall_ns(), memory_order_relaxed);
  check_replaced();
  recheck_ring(now);
  if (state_ == StreamState::io_error) recover_from_io_error(now);
  retire_if_idle(now);
  if (now >= next_retention_ns_) {
    next_retention_ns_ = now + kRetentionEveryNs;
    apply_retention(now);
  }
}

// A ring file removed or replaced by another file: keep draining the old mapping (a producer
// may still hold it) until it is empty, then let go so the new file can be attached.
void Stream::check_replaced() {
  if (!hdr_) return;
  struct stat st;
  if (::fstat(ring_fd_, &st) == 0 && static_cast<std::uint64_t>(st.st_size) < map_len_) {
    fail(StreamState::quarantined, 0,
         "ring file " + ring_path_ + " was truncated underneath the sidecar (" + std::to_string(st.st_size) + " of " +
             std::to_string(map_len_) + " bytes)");
    detach();  // touching the lost pages would fault
    return;
  }
  const bool gone = ::stat(ring_path_.c_str(), &st) != 0 || st.st_ino != ring_ino_;
  if (!gone) return;
  const bool empty = inflight_.empty() && durable_pos_ == hdr_->producer.write_pos.load(memory_order_acquire);
  if (!empty && state_ == StreamState::ok) return;
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
  state_ = StreamState::ok;  // error_ is kept: the same refusal again is logged quietly
  if (!wal_empty_ && ::access(ring_path_.c_str(), F_OK) != 0 && errno == ENOENT) continue_after_reboot(ring_path_);
}

bool Stream::drained() const {
  if (!hdr_ || state_ == StreamState::quarantined || state_ == StreamState::refused) return true;
  return state_ == StreamState::ok && inflight_.empty() &&
         durable_pos_ == hdr_->producer.write_pos.load(memory_order_acquire);
}

void Stream::sync_for_stop() {
  if (seg_.fd >= 0 && ::fdatasync(seg_.fd) != 0)
    log_->error("stream {}: fdatasync at stop: {}", name_, std::strerror(errno));
}

// A ring whose producer is gone and whose records are all durable is shrunk to its header
// after the grace period; the next producer regrows it and the seqs carry on.
void Stream::retire_if_idle(std::uint64_t now) {
  if (!hdr_ || state_ != StreamState::ok || !inflight_.empty() ||
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

// Oldest sealed segments go when the stream is over its size or age limit, but not while a
// sink of aerolog-ship still needs them (its checkpoint is below the segment's last seq), unless
// the hard cap is exceeded: then the unshipped range is deleted anyway, logged and counted.
void Stream::apply_retention(std::uint64_t now) {
  (void)now;
  if (!opt_.retention_bytes && !opt_.retention_age_s && !opt_.retention_cap_bytes) return;
  auto bases = detail::list_segment_bases(dir_);
  if (bases.size() < 2) return;  // the newest segment (the active one) is never removed
  std::uint64_t total = 0;
  struct File {
    std::uint64_t base, last_seq;
    struct stat st;
  };
  std::vector<File> files;
  for (std::size_t i = 0; i + 1 < bases.size(); ++i) {
    File f{bases[i], bases[i + 1] - 1, {}};
    if (::stat((dir_ + "/" + detail::segment_file_name(f.base)).c_str(), &f.st) == 0) {
      files.push_back(f);
      total += static_cast<std::uint64_t>(f.st.st_size);
    }
  }
  if (seg_.fd >= 0) total += seg_.size;
  const auto wall_s = static_cast<std::uint64_t>(wall_ns() / 1'000'000'000ull);
  const auto shipped = opt_.ship_state_dir.empty() ? std::nullopt : common::shipped_by_all(opt_.ship_state_dir, name_);
  bool removed = false;
  for (const File& f : files) {
    const bool too_big = opt_.retention_bytes && total > opt_.retention_bytes;
    const bool too_old =
        opt_.retention_age_s && wall_s - static_cast<std::uint64_t>(f.st.st_mtime) > opt_.retention_age_s;
    const bool capped = opt_.retention_cap_bytes && total > opt_.retention_cap_bytes;
    if (!too_big && !too_old && !capped) break;
    const std::string name = detail::segment_file_name(f.base);
    if (shipped && *shipped < f.last_seq) {
      if (!capped) {
        if (held_base_ != f.base)
          log_->info("stream {}: retention keeps segment {}: aerolog-ship has shipped only up to seq {} to every sink",
                     name_, name, *shipped);
        held_base_ = f.base;
        break;
      }
      const std::uint64_t from = std::max(f.base, *shipped + 1);
      unshipped_deleted_ += f.last_seq - from + 1;
      log_->warn(
          "stream {}: retention cap ({} bytes) deletes segment {} with seqs {}..{} not yet shipped to every "
          "sink ({} records deleted unshipped so far)",
          name_, opt_.retention_cap_bytes, name, from, f.last_seq, unshipped_deleted_);
    }
    ::unlink((dir_ + "/" + name).c_str());
    ::unlink((dir_ + "/" + detail::index_file_name(f.base)).c_str());
    total -= static_cast<std::uint64_t>(f.st.st_size);
    removed = true;
    log_->info("stream {}: retention removed segment {} ({})", name_, name, capped ? "cap" : too_big ? "size" : "age");
  }
  if (removed) fsync_dir(dir_);
}

}  // namespace aerolog::sidecar
