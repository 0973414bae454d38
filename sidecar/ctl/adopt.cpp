// aerologctl adopt: the way out for a ring the sidecar refused because its seqs do not continue
// the WAL (a reboot wiped /dev/shm and the strategy made a new ring, from seq 1, before the
// sidecar recreated it). Nothing in such a ring was ever acknowledged, so its records may be
// renumbered to follow the WAL: seqs wal_last + 1, + 2, ... in ring order, nothing dropped.
//
// The producer must be stopped (we take its lock). The renumbered ring is built as a copy under
// a temporary name and renamed over the old one, so the sidecar never sees half of it: it sees
// a replaced ring, attaches the copy and drains it. The next producer continues after it.
#include "ctl.hpp"

#include "ring_acl.hpp"
#include "ring_file.hpp"
#include "ring_scan.hpp"

#include <aerolog/error.hpp>
#include <aerolog/proto/ring.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace aerolog::ctl {

using namespace proto;

namespace {

struct Map {
  void* p = MAP_FAILED;
  std::size_t n = 0;
  ~Map() {
    if (p != MAP_FAILED) ::munmap(p, n);
  }
};

int fail(const std::string& why) {
  std::fprintf(stderr, "aerologctl adopt: %s\n", why.c_str());
  return 1;
}

}  // namespace

int cmd_adopt(const AdoptOptions& o) {
  const std::string path = detail::ring_path(o.shm_dir, o.stream);
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return fail("no ring for stream '" + o.stream + "' in " + o.shm_dir);
  try {
    // Held until the copy has replaced the ring: no producer can start on the old one meanwhile.
    const detail::RingFile lock = detail::RingFile::lock_existing(path);
    st = lock.stat();
    const detail::RingProbe probe = detail::probe_ring(lock.fd(), path);
    if (probe.kind != detail::RingProbe::live) return fail(path + " is empty or retired: nothing to adopt");
    Map old;
    old.n = kRingHeaderSize + probe.capacity;
    old.p = ::mmap(nullptr, old.n, PROT_READ, MAP_SHARED, lock.fd(), 0);
    if (old.p == MAP_FAILED) return fail("cannot map " + path + ": " + std::strerror(errno));
    const auto* h = static_cast<const RingHeader*>(old.p);
    const std::uint64_t wal_last = h->counters.wal_last_seq.load(), durable = h->durable.durable_seq.load();
    const std::uint64_t r = h->consumer.read_pos.load(), w = h->producer.write_pos.load();
    if (static_cast<RingState>(h->sidecar.state.load()) != RingState::refused)
      return fail("stream " + o.stream + " is not refused by the sidecar: nothing to adopt");
    if (durable > wal_last)
      return fail("the ring says seq " + std::to_string(durable) + " was made durable but the WAL ends at seq " +
                  std::to_string(wal_last) +
                  ": acknowledged records are missing from the WAL, which adopting "
                  "cannot fix (docs/operating.md, 'Refused streams')");
    const detail::RingView view{static_cast<const std::byte*>(old.p) + kRingHeaderSize, probe.capacity,
                                h->id.max_frame};
    const detail::RingScan scan = detail::scan_ring(view, r, w);
    if (!scan.error.empty())
      return fail("ring contents invalid at position " + std::to_string(scan.bad_pos) + ": " + scan.error);

    // The copy, under a new name nobody takes for a ring (no ring prefix; mkostemp: O_EXCL, 0600,
    // so nobody else holds an fd on it), then given the old owner, mode and ACL.
    std::string tmp = o.shm_dir + "/.aerolog-adopt-XXXXXX";
    const int nfd = ::mkostemp(tmp.data(), O_CLOEXEC);
    if (nfd < 0) return fail("cannot create " + tmp + ": " + std::strerror(errno));
    Map cp;
    cp.n = old.n;
    // The ACL first (the sidecar's entry and no one else's), so that no moment of the copy's
    // life lets the group in when the ring did not.
    int err = ::ftruncate(nfd, static_cast<off_t>(cp.n)) != 0 ? errno : detail::copy_acl(lock.fd(), nfd);
    if (!err && (::fchown(nfd, st.st_uid, st.st_gid) != 0 || ::fchmod(nfd, st.st_mode & 07777) != 0)) err = errno;
    if (!err) cp.p = ::mmap(nullptr, cp.n, PROT_READ | PROT_WRITE, MAP_SHARED, nfd, 0);
    if (!err && cp.p == MAP_FAILED) err = errno;
    ::close(nfd);
    if (cp.p == MAP_FAILED) {
      ::unlink(tmp.c_str());
      return fail("cannot prepare " + tmp + ": " + std::strerror(err));
    }
    std::memcpy(cp.p, old.p, cp.n);
    auto* nh = static_cast<RingHeader*>(cp.p);
    auto* data = static_cast<std::byte*>(cp.p) + kRingHeaderSize;
    std::uint64_t seq = wal_last;
    detail::FrameAt f;
    for (std::uint64_t pos = r; pos < w; pos += f.stride) {
      detail::check_frame(view, pos, w, f);  // valid: scanned above
      if (f.pad) continue;
      ++seq;
      std::memcpy(data + (pos & (probe.capacity - 1)) + offsetof(FrameHeader, seq), &seq, sizeof seq);
    }
    nh->producer.last_seq.store(seq);
    nh->producer.pid.store(0);
    nh->durable.durable_seq.store(wal_last);  // true: those seqs are in the WAL, and this ring now follows them
    nh->durable.durable_pos.store(r);
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      const int e = errno;
      ::unlink(tmp.c_str());
      return fail("cannot rename " + tmp + " to " + path + ": " + std::strerror(e));
    }
    if (scan.records)
      std::printf(
          "%s: renumbered %llu unacknowledged records (seqs %llu..%llu) as %llu..%llu, after the WAL's last "
          "seq; the sidecar drains them within a second\n",
          o.stream.c_str(), static_cast<unsigned long long>(scan.records),
          static_cast<unsigned long long>(scan.first_seq), static_cast<unsigned long long>(scan.last_seq),
          static_cast<unsigned long long>(wal_last + 1), static_cast<unsigned long long>(seq));
    else
      std::printf("%s: the ring held no records; the next one published is seq %llu\n", o.stream.c_str(),
                  static_cast<unsigned long long>(wal_last + 1));
    return 0;
  } catch (const Error& e) {
    return fail(std::string(e.what()) + (e.code() == Errc::busy ? ": stop the producer first" : ""));
  }
}

}  // namespace aerolog::ctl
