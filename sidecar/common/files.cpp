#include "files.hpp"

#include "safe_file.hpp"
#include "sys_error.hpp"

#include <aerolog/proto/segment.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <new>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace aerolog::common {

void fsync_dir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw_errno("open directory " + dir);
  if (::fsync(fd.get()) != 0) throw_errno("fsync directory " + dir);
}

void make_dirs_durably(const std::string& path, unsigned mode) {
  struct stat st;
  if (path.empty() || ::stat(path.c_str(), &st) == 0) return;
  const auto slash = path.find_last_of('/', path.size() - 2);  // a trailing '/' is not a component
  const std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  make_dirs_durably(parent, mode);
  if (::mkdir(path.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST) throw_errno("create directory " + path);
  fsync_dir(parent);
}

void write_file_durably(const std::string& dir, const std::string& name, std::string_view bytes) {
  const std::string tmp = dir + "/." + name + ".tmp", path = dir + "/" + name;
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
  if (!fd) throw_errno("create " + tmp);
  if (::write(fd.get(), bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) throw_errno("write " + tmp);
  if (::fsync(fd.get()) != 0) throw_errno("fsync " + tmp);
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw_errno("rename " + tmp);
  fsync_dir(dir);
}

std::optional<uid_t> stream_owner(const std::string& stream_dir) {
  const detail::Untrusted u = detail::open_untrusted(stream_dir + "/" + proto::kStreamOwnerName, O_RDONLY);
  if (u.fd < 0) return std::nullopt;
  char buf[24] = {};
  const ssize_t n = ::pread(u.fd, buf, sizeof buf - 1, 0);
  ::close(u.fd);
  char* end = nullptr;
  const unsigned long v = n > 0 ? std::strtoul(buf, &end, 10) : 0;
  if (n <= 0 || end == buf || (*end != '\n' && *end != 0) || v >= 0xffffffffu) return std::nullopt;
  return static_cast<uid_t>(v);
}

Fd own_shared_file(const std::string& dir, const std::string& name, unsigned mode) {
  const std::string path = dir + "/" + name;
  detail::Untrusted u = detail::open_untrusted(path, O_RDWR);
  Fd fd(u.fd);
  if (fd && detail::check_owner_mode(u.st, ::geteuid(), 0022).empty()) return fd;
  fd.reset();
  for (int attempt = 0; attempt < 3; ++attempt) {  // another process may create the name in between
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      throw_errno("remove " + path + " (" + (u.problem.empty() ? "not this user's file" : u.problem) +
                  "; only the directory's owner can remove it)");
    fd = Fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
    if (fd) {
      if (::fchmod(fd.get(), mode) != 0) throw_errno("chmod " + path);
      return fd;
    }
    if (errno != EEXIST) break;
  }
  throw_errno("create " + path);
}

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

AlignedBuffer::AlignedBuffer(std::size_t size) : n_(size) {
  p_ = static_cast<std::byte*>(std::aligned_alloc(4096, (size + 4095) & ~std::size_t{4095}));
  if (!p_) throw std::bad_alloc();
  std::memset(p_, 0, n_);
}

AlignedBuffer::~AlignedBuffer() { std::free(p_); }

}  // namespace aerolog::common
