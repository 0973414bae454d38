// Small file helpers for every program: owned fds, aligned buffers, directory sync, durable
// directories and small-file writes (write, fsync, rename, fsync dir). Errors: sys_error.hpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <sys/types.h>

namespace aerolog::common {

void fsync_dir(const std::string& dir);
// mkdir -p with every directory it creates made durable (its parent fsynced) before it returns:
// after a power cut a directory that held acknowledged data can't vanish. Throws system_error.
void make_dirs_durably(const std::string& path, unsigned mode = 0750);
void write_file_durably(const std::string& dir, const std::string& name, std::string_view bytes);

// The uid in <stream_dir>/owner (FORMAT.md 4.5), or nothing if there is none or it is not one.
std::optional<uid_t> stream_owner(const std::string& stream_dir);

class Fd;
// This program's own file `name` in a directory others may write (the shm directory), open
// O_RDWR: the one it made before is reused if it still is that (a regular file with one link,
// owned by this user, writable by nobody else); anything else under the name (another user's
// file, a FIFO, a hard link to someone's ring) is unlinked, never opened, and the file is
// created anew with O_EXCL and `mode`. Throws system_error.
Fd own_shared_file(const std::string& dir, const std::string& name, unsigned mode);

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    reset(o.release());
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1);

 private:
  int fd_;
};

// Zeroed, 4096-aligned memory for O_DIRECT I/O.
class AlignedBuffer {
 public:
  explicit AlignedBuffer(std::size_t size);
  AlignedBuffer(AlignedBuffer&& o) noexcept : p_(o.p_), n_(o.n_) {
    o.p_ = nullptr;
    o.n_ = 0;
  }
  AlignedBuffer(const AlignedBuffer&) = delete;
  ~AlignedBuffer();
  std::byte* data() const { return p_; }
  std::size_t size() const { return n_; }

 private:
  std::byte* p_;
  std::size_t n_;
};

}  // namespace aerolog::common
