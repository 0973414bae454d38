#include "site_catalog.hpp"

#include "sys_error.hpp"

#include <aerolog/proto/crc32c.hpp>
#include <aerolog/proto/log.hpp>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace aerolog::sidecar {

using namespace proto;
using common::throw_errno;

void SiteCatalog::open(const std::string& dir, std::uint64_t wal_last_seq) {
  path_ = dir + "/" + kSiteCatalogName;
  pending_.clear();
  const bool existed = ::access(path_.c_str(), F_OK) == 0;
  fd_ = common::Fd(::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!fd_) throw_errno("open " + path_);
  if (!existed) {
    if (::fsync(fd_.get()) != 0) throw_errno("fsync " + path_);
    common::fsync_dir(dir);
    return;
  }
  struct stat st;
  if (::fstat(fd_.get(), &st) != 0) throw_errno("stat " + path_);
  std::vector<std::byte> b(static_cast<std::size_t>(st.st_size));
  if (!b.empty() && ::pread(fd_.get(), b.data(), b.size(), 0) != static_cast<ssize_t>(b.size()))
    throw_errno("read " + path_);
  std::size_t keep = 0;
  for (std::size_t at = 0; at + sizeof(SiteCatalogEntry) + kFrameHeaderSize <= b.size();) {
    SiteCatalogEntry e;
    std::memcpy(&e, b.data() + at, sizeof e);
    const std::size_t frame = at + sizeof e;
    if (e.length < kFrameHeaderSize || e.length > b.size() - frame || crc32c(b.data() + frame, e.length) != e.crc)
      break;
    FrameHeader h;
    std::memcpy(&h, b.data() + frame, sizeof h);
    if (h.seq > wal_last_seq) break;  // appended in seq order: the rest is later still
    at = frame + frame_stride(e.length);
    keep = std::min(at, b.size());
  }
  if (keep == b.size()) return;
  if (::ftruncate(fd_.get(), static_cast<off_t>(keep)) != 0 || ::fsync(fd_.get()) != 0)
    throw_errno("truncate " + path_);
}

void SiteCatalog::add(const FrameHeader& h, const std::byte* payload) {
  const SiteCatalogEntry e{h.length, crc32c_end(crc32c_update(crc32c_update(crc32c_begin(), &h, sizeof h), payload,
                                                              h.length - kFrameHeaderSize))};
  pending_.append(reinterpret_cast<const char*>(&e), sizeof e);
  pending_.append(reinterpret_cast<const char*>(&h), sizeof h);
  pending_.append(reinterpret_cast<const char*>(payload), h.length - kFrameHeaderSize);
  pending_.append(frame_stride(h.length) - h.length, '\0');
}

void SiteCatalog::write() {
  const off_t end = ::lseek(fd_.get(), 0, SEEK_END);
  if (end < 0) throw_errno("seek " + path_);
  for (std::size_t done = 0; done < pending_.size();) {
    const ssize_t n = ::write(fd_.get(), pending_.data() + done, pending_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : ENOSPC;
      (void)!::ftruncate(fd_.get(), end);  // no half entry for the next append to follow
      errno = err;
      throw_errno("append to " + path_);
    }
    done += static_cast<std::size_t>(n);
  }
  pending_.clear();
}

}  // namespace aerolog::sidecar
