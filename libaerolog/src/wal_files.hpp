// Names and listings of a stream directory's files (proto/FORMAT.md section 4), shared by the
// Reader, the sidecar and the tools.
#pragma once
#include <aerolog/proto/segment.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace aerolog::detail {

std::string segment_file_name(std::uint64_t base_seq);  // 00000000000000001001.alog
std::string index_file_name(std::uint64_t base_seq);    // 00000000000000001001.idx
// The base_seq in a segment file name, 0 if `name` is not one (seqs start at 1).
std::uint64_t segment_name_base(std::string_view name);
// Base seqs of the segments in `dir`, ascending (from the file names only).
std::vector<std::uint64_t> list_segment_bases(const std::string& dir);
// The bytes of a sealed segment's sparse index (proto/FORMAT.md 4.3): the one encoder.
std::string encode_index(std::uint64_t base_seq, std::uint64_t last_seq, const std::vector<proto::IndexEntry>& entries);
// The one decoder: nullptr and `head`, `out` filled if `bytes` are a valid index of the segment
// at base_seq, else why not.
const char* decode_index(std::string_view bytes, std::uint64_t base_seq, proto::IndexHeader& head,
                         std::vector<proto::IndexEntry>& out);
// Reads and decodes <dir>/<base_seq>.idx: nullptr, or why there is no valid index.
const char* load_index(const std::string& dir, std::uint64_t base_seq, proto::IndexHeader& head,
                       std::vector<proto::IndexEntry>& out);
// A directory the sidecar made for a stream (it may hold no segment yet).
bool looks_like_stream_dir(const std::string& dir);

}  // namespace aerolog::detail
