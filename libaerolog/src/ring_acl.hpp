// Who may write a ring besides its owner. A ring is its producer's (mode 0600); the sidecar gets
// read and write access through a POSIX ACL entry for its user, and nobody else gets any: not the
// group, whose other members are other strategies (docs/security.md). The ACL is read
// and written as the kernel's extended attribute (system.posix_acl_access,
// linux/posix_acl_xattr.h), so no library is needed.
#pragma once
#include <sys/stat.h>
#include <sys/types.h>

namespace aerolog::detail {

// Gives `uid` read and write access to the open file, its owner keeps read and write, everyone
// else gets nothing (user::rw-, user:<uid>:rw-, group::---, mask::rw-, other::---; the mode then
// reads 0660, its group bits being the mask). 0, or the errno (EOPNOTSUPP: no ACLs there).
int share_with_user(int fd, uid_t uid);

// Copies the ACL of `from` (if it has one) onto `to`: 0, or the errno.
int copy_acl(int from, int to);

// True if nobody but the file's owner and `uid` may write it: its ACL entries, or without an ACL
// its mode (no group or other write bit).
bool only_writers(int fd, const struct stat& st, uid_t uid);

}  // namespace aerolog::detail
