// Files in the shm directory are made by other users' processes: nothing there is trusted until
// checked. Every program opens such a file here: O_NOFOLLOW (no symlink), O_NONBLOCK (a FIFO or
// device never blocks the open), then fstat before anything is built on it (docs/security.md;
// FORMAT.md 9.1 lists each file's owner and mode).
#pragma once
#include <string>

#include <sys/stat.h>
#include <sys/types.h>

namespace aerolog::detail {

// An fd on a file another process may have prepared, with its fstat. `fd` is -1 when the open
// failed (`err` holds errno: ENOENT for a file that is not there) or the file is not a regular
// file with exactly one link (`problem` says which; a hard link could point at another user's
// ring). The caller owns `fd`.
struct Untrusted {
  int fd = -1;
  int err = 0;
  struct stat st {};
  std::string problem;
};
Untrusted open_untrusted(const std::string& path, int flags);

// Why a file's owner or mode is not as expected ("" if it is): owned by `owner`, and none of
// the `forbidden` mode bits set (e.g. 0022: nobody but its owner may write it).
std::string check_owner_mode(const struct stat& st, uid_t owner, unsigned forbidden);

// True if this process's user owns the file, or one of its groups does: the rings the sidecar
// serves (a user outside the sidecar's group cannot give a file to that group).
bool ours_or_our_groups(const struct stat& st);

// "0660" and the like, for messages.
std::string octal_mode(unsigned mode);
// The directory part of a path ("." for a bare name).
std::string parent_dir(const std::string& path);

// Checks the shm directory every program starts from: a real directory (not a symlink), not
// writable by every user (outsiders could create, squat or flood AeroLog's names there), and,
// when its group may write it, sticky (else one group member could delete or replace another's
// ring). Returns why not ("" if fine) and the directory's stat in `st`.
std::string check_shm_dir(const std::string& dir, struct stat& st);

}  // namespace aerolog::detail
