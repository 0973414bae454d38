// The sidecar's own control block: <shm_dir>/aerolog-sidecar, written by the sidecar only,
// read by aerologctl. Byte layout: proto/FORMAT.md, "Sidecar control block".
#pragma once
#include <aerolog/proto/ring.hpp>

namespace aerolog::proto {

inline constexpr std::uint64_t kControlMagic = 0x4C54434C4F524541ull;  // "AEROLCTL" little-endian
inline constexpr std::uint32_t kControlVersion = 1;
inline constexpr char kControlName[] = "aerolog-sidecar";
inline constexpr char kShmLockName[] = "aerolog-sidecar.lock";  // flock held by the one sidecar of a shm dir
// The directories every program assumes when neither a flag, the environment nor the running
// sidecar's control block names them.
inline constexpr char kDefaultWalDir[] = "/var/lib/aerolog";
inline constexpr char kDefaultShipStateDir[] = "/var/lib/aerolog-ship";
inline constexpr std::size_t kControlSize = 4096;

enum class Durability : std::uint32_t { dsync = 0, fdatasync = 1, none = 2 };

struct ControlBlock {
  u64a magic;  // written last at start
  u32a version;
  u32a pid;
  u64a start_ns;
  u64a heartbeat_ns;  // updated by the main loop (~every 10 ms)
  u32a durability;    // Durability
  u32a stopping;      // 1 once SIGTERM/SIGINT was received
  char sidecar_version[32];
  char wal_dir[192];
  char ship_state_dir[120];       // its --ship-state-dir, if it fits with its NUL (else empty)
  alignas(kRegion) u64a streams;  // streams being served
  u64a streams_failed;            // quarantined, refused or in I/O error
  u64a blocks_written;
  u64a bytes_written;
  u64a frames_written;
  u64a io_errors;
  u64a loops;           // main loop iterations
  u64a rings_rejected;  // ring files not served: wrong type, owner, mode, size, or over a cap
};
static_assert(offsetof(ControlBlock, heartbeat_ns) == 24 && offsetof(ControlBlock, durability) == 32);
static_assert(offsetof(ControlBlock, sidecar_version) == 40 && offsetof(ControlBlock, wal_dir) == 72);
static_assert(offsetof(ControlBlock, ship_state_dir) == 264);
static_assert(offsetof(ControlBlock, streams) == 384 && offsetof(ControlBlock, loops) == 432);
static_assert(offsetof(ControlBlock, rings_rejected) == 440);
static_assert(sizeof(ControlBlock) <= kControlSize);

}  // namespace aerolog::proto
