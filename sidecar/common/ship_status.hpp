// aerolog-ship's status file, <state_dir>/<sink>/status.json: written by the shipper about once a
// second, read by aerologctl status. One definition of its fields for both (FORMAT.md 10.1).
// It is not durable data: written with write + rename, no fsync.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace aerolog::common {

struct ShipStreamStatus {
  std::uint64_t checkpoint = 0;   // every seq <= this is in the sink
  std::uint64_t durable_seq = 0;  // what the shipper may ship up to
  std::uint64_t lag_records = 0, lag_bytes = 0;
  double lag_seconds = 0;
  std::uint64_t shipped_records = 0, skipped_records = 0;
  std::string state;  // "shipping", "caught up", "waiting", or "refused: <why>"
  bool refused() const { return state.rfind("refused", 0) == 0; }
};

struct ShipStatus {
  std::string sink;
  bool connected = false;
  std::string error;  // the sink's last error, empty when none
  std::uint64_t failures = 0;
  std::uint64_t updated_ns = 0;  // wall time of the write
  std::map<std::string, ShipStreamStatus> streams;
};

std::string ship_status_path(const std::string& state_dir, const std::string& sink);
// Best effort (false: not written); the file is replaced whole.
bool write_ship_status(const std::string& state_dir, const ShipStatus& s);
// nullopt: no file, or not one we can read (a shipper from another version).
std::optional<ShipStatus> read_ship_status(const std::string& state_dir, const std::string& sink);

}  // namespace aerolog::common
