// Segment files of one stream: naming, creating a spare, opening it at a roll,
// recovering the last segment at start, and the sparse index of a sealed segment.
#pragma once
#include "files.hpp"

#include <aerolog/proto/segment.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace aerolog::sidecar {

using proto::kSpareName;

struct SegmentFile {
  std::string path;
  int fd = -1;  // O_RDWR | O_DIRECT
  std::uint64_t base_seq = 0;
  std::uint64_t generation = 0;
  std::uint64_t size = 0;
  std::uint64_t write_off = 0;  // where the next block goes
  std::uint64_t last_seq = 0;   // last seq of the noted blocks
  std::uint64_t last_ts = 0;    // timestamp of that record
  std::vector<proto::IndexEntry> index;
  std::uint64_t indexed_to = 0;  // offset of the last index entry
  void note_block(const proto::BlockHeader& h, std::uint64_t offset);
};

// Creates `path` with `size` bytes preallocated (unwritten extents: they read as zeros, and a
// full disk shows here, not in a data write) and synced; returns it open O_RDWR | O_DIRECT for
// the preparer's zeroing. Throws std::system_error.
common::Fd create_spare(const std::string& path, std::uint64_t size);

// Opens a prepared spare as the next segment, still under the spare's name: `path` is the name
// it will get (<base_seq>.alog), write_off is past the header. Writing the header and renaming
// are the roll's naming step (stream_segment.cpp). Throws std::system_error.
SegmentFile open_spare(const std::string& spare, const std::string& path, std::uint64_t base_seq,
                       std::uint64_t generation);

// The 4096-byte header page of a segment (FORMAT.md 4.1), into `page`.
void fill_segment_header(std::byte* page, const std::string& stream, const SegmentFile& seg);

// Closes a full segment and writes its sparse index. Nothing is synced: every block of the
// segment was durable before the HWM passed it, and the index is an optimisation (CRC-checked;
// readers scan without one), written to a temporary name and renamed. Returns an error text or empty.
std::string seal(const std::string& dir, SegmentFile& seg);

struct Recovery {
  bool refused = false;  // corruption: the stream must not be served
  std::string error;     // why it was refused
  std::string note;      // what was repaired (torn tail), for the log
  bool empty = true;     // no segment at all
  SegmentFile last;      // the last segment, open, ready to append (unless refused/empty)
};

// Recovers the stream directory: only the last segment is read. `acked` is the highest seq
// known to have been acknowledged from outside the WAL (a surviving ring's durable_seq; 0 if
// none is known). A torn tail is zeroed only if it holds no acknowledged seq; a bad block at or
// below `acked`, or followed by a block submitted after it was acknowledged, is corruption:
// refused, and nothing on disk is changed.
Recovery recover_last_segment(const std::string& dir, const std::string& stream, std::uint64_t acked);

}  // namespace aerolog::sidecar
