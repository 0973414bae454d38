#include "fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

#include "fs_ops.hpp"
#include "log.hpp"

namespace cutfs {

int do_lookup(Fs& fs, fuse_ino_t parent, const char* name, fuse_entry_param* e, Id new_id) {
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

namespace {

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
