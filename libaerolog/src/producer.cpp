// Producer slow path: creating or re-attaching a ring, and everything off the publish path.
#include <aerolog/producer.hpp>

#include "ring_file.hpp"
#include "ring_scan.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <thread>
#include <utility>

#include <immintrin.h>
#include <sys/mman.h>
#include <unistd.h>

namespace aerolog {

using namespace proto;

std::string default_shm_dir() {
  const char* env = std::getenv("AEROLOG_SHM_DIR");
  return env && *env ? env : proto::kDefaultShmDir;
}

Producer Producer::open(std::string_view stream, const ProducerOptions& o) {
  if (!valid_stream_name(stream.data(), stream.size()))
    throw Error(Errc::invalid_argument,
                "invalid stream name '" + std::string(stream) + "': use 1-64 of [A-Za-z0-9_.-], not '.' or '..'");
  if (!is_pow2(o.capacity) || o.capacity < kRingMinCapacity || o.capacity > kRingMaxCapacity)
    throw Error(Errc::invalid_argument,
                "ring capacity " + std::to_string(o.capacity) + " must be a power of two between 64 KiB and 1 TiB");
  const std::string path = detail::ring_path(o.shm_dir, stream);
  detail::RingFile file = detail::RingFile::open_locked(path, o.mode, o.group);

  Producer p;
  p.fd_ = file.release_fd();
  p.stream_ = std::string(stream);
  p.path_ = path;
  try {
    // Decide between a fresh ring, a retired one to regrow, and a live one to re-attach.
    detail::RingProbe probe = detail::probe_ring(p.fd_, path);
    const bool fresh = probe.kind == detail::RingProbe::empty;
    if (probe.kind == detail::RingProbe::live && probe.capacity != o.capacity)
      throw Error(Errc::incompatible, path + ": ring has capacity " + std::to_string(probe.capacity) + " but " +
                                          std::to_string(o.capacity) +
                                          " was asked for; it may hold undrained records, so it is kept. Open with "
                                          "the ring's capacity, or let the sidecar drain and retire it first");
    if (fresh || probe.kind == detail::RingProbe::retired)
      detail::resize_ring(p.fd_, path, kRingHeaderSize + o.capacity, fresh);

    p.map_len_ = kRingHeaderSize + o.capacity;
    void* m = detail::map_ring(p.fd_, path, p.map_len_, /*writable=*/true, o.prefault);
    p.hdr_ = static_cast<RingHeader*>(m);
    p.data_ = static_cast<std::byte*>(m) + kRingHeaderSize;
    p.cap_ = o.capacity;
    p.mask_ = o.capacity - 1;

    auto& h = *p.hdr_;
    if (fresh) {
      detail::init_ring_header(p.hdr_, stream, o.capacity, TscClock::realtime_ns());
    } else if (probe.kind == detail::RingProbe::retired) {
      // Drained and shrunk by the sidecar: positions and seqs carry on, the data area is new.
      h.id.capacity = o.capacity;
      h.id.max_frame = detail::max_frame_for(o.capacity);
    }
    if (!detail::max_frame_valid(h.id.max_frame, o.capacity))
      throw Error(Errc::corrupt,
                  path + ": ring header max_frame " + std::to_string(h.id.max_frame) + " is out of range");

    // Re-attach: the seq continues from the last committed frame. Undrained frames are still in
    // the ring; if there are none, the sidecar's durable_seq names the last one.
    const std::uint64_t wpos = h.producer.write_pos.load(std::memory_order_acquire);
    const std::uint64_t rpos = h.consumer.read_pos.load(std::memory_order_acquire);
    detail::RingScan scan = detail::scan_ring({p.data_, o.capacity, h.id.max_frame}, rpos, wpos);
    if (!scan.error.empty())
      throw Error(Errc::corrupt, path + ": undrained ring data is invalid at position " + std::to_string(scan.bad_pos) +
                                     " (" + scan.error + "); the ring is left untouched");
    p.last_seq_ = scan.records ? scan.last_seq : h.durable.durable_seq.load(std::memory_order_acquire);
    h.producer.last_seq.store(p.last_seq_, std::memory_order_release);  // published_seq() from here on
    p.write_pos_ = wpos;
    p.read_cache_ = rpos;
    p.payload_bytes_ = h.producer.payload_bytes.load(std::memory_order_relaxed);
    p.max_payload_ = h.id.max_frame - kFrameHeaderSize;
    p.on_full_ = o.on_full;
    p.clock_ = TscClock::calibrate(o.clock);
    p.clock_.follow(o.shm_dir);  // the sidecar's clock page, when there is one
    h.producer.last_seq.store(p.last_seq_, std::memory_order_release);
    h.producer.pid.store(static_cast<std::uint32_t>(::getpid()), std::memory_order_release);
    h.producer.attach_ns.store(TscClock::realtime_ns(), std::memory_order_release);
  } catch (...) {
    p.release();
    throw;
  }
  return p;
}

Producer::Producer(Producer&& o) noexcept { *this = std::move(o); }

Producer& Producer::operator=(Producer&& o) noexcept {
  if (this != &o) {
    release();
    hdr_ = std::exchange(o.hdr_, nullptr);
    data_ = std::exchange(o.data_, nullptr);
    cap_ = o.cap_;
    mask_ = o.mask_;
    write_pos_ = o.write_pos_;
    read_cache_ = o.read_cache_;
    last_seq_ = o.last_seq_;
    payload_bytes_ = o.payload_bytes_;
    pad_ = o.pad_;
    claim_ = std::exchange(o.claim_, nullptr);
    claim_len_ = o.claim_len_;
    max_payload_ = o.max_payload_;
    drops_pending_ = o.drops_pending_;
    first_drop_ns_ = o.first_drop_ns_;
    on_full_ = o.on_full_;
    clock_ = o.clock_;
    fd_ = std::exchange(o.fd_, -1);
    map_len_ = std::exchange(o.map_len_, 0);
    stream_ = std::move(o.stream_);
    path_ = std::move(o.path_);
  }
  return *this;
}

Producer::~Producer() { release(); }

void Producer::release() noexcept {
  if (hdr_) ::munmap(hdr_, map_len_);
  if (fd_ >= 0) ::close(fd_);  // drops the stream lock
  hdr_ = nullptr;
  data_ = nullptr;
  fd_ = -1;
}

bool Producer::make_room(std::uint64_t need, bool marker) noexcept {
  auto& consumer = hdr_->consumer.read_pos;
  read_cache_ = consumer.load(std::memory_order_acquire);
  if (write_pos_ + need - read_cache_ <= cap_) return true;
  if (on_full_ == FullPolicy::drop) {
    if (marker) return false;
    if (drops_pending_++ == 0) first_drop_ns_ = clock_.now();
    auto& dropped = hdr_->producer.dropped;
    dropped.store(dropped.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return false;
  }
  do {
    _mm_pause();
    read_cache_ = consumer.load(std::memory_order_acquire);
  } while (write_pos_ + need - read_cache_ > cap_);
  return true;
}

void Producer::publish_drop_marker() noexcept {
  const std::uint32_t length = kFrameHeaderSize + sizeof(Dropped);
  const std::uint32_t stride = frame_stride(length);
  std::byte* at = reserve(stride, /*marker=*/true);
  if (!at) return;  // still full: the count goes on growing
  const Dropped d{drops_pending_, first_drop_ns_};
  write_header(at, length, Dropped::kType, 0, last_seq_ + 1, clock_.now());
  std::memcpy(at + kFrameHeaderSize, &d, sizeof d);
  publish_frame(stride, sizeof d);
  drops_pending_ = 0;
}

Result Producer::publish_text(Level level, std::string_view text) noexcept {
  if (text.size() > max_payload_ - sizeof(TextHeader)) return {0, Status::too_large};
  const auto len = static_cast<std::uint32_t>(sizeof(TextHeader) + text.size());
  Claim c = claim(TextHeader::kType, len);
  if (!c) return {0, c.status};
  TextHeader th{};
  th.level = level;
  std::memcpy(c.data, &th, sizeof th);
  std::memcpy(c.data + sizeof th, text.data(), text.size());
  return {commit(), Status::ok};
}

bool Producer::wait_durable(std::uint64_t seq, std::chrono::nanoseconds timeout) const {
  if (seq > published_seq()) return false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::chrono::microseconds nap{5};
  for (int spins = 0;; ++spins) {
    if (durable_seq() >= seq) return true;
    if (spins < 256) {
      _mm_pause();
      continue;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(nap);
    nap = std::min(nap * 2, std::chrono::microseconds{1000});
  }
}

std::uint64_t Producer::request_flush() noexcept {
  return hdr_->flush.flush_request.fetch_add(1, std::memory_order_acq_rel) + 1;
}

bool Producer::flush_done(std::uint64_t ticket) const noexcept {
  return hdr_->sidecar.flush_ack.load(std::memory_order_acquire) >= ticket;
}

ProducerStats Producer::stats() const noexcept {
  const std::uint64_t rpos = hdr_->consumer.read_pos.load(std::memory_order_acquire);
  return {last_seq_,      hdr_->producer.dropped.load(std::memory_order_relaxed),
          payload_bytes_, write_pos_ - std::min(rpos, write_pos_),
          cap_,           durable_seq()};
}

}  // namespace aerolog
