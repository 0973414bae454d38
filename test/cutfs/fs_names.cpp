// Namespace ops of aerolog-cutfs: create/mknod/mkdir/symlink/link/unlink/rmdir/rename, each
// done on the backing directory and queued in the model as a pending namespace op.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "fs_ops.hpp"
#include "log.hpp"

namespace cutfs {

int created(Fs& fs, fuse_ino_t parent, const char* name, Kind kind, fuse_entry_param* e, const std::string& target) {
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

namespace {

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

}  // namespace

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

}  // namespace cutfs
