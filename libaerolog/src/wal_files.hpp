// Names and listings of a stream directory's files (proto/FORMAT.md section 4), shared by the
// Reader, the sidecar and the tools.
#pragma once
#include <aerolog/proto/segment.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace aerolog::detail {

std::string segment_file_name(std::uint64_t base_seq);  // 00000000000000001001.alog
std::string index_file_name(std::uint64_t base_seq);    // 00000000000000001001.idx
// Base seqs of the segments in `dir`, ascending (from the file names only).
std::vector<std::uint64_t> list_segment_bases(const std::string& dir);
// The sparse index of a sealed segment; empty if missing or invalid (then: scan).
std::vector<proto::IndexEntry> read_index(const std::string& dir, std::uint64_t base_seq);
// A directory the sidecar made for a stream (it may hold no segment yet).
bool looks_like_stream_dir(const std::string& dir);

}  // namespace aerolog::detail
