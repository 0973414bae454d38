// One stream's drain loop (stream.hpp states the protocol): poll() turns committed ring frames
// into blocks, housekeeping() runs the slow jobs, fail() records why a stream stopped. The other
// jobs have their own files: stream_ring.cpp (attaching and reconciling the ring, its lifecycle),
// stream_write.cpp (blocks in flight and the HWM), stream_segment.cpp (recovery, rolls, I/O
// error retries), stream_retention.cpp.
#include "stream.hpp"

#include "clock.hpp"
#include "ring_guard.hpp"

#include <aerolog/proto/frame.hpp>
#include <aerolog/proto/names.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <unistd.h>

namespace aerolog::sidecar {

using namespace common;  // files, clocks, errno errors
using namespace proto;
using std::memory_order_acquire, std::memory_order_relaxed, std::memory_order_release;

Stream::Stream(std::string name, const Options& opt, Uring& uring, Preparer& preparer, StreamTotals& totals)
    : name_(std::move(name)),
      dir_(opt.wal_dir + "/" + name_),
      spare_path_(dir_ + "/" + kSpareName),
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
  if (prev_.fd >= 0) ::close(prev_.fd);
}

bool Stream::poll(std::uint64_t now, bool stopping) {
  if (!hdr_ || state_ != RingState::ok) return false;
  if (common::guard::faulted(guard_)) {
    fail(RingState::quarantined, 0,
         "ring file " + ring_path_ + " was truncated underneath the sidecar (SIGBUS caught)");
    return false;
  }
  const std::uint64_t w = hdr_->producer.write_pos.load(memory_order_acquire);
  if (w < cursor_ || w - durable_pos_ > cap_) {
    fail(RingState::quarantined, 0,
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
  while (!free_.empty() && cursor_ < upto && state_ == RingState::ok) {
    const std::uint64_t bound = std::min<std::uint64_t>(kBlockHeaderSize + (w - cursor_), free_.back()->buf.size());
    if (!ensure_segment(align_up(bound, kPage), next_seq_)) break;
    if (!build_block(upto, w)) break;
    did = true;
  }
  // Every block in flight and a full one waiting: the disk, not the producer, sets the pace.
  if (free_.empty() && upto - cursor_ >= opt_.max_block) preparer_.note_busy(now);
  pending_since_ns_ = 0;
  return did;
}

void Stream::fail(RingState s, int err, const std::string& why) {
  std::string text =
      err ? std::string(std::strerror(err)) + ": " + why : why;  // the cause first: status shows ~95 chars
  const bool repeat = text == error_;                            // a retry failing the same way again: log it quietly
  state_ = s;
  error_ = std::move(text);
  log_->log(repeat ? spdlog::level::debug : spdlog::level::err, "stream {}: {} ({})", name_, error_, name_of(s));
  if (s == RingState::io_error) {
    ++totals_.io_errors;
    retry_at_ns_ = mono_ns() + kRetryNs;
  }
  if (!hdr_) return;
  if (s == RingState::quarantined)
    hdr_->counters.quarantines.store(hdr_->counters.quarantines.load(memory_order_relaxed) + 1, memory_order_relaxed);
  if (s == RingState::io_error)
    hdr_->counters.io_errors.store(hdr_->counters.io_errors.load(memory_order_relaxed) + 1, memory_order_relaxed);
  std::snprintf(hdr_->sidecar.error, sizeof hdr_->sidecar.error, "%s", error_.c_str());
  hdr_->sidecar.error_errno.store(static_cast<std::uint32_t>(err), memory_order_relaxed);
  hdr_->sidecar.state.store(static_cast<std::uint32_t>(s), memory_order_release);
}

void Stream::clear_error() {
  state_ = RingState::ok;
  if (!hdr_) return;
  std::memset(hdr_->sidecar.error, 0, sizeof hdr_->sidecar.error);
  hdr_->sidecar.error_errno.store(0, memory_order_relaxed);
  hdr_->sidecar.state.store(static_cast<std::uint32_t>(RingState::ok), memory_order_release);
}

void Stream::housekeeping(std::uint64_t now) {
  if (hdr_) hdr_->sidecar.heartbeat_ns.store(wall_ns(), memory_order_relaxed);
  check_replaced();
  recheck_ring(now);
  if (state_ == RingState::io_error) recover_from_io_error(now);
  sealed();
  retire_if_idle(now);
  if (now >= next_retention_ns_) {
    next_retention_ns_ = now + kRetentionEveryNs;
    apply_retention();
  }
}

bool Stream::drained() const {
  if (!hdr_ || state_ == RingState::quarantined || state_ == RingState::refused) return true;
  return state_ == RingState::ok && inflight_.empty() && naming_cqes_ == 0 &&
         durable_pos_ == hdr_->producer.write_pos.load(memory_order_acquire);
}

void Stream::sync_for_stop() {
  if (seg_.fd >= 0 && ::fdatasync(seg_.fd) != 0)
    log_->error("stream {}: fdatasync at stop: {}", name_, std::strerror(errno));
}

}  // namespace aerolog::sidecar
