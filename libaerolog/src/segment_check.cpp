#include "segment_check.hpp"

#include "wal_files.hpp"

#include <aerolog/proto/crc32c.hpp>
#include <aerolog/proto/ring.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <sys/stat.h>
#include <unistd.h>

namespace aerolog::detail {

using namespace proto;

SegmentIdentity identity_from_path(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p = fs::absolute(path, ec).lexically_normal();
  if (ec) p = fs::path(path).lexically_normal();
  SegmentIdentity id;
  id.base_seq = segment_name_base(p.filename().string());
  const std::string dir = p.parent_path().filename().string();
  if (id.base_seq && valid_stream_name(dir.data(), dir.size())) id.stream = dir;
  return id;
}

std::string check_segment_header(int fd, const SegmentIdentity& want, SegmentHeader& h) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return std::string("cannot stat: ") + std::strerror(errno);
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size < kSegmentHeaderSize)
    return "shorter than a segment header (" + std::to_string(size) +
           " bytes; a segment starts with a 4096-byte header page): not a segment, or a truncated one";
  if (::pread(fd, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h))
    return std::string("cannot read the segment header: ") + std::strerror(errno);
  if (h.magic != kSegmentMagic) return "not a valid .alog segment (bad magic)";
  if (h.version != kSegmentVersion)
    return "not a valid .alog segment (format version " + std::to_string(h.version) + "; this reader reads " +
           std::to_string(kSegmentVersion) + ")";
  if (h.crc != crc32c(&h, offsetof(SegmentHeader, crc)))
    return "not a valid .alog segment (header CRC mismatch: the header is damaged)";
  if (h.header_size != kSegmentHeaderSize || h.base_seq == 0)
    return "not a valid .alog segment (header_size " + std::to_string(h.header_size) + ", base_seq " +
           std::to_string(h.base_seq) + ")";
  if (want.base_seq && h.base_seq != want.base_seq)
    return "header base_seq " + std::to_string(h.base_seq) + " does not match the file name (" +
           segment_file_name(want.base_seq) + "): a renamed or misplaced file; give it its right name (" +
           segment_file_name(h.base_seq) + ") or move it out of the stream directory";
  const std::string_view stream(h.stream, strnlen(h.stream, sizeof h.stream));
  if (!want.stream.empty() && stream != want.stream)
    return "header says stream '" + std::string(stream) + "' but the file lies in the directory of stream '" +
           want.stream + "': it belongs to another stream; move it to that stream's directory";
  return {};
}

}  // namespace aerolog::detail
