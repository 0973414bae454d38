// libFuzzer: a hostile .alog segment through the block checks and the Reader (cat, seek).
#include <aerolog/reader.hpp>

#include "block_check.hpp"

#include <aerolog/proto/frame.hpp>
#include <aerolog/proto/segment.hpp>

#include <cstdint>
#include <cstring>
#include <string>

#include <sys/mman.h>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aerolog;
  // The block walk of verify/recovery over the bytes as they are.
  for (std::size_t off = proto::kSegmentHeaderSize; off < size;) {
    proto::BlockHeader h;
    const auto* p = reinterpret_cast<const std::byte*>(data) + off;
    if (detail::check_block_header(p, size - off, 1, 0, h) || detail::check_block_body(p, h)) break;
    off += proto::align_up(h.length, proto::kPage);
  }
  // The Reader over the same bytes as a file.
  const int fd = ::memfd_create("seg", MFD_CLOEXEC);
  if (fd < 0) return 0;
  if (::write(fd, data, size) != static_cast<ssize_t>(size)) {
    ::close(fd);
    return 0;
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    Reader r = Reader::open(path);
    std::uint64_t n = 0, bytes = 0;
    while (const Record* rec = r.next()) {
      for (std::byte b : rec->payload) bytes += std::to_integer<unsigned>(b);
      if (++n > 1'000'000) break;
    }
    std::uint64_t seq = 0;
    if (size >= 24) std::memcpy(&seq, data + 16, 8);
    r.seek_seq(seq + 3);
    while (r.next()) {
    }
    r.seek_time(seq);
    (void)bytes;
  } catch (const Error&) {
  }
  ::close(fd);
  return 0;
}
