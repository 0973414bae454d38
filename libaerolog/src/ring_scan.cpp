#include "ring_scan.hpp"

#include <cstring>

namespace aerolog::detail {

using namespace proto;

const char* check_frame(const RingView& ring, std::uint64_t pos, std::uint64_t end, FrameAt& out) noexcept {
  if (pos % kFrameAlign) return "frame position not 8-byte aligned";
  if (end < pos || end - pos < kMinPadFrame) return "frame runs past the committed end";
  const std::uint64_t avail = end - pos;
  const std::uint64_t idx = pos & (ring.capacity - 1);
  const std::uint64_t tail = ring.capacity - idx;
  const std::byte* at = ring.data + idx;
  std::memset(&out.header, 0, sizeof out.header);
  std::memcpy(&out.header, at, kMinPadFrame);  // length, type, flags
  const std::uint32_t length = out.header.length;
  if (out.header.type == kTypePad) {
    if (length != tail) return "padding frame does not end at the end of the ring";
    if (avail < tail) return "padding frame runs past the committed end";
    out.payload = nullptr;
    out.stride = length;
    out.pad = true;
    return nullptr;
  }
  if (length < kFrameHeaderSize) return "frame length below the header size";
  if (length > ring.max_frame) return "frame length above the ring's max frame";
  const std::uint32_t stride = frame_stride(length);
  if (stride > tail) return "frame crosses the end of the ring";
  if (stride > avail) return "frame runs past the committed end";
  std::memcpy(&out.header, at, kFrameHeaderSize);
  out.header.length = length;  // the checked value, not a re-read
  out.payload = at + kFrameHeaderSize;
  out.stride = stride;
  out.pad = false;
  return nullptr;
}

RingScan scan_ring(const RingView& ring, std::uint64_t from, std::uint64_t to) {
  RingScan r;
  if (to < from || to - from > ring.capacity) {
    r.bad_pos = from;
    r.error = "ring positions out of range (write position behind read position, or more than capacity apart)";
    return r;
  }
  FrameAt f;
  for (std::uint64_t pos = from; pos < to; pos += f.stride) {
    if (const char* err = check_frame(ring, pos, to, f)) {
      r.bad_pos = pos;
      r.error = err;
      return r;
    }
    if (f.pad) continue;
    if (r.records && f.header.seq != r.last_seq + 1) {
      r.bad_pos = pos;
      r.error = "seq not consecutive";
      return r;
    }
    if (!r.records) r.first_seq = f.header.seq;
    r.last_seq = f.header.seq;
    ++r.records;
  }
  return r;
}

}  // namespace aerolog::detail
