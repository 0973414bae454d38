// Shared-memory ring: /dev/shm/aerolog.<stream>. Byte layout: proto/FORMAT.md, "Ring".
//
// Protocol (single producer, single consumer, positions are absolute byte counts that only grow;
// the byte offset in the data area is pos & (capacity - 1)):
//   producer: writes frames at write_pos, then store-release last_seq, then write_pos.
//             Everything below write_pos is committed; claims are invisible until committed.
//             Space is free while write_pos + need - read_pos <= capacity.
//   sidecar:  load-acquire write_pos, copies frames, makes them durable, store-release
//             durable_seq/durable_pos, and only then store-release read_pos (frees the space).
// Every region is 128 bytes (two cache lines: adjacent-line prefetch pulls pairs), so the
// producer's line is never written by anyone else.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace aerolog::proto {

inline constexpr std::uint64_t kRingMagic = 0x474E524C4F524541ull;  // "AEROLRNG" little-endian
inline constexpr std::uint32_t kRingVersion = 1;
inline constexpr std::uint32_t kRingHeaderSize = 4096;  // data area starts here, page aligned
inline constexpr std::uint64_t kRingMinCapacity = 64 * 1024;
inline constexpr std::uint64_t kRingMaxCapacity = 1ull << 40;
inline constexpr std::uint64_t kRingDefaultCapacity = 64ull << 20;
inline constexpr std::size_t kRegion = 128;
inline constexpr char kRingPrefix[] = "aerolog.";  // file name = prefix + stream
// Every program's default shm directory: the sidecar user's own, mode 3770 (FORMAT.md 9.1).
inline constexpr char kDefaultShmDir[] = "/dev/shm/aerolog";
inline constexpr std::size_t kMaxStreamName = 64;

// Ring state word (control region), written by the sidecar. quarantined: the ring's contents
// are invalid; refused: the ring or the WAL cannot be served without losing or renumbering
// records (for example a ring that does not continue the WAL's seqs after a reboot).
enum class RingState : std::uint32_t { ok = 0, quarantined = 1, io_error = 2, refused = 3 };

using u64a = std::atomic<std::uint64_t>;
using u32a = std::atomic<std::uint32_t>;
static_assert(u64a::is_always_lock_free && sizeof(u64a) == 8);

struct alignas(kRegion) RingIdentity {  // written once by the creator; magic+version last
  u64a magic;
  u32a version;
  std::uint32_t header_size;
  std::uint64_t capacity;  // data area bytes, power of two
  std::uint64_t created_ns;
  std::uint32_t max_frame;  // largest frame the producer will write
  std::uint32_t reserved0;
  std::uint64_t reserved1[3];
  char stream[kMaxStreamName];  // NUL padded; a 64-byte name has no NUL (use strnlen)
};

struct alignas(kRegion) RingProducer {  // written by the producer only
  u64a write_pos;                       // committed bytes (absolute)
  u64a last_seq;                        // seq of the last committed frame (== records published, ever)
  u64a payload_bytes;                   // sum of committed payload bytes
  u64a dropped;                         // publishes refused because the ring was full
  u32a pid;                             // producer holding the stream lock (0: none yet)
  std::uint32_t reserved0;
  u64a attach_ns;  // when that producer attached
};

struct alignas(kRegion) RingConsumer {  // written by the sidecar only
  u64a read_pos;                        // bytes freed (absolute); never passes durable_pos
};

struct alignas(kRegion) RingDurable {  // written by the sidecar only
  u64a durable_seq;                    // every seq <= this is on stable storage (the HWM)
  u64a durable_pos;                    // ring position just after the frame holding durable_seq
  u64a durable_ns;                     // wall time of the last HWM advance
};

struct alignas(kRegion) RingFlushRequest {  // written by anyone wanting a flush
  u64a flush_request;                       // incremented to ask for a flush
};

struct alignas(kRegion) RingSidecar {  // written by the sidecar only
  u64a flush_ack;                      // last flush_request value fully served
  u32a sidecar_pid;
  u32a state;  // RingState
  u64a heartbeat_ns;
  u32a error_errno;
  std::uint32_t reserved0;
  char error[96];  // last error, NUL terminated
};

struct alignas(kRegion) RingCounters {  // written by the sidecar only
  u64a blocks_written;
  u64a bytes_written;  // block bytes on disk, padding included
  u64a frames_written;
  u64a write_ns_last;  // last block: submit -> durable completion
  u64a write_ns_max;
  u64a quarantines;  // times this ring was quarantined (bad contents)
  u64a io_errors;
  u64a segment_base;  // base seq of the active segment
  u64a wal_last_seq;  // the WAL's last seq when the sidecar attached or refused this ring
};

// Set by aerolog::Logger on the rings it logs into (one per thread); read by it on every call.
// `aerologctl level` writes `level` from outside. Other rings leave it zero.
inline constexpr std::uint32_t kLogRingMagic = 0x474F4C41u;  // "ALOG" little-endian
struct alignas(kRegion) RingLog {
  u32a log_magic;  // kLogRingMagic once the logger set `level`
  u32a level;      // proto::Level: calls below it do nothing
};

struct RingHeader {
  RingIdentity id;         // 0
  RingProducer producer;   // 128
  RingConsumer consumer;   // 256
  RingDurable durable;     // 384
  RingFlushRequest flush;  // 512
  RingSidecar sidecar;     // 640
  RingCounters counters;   // 768
  RingLog log;             // 896
};

static_assert(sizeof(RingIdentity) == 128 && offsetof(RingIdentity, stream) == 64);
static_assert(offsetof(RingIdentity, version) == 8 && offsetof(RingIdentity, header_size) == 12);
static_assert(offsetof(RingIdentity, capacity) == 16 && offsetof(RingIdentity, created_ns) == 24);
static_assert(offsetof(RingIdentity, max_frame) == 32);
static_assert(offsetof(RingHeader, producer) == 128);
static_assert(offsetof(RingProducer, last_seq) == 8 && offsetof(RingProducer, payload_bytes) == 16);
static_assert(offsetof(RingProducer, dropped) == 24 && offsetof(RingProducer, pid) == 32);
static_assert(offsetof(RingProducer, attach_ns) == 40);
static_assert(offsetof(RingHeader, consumer) == 256);
static_assert(offsetof(RingHeader, durable) == 384);
static_assert(offsetof(RingDurable, durable_pos) == 8 && offsetof(RingDurable, durable_ns) == 16);
static_assert(offsetof(RingHeader, flush) == 512);
static_assert(offsetof(RingHeader, sidecar) == 640);
static_assert(offsetof(RingSidecar, sidecar_pid) == 8 && offsetof(RingSidecar, state) == 12);
static_assert(offsetof(RingSidecar, heartbeat_ns) == 16 && offsetof(RingSidecar, error_errno) == 24);
static_assert(offsetof(RingSidecar, error) == 32);
static_assert(offsetof(RingHeader, counters) == 768);
static_assert(offsetof(RingCounters, write_ns_last) == 24 && offsetof(RingCounters, segment_base) == 56);
static_assert(offsetof(RingCounters, wal_last_seq) == 64);
static_assert(offsetof(RingHeader, log) == 896 && offsetof(RingLog, level) == 4);
static_assert(sizeof(RingHeader) == 1024 && sizeof(RingHeader) <= kRingHeaderSize);

constexpr bool is_pow2(std::uint64_t v) { return v && !(v & (v - 1)); }

// Stream names: [A-Za-z0-9_.-]{1,64}, and not "." or "..".
constexpr bool valid_stream_name(const char* s, std::size_t n) {
  if (n == 0 || n > kMaxStreamName) return false;
  if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) return false;
  for (std::size_t i = 0; i < n; ++i) {
    char c = s[i];
    bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace aerolog::proto
