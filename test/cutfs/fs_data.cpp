// File and directory handle ops of aerolog-cutfs: open/create, read/write, flush/release,
// fsync/fsyncdir (durability points of the model), fallocate, opendir/readdir/releasedir.
#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fs_ops.hpp"
#include "log.hpp"

namespace cutfs {

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

namespace {

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

}  // namespace

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

}  // namespace cutfs
