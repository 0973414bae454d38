// Validation of one .alog block in memory: the one decoder that the sidecar's recovery, the
// Reader and the tools share. Rules: proto/FORMAT.md, "Block".
#pragma once
#include <aerolog/proto/frame.hpp>
#include <aerolog/proto/segment.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace aerolog::detail {

// Checks the block header at `p` given `avail` readable bytes from there. On success returns
// nullptr and fills `out`; the block occupies align_up(out.length, 4096) bytes.
// expected_first == 0 accepts any first seq.
const char* check_block_header(const std::byte* p, std::size_t avail, std::uint64_t generation,
                               std::uint64_t expected_first, proto::BlockHeader& out) noexcept;

// Checks CRC and frames of a block whose header passed check_block_header (out.length bytes at p).
const char* check_block_body(const std::byte* p, const proto::BlockHeader& h) noexcept;
// The CRC's part of that check alone.
const char* check_block_crc(const std::byte* p, const proto::BlockHeader& h) noexcept;

// The frames' part of that check alone (the CRC not computed): walks the `h.count` frames from
// block offset 64 and calls visit(offset in the block, header) for each one that passed, with
// the header as checked (one copy of the bytes, so a reader whose mapping changes under it
// never sees a frame it did not check). A frame that fails ends the walk; frames visited before
// it are not taken back.
// One frame of a block (its header copied out of the block), expected to hold `seq`, with `room`
// bytes of the block left from its start: nullptr if it passes, else why not.
inline const char* check_frame(const proto::FrameHeader& f, std::uint64_t seq, std::uint64_t room) noexcept {
  if (f.type == proto::kTypePad || f.length < proto::kFrameHeaderSize || f.length > proto::kMaxFrameSize)
    return "bad frame in block";
  if (f.seq != seq) return "frame seq does not match the block";
  if (proto::frame_stride(f.length) > room) return "frame runs past the block";
  return nullptr;
}

template <class Visit>
const char* walk_block_frames(const std::byte* p, const proto::BlockHeader& h, Visit&& visit) noexcept {
  std::uint64_t off = proto::kBlockHeaderSize, seq = h.first_seq;
  for (std::uint32_t i = 0; i < h.count; ++i, ++seq) {
    if (off + proto::kFrameHeaderSize > h.length) return "frame runs past the block";
    proto::FrameHeader f;
    std::memcpy(&f, p + off, sizeof f);
    if (const char* why = check_frame(f, seq, h.length - off)) return why;
    visit(off, f);
    off += proto::frame_stride(f.length);
  }
  if (off != h.length) return "block length does not match its frames";
  return nullptr;
}

// Both checks on the block at offset `off` of a segment of `size` bytes mapped at `segment`.
const char* check_block(const std::byte* segment, std::size_t size, std::uint64_t off, std::uint64_t generation,
                        std::uint64_t expected_first, proto::BlockHeader& out) noexcept;

// What lies in a segment after its last good block (at `off`; `expected` = the next seq):
// proto/FORMAT.md section 8. Only pages that begin with a block header of this generation were
// written by this segment's writer after the log's end: the torn tail runs to the end of the
// last of them. Zeros, stale blocks of an older generation (a recycled file) and fragments of
// a block whose header never arrived are not the log and never become part of it. A valid later
// block whose durable_at_submit >= expected proves mid-log corruption; valid later blocks below
// that were in flight (stale). The one rule recovery and verify apply.
struct TailScan {
  std::uint64_t dirty_end;       // end of the torn tail (== off: nothing of this generation after off)
  std::uint64_t stale = 0;       // unacknowledged later blocks
  std::uint64_t corrupt_at = 0;  // offset of the first block proving corruption, 0 if none
  proto::BlockHeader corrupt{};  // its header
};
TailScan scan_tail(const std::byte* segment, std::size_t size, std::uint64_t off, std::uint64_t generation,
                   std::uint64_t expected) noexcept;

}  // namespace aerolog::detail
