// The Python package's native part, libaerolog_frames.so (scripts/aerolog/frames.py loads it
// with ctypes; without it the package finds the same frames with numpy array passes): a run of
// blocks of one mapped segment checked with the Reader's own checks (block_check.hpp), and
// every frame's offset and header fields written into numpy's arrays; and the gather of one
// record type's frames into a structured array. ctypes calls these with the GIL released, so the
// stream's threads check several segments at once.
#include "block_check.hpp"

#include <aerolog/proto/frame.hpp>

#include <cstdint>
#include <cstring>

using namespace aerolog;

#define AEROLOG_EXPORT extern "C" __attribute__((visibility("default")))

// Checks the n blocks at offsets[0..n) of a segment (`size` bytes at `seg`, of `generation`):
// the first must start at seq `first`, each next one continue the one before; header, CRC32C
// (unless check_crc is 0) and frames, as aerolog::Reader checks them. For every frame of the
// good blocks, writes its offset in the segment, length, type and timestamp, in seq order, at
// most `cap` of them. Returns how many blocks were good: the first bad one (or one whose frames
// would pass `cap`) ends the run.
AEROLOG_EXPORT std::int64_t aerolog_frame_table(const std::byte* seg, std::uint64_t size, std::uint64_t generation,
                                                const std::int64_t* offsets, std::int64_t n, std::uint64_t first,
                                                int check_crc, std::int64_t* pos, std::uint32_t* length,
                                                std::uint16_t* type, std::uint64_t* timestamp, std::int64_t cap) {
  std::int64_t out = 0;
  for (std::int64_t b = 0; b < n; ++b) {
    const auto off = static_cast<std::uint64_t>(offsets[b]);
    proto::BlockHeader h;
    if (off >= size || detail::check_block_header(seg + off, size - off, generation, first, h) ||
        (check_crc ? detail::check_block_body(seg + off, h) : detail::check_block_frames(seg + off, h)) ||
        h.count > cap - out)
      return b;
    // The frames passed: the same walk again, now writing down each one.
    std::uint64_t at = off + proto::kBlockHeaderSize;
    for (std::uint32_t i = 0; i < h.count; ++i, ++out) {
      proto::FrameHeader f;
      std::memcpy(&f, seg + at, sizeof f);
      pos[out] = static_cast<std::int64_t>(at);
      length[out] = f.length;
      type[out] = f.type;
      timestamp[out] = f.timestamp;
      at += proto::frame_stride(f.length);
    }
    first = h.last_seq + 1;
  }
  return n;
}

// Copies the first `item` bytes of each of n frames (frame i at seg + offsets[i]) one after
// another into `out`: one record type's structured array.
AEROLOG_EXPORT void aerolog_gather(const std::byte* seg, const std::int64_t* offsets, std::int64_t n, std::int64_t item,
                                   std::byte* out) {
  for (std::int64_t i = 0; i < n; ++i, out += item) std::memcpy(out, seg + offsets[i], static_cast<std::size_t>(item));
}
