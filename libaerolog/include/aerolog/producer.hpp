// The write side of a stream: one Producer per stream at a time, used from one thread.
//
// The publish path (publish, claim/commit inline; publish_text, a call into the library built on
// them) makes no system call, takes no lock and allocates nothing; with FullPolicy::drop (the default) it is wait-free,
// with FullPolicy::spin it waits for the sidecar when the ring is full. Space is re-read from the sidecar only when
// the cached view of the ring looks full. open() and the rest are the slow path and may throw
// aerolog::Error.
#pragma once
#include <aerolog/clock.hpp>
#include <aerolog/error.hpp>
#include <aerolog/proto/frame.hpp>
#include <aerolog/proto/records.hpp>
#include <aerolog/proto/ring.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

namespace aerolog {

namespace detail {
class ThreadLog;
}

enum class FullPolicy : std::uint8_t {
  drop,  // return Status::full and count a drop (default)
  spin,  // spin until the sidecar frees space (blocks forever if no sidecar runs)
};

// AEROLOG_SHM_DIR if it is set and not empty, else proto::kDefaultShmDir (/dev/shm/aerolog): the
// shm directory every AeroLog program uses unless told another.
std::string default_shm_dir();

struct ProducerOptions {
  std::string shm_dir = default_shm_dir();               // where rings live; the sidecar watches the same place
  std::uint64_t capacity = proto::kRingDefaultCapacity;  // data bytes, power of two, 64 KiB..1 TiB
  FullPolicy on_full = FullPolicy::drop;
  // A new ring file's permissions. 0600 (the default): this user's alone, the sidecar (the shm
  // directory's owner) given access by a POSIX ACL entry; with group bits (0660) the group
  // `group` shares it instead, all its members. Others' bits (0007) are refused.
  unsigned mode = 0600;
  std::string group;     // group owning a new ring file; empty: the directory's when it is setgid, else ours
  bool prefault = true;  // fault every page in at open (no faults when publishing)
  ClockSource clock = ClockSource::tsc;
};

enum class Status : std::uint8_t {
  ok,
  full,       // no space (a drop was counted)
  too_large,  // payload above max_payload()
  claimed,    // a claim is outstanding: commit() or abort() it first
};

struct Result {
  std::uint64_t seq = 0;  // the record's seq when status == ok
  Status status = Status::full;
  explicit operator bool() const noexcept { return status == Status::ok; }
};

// A zero-copy reservation: write up to size() bytes at data(), then Producer::commit() or abort().
struct Claim {
  std::byte* data = nullptr;
  std::uint32_t size = 0;
  Status status = Status::full;
  explicit operator bool() const noexcept { return status == Status::ok; }
};

struct ProducerStats {
  std::uint64_t published;      // records, ever (== last seq)
  std::uint64_t dropped;        // refused because full, ever (readers see each gap as a proto::Dropped record)
  std::uint64_t payload_bytes;  // payload bytes published, ever
  std::uint64_t ring_used;      // bytes not yet freed by the sidecar
  std::uint64_t capacity;
  std::uint64_t durable_seq;
  double fill() const noexcept { return capacity ? double(ring_used) / double(capacity) : 0.0; }
};

class Producer {
 public:
  // Creates /dev/shm/aerolog.<stream> or re-attaches to it (keeping undrained records and
  // continuing the seq). Throws aerolog::Error with a message naming the problem.
  static Producer open(std::string_view stream, const ProducerOptions& options = {});

  Producer(Producer&& other) noexcept;
  Producer& operator=(Producer&& other) noexcept;
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;
  ~Producer();

  // ---- publish path -------------------------------------------------------------------------
  // A full ring: Status::full under FullPolicy::drop, a wait for space under FullPolicy::spin.
  Result publish(std::uint16_t type, const void* data, std::uint32_t len) noexcept {
    return publish_at(type, data, len, clock_.now(), 0);
  }
  Result publish(std::uint16_t type, const void* data, std::uint32_t len, std::uint64_t timestamp_ns) noexcept {
    return publish_at(type, data, len, timestamp_ns, proto::kFlagUserTimestamp);
  }
  // A trivially copyable record with a static kType (the standard records in proto/records.hpp).
  template <class T>
  requires std::is_trivially_copyable_v<T> && requires { T::kType; }
  Result publish(const T& record) noexcept { return publish(T::kType, &record, sizeof(T)); }
  template <class T>
  requires std::is_trivially_copyable_v<T> Result publish(std::uint16_t type, const T& record)
  noexcept { return publish(type, &record, sizeof(T)); }
  Result publish_text(proto::Level level, std::string_view text) noexcept;

  // Publishes a `len`-byte record that `fill(std::byte* payload)` writes in place: claim and
  // commit in one call, for writers that know the size first (aerolog::Logger).
  template <class Fill>
  Result publish_with(std::uint16_t type, std::uint32_t len, Fill&& fill) noexcept {
    return publish_at(type, len, clock_.now(), 0, fill);
  }

  Claim claim(std::uint16_t type, std::uint32_t len) noexcept { return claim_at(type, len, clock_.now(), 0); }
  Claim claim(std::uint16_t type, std::uint32_t len, std::uint64_t timestamp_ns) noexcept {
    return claim_at(type, len, timestamp_ns, proto::kFlagUserTimestamp);
  }
  // Publishes the claimed record (all of it, or only its first `used` bytes); returns its seq.
  // Returns 0 if nothing is claimed.
  std::uint64_t commit() noexcept { return commit_claim(claim_len_); }
  std::uint64_t commit(std::uint32_t used) noexcept { return commit_claim(used < claim_len_ ? used : claim_len_); }
  void abort() noexcept { claim_ = nullptr; }

  // ---- durability and status (slow path, no hot-path cost) ----------------------------------
  std::uint64_t durable_seq() const noexcept { return hdr_->durable.durable_seq.load(std::memory_order_acquire); }
  std::uint64_t last_seq() const noexcept { return last_seq_; }
  // The last seq made visible, as the ring header says it: like durable_seq(), wait_durable(),
  // request_flush() and flush_done(), callable from any thread.
  std::uint64_t published_seq() const noexcept { return hdr_->producer.last_seq.load(std::memory_order_acquire); }
  // True once durable_seq() >= seq; false on timeout or if seq was never published.
  bool wait_durable(std::uint64_t seq, std::chrono::nanoseconds timeout) const;
  // Asks the sidecar to flush now (matters only with a batching delay). Returns the ticket;
  // flush_done(ticket) tells when it was served.
  std::uint64_t request_flush() noexcept;
  bool flush_done(std::uint64_t ticket) const noexcept;
  ProducerStats stats() const noexcept;

  std::uint64_t now() const noexcept { return clock_.now(); }
  void recalibrate_clock() noexcept { clock_.recalibrate(); }
  // The ring header's logger region (aerolog::Logger keeps its level there).
  proto::RingLog& log_control() noexcept { return hdr_->log; }
  const std::string& stream() const noexcept { return stream_; }
  const std::string& path() const noexcept { return path_; }
  std::uint64_t capacity() const noexcept { return cap_; }
  std::uint32_t max_payload() const noexcept { return max_payload_; }

  // Unmaps the ring and closes its file without writing to it: what a forked child does with
  // its parent's rings (the parent keeps them, and their locks).
  void forget_after_fork() noexcept { release(); }

 private:
  friend class detail::ThreadLog;  // a logger's placeholder for a thread whose ring failed
  Producer() = default;
  void release() noexcept;
  // Waits for or reads back space; under FullPolicy::drop, false (and a drop counted unless
  // `marker`) if there is none.
  bool make_room(std::uint64_t need, bool marker = false) noexcept;
  // A proto::Dropped record for the drops since the last one, if there is room for it.
  void publish_drop_marker() noexcept;

  // Reserves `stride` contiguous bytes (writing a padding frame first if the ring would wrap).
  std::byte* reserve(std::uint32_t stride, bool marker = false) noexcept {
    const std::uint64_t idx = write_pos_ & mask_;
    const std::uint64_t tail = cap_ - idx;
    const std::uint64_t need = stride <= tail ? stride : tail + stride;
    if (write_pos_ + need - read_cache_ > cap_) [[unlikely]] {
      if (!make_room(need, marker)) return nullptr;
    }
    pad_ = 0;
    if (stride > tail) [[unlikely]] {
      auto* pad = reinterpret_cast<proto::FrameHeader*>(data_ + idx);
      pad->length = static_cast<std::uint32_t>(tail);
      pad->type = proto::kTypePad;
      pad->flags = 0;
      pad_ = tail;
      return data_;
    }
    return data_ + idx;
  }

  static void write_header(std::byte* at, std::uint32_t length, std::uint16_t type, std::uint16_t flags,
                           std::uint64_t seq, std::uint64_t ts) noexcept {
    auto* h = reinterpret_cast<proto::FrameHeader*>(at);
    h->length = length;
    h->type = type;
    h->flags = flags;
    h->seq = seq;
    h->timestamp = ts;
  }

  // Makes [write_pos_, write_pos_ + pad_ + stride) visible: last_seq first, then write_pos.
  std::uint64_t publish_frame(std::uint32_t stride, std::uint32_t payload) noexcept {
    write_pos_ += pad_ + stride;
    payload_bytes_ += payload;
    auto& p = hdr_->producer;
    p.last_seq.store(++last_seq_, std::memory_order_release);
    p.payload_bytes.store(payload_bytes_, std::memory_order_relaxed);
    p.write_pos.store(write_pos_, std::memory_order_release);
    return last_seq_;
  }

  // A `len`-byte record whose payload `fill(std::byte*)` writes in place.
  template <class Fill>
  Result publish_at(std::uint16_t type, std::uint32_t len, std::uint64_t ts, std::uint16_t flags, Fill& fill) noexcept {
    if (len > max_payload_ || claim_) [[unlikely]]
      return {0, claim_ ? Status::claimed : Status::too_large};
    if (drops_pending_) [[unlikely]]
      publish_drop_marker();
    const std::uint32_t length = proto::kFrameHeaderSize + len;
    const std::uint32_t stride = proto::frame_stride(length);
    std::byte* at = reserve(stride);
    if (!at) [[unlikely]]
      return {0, Status::full};
    write_header(at, length, type, flags, last_seq_ + 1, ts);
    fill(at + proto::kFrameHeaderSize);
    return {publish_frame(stride, len), Status::ok};
  }
  Result publish_at(std::uint16_t type, const void* data, std::uint32_t len, std::uint64_t ts,
                    std::uint16_t flags) noexcept {
    auto copy = [&](std::byte* to) {
      if (len) std::memcpy(to, data, len);  // data may be null if len == 0
    };
    return publish_at(type, len, ts, flags, copy);
  }

  Claim claim_at(std::uint16_t type, std::uint32_t len, std::uint64_t ts, std::uint16_t flags) noexcept {
    if (len > max_payload_ || claim_) [[unlikely]]
      return {nullptr, 0, claim_ ? Status::claimed : Status::too_large};
    if (drops_pending_) [[unlikely]]
      publish_drop_marker();
    const std::uint32_t stride = proto::frame_stride_for_payload(len);
    std::byte* at = reserve(stride);
    if (!at) [[unlikely]]
      return {nullptr, 0, Status::full};
    write_header(at, proto::kFrameHeaderSize + len, type, flags, last_seq_ + 1, ts);
    claim_ = at;
    claim_len_ = len;
    return {at + proto::kFrameHeaderSize, len, Status::ok};
  }

  std::uint64_t commit_claim(std::uint32_t used) noexcept {
    if (!claim_) [[unlikely]]
      return 0;
    const std::uint32_t length = proto::kFrameHeaderSize + used;
    reinterpret_cast<proto::FrameHeader*>(claim_)->length = length;
    claim_ = nullptr;
    return publish_frame(proto::frame_stride(length), used);
  }

  // hot state, private to this process
  proto::RingHeader* hdr_ = nullptr;
  std::byte* data_ = nullptr;
  std::uint64_t cap_ = 0;
  std::uint64_t mask_ = 0;
  std::uint64_t write_pos_ = 0;
  std::uint64_t read_cache_ = 0;  // last seen consumer position
  std::uint64_t last_seq_ = 0;
  std::uint64_t payload_bytes_ = 0;
  std::uint64_t pad_ = 0;
  std::byte* claim_ = nullptr;
  std::uint32_t claim_len_ = 0;
  std::uint32_t max_payload_ = 0;
  std::uint64_t drops_pending_ = 0;  // dropped since the last proto::Dropped marker
  std::uint64_t first_drop_ns_ = 0;
  FullPolicy on_full_ = FullPolicy::drop;
  TscClock clock_;
  // cold state
  int fd_ = -1;
  std::size_t map_len_ = 0;
  std::string stream_;
  std::string path_;
};

}  // namespace aerolog
