// Wall-clock timestamps from the TSC: ns since the Unix epoch without a system call.
//
// With a sidecar running on the same shm_dir, every producer follows its clock page
// (proto/clock.hpp): the sidecar re-anchors the TSC-to-UTC mapping to CLOCK_REALTIME every
// 100 ms (following NTP/PTP slews without a step), and all processes compute the same time from
// the same TSC. now() then costs one extra load (the page's seq, to see an update).
//
// Without one, calibrate() pairs rdtsc with CLOCK_REALTIME twice ~10 ms apart, once per
// process; recalibrate() re-anchors to CLOCK_REALTIME and refines the rate over the whole time
// since calibration (call it off the hot path, say once a second, to bound the drift).
#pragma once
#include <aerolog/proto/clock.hpp>

#include <cstdint>
#include <string>
#include <x86intrin.h>

namespace aerolog {

enum class ClockSource : std::uint8_t { tsc, realtime };

class TscClock {
 public:
  static TscClock calibrate(ClockSource source = ClockSource::tsc);
  // Follows the clock page of `shm_dir` if a sidecar keeps one there (mapped once per process);
  // false, and the clock stays as it was, if there is none.
  bool follow(const std::string& shm_dir) noexcept;
  bool following() const noexcept { return page_ != nullptr; }
  void recalibrate() noexcept;  // no-op while following the page

  std::uint64_t now() const noexcept {
    if (source_ == ClockSource::realtime) [[unlikely]]
      return realtime_ns();
    if (page_ && page_->seq.load(std::memory_order_acquire) != seen_) [[unlikely]]
      refresh();
    return at(__rdtsc());
  }
  // The time of a TSC reading, by this clock's current mapping.
  std::uint64_t at(std::uint64_t tsc) const noexcept {
    auto delta = static_cast<std::int64_t>(tsc - anchor_tsc_);
    return anchor_ns_ + static_cast<std::uint64_t>((static_cast<__int128>(delta) * mult_) >> 32);
  }
  double ticks_per_ns() const noexcept { return 4294967296.0 / static_cast<double>(mult_); }
  static std::uint64_t realtime_ns() noexcept;
  // The tightest of a few rdtsc / CLOCK_REALTIME / rdtsc brackets: a TSC reading and the time.
  static void sample(std::uint64_t& tsc, std::uint64_t& ns) noexcept;

 private:
  void refresh() const noexcept;  // takes the page's mapping (a seqlock read)

  mutable std::uint64_t anchor_tsc_ = 0;
  mutable std::uint64_t anchor_ns_ = 0;
  mutable std::int64_t mult_ = 0;   // ns per tick << 32
  mutable std::uint64_t seen_ = 0;  // the page's seq this mapping came from
  const proto::ClockPage* page_ = nullptr;
  std::uint64_t first_tsc_ = 0;
  std::uint64_t first_ns_ = 0;
  ClockSource source_ = ClockSource::realtime;
};

}  // namespace aerolog
