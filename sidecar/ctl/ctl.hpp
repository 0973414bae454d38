// aerologctl's subcommands. Each returns the process exit status:
// 0 success / healthy, 1 failure or unhealthy (one clear line on stderr), 2 bad usage,
// 3 (verify) only a torn tail, which the sidecar repairs at its next start.
#pragma once
#include "record_format.hpp"

#include <aerolog/proto/ring.hpp>

#include <cstdint>
#include <string>

namespace aerolog::ctl {

using namespace common;  // aerologctl is built on sidecar/common (shm views, formats, files)

struct StatusOptions {
  std::string shm_dir = proto::kDefaultShmDir;
  std::string wal_dir;         // main: the flag's, else the sidecar's, else the default
  std::string ship_state_dir;  // aerolog-ship's checkpoints and status (main: the sidecar's, else the default)
  bool json = false, prometheus = false, watch = false;
};
int cmd_status(const StatusOptions& o);

struct FlushOptions {
  std::string shm_dir = proto::kDefaultShmDir;
  std::string stream;  // a stream, or a logger (its streams <logger>.<thread>); empty: every ring
  double timeout_s = 10;
};
int cmd_flush(const FlushOptions& o);

struct CatOptions {
  std::string shm_dir = proto::kDefaultShmDir;
  std::string wal_dir;  // where stream and logger names are looked for (main: never empty)
  std::string target;   // a .alog file, a stream directory, or a stream name
  Format format = Format::text;
  std::uint64_t from_seq = 0, to_seq = ~std::uint64_t{0};
  std::string from_time, to_time;
  bool follow = false;
  std::size_t tail = 0;  // tail: start with the last N lines (of each stream, then of the merge)
};
int cmd_cat(const CatOptions& o);  // cat and tail

struct VerifyOptions {
  std::string target;  // a .alog file, a stream directory, or a WAL root of stream directories
  bool quiet = false;
};
int cmd_verify(const VerifyOptions& o);

struct AdoptOptions {
  std::string shm_dir = proto::kDefaultShmDir;
  std::string stream;
};
int cmd_adopt(const AdoptOptions& o);

struct LevelOptions {
  std::string shm_dir = proto::kDefaultShmDir;
  std::string logger;
  std::string level;  // empty: show
};
int cmd_level(const LevelOptions& o);

// How aerologctl shows a ring's state and the sidecar's durability: proto's names (names.hpp),
// in capitals when they need attention ("ok", "QUARANTINED", "NONE").
std::string shown_state(std::uint32_t ring_state);
std::string shown_durability(std::uint32_t durability);

// Ctrl-C for the commands that run until it (status --watch, cat -f, tail): after
// catch_interrupt(), SIGINT sets interrupted() instead of ending the process.
void catch_interrupt();
bool interrupted();

}  // namespace aerolog::ctl
