// Read-only views of the sidecar's control block and of the rings in a shm directory, for
// aerologctl: it never needs the sidecar to answer (Aeron's CnC / AeronStat split).
#pragma once
#include <aerolog/proto/control.hpp>
#include <aerolog/proto/ring.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <sys/stat.h>

namespace aerolog::common {

// A file in the shm directory mapped whole: opened O_NOFOLLOW | O_NONBLOCK, a regular file with one
// link (safe_file.hpp); guarded against SIGBUS when the program installed ring_guard.
class Mapping {
 public:
  Mapping(const std::string& path, std::size_t min_size, bool writable);  // throws std::runtime_error
  ~Mapping();
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  const std::byte* data() const { return p_; }
  std::byte* mutable_data() const { return p_; }
  std::size_t size() const { return n_; }
  int fd() const { return fd_; }
  const struct stat& stat() const { return st_; }

 private:
  std::byte* p_ = nullptr;
  std::size_t n_ = 0;
  int fd_ = -1;
  int slot_ = -1;  // ring_guard slot, when the program installed the guard
  struct stat st_ {};
};

// A NUL-padded text field of shared memory, which anyone who can write the file may fill: printable
// ASCII only (any other byte shows as '?'), so no output of it carries a terminal escape or
// invalid UTF-8.
std::string shm_text(const char* field, std::size_t size);

enum class SidecarHealth { up, hung, down, absent };
const char* to_string(SidecarHealth h);

struct SidecarInfo {
  SidecarHealth health = SidecarHealth::absent;
  std::unique_ptr<Mapping> map;
  const proto::ControlBlock* cb = nullptr;
  double heartbeat_age_s = 0;
  std::string problem;  // why the control block (or the directory) was not believed ("" if fine)
};
SidecarInfo read_sidecar(const std::string& shm_dir);

// The tools' defaults: what the sidecar of shm_dir (running, or the last one that ran) was started
// with, its WAL root and aerolog-ship's state directory; proto's defaults where there is no
// control block to believe, or it names none.
struct SidecarDirs {
  std::string wal_dir, ship_state_dir;
};
SidecarDirs sidecar_dirs(const std::string& shm_dir);

struct RingInfo {
  std::string stream, path;
  std::unique_ptr<Mapping> map;  // the header page (and the data area when mapped whole)
  const proto::RingHeader* h = nullptr;
  bool producer_alive = false;
  std::string problem;  // why the file could not be read as a ring
};
// Every aerolog.<stream> in shm_dir, sorted by name; `writable` maps them read-write (flush).
std::vector<RingInfo> read_rings(const std::string& shm_dir, bool writable = false, bool whole = false);

}  // namespace aerolog::common
