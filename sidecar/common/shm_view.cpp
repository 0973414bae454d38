#include "shm_view.hpp"

#include "clock.hpp"
#include "ring_file.hpp"
#include "ring_guard.hpp"
#include "safe_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace aerolog::common {

using namespace proto;

Mapping::Mapping(const std::string& path, std::size_t min_size, bool writable) {
  const detail::Untrusted u = detail::open_untrusted(path, writable ? O_RDWR : O_RDONLY);
  if (u.fd < 0) throw std::runtime_error(u.problem);
  fd_ = u.fd;
  st_ = u.st;
  n_ = static_cast<std::size_t>(st_.st_size);
  if (n_ < min_size) {
    ::close(fd_);
    throw std::runtime_error(path + ": too small (" + std::to_string(n_) + " bytes)");
  }
  void* m = ::mmap(nullptr, n_, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd_, 0);
  if (m == MAP_FAILED) {
    ::close(fd_);
    throw std::runtime_error(path + ": cannot map: " + std::strerror(errno));
  }
  if (guard::installed() && (slot_ = guard::add(m, n_)) < 0) {
    ::munmap(m, n_);
    ::close(fd_);
    throw std::runtime_error(path + ": too many files mapped at once (1024)");
  }
  p_ = static_cast<std::byte*>(m);
}

Mapping::~Mapping() {
  guard::remove(slot_);
  if (p_) ::munmap(p_, n_);
  if (fd_ >= 0) ::close(fd_);
}

std::string shm_text(const char* field, std::size_t size) {
  std::string s(field, strnlen(field, size));
  for (char& c : s)
    if (c < 0x20 || c > 0x7e) c = '?';
  return s;
}

const char* to_string(SidecarHealth h) {
  switch (h) {
    case SidecarHealth::up:
      return "up";
    case SidecarHealth::hung:
      return "HUNG";
    case SidecarHealth::down:
      return "DOWN";
    case SidecarHealth::absent:
      return "ABSENT";
  }
  return "?";
}

SidecarInfo read_sidecar(const std::string& shm_dir) {
  SidecarInfo s;
  struct stat dir;
  if (std::string why = detail::check_shm_dir(shm_dir, dir); !why.empty()) {
    s.problem = why;
    return s;
  }
  const std::string path = shm_dir + "/" + kControlName;
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0 && errno == ENOENT) return s;  // no sidecar ever ran here
  try {
    s.map = std::make_unique<Mapping>(path, sizeof(ControlBlock), false);
  } catch (const std::exception& e) {
    s.problem = e.what();
    return s;
  }
  // Only the sidecar (the directory's owner) writes it: anyone else's is not believed (its WAL
  // directory would point the operator's tools at forged records).
  if (std::string why = detail::check_owner_mode(s.map->stat(), dir.st_uid, 0022); !why.empty()) {
    s.problem = path + ": " + why + ": not the sidecar's control block, ignored";
    s.map.reset();
    return s;
  }
  s.cb = reinterpret_cast<const ControlBlock*>(s.map->data());
  if (s.cb->magic.load(std::memory_order_acquire) != kControlMagic || s.cb->version.load() != kControlVersion) {
    s.cb = nullptr;
    return s;
  }
  const std::uint64_t now = common::wall_ns();
  s.heartbeat_age_s = double(now - std::min(now, s.cb->heartbeat_ns.load())) / 1e9;
  if (!detail::process_alive(s.cb->pid.load()))
    s.health = SidecarHealth::down;
  else
    s.health = s.heartbeat_age_s > 2.0 ? SidecarHealth::hung : SidecarHealth::up;
  return s;
}

std::vector<RingInfo> read_rings(const std::string& shm_dir, bool writable, bool whole) {
  std::vector<RingInfo> out;
  DIR* d = ::opendir(shm_dir.c_str());
  if (!d)
    throw std::runtime_error("shm directory " + shm_dir + ": " + std::strerror(errno) +
                             " (--shm-dir or AEROLOG_SHM_DIR to look elsewhere)");
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d))
    if (!detail::stream_of_ring_file(e->d_name).empty()) names.push_back(e->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    RingInfo r;
    r.stream = detail::stream_of_ring_file(n);
    r.path = shm_dir + "/" + n;
    try {
      r.map = std::make_unique<Mapping>(r.path, kRingHeaderSize, writable);
      r.h = reinterpret_cast<const RingHeader*>(r.map->data());
      if (r.h->id.magic.load(std::memory_order_acquire) != kRingMagic || r.h->id.version.load() != kRingVersion) {
        r.problem = "not an AeroLog ring of layout version " + std::to_string(kRingVersion);
        r.h = nullptr;
      } else if (whole && r.map->size() != kRingHeaderSize + r.h->id.capacity && r.map->size() != kRingHeaderSize) {
        r.problem = "file size does not match the header";
        r.h = nullptr;
      }
      if (r.h) r.producer_alive = detail::producer_lock_held(r.map->fd());
    } catch (const std::exception& e) {
      r.problem = e.what();
    }
    out.push_back(std::move(r));
  }
  return out;
}

SidecarDirs sidecar_dirs(const std::string& shm_dir) {
  SidecarDirs d{kDefaultWalDir, kDefaultShipStateDir};
  const SidecarInfo s = read_sidecar(shm_dir);
  if (!s.cb) return d;
  // Paths are whatever bytes the sidecar was given; only its own (checked) block is read.
  if (s.cb->wal_dir[0]) d.wal_dir.assign(s.cb->wal_dir, strnlen(s.cb->wal_dir, sizeof s.cb->wal_dir));
  if (s.cb->ship_state_dir[0])
    d.ship_state_dir.assign(s.cb->ship_state_dir, strnlen(s.cb->ship_state_dir, sizeof s.cb->ship_state_dir));
  return d;
}

}  // namespace aerolog::common
