// The ring's file in /dev/shm: naming, the single-producer lock, probing, sizing, mapping.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace aerolog::detail {

std::string ring_path(std::string_view shm_dir, std::string_view stream);

// An open ring file holding the producer lock (an OFD lock: it dies with the process and
// conflicts even between two opens in one process).
class RingFile {
 public:
  static RingFile open_locked(const std::string& path, unsigned mode, const std::string& group);
  int release_fd() noexcept { int f = fd_; fd_ = -1; return f; }
  ~RingFile();

 private:
  explicit RingFile(int fd) : fd_(fd) {}
  int fd_;
};

// True if some process holds the producer lock on this file.
bool producer_lock_held(int fd);

struct RingProbe {
  enum Kind { empty, retired, live } kind;
  std::uint64_t capacity;  // from the header, for retired and live rings
};
// Reads the header through the fd and says what the file holds; throws Error for anything
// that is not a ring of this layout version, or is inconsistent.
RingProbe probe_ring(int fd, const std::string& path);

// Sets the file to `size` bytes, all reserved in tmpfs. fresh: zero everything first.
void resize_ring(int fd, const std::string& path, std::uint64_t size, bool fresh);
void* map_ring(int fd, const std::string& path, std::size_t len, bool writable, bool prefault);

}  // namespace aerolog::detail
