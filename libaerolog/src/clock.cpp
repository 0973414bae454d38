#include <aerolog/clock.hpp>

#include <ctime>

namespace aerolog {
namespace {

struct Pair {
  std::uint64_t tsc, ns;
};

// The tightest of a few rdtsc / clock_gettime / rdtsc brackets.
Pair sample() noexcept {
  Pair best{0, 0};
  std::uint64_t best_width = ~0ull;
  for (int i = 0; i < 16; ++i) {
    std::uint64_t a = __rdtsc();
    std::uint64_t ns = TscClock::realtime_ns();
    std::uint64_t b = __rdtsc();
    if (b - a < best_width) {
      best_width = b - a;
      best = {a + (b - a) / 2, ns};
    }
  }
  return best;
}

std::int64_t mult_from(const Pair& a, const Pair& b) noexcept {
  const double ns = double(b.ns - a.ns), ticks = double(b.tsc - a.tsc);
  return ticks > 0 ? static_cast<std::int64_t>(ns / ticks * 4294967296.0) : (1ll << 32);
}

}  // namespace

std::uint64_t TscClock::realtime_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return std::uint64_t(ts.tv_sec) * 1'000'000'000ull + std::uint64_t(ts.tv_nsec);
}

TscClock TscClock::calibrate(ClockSource source) {
  // One calibration per process: the first caller pays ~10 ms.
  static const TscClock base = [] {
    TscClock c;
    c.source_ = ClockSource::tsc;
    Pair first = sample();
    timespec nap{0, 10'000'000};
    nanosleep(&nap, nullptr);
    Pair second = sample();
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

void TscClock::recalibrate() noexcept {
  if (source_ != ClockSource::tsc) return;
  Pair now = sample();
  if (now.tsc > first_tsc_ && now.ns > first_ns_) mult_ = mult_from({first_tsc_, first_ns_}, now);
  anchor_tsc_ = now.tsc;
  anchor_ns_ = now.ns;
}

}  // namespace aerolog
