// The ring's file in /dev/shm: naming, the single-producer lock, probing, sizing, mapping.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <sys/stat.h>

namespace aerolog::proto {
struct RingHeader;
}

namespace aerolog::detail {

std::string ring_path(std::string_view shm_dir, std::string_view stream);
// The stream a file name in the shm directory is the ring of ("aerolog.<stream>"), or "" if it is
// not a ring's name.
std::string stream_of_ring_file(std::string_view file_name);
// True if a process with this pid exists (0 never does); EPERM means it exists as another user.
bool process_alive(std::uint32_t pid);

// An open ring file holding the producer lock (an OFD lock: it dies with the process and
// conflicts even between two opens in one process).
// Both check the shm directory first (safe_file.hpp), and take no file whose mode lets every user
// in (bits 0007).
class RingFile {
 public:
  // Creates the ring (O_EXCL, `mode`, `group`) or opens the existing one, which must be ours or
  // the sidecar's (owned by the shm directory's owner); throws Error (Errc::insecure) otherwise.
  static RingFile open_locked(const std::string& path, unsigned mode, const std::string& group);
  // An existing ring of whoever made it (aerologctl adopt, run by the operator), locked.
  static RingFile lock_existing(const std::string& path);
  const struct stat& stat() const noexcept { return st_; }
  int release_fd() noexcept {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  int fd() const noexcept { return fd_; }
  RingFile(RingFile&& o) noexcept : fd_(o.release_fd()), st_(o.st_) {}
  RingFile(const RingFile&) = delete;
  RingFile& operator=(const RingFile&) = delete;
  ~RingFile();

 private:
  explicit RingFile(int fd) : fd_(fd) {}
  static RingFile open_existing(const std::string& path);  // open_untrusted, mode checked
  void lock(const std::string& path);
  int fd_;
  struct stat st_ {};
};

// max_frame for a data area of `cap` bytes: min(1 MiB, cap / 4) (FORMAT.md 2.7).
std::uint32_t max_frame_for(std::uint64_t cap);
// True if a ring header's max_frame is possible for that capacity: room for a header and 8
// payload bytes, and no more than max_frame_for(cap).
bool max_frame_valid(std::uint64_t max_frame, std::uint64_t cap);
// A new ring's identity (FORMAT.md 2.3) into an all-zero header: the fields, then version and
// magic last, as release stores.
void init_ring_header(proto::RingHeader* h, std::string_view stream, std::uint64_t cap, std::uint64_t created_ns);

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

// After a reboot /dev/shm is empty but the WAL is not. The sidecar recreates the stream's ring
// as a retired ring (header only, FORMAT.md 2.6) whose seqs continue the WAL: durable_seq and
// last_seq = `wal_last_seq`, every position 0. A producer opening it regrows it and publishes
// wal_last_seq + 1 next. Written under a temporary name and linked into place, so neither a
// producer nor the sidecar ever sees half a header, and a ring a producer made first is never
// replaced: returns false if `path` already exists. Mode 0600: only `producer_uid` (the stream's
// owner, given an ACL entry; (uid_t)-1 if unknown) may open it besides its maker. Throws Error for
// anything else.
bool create_continuation_ring(const std::string& path, std::string_view stream, std::uint64_t wal_last_seq,
                              uid_t producer_uid);

// The durable_seq of the ring at `path` if it is a valid ring of `stream` (read with pread:
// a ring truncated underneath cannot fault), else nothing. Recovery uses it to know which seqs
// a producer may have seen acknowledged.
std::optional<std::uint64_t> peek_durable_seq(const std::string& path, std::string_view stream);

}  // namespace aerolog::detail
