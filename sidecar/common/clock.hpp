// Wall and monotonic time in ns, for the programs' slow paths (the hot path uses the TSC clock
// in libaerolog).
#pragma once
#include <cstdint>
#include <ctime>

namespace aerolog::common {

inline std::uint64_t ns_of(clockid_t clock) {
  timespec t;
  clock_gettime(clock, &t);
  return std::uint64_t(t.tv_sec) * 1'000'000'000ull + std::uint64_t(t.tv_nsec);
}
inline std::uint64_t wall_ns() { return ns_of(CLOCK_REALTIME); }   // ns since the Unix epoch
inline std::uint64_t mono_ns() { return ns_of(CLOCK_MONOTONIC); }  // for intervals

}  // namespace aerolog::common
