// The machine's one clock: <shm_dir>/aerolog-clock, kept by the sidecar and read by every
// producer, so that every process on the box stamps records with the same TSC-to-UTC mapping.
// Byte layout: proto/FORMAT.md, "Clock page".
//
//   ns = anchor_ns + ((tsc - anchor_tsc) * mult) >> 32          (tsc - anchor_tsc signed, 128-bit product)
//
// The fields after `seq` are a seqlock: the writer makes `seq` odd, stores them, makes it even;
// a reader that sees the same even `seq` before and after reading them has a consistent set.
#pragma once
#include <aerolog/proto/ring.hpp>

namespace aerolog::proto {

inline constexpr char kClockName[] = "aerolog-clock";
inline constexpr std::uint64_t kClockMagic = 0x4B4C434C4F524541ull;  // "AEROLCLK" little-endian
inline constexpr std::uint32_t kClockVersion = 1;
inline constexpr std::size_t kClockSize = 4096;

struct ClockPage {
  u64a magic;  // set once the first calibration is in place
  u32a version;
  u32a writer_pid;  // the sidecar keeping it
  u64a seq;         // odd while the fields below change
  u64a anchor_tsc;
  u64a anchor_ns;   // ns since the epoch at anchor_tsc
  u64a mult;        // ns per TSC tick << 32 (an i64 stored as its bits)
  u64a updated_ns;  // CLOCK_REALTIME at the last update
  u64a error_ns;    // |CLOCK_REALTIME - this clock| found at the last update (then corrected)
};
static_assert(offsetof(ClockPage, seq) == 16 && offsetof(ClockPage, anchor_tsc) == 24);
static_assert(offsetof(ClockPage, mult) == 40 && offsetof(ClockPage, error_ns) == 56);
static_assert(sizeof(ClockPage) == 64);

}  // namespace aerolog::proto
