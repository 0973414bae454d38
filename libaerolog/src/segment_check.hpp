// The segment header check that every reader shares: the Reader, aerologctl verify and cat,
// and the sidecar's recovery. Rules: proto/FORMAT.md 4.1, "What a reader checks".
#pragma once
#include <aerolog/proto/segment.hpp>

#include <cstdint>
#include <string>

namespace aerolog::detail {

// What a segment's name and place say its header must hold. Zero / empty: not checked.
struct SegmentIdentity {
  std::uint64_t base_seq = 0;  // the number in a segment name (<base_seq:020>.alog)
  std::string stream;          // the name of the stream directory the segment lies in
};

// For a file at `path`: a file named like a segment carries its base_seq in its name and lies
// in its stream's directory, when that directory's name is a valid stream name. A file with
// any other name (a renamed copy, /proc/self/fd/N) is read on its header's word alone.
SegmentIdentity identity_from_path(const std::string& path);

// Reads the header of the segment open at `fd` and checks it: at least a header page, magic,
// version, header_size, CRC, base_seq, stream name. Returns "" and fills `out` when it is good,
// else why not, in words for the user (without the path). segment_size is not compared with the
// file size: readers read the blocks that lie within the file, and a last segment cut short is
// a torn tail, as recovery treats it.
std::string check_segment_header(int fd, const SegmentIdentity& want, proto::SegmentHeader& out);

}  // namespace aerolog::detail
