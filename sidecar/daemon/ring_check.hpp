// What a ring file must be before the sidecar builds anything for it (a Stream, a WAL
// directory, a spare, a mapping): checked from one fstat of one open, so that a file another
// user prepared can neither hang the drain loop (a FIFO), nor flood it (empty or sparse files),
// nor be taken for a stream it is not (docs/security.md).
#pragma once
#include "files.hpp"
#include "options.hpp"
#include "ring_file.hpp"

#include <string>

#include <sys/stat.h>

namespace aerolog::sidecar {

struct RingCandidate {
  common::Fd fd;  // open O_RDWR on the file that was checked
  struct stat st {};
  detail::RingProbe probe{detail::RingProbe::empty, 0};
  bool absent = false;  // no such file (gone again): nothing to say
  std::string problem;  // why it is not served ("" if it may be)
};

// Opens `path` (O_NOFOLLOW | O_NONBLOCK) and checks, before reading a byte of it: a regular file
// with one link, owned by the sidecar's user or one of its groups, no access for others, and
// for a live ring a capacity within opt.max_ring_capacity whose pages are all allocated (no
// sparse ring that mapping would fill).
RingCandidate check_ring_file(const std::string& path, const Options& opt);

}  // namespace aerolog::sidecar
