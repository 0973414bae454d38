// What the low-level op handlers of aerolog-cutfs share (fs.cpp, fs_names.cpp, fs_data.cpp):
// open-file handles, the in-flight guard Op, the node table helpers and the handler list.
#pragma once

#include <dirent.h>
#include <fcntl.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "fs.hpp"

namespace cutfs {

// An open file: the backing fd and the flags the file was opened with (O_DSYNC lives here
// for an open(O_DSYNC); the write request carries it too, see do_write).
struct Handle {
  int fd;
  int flags;
};

struct DirHandle {
  DIR* dp = nullptr;
  off_t offset = 0;
  dirent* entry = nullptr;
};

inline Fs& fs_of(fuse_req_t req) { return *static_cast<Fs*>(fuse_req_userdata(req)); }
inline Handle& handle(fuse_file_info* fi) { return *reinterpret_cast<Handle*>(fi->fh); }
inline DirHandle& dir_handle(fuse_file_info* fi) { return *reinterpret_cast<DirHandle*>(fi->fh); }
inline unsigned long long ull(std::uint64_t v) { return static_cast<unsigned long long>(v); }

// Counts the handler as in flight (the cut waits for these) and answers EIO once the power
// is off. Usage: `Op op(req); if (op.dead()) return;`.
class Op {
 public:
  explicit Op(fuse_req_t req) : fs_(fs_of(req)), req_(req) { fs_.inflight++; }
  ~Op() { fs_.inflight--; }
  Op(const Op&) = delete;
  Op& operator=(const Op&) = delete;
  Fs& fs() { return fs_; }
  bool dead() {
    if (!fs_.off) return false;
    fuse_reply_err(req_, EIO);
    return true;
  }
  // Sleep 0..max_delay_us before replying, so that replies complete out of order across the
  // worker threads and a cut can land between a request and its reply.
  void delay() {
    if (fs_.max_delay_us == 0) return;
    thread_local std::mt19937_64 rng{fs_.seed ^ std::hash<std::thread::id>{}(std::this_thread::get_id())};
    auto us = std::uniform_int_distribution<unsigned>(0, fs_.max_delay_us)(rng);
    std::this_thread::sleep_for(std::chrono::microseconds(us));
  }

 private:
  Fs& fs_;
  fuse_req_t req_;
};

// After the delay: the new entry, or the error.
inline void reply_entry(Op& op, fuse_req_t req, int err, const fuse_entry_param& e) {
  op.delay();
  if (err)
    fuse_reply_err(req, err);
  else
    fuse_reply_entry(req, &e);
}

inline int fd_of(Fs& fs, fuse_ino_t ino) {
  std::lock_guard lock(fs.mu);
  auto it = fs.nodes.find(ino);
  return it == fs.nodes.end() ? -1 : it->second.fd;
}

inline std::string proc_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// Open flags for the backing fd: creation and truncation are done by their own ops; O_DIRECT
// would need aligned buffers (libfuse's are not); O_[D]SYNC would only slow the backing,
// which never matters (images come from the model); O_APPEND would make pwrite ignore the
// offset the kernel chose.
inline int backing_flags(int flags) {
  return (flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_DIRECT | O_SYNC | O_DSYNC | O_APPEND)) | O_CLOEXEC;
}

// The node table (fs.cpp).
// Finds or makes the node for parent/name, counts a lookup, fills e. new_id != 0: a file we
// just created, which takes the backing st_ino over from any deleted file that had it.
int do_lookup(Fs& fs, fuse_ino_t parent, const char* name, fuse_entry_param* e, Id new_id = 0);
void forget_one(Fs& fs, fuse_ino_t ino, std::uint64_t n);

// Namespace ops (fs_names.cpp).
// After a backing create of parent/name: names the new inode in the model and looks it up.
// Returns an errno (EIO once the power is off: the model then ignores the op).
int created(Fs& fs, fuse_ino_t parent, const char* name, Kind kind, fuse_entry_param* e,
            const std::string& target = {});
void do_mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t);
void do_mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode);
void do_symlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name);
void do_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname);
void do_unlink(fuse_req_t req, fuse_ino_t parent, const char* name);
void do_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name);
void do_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent, const char* newname,
               unsigned int flags);

// File and directory handle ops (fs_data.cpp).
void do_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
void do_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi);
void do_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi);
void do_write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off, fuse_file_info* fi);
void do_flush(fuse_req_t req, fuse_ino_t, fuse_file_info*);
void do_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi);
void do_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info*);
void do_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info*);
void do_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len, fuse_file_info* fi);
void do_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi);
void do_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi);
void do_releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi);

}  // namespace cutfs
