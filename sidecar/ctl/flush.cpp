// aerologctl flush: asks the sidecar to flush every ring (or one stream's, or a logger's) and waits
// until everything published before the call is durable.
#include "ctl.hpp"
#include "shm_view.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <thread>

#include <unistd.h>

namespace aerolog::ctl {

using namespace proto;

int cmd_flush(const FlushOptions& o) {
  SidecarInfo sc = read_sidecar(o.shm_dir);
  if (sc.health != SidecarHealth::up) {
    if (sc.health == SidecarHealth::hung)
      std::fprintf(stderr, "aerologctl: the sidecar (pid %u) is not responding: heartbeat %.1f s old\n",
                   sc.cb->pid.load(), sc.heartbeat_age_s);
    else
      std::fprintf(stderr, "aerologctl: no sidecar is running on %s: nothing can be flushed\n", o.shm_dir.c_str());
    return 1;
  }
  std::vector<RingInfo> rings;
  try {
    rings = read_rings(o.shm_dir, true);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "aerologctl: %s\n", e.what());
    return 1;
  }
  struct Want {
    RingInfo* ring;
    std::uint64_t target;
  };
  std::vector<Want> wants;
  // A logger's rings are <logger>.<thread>, with the logger's magic in their header.
  auto of_logger = [&](const RingInfo& r) {
    return r.h && r.stream.size() > o.stream.size() + 1 &&
           r.stream.compare(0, o.stream.size() + 1, o.stream + ".") == 0 &&
           r.h->log.log_magic.load(std::memory_order_acquire) == kLogRingMagic;
  };
  for (RingInfo& r : rings) {
    if (!o.stream.empty() && r.stream != o.stream && !of_logger(r)) continue;
    if (!r.h && o.stream.empty() && ::access(r.path.c_str(), W_OK) != 0 && errno == EACCES) {
      std::fprintf(stderr, "aerologctl: %s: another user's ring, not flushed (flush it as its user or as root)\n",
                   r.path.c_str());
      continue;
    }
    if (!r.h) {
      std::fprintf(stderr, "aerologctl: %s: %s\n", r.path.c_str(), r.problem.c_str());
      return 1;
    }
    auto* h = reinterpret_cast<RingHeader*>(r.map->mutable_data());
    if (const auto st = static_cast<RingState>(h->sidecar.state.load(std::memory_order_acquire));
        st == RingState::refused || st == RingState::quarantined) {  // never drained: waiting cannot help
      std::fprintf(stderr, "aerologctl: stream %s is %s, nothing published since is durable: %s\n", r.stream.c_str(),
                   shown_state(static_cast<std::uint32_t>(st)).c_str(),
                   shm_text(h->sidecar.error, sizeof h->sidecar.error).c_str());
      return 1;
    }
    wants.push_back({&r, h->producer.last_seq.load(std::memory_order_acquire)});
    h->flush.flush_request.fetch_add(1, std::memory_order_acq_rel);
  }
  if (wants.empty()) {
    if (o.stream.empty())
      std::printf("no rings in %s: nothing to flush\n", o.shm_dir.c_str());
    else
      std::fprintf(stderr, "aerologctl: no ring of a stream or a logger '%s' in %s\n", o.stream.c_str(),
                   o.shm_dir.c_str());
    return o.stream.empty() ? 0 : 1;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(o.timeout_s);
  for (;;) {
    bool all = true;
    for (const Want& w : wants) all = all && w.ring->h->durable.durable_seq.load(std::memory_order_acquire) >= w.target;
    if (all) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      for (const Want& w : wants) {
        const std::uint64_t d = w.ring->h->durable.durable_seq.load();
        if (d < w.target)
          std::fprintf(stderr,
                       "aerologctl: timed out after %.1f s: stream %s is durable through seq %llu of %llu%s%s\n",
                       o.timeout_s, w.ring->stream.c_str(), static_cast<unsigned long long>(d),
                       static_cast<unsigned long long>(w.target), w.ring->h->sidecar.error[0] ? ": " : "",
                       shm_text(w.ring->h->sidecar.error, sizeof w.ring->h->sidecar.error).c_str());
      }
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (const Want& w : wants)
    std::printf("%s: durable seq %llu\n", w.ring->stream.c_str(),
                static_cast<unsigned long long>(w.ring->h->durable.durable_seq.load()));
  return 0;
}

}  // namespace aerolog::ctl
