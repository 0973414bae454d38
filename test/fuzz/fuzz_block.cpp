// libFuzzer: a hostile .alog segment through the block checks, the Reader (cat, seek), the log
// decoder (every site and event decoded and rendered: a hostile format string must stay bounded
// in time and memory) and the Python package's native part (frame_table: the frames listed, then
// gathered).
#include <aerolog/log_decoder.hpp>
#include <aerolog/reader.hpp>

#include "block_check.hpp"
#include "frame_table.hpp"

#include <aerolog/proto/frame.hpp>
#include <aerolog/proto/segment.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aerolog;
  // The block walk of verify/recovery over the bytes as they are.
  const auto* seg = reinterpret_cast<const std::byte*>(data);
  std::vector<std::int64_t> offsets;
  std::uint64_t first = 0, last = 0, room = 0;  // room: frames the blocks' lengths can hold
  for (std::size_t off = proto::kSegmentHeaderSize; off < size;) {
    proto::BlockHeader h;
    if (detail::check_block_header(seg + off, size - off, 1, 0, h)) break;
    if (offsets.empty()) first = h.first_seq;
    last = h.last_seq;
    room += (h.length - proto::kBlockHeaderSize) / proto::kFrameHeaderSize;
    offsets.push_back(static_cast<std::int64_t>(off));  // what the package passes: headers only checked
    if (detail::check_block_body(seg + off, h)) break;
    off += proto::align_up(h.length, proto::kPage);
  }
  // The package's frame table over the same blocks, with and without the CRC, into arrays of the
  // room frames.py gives it (so a write past that room is a finding), then one gather of every
  // frame's first 24 bytes (FORMAT.md's smallest frame).
  if (!offsets.empty() && last >= first) {
    const auto cap = static_cast<std::int64_t>(std::min(last - first + 1, room));
    std::vector<std::int64_t> pos(static_cast<std::size_t>(cap));
    std::vector<std::uint32_t> length(pos.size());
    std::vector<std::uint16_t> type(pos.size());
    std::vector<std::uint64_t> ts(pos.size());
    for (int crc : {1, 0}) {
      std::int64_t n = 0;
      aerolog_frame_table(seg, size, 1, offsets.data(), static_cast<std::int64_t>(offsets.size()), first, crc,
                          pos.data(), length.data(), type.data(), ts.data(), cap, &n);
      std::vector<std::byte> out(static_cast<std::size_t>(n) * proto::kFrameHeaderSize);
      aerolog_gather(seg, pos.data(), n, proto::kFrameHeaderSize, out.data());
    }
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
    LogDecoder logs;
    while (const Record* rec = r.next()) {
      for (std::byte b : rec->payload) bytes += std::to_integer<unsigned>(b);
      if (const LogEvent* e = logs.decode(*rec)) bytes += logs.render(*e).size();
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
