#include "ring_acl.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>

#include <sys/xattr.h>

namespace aerolog::detail {

namespace {

constexpr char kAclXattr[] = "system.posix_acl_access";
constexpr std::uint32_t kAclVersion = 2;
enum : std::uint16_t { user_obj = 0x01, user = 0x02, group_obj = 0x04, group = 0x08, mask = 0x10, other = 0x20 };
constexpr std::uint16_t kRead = 4, kWrite = 2;
constexpr std::uint32_t kUndefinedId = 0xffffffffu;

struct Entry {  // posix_acl_xattr_entry, little-endian on every Linux we run on
  std::uint16_t tag, perm;
  std::uint32_t id;
};
static_assert(sizeof(Entry) == 8);

}  // namespace

int share_with_user(int fd, uid_t uid) {
  // Sorted by tag, as the kernel requires.
  const Entry entries[] = {{user_obj, kRead | kWrite, kUndefinedId},
                           {user, kRead | kWrite, static_cast<std::uint32_t>(uid)},
                           {group_obj, 0, kUndefinedId},
                           {mask, kRead | kWrite, kUndefinedId},
                           {other, 0, kUndefinedId}};
  unsigned char buf[4 + sizeof entries];
  std::memcpy(buf, &kAclVersion, 4);
  std::memcpy(buf + 4, entries, sizeof entries);
  return ::fsetxattr(fd, kAclXattr, buf, sizeof buf, 0) == 0 ? 0 : errno;
}

int copy_acl(int from, int to) {
  unsigned char buf[4 + 64 * sizeof(Entry)];
  const ssize_t n = ::fgetxattr(from, kAclXattr, buf, sizeof buf);
  if (n < 0) return errno == ENODATA || errno == EOPNOTSUPP ? 0 : errno;
  return ::fsetxattr(to, kAclXattr, buf, static_cast<std::size_t>(n), 0) == 0 ? 0 : errno;
}

bool only_writers(int fd, const struct stat& st, uid_t uid) {
  unsigned char buf[4 + 64 * sizeof(Entry)];
  const ssize_t n = ::fgetxattr(fd, kAclXattr, buf, sizeof buf);
  if (n < 0) return (errno == ENODATA || errno == EOPNOTSUPP) && !(st.st_mode & 0022);
  std::uint32_t version;
  if (n < 4 || (n - 4) % sizeof(Entry) != 0) return false;
  std::memcpy(&version, buf, 4);
  if (version != kAclVersion) return false;
  for (ssize_t at = 4; at < n; at += sizeof(Entry)) {
    Entry e;
    std::memcpy(&e, buf + at, sizeof e);
    const bool writes = e.perm & kWrite;
    if (e.tag == user && e.id != uid && writes) return false;
    if ((e.tag == group_obj || e.tag == group || e.tag == other) && writes) return false;
  }
  return true;
}

}  // namespace aerolog::detail
