#include "block_check.hpp"

#include <aerolog/proto/crc32c.hpp>
#include <aerolog/proto/frame.hpp>

#include <algorithm>
#include <cstring>

namespace aerolog::detail {

using namespace proto;

const char* check_block_header(const std::byte* p, std::size_t avail, std::uint64_t generation,
                               std::uint64_t expected_first, BlockHeader& h) noexcept {
  if (avail < kBlockHeaderSize) return "block header runs past the end of the file";
  std::memcpy(&h, p, sizeof h);
  if (h.magic != kBlockMagic) return h.magic == 0 ? "no block (zeros)" : "bad block magic";
  if (h.length < kBlockHeaderSize + kFrameHeaderSize || h.length % kFrameAlign) return "bad block length";
  if (align_up(h.length, kPage) > avail) return "block runs past the end of the file";
  if (h.generation != generation) return "block from another segment generation";
  if (h.count == 0 || h.last_seq != h.first_seq + h.count - 1) return "block count and seqs disagree";
  if (expected_first && h.first_seq != expected_first) return "block seqs do not continue the log";
  return nullptr;
}

const char* check_block_crc(const std::byte* p, const BlockHeader& h) noexcept {
  return crc32c(p + kBlockCrcOffset, h.length - kBlockCrcOffset) == h.crc ? nullptr : "block CRC mismatch";
}

const char* check_block_body(const std::byte* p, const BlockHeader& h) noexcept {
  if (const char* why = check_block_crc(p, h)) return why;
  return walk_block_frames(p, h, [](std::uint64_t, const FrameHeader&) {});
}

const char* check_block(const std::byte* seg, std::size_t size, std::uint64_t off, std::uint64_t generation,
                        std::uint64_t expected_first, BlockHeader& h) noexcept {
  if (off >= size) return "block header runs past the end of the file";
  const char* why = check_block_header(seg + off, size - off, generation, expected_first, h);
  return why ? why : check_block_body(seg + off, h);
}

TailScan scan_tail(const std::byte* seg, std::size_t size, std::uint64_t off, std::uint64_t generation,
                   std::uint64_t expected) noexcept {
  TailScan t{off};
  for (std::uint64_t p = off; p + kBlockHeaderSize <= size; p += kPage) {
    BlockHeader later;
    std::memcpy(&later, seg + p, sizeof later);
    if (later.magic != kBlockMagic || later.generation != generation) continue;  // zeros, stale or a fragment
    // A block of this generation started here: it and everything up to its end is torn tail.
    const std::uint64_t len = later.length >= kBlockHeaderSize ? align_up(later.length, kPage) : kPage;
    t.dirty_end = std::max(t.dirty_end, std::min<std::uint64_t>(size, p + len));
    if (p == off || check_block(seg, size, p, generation, 0, later)) continue;
    if (later.durable_at_submit >= expected) {
      if (!t.corrupt_at) t.corrupt_at = p, t.corrupt = later;
    } else {
      ++t.stale;
    }
  }
  return t;
}

}  // namespace aerolog::detail
