#include "fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "log.hpp"

namespace cutfs {

namespace {

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

Fs& fs_of(fuse_req_t req) { return *static_cast<Fs*>(fuse_req_userdata(req)); }
Handle& handle(fuse_file_info* fi) { return *reinterpret_cast<Handle*>(fi->fh); }
DirHandle& dir_handle(fuse_file_info* fi) { return *reinterpret_cast<DirHandle*>(fi->fh); }
unsigned long long ull(std::uint64_t v) { return static_cast<unsigned long long>(v); }

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
void reply_entry(Op& op, fuse_req_t req, int err, const fuse_entry_param& e) {
  op.delay();
  if (err)
    fuse_reply_err(req, err);
  else
    fuse_reply_entry(req, &e);
}

int fd_of(Fs& fs, fuse_ino_t ino) {
  std::lock_guard lock(fs.mu);
  auto it = fs.nodes.find(ino);
  return it == fs.nodes.end() ? -1 : it->second.fd;
}

std::string proc_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// Open flags for the backing fd: creation and truncation are done by their own ops; O_DIRECT
// would need aligned buffers (libfuse's are not); O_[D]SYNC would only slow the backing,
// which never matters (images come from the model); O_APPEND would make pwrite ignore the
// offset the kernel chose.
int backing_flags(int flags) {
  return (flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_DIRECT | O_SYNC | O_DSYNC | O_APPEND)) | O_CLOEXEC;
}

// Finds or makes the node for parent/name, counts a lookup, fills e. new_id != 0: a file we
// just created, which takes the backing st_ino over from any deleted file that had it.
int do_lookup(Fs& fs, fuse_ino_t parent, const char* name, fuse_entry_param* e, Id new_id = 0) {
  int pfd = fd_of(fs, parent);
  if (pfd < 0) return ESTALE;
  int fd = ::openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno;
  struct stat st {};
  if (::fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
    int err = errno;
    ::close(fd);
    return err;
  }
  Id id;
  {
    std::lock_guard lock(fs.mu);
    if (new_id) {
      id = new_id;
      fs.by_backing[st.st_ino] = id;
    } else if (auto it = fs.by_backing.find(st.st_ino); it != fs.by_backing.end()) {
      id = it->second;
    } else {  // not modelled (e.g. a fifo present at mount): still reachable
      id = fs.model.new_id();
      fs.by_backing[st.st_ino] = id;
    }
    Fs::Node& node = fs.nodes[id];
    if (node.fd < 0) std::swap(node.fd, fd);
    node.nlookup++;
  }
  if (fd >= 0) ::close(fd);
  *e = fuse_entry_param{};
  e->ino = id;
  e->attr = st;
  e->attr.st_ino = id;
  e->attr_timeout = 0;  // no caching: after a cut, even a stat must reach us and fail
  e->entry_timeout = 0;
  return 0;
}

void forget_one(Fs& fs, fuse_ino_t ino, std::uint64_t n) {
  std::lock_guard lock(fs.mu);
  auto it = fs.nodes.find(ino);
  if (it == fs.nodes.end() || ino == kRootId) return;
  it->second.nlookup -= std::min(n, it->second.nlookup);
  if (it->second.nlookup == 0) {
    ::close(it->second.fd);
    fs.nodes.erase(it);
  }
}

void reply_attr(fuse_req_t req, Fs& fs, fuse_ino_t ino) {
  int fd = fd_of(fs, ino);
  struct stat st {};
  if (fd < 0) return (void)fuse_reply_err(req, ESTALE);
  if (::fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) return (void)fuse_reply_err(req, errno);
  st.st_ino = ino;
  fuse_reply_attr(req, &st, 0);
}

void do_init(void*, fuse_conn_info* conn) {
  // Writes must reach us as they happen, and an O_TRUNC open must arrive as a SETATTR size
  // (a truncate we model) rather than hidden in OPEN.
  conn->want &= ~(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_ATOMIC_O_TRUNC);
  conn->max_write = 1u << 20;  // libfuse clamps to its buffer and asks the kernel for pages
  logf("init: proto %u.%u max_write=%u max_read=%u capable=%#x want=%#x", conn->proto_major, conn->proto_minor,
       conn->max_write, conn->max_read, conn->capable, conn->want);
}

void do_lookup_op(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Op op(req);
  if (op.dead()) return;
  fuse_entry_param e;
  int err = do_lookup(op.fs(), parent, name, &e);
  logf("lookup %s in %llu: %s", name, ull(parent), err ? std::strerror(err) : "ok");
  reply_entry(op, req, err, e);
}

void do_forget(fuse_req_t req, fuse_ino_t ino, std::uint64_t nlookup) {
  forget_one(fs_of(req), ino, nlookup);
  fuse_reply_none(req);
}

void do_forget_multi(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; ++i) forget_one(fs_of(req), forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void do_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  Op op(req);
  if (op.dead()) return;
  logf("getattr ino=%llu", ull(ino));
  op.delay();
  reply_attr(req, op.fs(), ino);
}

void do_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi) {
  Op op(req);
  if (op.dead()) return;
  Fs& fs = op.fs();
  int fd = fd_of(fs, ino);
  if (fd < 0) return (void)fuse_reply_err(req, ESTALE);
  std::string path = proc_path(fd);
  auto fail = [&] { fuse_reply_err(req, errno); };
  if (to_set & FUSE_SET_ATTR_MODE) {
    if ((fi ? ::fchmod(handle(fi).fd, attr->st_mode) : ::chmod(path.c_str(), attr->st_mode))) return fail();
    if (!fs.model.set_mode(ino, attr->st_mode)) return (void)fuse_reply_err(req, EIO);
  }
  if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
    uid_t uid = (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : static_cast<uid_t>(-1);
    gid_t gid = (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : static_cast<gid_t>(-1);
    if (::fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) return fail();
  }
  if (to_set & FUSE_SET_ATTR_SIZE) {
    if ((fi ? ::ftruncate(handle(fi).fd, attr->st_size) : ::truncate(path.c_str(), attr->st_size))) return fail();
    if (!fs.model.queue_truncate(ino, attr->st_size)) return (void)fuse_reply_err(req, EIO);
  }
  if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
    timespec tv[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
    if (to_set & FUSE_SET_ATTR_ATIME_NOW)
      tv[0].tv_nsec = UTIME_NOW;
    else if (to_set & FUSE_SET_ATTR_ATIME)
      tv[0] = attr->st_atim;
    if (to_set & FUSE_SET_ATTR_MTIME_NOW)
      tv[1].tv_nsec = UTIME_NOW;
    else if (to_set & FUSE_SET_ATTR_MTIME)
      tv[1] = attr->st_mtim;
    if ((fi ? ::futimens(handle(fi).fd, tv) : ::utimensat(AT_FDCWD, path.c_str(), tv, 0))) return fail();
  }
  op.delay();
  reply_attr(req, fs, ino);
}

void do_readlink(fuse_req_t req, fuse_ino_t ino) {
  Op op(req);
  if (op.dead()) return;
  char buf[PATH_MAX + 1];
  ssize_t n = ::readlinkat(fd_of(op.fs(), ino), "", buf, PATH_MAX);
  if (n < 0) return (void)fuse_reply_err(req, errno);
  buf[n] = '\0';
  op.delay();
  fuse_reply_readlink(req, buf);
}

// After a backing create of parent/name: names the new inode in the model and looks it up.
// Returns an errno (EIO once the power is off: the model then ignores the op).
int created(Fs& fs, fuse_ino_t parent, const char* name, Kind kind, fuse_entry_param* e,
            const std::string& target = {}) {
  struct stat st {};
  if (::fstatat(fd_of(fs, parent), name, &st, AT_SYMLINK_NOFOLLOW) != 0) return errno;
  Id id = fs.model.new_id();
  if (!fs.model.create(id, kind, st.st_mode, NsOp{NsOp::Type::add, parent, 0, name, {}, id, kind == Kind::dir}, target))
    return EIO;
  logf("create %s in %llu -> %llu", name, ull(parent), ull(id));
  return do_lookup(fs, parent, name, e, id);
}

void do_mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t) {
  Op op(req);
  if (op.dead()) return;
  if (!S_ISREG(mode)) return (void)fuse_reply_err(req, EPERM);  // only files are modelled
  if (::mknodat(fd_of(op.fs(), parent), name, mode, 0) != 0) return (void)fuse_reply_err(req, errno);
  fuse_entry_param e;
  int err = created(op.fs(), parent, name, Kind::file, &e);
  reply_entry(op, req, err, e);
}

void do_mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  Op op(req);
  if (op.dead()) return;
  if (::mkdirat(fd_of(op.fs(), parent), name, mode) != 0) return (void)fuse_reply_err(req, errno);
  fuse_entry_param e;
  int err = created(op.fs(), parent, name, Kind::dir, &e);
  reply_entry(op, req, err, e);
}

void do_symlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  Op op(req);
  if (op.dead()) return;
  if (::symlinkat(link, fd_of(op.fs(), parent), name) != 0) return (void)fuse_reply_err(req, errno);
  fuse_entry_param e;
  int err = created(op.fs(), parent, name, Kind::symlink, &e, link);
  reply_entry(op, req, err, e);
}

void do_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
  Op op(req);
  if (op.dead()) return;
  Fs& fs = op.fs();
  if (::linkat(fd_of(fs, ino), "", fd_of(fs, newparent), newname, AT_EMPTY_PATH) != 0)
    return (void)fuse_reply_err(req, errno);
  if (!fs.model.queue_ns(NsOp{NsOp::Type::add, newparent, 0, newname, {}, ino, false}))
    return (void)fuse_reply_err(req, EIO);
  fuse_entry_param e;
  int err = do_lookup(fs, newparent, newname, &e);
  reply_entry(op, req, err, e);
}

void remove_name(fuse_req_t req, fuse_ino_t parent, const char* name, int flags) {
  Op op(req);
  if (op.dead()) return;
  Fs& fs = op.fs();
  if (::unlinkat(fd_of(fs, parent), name, flags) != 0) return (void)fuse_reply_err(req, errno);
  if (!fs.model.queue_ns(NsOp{NsOp::Type::remove, parent, 0, name, {}, 0, false}))
    return (void)fuse_reply_err(req, EIO);
  logf("remove %s in %llu", name, ull(parent));
  op.delay();
  fuse_reply_err(req, 0);
}

void do_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) { remove_name(req, parent, name, 0); }

void do_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) { remove_name(req, parent, name, AT_REMOVEDIR); }

void do_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent, const char* newname,
               unsigned int flags) {
  Op op(req);
  if (op.dead()) return;
  if (flags) return (void)fuse_reply_err(req, EINVAL);  // NOREPLACE/EXCHANGE: not modelled
  Fs& fs = op.fs();
  if (::renameat(fd_of(fs, parent), name, fd_of(fs, newparent), newname) != 0) return (void)fuse_reply_err(req, errno);
  if (!fs.model.queue_ns(NsOp{NsOp::Type::rename, parent, newparent, name, newname, 0, false}))
    return (void)fuse_reply_err(req, EIO);
  logf("rename %llu/%s -> %llu/%s", ull(parent), name, ull(newparent), newname);
  op.delay();
  fuse_reply_err(req, 0);
}

// No fi->direct_io: with it the kernel refuses mmap (ENODEV), and O_DIRECT opens work without.
void do_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Op op(req);
  if (op.dead()) return;
  int fd = ::open(proc_path(fd_of(op.fs(), ino)).c_str(), backing_flags(fi->flags));
  if (fd < 0) return (void)fuse_reply_err(req, errno);
  fi->fh = reinterpret_cast<std::uint64_t>(new Handle{fd, fi->flags});
  op.delay();
  fuse_reply_open(req, fi);
}

void do_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
  Op op(req);
  if (op.dead()) return;
  Fs& fs = op.fs();
  int pfd = fd_of(fs, parent);
  // O_EXCL first, to know whether this creates a name (a namespace op) or opens one.
  int fd = ::openat(pfd, name, backing_flags(fi->flags) | O_CREAT | O_EXCL, mode);
  bool fresh = fd >= 0;
  if (!fresh && errno == EEXIST && !(fi->flags & O_EXCL)) fd = ::openat(pfd, name, backing_flags(fi->flags));
  if (fd < 0) return (void)fuse_reply_err(req, errno);
  fuse_entry_param e;
  int err = fresh ? created(fs, parent, name, Kind::file, &e) : do_lookup(fs, parent, name, &e);
  if (err) {
    ::close(fd);
    return (void)fuse_reply_err(req, err);
  }
  fi->fh = reinterpret_cast<std::uint64_t>(new Handle{fd, fi->flags});
  op.delay();
  fuse_reply_create(req, &e, fi);
}

void do_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  Op op(req);
  if (op.dead()) return;
  std::vector<char> buf(size);
  ssize_t n = ::pread(handle(fi).fd, buf.data(), size, off);
  if (n < 0) return (void)fuse_reply_err(req, errno);
  op.delay();
  fuse_reply_buf(req, buf.data(), static_cast<size_t>(n));
}

// The write goes to the backing file at once (reads see it) and into the model as not yet
// durable. O_DSYNC/O_SYNC make it durable when acknowledged: from the open flags, or, for an
// RWF_DSYNC io_uring/pwritev2 write, from the write request's flags (libfuse 3.14 puts the
// kernel's fuse_write_in.flags, which carry O_DSYNC for IOCB_DSYNC, into fi->flags).
void do_write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
  Op op(req);
  if (op.dead()) return;
  Fs& fs = op.fs();
  Handle& h = handle(fi);
  for (size_t done = 0; done < size;) {
    ssize_t n = ::pwrite(h.fd, buf + done, size - done, off + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return (void)fuse_reply_err(req, n < 0 ? errno : EIO);
    done += static_cast<size_t>(n);
  }
  std::uint64_t seq = 0;
  if (!fs.model.queue_write(ino, off, buf, size, &seq)) return (void)fuse_reply_err(req, EIO);
  bool by_request = fi->flags & O_DSYNC;  // O_SYNC includes the O_DSYNC bit
  bool by_open = h.flags & O_DSYNC;
  if (log_enabled())
    logf("write ino=%llu off=%lld len=%zu seq=%llu dsync=%s", ull(ino), static_cast<long long>(off), size, ull(seq),
         by_request && by_open ? "open+request-flags"
         : by_request          ? "request-flags"
         : by_open             ? "open-flags"
                               : "no");
  op.delay();
  if ((by_request || by_open) && !fs.model.write_acked_dsync(ino, seq)) return (void)fuse_reply_err(req, EIO);
  fuse_reply_write(req, size);
}

void do_flush(fuse_req_t req, fuse_ino_t, fuse_file_info*) {
  Op op(req);
  if (op.dead()) return;
  fuse_reply_err(req, 0);
}

// Release and forget also work after the cut: they only free our resources.
void do_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  ::close(handle(fi).fd);
  delete &handle(fi);
  fuse_reply_err(req, 0);
}

void do_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info*) {
  Op op(req);
  if (op.dead()) return;
  logf("fsync ino=%llu datasync=%d", ull(ino), datasync);
  op.delay();
  fuse_reply_err(req, op.fs().model.fsync(ino) ? 0 : EIO);
}

void do_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info*) {
  Op op(req);
  if (op.dead()) return;
  logf("fsyncdir ino=%llu datasync=%d", ull(ino), datasync);
  op.delay();
  fuse_reply_err(req, op.fs().model.fsyncdir(ino) ? 0 : EIO);
}

void do_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len, fuse_file_info* fi) {
  Op op(req);
  if (op.dead()) return;
  int base = mode & ~FALLOC_FL_KEEP_SIZE;
  bool known =
      base == 0 || base == FALLOC_FL_ZERO_RANGE || (base == FALLOC_FL_PUNCH_HOLE && (mode & FALLOC_FL_KEEP_SIZE));
  if (!known) return (void)fuse_reply_err(req, EOPNOTSUPP);
  if (::fallocate(handle(fi).fd, mode, off, len) != 0) return (void)fuse_reply_err(req, errno);
  if (!op.fs().model.queue_fallocate(ino, mode, off, len)) return (void)fuse_reply_err(req, EIO);
  op.delay();
  fuse_reply_err(req, 0);
}

void do_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Op op(req);
  if (op.dead()) return;
  int fd = ::openat(fd_of(op.fs(), ino), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return (void)fuse_reply_err(req, errno);
  DIR* dp = ::fdopendir(fd);
  if (!dp) {
    int err = errno;
    ::close(fd);
    return (void)fuse_reply_err(req, err);
  }
  fi->fh = reinterpret_cast<std::uint64_t>(new DirHandle{dp, 0, nullptr});
  op.delay();
  fuse_reply_open(req, fi);
}

void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi, bool plus) {
  Op op(req);
  if (op.dead()) return;
  Fs& fs = op.fs();
  DirHandle& d = dir_handle(fi);
  if (off != d.offset) {
    ::seekdir(d.dp, off);
    d.entry = nullptr;
    d.offset = off;
  }
  std::vector<char> buf(size);
  size_t pos = 0;
  for (;;) {
    if (!d.entry) {
      errno = 0;
      d.entry = ::readdir(d.dp);
      if (!d.entry) {
        if (errno && pos == 0) return (void)fuse_reply_err(req, errno);
        break;
      }
    }
    const char* name = d.entry->d_name;
    off_t next = d.entry->d_off;
    bool dots = !std::strcmp(name, ".") || !std::strcmp(name, "..");
    size_t n;
    if (plus) {
      fuse_entry_param e{};
      if (dots) {
        e.attr.st_ino = d.entry->d_ino;
        e.attr.st_mode = d.entry->d_type << 12;
      } else if (do_lookup(fs, ino, name, &e) != 0) {
        d.entry = nullptr;  // gone meanwhile: skip it
        d.offset = next;
        continue;
      }
      n = fuse_add_direntry_plus(req, buf.data() + pos, size - pos, name, &e, next);
      if (n > size - pos) {
        if (!dots) forget_one(fs, e.ino, 1);
        break;
      }
    } else {
      struct stat st {};
      st.st_ino = d.entry->d_ino;
      st.st_mode = d.entry->d_type << 12;
      {
        std::lock_guard lock(fs.mu);
        if (auto it = fs.by_backing.find(d.entry->d_ino); it != fs.by_backing.end()) st.st_ino = it->second;
      }
      n = fuse_add_direntry(req, buf.data() + pos, size - pos, name, &st, next);
      if (n > size - pos) break;
    }
    pos += n;
    d.entry = nullptr;
    d.offset = next;
  }
  op.delay();
  fuse_reply_buf(req, buf.data(), pos);
}

void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  readdir_common(req, ino, size, off, fi, false);
}

void do_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  readdir_common(req, ino, size, off, fi, true);
}

void do_releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  ::closedir(dir_handle(fi).dp);
  delete &dir_handle(fi);
  fuse_reply_err(req, 0);
}

void do_statfs(fuse_req_t req, fuse_ino_t) {
  Op op(req);
  if (op.dead()) return;
  struct statvfs sv {};
  if (::fstatvfs(op.fs().root_fd, &sv) != 0) return (void)fuse_reply_err(req, errno);
  fuse_reply_statfs(req, &sv);
}

void do_access(fuse_req_t req, fuse_ino_t ino, int mask) {
  Op op(req);
  if (op.dead()) return;
  int ok = ::faccessat(AT_FDCWD, proc_path(fd_of(op.fs(), ino)).c_str(), mask, 0);
  fuse_reply_err(req, ok == 0 ? 0 : errno);
}

}  // namespace

Fs::Fs(const std::string& backing, Model& m, unsigned delay_us, std::uint64_t s)
    : model(m), max_delay_us(delay_us), seed(s) {
  root_fd = ::open(backing.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) throw std::runtime_error(backing + ": " + std::strerror(errno));
  by_backing = model.load_backing(backing);
  nodes[kRootId] = Node{root_fd, 1};
}

Fs::~Fs() {
  for (auto& [id, node] : nodes) ::close(node.fd);
}

void Fs::power_off() {
  off = true;
  model.power_off();
  // Handlers that passed their check before `off` still run; the model ignores what they
  // report now, but let them finish so the log shows a quiet filesystem at the cut.
  for (int i = 0; i < 2000 && inflight.load() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  logf("power off, %d handlers still in flight", inflight.load());
}

const fuse_lowlevel_ops& Fs::ops() {
  static const fuse_lowlevel_ops table = [] {
    fuse_lowlevel_ops o{};
    o.init = do_init;
    o.lookup = do_lookup_op;
    o.forget = do_forget;
    o.forget_multi = do_forget_multi;
    o.getattr = do_getattr;
    o.setattr = do_setattr;
    o.readlink = do_readlink;
    o.mknod = do_mknod;
    o.mkdir = do_mkdir;
    o.symlink = do_symlink;
    o.link = do_link;
    o.unlink = do_unlink;
    o.rmdir = do_rmdir;
    o.rename = do_rename;
    o.open = do_open;
    o.create = do_create;
    o.read = do_read;
    o.write = do_write;
    o.flush = do_flush;
    o.release = do_release;
    o.fsync = do_fsync;
    o.fsyncdir = do_fsyncdir;
    o.fallocate = do_fallocate;
    o.opendir = do_opendir;
    o.readdir = do_readdir;
    o.readdirplus = do_readdirplus;
    o.releasedir = do_releasedir;
    o.statfs = do_statfs;
    o.access = do_access;
    return o;
  }();
  return table;
}

}  // namespace cutfs
