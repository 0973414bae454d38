// Record frame: the unit a producer writes into the ring, the sidecar copies into a block,
// and a reader returns. Byte layout: proto/FORMAT.md, "Record frame".
#pragma once
#include <cstddef>
#include <cstdint>

namespace aerolog::proto {

inline constexpr std::uint32_t kFrameAlign = 8;
inline constexpr std::uint32_t kFrameHeaderSize = 24;
// A frame (header + payload) never exceeds this, so any frame fits in one block.
inline constexpr std::uint32_t kMaxFrameSize = 1u << 20;
inline constexpr std::uint32_t kMaxPayload = kMaxFrameSize - kFrameHeaderSize;

// Type 0 is a padding frame (ring only: fills the tail of the ring before a wrap).
// Types 1..255 are AeroLog's standard records (records.hpp); 256..65535 belong to the user.
inline constexpr std::uint16_t kTypePad = 0;
inline constexpr std::uint16_t kFirstUserType = 256;

// flags
inline constexpr std::uint16_t kFlagUserTimestamp = 1u << 0;  // timestamp supplied by caller

struct FrameHeader {
  std::uint32_t length;  // header + payload bytes, unpadded; stride = align8(length)
  std::uint16_t type;
  std::uint16_t flags;
  std::uint64_t seq;        // per stream, from 1, +1 per record; padding frames: not written
  std::uint64_t timestamp;  // ns since the Unix epoch (UTC)
};
static_assert(sizeof(FrameHeader) == kFrameHeaderSize);
static_assert(offsetof(FrameHeader, length) == 0);
static_assert(offsetof(FrameHeader, type) == 4);
static_assert(offsetof(FrameHeader, flags) == 6);
static_assert(offsetof(FrameHeader, seq) == 8);
static_assert(offsetof(FrameHeader, timestamp) == 16);

// A padding frame needs only length and type, so it may be as short as 8 bytes.
inline constexpr std::uint32_t kMinPadFrame = 8;

constexpr std::uint64_t align_up(std::uint64_t n, std::uint64_t a) { return (n + a - 1) & ~(a - 1); }
constexpr std::uint32_t frame_stride(std::uint32_t length) {
  return static_cast<std::uint32_t>(align_up(length, kFrameAlign));
}
constexpr std::uint32_t frame_stride_for_payload(std::uint32_t payload) {
  return frame_stride(kFrameHeaderSize + payload);
}

}  // namespace aerolog::proto
