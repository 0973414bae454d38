// aerolog-ship's per-sink, per-stream checkpoint: the last seq the sink acknowledged, plus the
// batches whose fate was unknown when the sink failed (re-sent first, with the same bounds, so
// the sink's duplicate detection sees the same message ids). Also read by the sidecar (to hold
// retention) and by aerologctl status. Format: proto/FORMAT.md, "Shipping".
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace aerolog::common {

struct SeqRange {
  std::uint64_t first = 0, last = 0;
  bool operator==(const SeqRange&) const = default;
};

struct Checkpoint {
  std::uint64_t seq = 0;      // every record <= seq is in the sink
  std::uint64_t ts_ns = 0;    // timestamp of record `seq` (0 if none)
  std::uint64_t skipped = 0;  // records deleted by a retention cap before they were shipped
  std::vector<SeqRange> resend;
  bool operator==(const Checkpoint&) const = default;
};

std::string checkpoint_path(const std::string& state_dir, const std::string& sink, const std::string& stream);
// nullopt if there is no file; throws std::system_error if it cannot be read, std::runtime_error
// (path: why) if it is not a checkpoint.
std::optional<Checkpoint> read_checkpoint(const std::string& path);
std::string format_checkpoint(const Checkpoint& c);
// Empty and `out` set if `text` is a checkpoint (FORMAT.md), else why not.
std::string parse_checkpoint(const std::string& text, Checkpoint& out);
// write, fsync, rename, fsync dir; creates <state_dir>/<sink>. Throws std::system_error.
void write_checkpoint(const std::string& state_dir, const std::string& sink, const std::string& stream,
                      const Checkpoint& c);

// Every sink directory under state_dir (one per sink that has run), sorted.
std::vector<std::string> list_sinks(const std::string& state_dir);
// The lowest seq every sink under state_dir has acknowledged for `stream` (0: a sink has none
// yet, so it needs everything); nullopt when no sink has ever run. Unreadable files count as 0.
std::optional<std::uint64_t> shipped_by_all(const std::string& state_dir, const std::string& stream);

}  // namespace aerolog::common
