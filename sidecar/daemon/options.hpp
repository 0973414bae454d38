// Every sidecar option, its default and its meaning: one struct, registered with CLI11 so the
// same names work as --flags and as keys of the TOML file given with --config.
#pragma once
#include <aerolog/proto/control.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace CLI {
class App;
}
namespace aerolog::common {
class TomlConfig;
}

namespace aerolog::sidecar {

using Durability = proto::Durability;  // as the control block encodes it
enum class Idle { spin, backoff, sleep };
enum class Zeroing { idle, always, never };  // when a spare's unwritten extents are zeroed

struct Options {
  std::string shm_dir = proto::kDefaultShmDir;  // where producers create rings (3770, its own)
  std::string wal_dir = proto::kDefaultWalDir;  // <wal_dir>/<stream>/<base_seq:020>.alog
  Durability durability = Durability::dsync;    // dsync: RWF_DSYNC writes; fdatasync: write + linked fdatasync
  std::uint32_t depth = 4;                      // blocks in flight per stream
  std::uint64_t max_block = 1u << 20;           // bytes of frames per block (a bigger frame gets its own)
  std::uint64_t batch_delay_us = 0;             // wait up to this long to fill a block (0: never wait)
  std::uint64_t segment_size = 64ull << 20;     // preallocated size of a full-grown segment file
  std::uint64_t min_segment_size = 4ull << 20;  // a stream's first segment; each roll doubles it
  Zeroing zero_spares = Zeroing::idle;          // zero a spare before use unless a stream waits on the disk
  std::uint64_t retention_bytes = 0;            // delete oldest sealed segments above this total (0: keep)
  std::uint64_t retention_age_s = 0;            // delete sealed segments older than this (0: keep)
  std::string ship_state_dir = proto::kDefaultShipStateDir;  // aerolog-ship's checkpoints hold retention ("": ignore)
  std::uint64_t retention_cap_bytes = 0;     // delete above this even if a sink still needs it (0: no cap)
  std::uint64_t retire_grace_s = 60;         // unlink-shrink a drained ring this long after its producer left
  std::uint64_t scan_interval_ms = 1000;     // rescan shm_dir besides inotify
  Idle idle = Idle::backoff;                 // spin: busy poll; backoff: spin, then sleep longer; sleep
  std::uint64_t spin_us = 50;                // backoff: busy poll this long after the last work
  std::uint64_t max_sleep_us = 200;          // backoff/sleep: longest nap between polls
  int cpu = -1;                              // pin the main loop to this CPU (-1: no pinning)
  std::string log_level = "info";            // trace, debug, info, warn, error, critical, off
  std::string log_file;                      // empty: stderr under journald, else <wal_dir>/sidecar.log; "-": stderr
  std::uint64_t stop_timeout_s = 30;         // on SIGTERM, drain for at most this long
  std::uint64_t max_streams = 1024;          // streams served at once, in all (a ring beyond it is not served)
  std::uint64_t max_streams_per_user = 256;  // streams whose rings one uid owns
  std::uint64_t max_ring_capacity = 4ull << 30;  // a ring claiming a larger data area is not served
};

// Registers every option and --config; the config file's reader, for parse_cli's messages.
std::shared_ptr<common::TomlConfig> add_options(CLI::App& app, Options& o);
const char* to_string(Idle i);

}  // namespace aerolog::sidecar
