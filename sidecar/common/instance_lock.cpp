#include "instance_lock.hpp"

#include "sys_error.hpp"

#include <stdexcept>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace aerolog::common {

namespace {

Fd take(Fd fd, const std::string& path, const std::string& dir, const std::string& program) {
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {};
    if (::pread(fd.get(), buf, sizeof buf - 1, 0) < 0) buf[0] = '\0';
    throw std::runtime_error("another " + program + " (pid " + std::string(buf[0] ? buf : "?") + ") is using " + dir +
                             "; refusing to start a second one");
  }
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd.get(), 0) != 0 || ::pwrite(fd.get(), pid.data(), pid.size(), 0) < 0) throw_errno("write " + path);
  return fd;
}

}  // namespace

Fd lock_single_instance(const std::string& dir, const std::string& program) {
  const std::string path = dir + "/.lock";
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640));
  if (!fd) throw_errno("open " + path);
  return take(std::move(fd), path, dir, program);
}

Fd lock_shared_dir(const std::string& dir, const std::string& name, const std::string& program) {
  Fd fd = own_shared_file(dir, name, 0600);
  if (::fchmod(fd.get(), 0600) != 0) throw_errno("chmod " + dir + "/" + name);  // nobody else may open it
  return take(std::move(fd), dir + "/" + name, dir, program);
}

}  // namespace aerolog::common
