// Validation of one .alog block in memory: the one decoder that the sidecar's recovery, the
// Reader and the tools share. Rules: proto/FORMAT.md, "Block".
#pragma once
#include <aerolog/proto/segment.hpp>

#include <cstddef>
#include <cstdint>

namespace aerolog::detail {

// Checks the block header at `p` given `avail` readable bytes from there. On success returns
// nullptr and fills `out`; the block occupies align_up(out.length, 4096) bytes.
// expected_first == 0 accepts any first seq.
const char* check_block_header(const std::byte* p, std::size_t avail, std::uint64_t generation,
                               std::uint64_t expected_first, proto::BlockHeader& out) noexcept;

// Checks CRC and frames of a block whose header passed check_block_header (out.length bytes at p).
const char* check_block_body(const std::byte* p, const proto::BlockHeader& h) noexcept;

}  // namespace aerolog::detail
