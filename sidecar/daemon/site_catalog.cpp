#include "site_catalog.hpp"

#include "catalog_scan.hpp"
#include "sys_error.hpp"

#include <aerolog/proto/crc32c.hpp>
#include <aerolog/proto/log.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace aerolog::sidecar {

using namespace proto;
using common::throw_errno;

std::string SiteCatalog::open(const std::string& dir, std::uint64_t wal_last_seq) {
  path_ = dir + "/" + kSiteCatalogName;
  pending_.clear();
  const bool existed = ::access(path_.c_str(), F_OK) == 0;
  fd_ = common::Fd(::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!fd_) throw_errno("open " + path_);
  if (!existed) {
    if (::fsync(fd_.get()) != 0) throw_errno("fsync " + path_);
    common::fsync_dir(dir);
    return {};
  }
  struct stat st;
  if (::fstat(fd_.get(), &st) != 0) throw_errno("stat " + path_);
  std::vector<std::byte> b(static_cast<std::size_t>(st.st_size));
  if (!b.empty() && ::pread(fd_.get(), b.data(), b.size(), 0) != static_cast<ssize_t>(b.size()))
    throw_errno("read " + path_);
  std::size_t keep = b.size();
  const detail::CatalogScan scan =
      detail::scan_catalog(b, [&](std::size_t at, const FrameHeader& h, std::span<const std::byte>) {
        if (h.seq > wal_last_seq) keep = std::min(keep, at);  // appended in seq order: the rest is later still
        return true;
      });
  if (scan.torn) keep = std::min(keep, scan.end);
  std::string damage;
  if (scan.damaged)  // kept as it is: readers skip it, and the operator may want to look at it
    damage = path_ + ": " + std::to_string(scan.damaged) + " damaged entr" + (scan.damaged > 1 ? "ies" : "y") +
             " skipped, the first at offset " + std::to_string(scan.first_damage) + " (" + scan.damage +
             "): events of the sites it held do not decode";
  if (keep == b.size()) return damage;
  if (::ftruncate(fd_.get(), static_cast<off_t>(keep)) != 0 || ::fsync(fd_.get()) != 0)
    throw_errno("truncate " + path_);
  return damage;
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
