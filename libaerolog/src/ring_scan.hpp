// Validation of frames in a ring whose contents are untrusted (another process writes them).
// Used by the producer when re-attaching, by the sidecar when draining, and by the tests.
#pragma once
#include <aerolog/proto/frame.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace aerolog::detail {

struct RingView {
  const std::byte* data;   // start of the data area
  std::uint64_t capacity;  // power of two
  std::uint32_t max_frame;
};

struct FrameAt {
  proto::FrameHeader header;  // a copy: the shm bytes may change under us
  const std::byte* payload;   // in shm; header.length - kFrameHeaderSize bytes
  std::uint32_t stride;       // bytes to the next frame
  bool pad;
};

// Checks the frame at absolute position pos, given that everything below `end` is committed.
// Returns nullptr and fills `out`, or a static description of what is wrong.
const char* check_frame(const RingView& ring, std::uint64_t pos, std::uint64_t end, FrameAt& out) noexcept;

struct RingScan {
  std::uint64_t records = 0;
  std::uint64_t first_seq = 0;  // 0 when no record
  std::uint64_t last_seq = 0;
  std::uint64_t bad_pos = 0;  // where the error is, if any
  std::string error;          // empty when the range is valid
};

// Walks [from, to): every frame valid, seqs consecutive.
RingScan scan_ring(const RingView& ring, std::uint64_t from, std::uint64_t to);

}  // namespace aerolog::detail
