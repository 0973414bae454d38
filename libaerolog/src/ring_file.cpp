#include "ring_file.hpp"

#include "ring_acl.hpp"
#include "safe_file.hpp"

#include <aerolog/clock.hpp>
#include <aerolog/error.hpp>
#include <aerolog/proto/frame.hpp>
#include <aerolog/proto/ring.hpp>

#include <algorithm>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace aerolog::detail {

using namespace proto;

namespace {

[[noreturn]] void fail_errno(const std::string& what, int err) {
  throw Error(Errc::system, what + ": " + std::strerror(err));
}

struct flock whole_file(short type) {
  struct flock l {};
  l.l_type = type;
  l.l_whence = SEEK_SET;
  return l;
}

bool read_header(int fd, RingHeader& h) {
  std::memset(static_cast<void*>(&h), 0, sizeof h);
  return ::pread(fd, static_cast<void*>(&h), sizeof h, 0) == static_cast<ssize_t>(sizeof h);
}

struct stat checked_shm_dir(const std::string& dir) {
  struct stat st;
  if (std::string why = check_shm_dir(dir, st); !why.empty()) throw Error(Errc::insecure, why);
  return st;
}

std::string hex(std::uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%016llx", static_cast<unsigned long long>(v));
  return b;
}

}  // namespace

std::string ring_path(std::string_view shm_dir, std::string_view stream) {
  std::string p(shm_dir);
  if (p.empty() || p.back() != '/') p += '/';
  return p + kRingPrefix + std::string(stream);
}

std::string stream_of_ring_file(std::string_view file_name) {
  const std::string_view prefix = kRingPrefix;
  if (file_name.substr(0, prefix.size()) != prefix) return {};
  const std::string_view s = file_name.substr(prefix.size());
  return valid_stream_name(s.data(), s.size()) ? std::string(s) : std::string{};
}

bool process_alive(std::uint32_t pid) {
  return pid != 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

RingFile::~RingFile() {
  if (fd_ >= 0) ::close(fd_);
}

RingFile RingFile::open_locked(const std::string& path, unsigned mode, const std::string& group) {
  if (mode & 0007)
    throw Error(Errc::invalid_argument, "ring mode " + std::to_string(mode) +
                                            " gives every user access to the ring: others' bits (0007) must be 0");
  const struct stat dir = checked_shm_dir(parent_dir(path));
  // O_EXCL: a name another user prepared (a file, FIFO or symlink) is never taken as new.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd >= 0) {
    RingFile file(fd);
    if (::fchmod(fd, mode) != 0) fail_errno("cannot chmod " + path, errno);
    // Private to this user (no group bits): the sidecar, the directory's owner, gets an ACL entry.
    if (!(mode & 0070) && dir.st_uid != ::geteuid())
      if (const int err = share_with_user(fd, dir.st_uid))
        throw Error(Errc::system, "cannot give the sidecar (uid " + std::to_string(dir.st_uid) + ") access to " + path +
                                      ": " + std::strerror(err) +
                                      " (the shm filesystem needs POSIX ACLs, as tmpfs has; or open with a mode that "
                                      "shares the ring with the group, e.g. 0660)");
    if (!group.empty()) {
      struct group* gr = ::getgrnam(group.c_str());
      if (!gr) throw Error(Errc::invalid_argument, "unknown group '" + group + "' for " + path);
      if (::fchown(fd, static_cast<uid_t>(-1), gr->gr_gid) != 0)
        fail_errno("cannot give " + path + " to group " + group, errno);
    }
    file.lock(path);
    return file;
  }
  if (errno != EEXIST) fail_errno("cannot open ring " + path, errno);
  // An existing ring is ours (a ring we made before), or the sidecar's (the directory's owner:
  // a continuation ring after a reboot): a ring anyone else made could be read, forged or
  // truncated by its maker, so it is refused, never published into.
  const uid_t me = ::geteuid();
  struct stat named;
  if (::lstat(path.c_str(), &named) == 0 && named.st_uid == dir.st_uid && named.st_uid != me &&
      ::access(path.c_str(), R_OK | W_OK) != 0 && errno == EACCES)
    throw Error(Errc::insecure,
                path +
                    " is the sidecar's continuation ring, which only the stream's owner may open, and this "
                    "user is not it, or the sidecar does not know the owner yet (a WAL written before "
                    "owners were recorded): write the producer's uid to <wal_dir>/" +
                    path.substr(path.rfind('/') + 1 + sizeof kRingPrefix - 1) +
                    "/owner, remove this ring and restart the sidecar (docs/security.md)");
  RingFile file = open_existing(path);
  if (file.st_.st_uid != me && file.st_.st_uid != dir.st_uid)
    throw Error(Errc::insecure, path + " was created by uid " + std::to_string(file.st_.st_uid) +
                                    ", neither this process's user (uid " + std::to_string(me) +
                                    ") nor the sidecar's (the owner of " + parent_dir(path) + ", uid " +
                                    std::to_string(dir.st_uid) +
                                    "): its maker could read or forge it, so nothing is published into it; "
                                    "have it removed (docs/security.md)");
  // The sidecar's ring (a continuation after a reboot) must be writable by us and it alone: a
  // durable_seq anyone else could write would be a false acknowledgement.
  if (file.st_.st_uid != me && !only_writers(file.fd(), file.st_, me))
    throw Error(Errc::insecure, path +
                                    " is the sidecar's but others may write it (its mode or ACL): a durable seq "
                                    "they wrote would be believed, so nothing is published into it");
  file.lock(path);
  return file;
}

RingFile RingFile::open_existing(const std::string& path) {
  Untrusted u = open_untrusted(path, O_RDWR);
  if (u.fd < 0) throw Error(u.err == ENOENT ? Errc::system : Errc::insecure, "cannot open ring " + u.problem);
  RingFile file(u.fd);
  file.st_ = u.st;
  if (u.st.st_mode & 0007)
    throw Error(Errc::insecure, path + " has mode " + octal_mode(u.st.st_mode) +
                                    ": every user could read or forge it, so it is left alone");
  return file;
}

RingFile RingFile::lock_existing(const std::string& path) {
  checked_shm_dir(parent_dir(path));
  RingFile file = open_existing(path);
  file.lock(path);
  return file;
}

void RingFile::lock(const std::string& path) {
  // The lock may be held for a moment by a sidecar retiring the ring, or by another opener.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  for (;;) {
    struct flock l = whole_file(F_WRLCK);
    if (::fcntl(fd_, F_OFD_SETLK, &l) == 0) return;
    if (errno != EAGAIN && errno != EACCES) fail_errno("cannot lock " + path, errno);
    RingHeader h;
    const std::uint32_t pid = read_header(fd_, h) ? h.producer.pid.load() : 0;
    if (process_alive(pid))
      throw Error(Errc::busy, "stream ring " + path + " is already open by producer pid " + std::to_string(pid) +
                                  "; one producer per stream at a time");
    if (std::chrono::steady_clock::now() >= deadline)
      throw Error(Errc::busy, "stream ring " + path +
                                  " is locked by another process (last "
                                  "producer pid " +
                                  std::to_string(pid) + " is gone); try again");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::uint32_t max_frame_for(std::uint64_t cap) {
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(kMaxFrameSize, cap / 4));
}

bool max_frame_valid(std::uint64_t max_frame, std::uint64_t cap) {
  return max_frame >= kFrameHeaderSize + 8 && max_frame <= max_frame_for(cap);
}

void init_ring_header(RingHeader* h, std::string_view stream, std::uint64_t cap, std::uint64_t created_ns) {
  h->id.header_size = kRingHeaderSize;
  h->id.capacity = cap;
  h->id.created_ns = created_ns;
  h->id.max_frame = max_frame_for(cap);
  std::memcpy(h->id.stream, stream.data(), std::min(stream.size(), sizeof h->id.stream));
  h->id.version.store(kRingVersion, std::memory_order_release);
  h->id.magic.store(kRingMagic, std::memory_order_release);
}

bool producer_lock_held(int fd) {
  struct flock l = whole_file(F_WRLCK);
  if (::fcntl(fd, F_OFD_GETLK, &l) != 0) return false;
  return l.l_type != F_UNLCK;
}

RingProbe probe_ring(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) fail_errno("cannot stat " + path, errno);
  const auto size = static_cast<std::uint64_t>(st.st_size);
  RingHeader h;
  const bool whole = read_header(fd, h);
  const std::uint64_t magic = h.id.magic.load(), wpos = h.producer.write_pos.load();
  // Nothing was ever published before the magic word was set, so a ring without one (a
  // creation that died half way) is free to initialise - unless data positions say otherwise.
  if (size == 0 || (magic == 0 && h.id.version.load() == 0 && wpos == 0)) return {RingProbe::empty, 0};
  if (!whole)
    throw Error(Errc::incompatible, path + ": " + std::to_string(size) + " bytes is too small to be an AeroLog ring");
  if (magic != kRingMagic)
    throw Error(Errc::incompatible, path + ": not an AeroLog ring (magic " + hex(magic) + ", expected " +
                                        hex(kRingMagic) + "); left untouched");
  if (h.id.version.load() != kRingVersion)
    throw Error(Errc::incompatible, path + ": ring layout version " + std::to_string(h.id.version.load()) +
                                        ", this library speaks " + std::to_string(kRingVersion) + "; left untouched");
  const std::uint64_t cap = h.id.capacity;
  if (h.id.header_size != kRingHeaderSize || !is_pow2(cap) || cap < kRingMinCapacity || cap > kRingMaxCapacity)
    throw Error(Errc::corrupt, path + ": ring header has header_size " + std::to_string(h.id.header_size) +
                                   " and capacity " + std::to_string(cap) + "; left untouched");
  if (size == kRingHeaderSize) {
    if (wpos != h.consumer.read_pos.load())
      throw Error(Errc::corrupt, path + ": ring was shrunk while holding undrained records; left untouched");
    return {RingProbe::retired, cap};
  }
  if (size != kRingHeaderSize + cap)
    throw Error(Errc::corrupt, path + ": file size " + std::to_string(size) + " does not match the header (" +
                                   std::to_string(kRingHeaderSize + cap) + "); left untouched");
  return {RingProbe::live, cap};
}

void resize_ring(int fd, const std::string& path, std::uint64_t size, bool fresh) {
  if (fresh && ::ftruncate(fd, 0) != 0) fail_errno("cannot clear " + path, errno);
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) fail_errno("cannot size " + path, errno);
  // tmpfs is sparse: reserve the pages now so a full /dev/shm is an error here, not a SIGBUS later.
  if (int err = ::posix_fallocate(fd, 0, static_cast<off_t>(size)); err != 0)
    fail_errno("cannot reserve " + std::to_string(size >> 20) + " MiB for " + path, err);
}

void* map_ring(int fd, const std::string& path, std::size_t len, bool writable, bool prefault) {
  const int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  void* m = ::mmap(nullptr, len, prot, MAP_SHARED | (prefault ? MAP_POPULATE : 0), fd, 0);
  if (m == MAP_FAILED) fail_errno("cannot map " + path, errno);
#ifdef MADV_POPULATE_WRITE
  if (writable && prefault) ::madvise(m, len, MADV_POPULATE_WRITE);  // best effort (Linux >= 5.14)
#endif
  return m;
}

bool create_continuation_ring(const std::string& path, std::string_view stream, std::uint64_t wal_last_seq,
                              uid_t producer_uid) {
  // The temporary name lacks the ring prefix, so no sidecar or producer takes it for a ring.
  const std::string tmp = path.substr(0, path.rfind('/') + 1) + ".aerolog-continue-" + std::to_string(::getpid());
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) fail_errno("cannot create " + tmp, errno);
  RingHeader h;
  std::memset(static_cast<void*>(&h), 0, sizeof h);
  init_ring_header(&h, stream, kRingDefaultCapacity, TscClock::realtime_ns());  // the producer sets its capacity
  h.producer.last_seq.store(wal_last_seq);
  h.durable.durable_seq.store(wal_last_seq);
  int err =
      producer_uid == static_cast<uid_t>(-1) || producer_uid == ::geteuid() ? 0 : share_with_user(fd, producer_uid);
  const bool ok = !err && ::ftruncate(fd, kRingHeaderSize) == 0 &&
                  ::pwrite(fd, static_cast<const void*>(&h), sizeof h, 0) == static_cast<ssize_t>(sizeof h);
  if (!ok && !err) err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    fail_errno("cannot write " + tmp, err);
  }
  const bool linked = ::link(tmp.c_str(), path.c_str()) == 0;
  const int link_err = errno;
  ::unlink(tmp.c_str());
  if (!linked && link_err != EEXIST) fail_errno("cannot create " + path, link_err);
  return linked;
}

std::optional<std::uint64_t> peek_durable_seq(const std::string& path, std::string_view stream) {
  const Untrusted u = open_untrusted(path, O_RDONLY);
  if (u.fd < 0) return std::nullopt;
  const int fd = u.fd;
  if (!ours_or_our_groups(u.st) || (u.st.st_mode & 0007)) {  // a stranger's claim proves nothing
    ::close(fd);
    return std::nullopt;
  }
  RingHeader h;
  const bool whole = read_header(fd, h);
  ::close(fd);
  if (!whole || h.id.magic.load() != kRingMagic || h.id.version.load() != kRingVersion) return std::nullopt;
  if (std::string_view(h.id.stream, strnlen(h.id.stream, sizeof h.id.stream)) != stream) return std::nullopt;
  return h.durable.durable_seq.load();
}

}  // namespace aerolog::detail
