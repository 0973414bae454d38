// The clock page (proto/clock.hpp) the sidecar keeps for every producer on its shm_dir: every
// 100 ms it samples CLOCK_REALTIME against the TSC and re-anchors the shared mapping where the
// old one says it is now (no step), with a rate that absorbs the error found over the next
// 100 ms, so producers follow NTP/PTP slews; an error above 1 ms (the clock was stepped) is
// taken at once. The page outlives the sidecar: a restart carries on from it.
#pragma once
#include "files.hpp"

#include <aerolog/proto/clock.hpp>

#include <cstdint>
#include <deque>
#include <string>

namespace aerolog::sidecar {

class ClockKeeper {
 public:
  explicit ClockKeeper(const std::string& shm_dir);  // creates or reopens the page; throws system_error
  ~ClockKeeper();
  ClockKeeper(const ClockKeeper&) = delete;
  ClockKeeper& operator=(const ClockKeeper&) = delete;
  void tick(std::uint64_t mono_ns);  // updates the page when its period is up

  static constexpr std::uint64_t kPeriodNs = 100'000'000;

 private:
  void update();

  common::Fd fd_;
  proto::ClockPage* page_ = nullptr;
  struct Sample {
    std::uint64_t tsc, ns;
  };
  std::deque<Sample> history_;  // the last ~10 s: the rate
  std::uint64_t next_ns_ = 0;
};

}  // namespace aerolog::sidecar
