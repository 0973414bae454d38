#include "safe_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

namespace aerolog::detail {

std::string octal_mode(unsigned mode) {
  char b[16];
  std::snprintf(b, sizeof b, "%04o", mode & 07777);
  return b;
}

bool ours_or_our_groups(const struct stat& st) {
  if (st.st_uid == ::geteuid() || st.st_gid == ::getegid()) return true;
  gid_t groups[256];
  const int n = ::getgroups(256, groups);
  for (int i = 0; i < n; ++i)
    if (groups[i] == st.st_gid) return true;
  return false;
}

std::string parent_dir(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

Untrusted open_untrusted(const std::string& path, int flags) {
  Untrusted u;
  u.fd = ::open(path.c_str(), flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (u.fd < 0) {
    u.err = errno;
    u.problem = path + ": " + std::strerror(u.err);
    return u;
  }
  if (::fstat(u.fd, &u.st) != 0)
    u.problem = path + ": cannot stat: " + std::strerror(errno);
  else if (!S_ISREG(u.st.st_mode))
    u.problem = path + " is not a regular file (a FIFO, device, socket or directory): not ours, left alone";
  else if (u.st.st_nlink != 1)
    u.problem = path + " has " + std::to_string(u.st.st_nlink) +
                " links: a hard link may name another file (not ours, left alone)";
  if (!u.problem.empty()) {
    ::close(u.fd);
    u.fd = -1;
  }
  return u;
}

std::string check_owner_mode(const struct stat& st, uid_t owner, unsigned forbidden) {
  if (st.st_uid != owner)
    return "owned by uid " + std::to_string(st.st_uid) + ", expected uid " + std::to_string(owner);
  if (st.st_mode & forbidden)
    return "mode " + octal_mode(st.st_mode) + " lets others in (bits " + octal_mode(st.st_mode & forbidden) +
           " must be clear)";
  return {};
}

std::string check_shm_dir(const std::string& dir, struct stat& st) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return "shm directory " + dir + ": " + std::strerror(errno) +
           (errno == ENOENT ? " (the sidecar makes it, or its unit does: see docs/security.md)" : "");
  const int rc = ::fstat(fd, &st);
  ::close(fd);
  if (rc != 0) return "shm directory " + dir + ": cannot stat: " + std::strerror(errno);
  const std::string fix = "; use a directory of its own (install -d -m 3770 -o aerolog -g aerolog " + dir +
                          ", as aerolog.tmpfiles.conf does for /dev/shm/aerolog)";
  if (st.st_mode & S_IWOTH)
    return "shm directory " + dir + " (mode " + octal_mode(st.st_mode) +
           ") is writable by every user: anyone could create, squat or flood AeroLog's files there" + fix;
  if ((st.st_mode & S_IWGRP) && !(st.st_mode & S_ISVTX))
    return "shm directory " + dir + " (mode " + octal_mode(st.st_mode) +
           ") is group-writable without the sticky bit: one group member could delete or replace "
           "another's ring" +
           fix;
  return {};
}

}  // namespace aerolog::detail
