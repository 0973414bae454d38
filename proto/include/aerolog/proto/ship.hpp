// What aerolog-ship puts on the wire and on disk: the NATS batch message and the checkpoint
// file. Byte layouts: proto/FORMAT.md, "Shipping". The ClickHouse table is in the same section.
#pragma once
#include <cstddef>
#include <cstdint>

namespace aerolog::proto {

// A NATS message body: this header, then `count` record frames (frame.hpp) exactly as they are
// in a WAL block, each padded to 8 bytes, seqs first_seq..last_seq with no gap.
inline constexpr std::uint32_t kBatchMagic = 0x424e4c41;  // "ALNB"
inline constexpr std::uint16_t kBatchVersion = 1;
inline constexpr std::uint32_t kBatchHeaderSize = 32;

struct BatchHeader {
  std::uint32_t magic;
  std::uint16_t version;
  std::uint16_t reserved;
  std::uint32_t count;  // frames that follow
  std::uint32_t reserved2;
  std::uint64_t first_seq;
  std::uint64_t last_seq;  // first_seq + count - 1
};
static_assert(sizeof(BatchHeader) == kBatchHeaderSize);
static_assert(offsetof(BatchHeader, count) == 8);
static_assert(offsetof(BatchHeader, first_seq) == 16);
static_assert(offsetof(BatchHeader, last_seq) == 24);

// Checkpoint: <state_dir>/<sink>/<stream>.ckpt, a few "key value" text lines, first line
// kCheckpointMagic. Written whole to a temp file, fsync'd, renamed, directory fsync'd.
inline constexpr char kCheckpointMagic[] = "aerolog-ship checkpoint 1";
inline constexpr char kCheckpointSuffix[] = ".ckpt";

}  // namespace aerolog::proto
