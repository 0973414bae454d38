// Wall-clock timestamps from the TSC: ns since the Unix epoch without a system call.
// calibrate() pairs rdtsc with CLOCK_REALTIME twice ~10 ms apart. recalibrate() re-anchors to
// CLOCK_REALTIME and refines the rate over the whole time since calibration: call it off the hot
// path (say once a second) to keep drift against the system clock bounded.
#pragma once
#include <cstdint>
#include <x86intrin.h>

namespace aerolog {

enum class ClockSource : std::uint8_t { tsc, realtime };

class TscClock {
 public:
  static TscClock calibrate(ClockSource source = ClockSource::tsc);
  void recalibrate() noexcept;

  std::uint64_t now() const noexcept {
    if (source_ == ClockSource::realtime) [[unlikely]]
      return realtime_ns();
    auto delta = static_cast<std::int64_t>(__rdtsc() - anchor_tsc_);
    return anchor_ns_ + static_cast<std::uint64_t>((static_cast<__int128>(delta) * mult_) >> 32);
  }
  double ticks_per_ns() const noexcept { return 4294967296.0 / static_cast<double>(mult_); }
  static std::uint64_t realtime_ns() noexcept;

 private:
  std::uint64_t anchor_tsc_ = 0;
  std::uint64_t anchor_ns_ = 0;
  std::int64_t mult_ = 0;  // ns per tick << 32
  std::uint64_t first_tsc_ = 0;
  std::uint64_t first_ns_ = 0;
  ClockSource source_ = ClockSource::realtime;
};

}  // namespace aerolog
