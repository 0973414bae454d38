#include "ring_check.hpp"

#include "safe_file.hpp"

#include <aerolog/error.hpp>
#include <aerolog/proto/ring.hpp>

#include <cerrno>
#include <fcntl.h>

namespace aerolog::sidecar {

RingCandidate check_ring_file(const std::string& path, const Options& opt) {
  RingCandidate c;
  detail::Untrusted u = detail::open_untrusted(path, O_RDWR);
  c.fd = common::Fd(u.fd);
  c.st = u.st;
  if (u.fd < 0) {
    c.absent = u.err == ENOENT;
    c.problem = u.err == EACCES ? path + ": no access (another user's file, not shared with the sidecar)" : u.problem;
    return c;
  }
  if (!detail::ours_or_our_groups(c.st)) {
    c.problem = path + " is owned by uid " + std::to_string(c.st.st_uid) + " gid " + std::to_string(c.st.st_gid) +
                ", neither the sidecar's user nor one of its groups";
    return c;
  }
  if (c.st.st_mode & 0007) {
    c.problem = path + " has mode " + detail::octal_mode(c.st.st_mode) + ": every user could forge it";
    return c;
  }
  try {
    c.probe = detail::probe_ring(c.fd.get(), path);
  } catch (const Error& e) {
    c.problem = e.what();
    return c;
  }
  if (c.probe.kind != detail::RingProbe::live) return c;
  if (c.probe.capacity > opt.max_ring_capacity) {
    c.problem = path + ": ring capacity " + std::to_string(c.probe.capacity >> 20) +
                " MiB is above --max-ring-capacity (" + std::to_string(opt.max_ring_capacity >> 20) + " MiB)";
    return c;
  }
  // tmpfs counts st_blocks in 512-byte units of pages really allocated; the producer reserves
  // every page (posix_fallocate), so fewer means a sparse file whose mapping would allocate it.
  if (static_cast<std::uint64_t>(c.st.st_blocks) * 512 < static_cast<std::uint64_t>(c.st.st_size))
    c.problem = path + ": only " + std::to_string(c.st.st_blocks * 512 >> 10) + " KiB of its " +
                std::to_string(c.st.st_size >> 10) + " KiB are allocated (a sparse ring: producers reserve every page)";
  return c;
}

}  // namespace aerolog::sidecar
