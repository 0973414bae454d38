// The Python package's native part, libaerolog_frames.so (ABI: frame_table.hpp): a run of
// blocks of one mapped segment checked with the Reader's own checks (block_check.hpp), every
// frame's offset and header fields written into numpy's arrays in the same walk that checks
// them; and the gather of one record type's frames into a structured array. Without it the
// package finds the same frames with numpy array passes. ctypes calls these with the GIL
// released, so the stream's threads check several segments at once.
#include "frame_table.hpp"

#include "block_check.hpp"

#include <cstring>

using namespace aerolog;

int aerolog_frames_abi() { return kFrameTableAbi; }

std::int64_t aerolog_frame_table(const std::byte* seg, std::uint64_t size, std::uint64_t generation,
                                 const std::int64_t* offsets, std::int64_t n, std::uint64_t first, int check_crc,
                                 std::int64_t* pos, std::uint32_t* length, std::uint16_t* type,
                                 std::uint64_t* timestamp, std::int64_t cap, std::int64_t* frames) {
  std::int64_t out = 0, b = 0;
  for (; b < n; ++b) {
    const auto off = static_cast<std::uint64_t>(offsets[b]);
    proto::BlockHeader h;
    if (off >= size || detail::check_block_header(seg + off, size - off, generation, first, h) || h.count > cap - out)
      break;
    const std::byte* p = seg + off;
    if (check_crc && detail::check_block_crc(p, h)) break;
    std::int64_t at = out;
    const char* why = detail::walk_block_frames(p, h, [&](std::uint64_t in_block, const proto::FrameHeader& f) {
      pos[at] = static_cast<std::int64_t>(off + in_block);
      length[at] = f.length;
      type[at] = f.type;
      timestamp[at] = f.timestamp;
      ++at;
    });
    if (why) break;  // what this block wrote is past *frames: not taken
    out = at;
    first = h.last_seq + 1;
  }
  *frames = out;
  return b;
}

void aerolog_gather(const std::byte* seg, const std::int64_t* offsets, std::int64_t n, std::int64_t item,
                    std::byte* out) {
  for (std::int64_t i = 0; i < n; ++i, out += item) std::memcpy(out, seg + offsets[i], static_cast<std::size_t>(item));
}
