// .alog segment file and the blocks in it. Byte layout: proto/FORMAT.md, "Segment" and "Block".
//
//   <wal_dir>/<stream>/<base_seq:020>.alog
//   [segment header page, 4096 B][block][block]...[zeros to the preallocated size]
//   block = BlockHeader + frames (each frame 8-byte aligned), zero padded to a 4096 B multiple.
#pragma once
#include <cstddef>
#include <cstdint>

namespace aerolog::proto {

inline constexpr std::uint32_t kPage = 4096;
inline constexpr std::uint64_t kSegmentMagic = 0x4745534C4F524541ull;  // "AEROLSEG" little-endian
inline constexpr std::uint32_t kSegmentVersion = 1;
inline constexpr std::uint32_t kSegmentHeaderSize = kPage;  // first block starts here
inline constexpr std::uint32_t kBlockMagic = 0x4B424C41u;   // "ALBK" little-endian
inline constexpr char kSegmentSuffix[] = ".alog";
inline constexpr char kIndexSuffix[] = ".idx";  // the sparse index of a sealed segment
inline constexpr int kSegmentNameDigits = 20;
inline constexpr char kStreamOwnerName[] = "owner";  // the stream's user: its uid in decimal + '\n' (FORMAT.md 4.5)
inline constexpr char kSpareName[] = ".spare.alog";  // the next segment, zeroed ahead of need

struct SegmentHeader {  // at offset 0 of a segment; rest of the page is zero
  std::uint64_t magic;
  std::uint32_t version;
  std::uint32_t header_size;   // kSegmentHeaderSize
  std::uint64_t base_seq;      // first seq this segment holds (also its file name)
  std::uint64_t generation;    // segment number within the stream, from 1
  std::uint64_t segment_size;  // preallocated file size
  std::uint64_t created_ns;
  char stream[64];  // NUL padded; a 64-byte name has no NUL (use strnlen)
  std::uint8_t reserved[12];
  std::uint32_t crc;  // CRC32C of bytes [0, 124)
};
static_assert(sizeof(SegmentHeader) == 128);
static_assert(offsetof(SegmentHeader, base_seq) == 16 && offsetof(SegmentHeader, generation) == 24);
static_assert(offsetof(SegmentHeader, segment_size) == 32 && offsetof(SegmentHeader, created_ns) == 40);
static_assert(offsetof(SegmentHeader, stream) == 48 && offsetof(SegmentHeader, crc) == 124);

struct BlockHeader {     // at a 4096-aligned offset >= kSegmentHeaderSize
  std::uint32_t magic;   // kBlockMagic
  std::uint32_t crc;     // CRC32C of bytes [8, length) of the block
  std::uint32_t length;  // 64 + sum of frame strides; on disk: align_up(length, 4096)
  std::uint32_t count;   // frames in the block (>= 1)
  std::uint64_t first_seq;
  std::uint64_t last_seq;    // == first_seq + count - 1
  std::uint64_t generation;  // the segment's generation: a stale block from a reused file fails
  std::uint64_t first_ts;    // timestamp of the first and last frame (for time seeks)
  std::uint64_t last_ts;
  std::uint64_t durable_at_submit;  // the stream's HWM when this block was submitted (see below)
};
// Recovery: a bad block at seq E followed by a valid block whose durable_at_submit < E is the
// trace of a crash with several blocks in flight (none of them acknowledged): a torn tail. A valid
// block after it with durable_at_submit >= E proves E had been acknowledged: corruption.
static_assert(sizeof(BlockHeader) == 64);
static_assert(offsetof(BlockHeader, crc) == 4 && offsetof(BlockHeader, length) == 8);
static_assert(offsetof(BlockHeader, count) == 12 && offsetof(BlockHeader, first_seq) == 16);
static_assert(offsetof(BlockHeader, last_seq) == 24 && offsetof(BlockHeader, generation) == 32);
static_assert(offsetof(BlockHeader, first_ts) == 40 && offsetof(BlockHeader, last_ts) == 48);
static_assert(offsetof(BlockHeader, durable_at_submit) == 56);
inline constexpr std::uint32_t kBlockHeaderSize = sizeof(BlockHeader);
inline constexpr std::uint32_t kBlockCrcOffset = 8;  // CRC covers [8, length)
// A block holds frames up to the writer's block size (at most 64 MiB) and at least one frame.
inline constexpr std::uint32_t kMaxBlockLength = (64u << 20) + (1u << 20) + 64;

// Sparse index of a sealed segment: <base_seq:020>.idx beside it, written once at seal.
//   IndexHeader, then count IndexEntry (one per block at least every kIndexEvery bytes).
inline constexpr std::uint64_t kIndexMagic = 0x5844494C4F524541ull;  // "AEROLIDX" little-endian
inline constexpr std::uint64_t kIndexEvery = 1u << 20;
struct IndexHeader {
  std::uint64_t magic;
  std::uint64_t base_seq;
  std::uint64_t last_seq;  // last seq in the segment
  std::uint32_t count;     // entries that follow
  std::uint32_t crc;       // CRC32C of the entries
};
struct IndexEntry {
  std::uint64_t first_seq;  // of the block at `offset`
  std::uint64_t offset;     // block offset in the segment
  std::uint64_t first_ts;
};
static_assert(sizeof(IndexHeader) == 32 && sizeof(IndexEntry) == 24);

}  // namespace aerolog::proto
