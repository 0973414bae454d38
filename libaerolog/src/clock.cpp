#include <aerolog/clock.hpp>

#include "safe_file.hpp"

#include <ctime>
#include <map>
#include <mutex>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace aerolog {
namespace {

struct Pair {
  std::uint64_t tsc, ns;
};

Pair sample_pair() noexcept {
  Pair p;
  TscClock::sample(p.tsc, p.ns);
  return p;
}

std::int64_t mult_from(const Pair& a, const Pair& b) noexcept {
  const double ns = double(b.ns - a.ns), ticks = double(b.tsc - a.tsc);
  return ticks > 0 ? static_cast<std::int64_t>(ns / ticks * 4294967296.0) : (1ll << 32);
}

// <shm_dir>/aerolog-clock, mapped read-only once per process and never unmapped (producers
// keep pointers into it); nullptr if there is none or it is not ready, or if anyone but the
// sidecar (the shm directory's owner) made it or may write it: a forged page would shift
// every timestamp, and a file shorter than the page would fault.
const proto::ClockPage* clock_page(const std::string& shm_dir) noexcept {
  static std::mutex mu;
  static std::map<std::string, const proto::ClockPage*> pages;
  std::lock_guard g(mu);
  auto& page = pages[shm_dir];
  if (page) return page;
  struct stat dir;
  if (!detail::check_shm_dir(shm_dir, dir).empty()) return nullptr;
  const detail::Untrusted u = detail::open_untrusted(shm_dir + "/" + proto::kClockName, O_RDONLY);
  if (u.fd < 0) return nullptr;
  const int fd = u.fd;
  if (!detail::check_owner_mode(u.st, dir.st_uid, 0022).empty() ||
      static_cast<std::size_t>(u.st.st_size) < proto::kClockSize) {
    ::close(fd);
    return nullptr;
  }
  void* m = ::mmap(nullptr, proto::kClockSize, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) return nullptr;
  const auto* p = static_cast<const proto::ClockPage*>(m);
  // A file shorter than the page would fault on access: the writer sizes it before the magic.
  if (p->magic.load(std::memory_order_acquire) != proto::kClockMagic || p->version.load() != proto::kClockVersion) {
    ::munmap(m, proto::kClockSize);
    return nullptr;
  }
  return page = p;
}

}  // namespace

std::uint64_t TscClock::realtime_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return std::uint64_t(ts.tv_sec) * 1'000'000'000ull + std::uint64_t(ts.tv_nsec);
}

void TscClock::sample(std::uint64_t& tsc, std::uint64_t& ns) noexcept {
  std::uint64_t best_width = ~0ull;
  for (int i = 0; i < 16; ++i) {
    std::uint64_t a = __rdtsc();
    std::uint64_t t = realtime_ns();
    std::uint64_t b = __rdtsc();
    if (b - a < best_width) {
      best_width = b - a;
      tsc = a + (b - a) / 2;
      ns = t;
    }
  }
}

TscClock TscClock::calibrate(ClockSource source) {
  // One calibration per process: the first caller pays ~10 ms.
  static const TscClock base = [] {
    TscClock c;
    c.source_ = ClockSource::tsc;
    Pair first = sample_pair();
    timespec nap{0, 10'000'000};
    nanosleep(&nap, nullptr);
    Pair second = sample_pair();
    c.first_tsc_ = first.tsc;
    c.first_ns_ = first.ns;
    c.anchor_tsc_ = second.tsc;
    c.anchor_ns_ = second.ns;
    c.mult_ = mult_from(first, second);
    return c;
  }();
  TscClock c = base;
  c.source_ = source;
  return c;
}

bool TscClock::follow(const std::string& shm_dir) noexcept {
  if (source_ != ClockSource::tsc) return false;
  const proto::ClockPage* p = clock_page(shm_dir);
  if (!p) return false;
  page_ = p;
  seen_ = ~0ull;  // an odd value: the first now() takes the mapping
  refresh();
  return true;
}

// Never waits: while the sidecar is writing (or died writing) the last mapping stays, and the
// next now() looks again.
void TscClock::refresh() const noexcept {
  const std::uint64_t s1 = page_->seq.load(std::memory_order_acquire);
  if (s1 & 1) return;
  // Acquire loads keep the second load of seq after them (free on x86; TSan has no fences).
  const std::uint64_t tsc = page_->anchor_tsc.load(std::memory_order_acquire);
  const std::uint64_t ns = page_->anchor_ns.load(std::memory_order_acquire);
  const auto mult = static_cast<std::int64_t>(page_->mult.load(std::memory_order_acquire));
  if (page_->seq.load(std::memory_order_relaxed) != s1) return;
  if (mult > 0) {
    anchor_tsc_ = tsc;
    anchor_ns_ = ns;
    mult_ = mult;
  }
  seen_ = s1;
}

void TscClock::recalibrate() noexcept {
  if (source_ != ClockSource::tsc || page_) return;
  Pair now = sample_pair();
  if (now.tsc > first_tsc_ && now.ns > first_ns_) mult_ = mult_from({first_tsc_, first_ns_}, now);
  anchor_tsc_ = now.tsc;
  anchor_ns_ = now.ns;
}

}  // namespace aerolog
