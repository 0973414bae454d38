#include "block.hpp"

#include "block_check.hpp"

#include <algorithm>

#include <unistd.h>

namespace aerolog::sidecar {

std::string BlockReader::read(std::uint64_t off, std::uint64_t expected_first, proto::BlockHeader& out) {
  if (off >= size_) return "end of segment";
  const std::size_t avail = static_cast<std::size_t>(std::min<std::uint64_t>(size_ - off, buf_.size()));
  const std::size_t head = std::min<std::size_t>(avail, proto::kPage);
  if (::pread(fd_, buf_.data(), head, static_cast<off_t>(off)) != static_cast<ssize_t>(head)) return "read error";
  if (const char* e = detail::check_block_header(buf_.data(), static_cast<std::size_t>(size_ - off), generation_,
                                                 expected_first, out))
    return e;
  if (out.length > proto::kMaxBlockLength) return "block larger than any valid block";
  if (out.length > buf_.size()) {
    AlignedBuffer bigger(out.length);
    std::copy_n(buf_.data(), head, bigger.data());
    buf_ = std::move(bigger);
  }
  if (out.length > head &&
      ::pread(fd_, buf_.data() + head, out.length - head, static_cast<off_t>(off + head)) != static_cast<ssize_t>(out.length - head))
    return "read error";
  if (const char* e = detail::check_block_body(buf_.data(), out)) return e;
  return {};
}

}  // namespace aerolog::sidecar
