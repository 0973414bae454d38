// aerolog-ship's engine for one sink: follows every stream's WAL through aerolog::Reader up to
// the stream's durable HWM, cuts batches, keeps the sink fed, advances each stream's checkpoint
// over the contiguous prefix of acknowledged batches, and on a sink failure backs off,
// reconnects and re-sends everything unacknowledged with the same bounds.
#pragma once
#include "options.hpp"
#include "ship_checkpoint.hpp"
#include "sink.hpp"

#include <aerolog/reader.hpp>

#include <spdlog/logger.h>

#include <atomic>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace aerolog::common {
class Mapping;
}

namespace aerolog::ship {

using namespace common;  // aerolog-ship is built on sidecar/common (checkpoints, shm views, files)

inline constexpr std::uint64_t kNoLimit = ~std::uint64_t{0};  // no durable seq known: read the WAL to its end

class Shipper {
 public:
  Shipper(const Options& o, std::unique_ptr<Sink> sink, std::shared_ptr<spdlog::logger> log);
  ~Shipper();
  // Ships until `stop` is set; with --once, until everything durable at the start is in the
  // sink. Returns true when it stopped with nothing left to ship and no stream stuck.
  bool run(const std::atomic<bool>& stop);

 private:
  struct Sent {
    std::uint64_t first, last, last_ts;
    bool in_flight;  // a batch in the sink awaiting its ack; false: a range the sink already holds, or one
                     // retention deleted unshipped (passed over, never acked)
  };
  struct Stream {
    std::uint32_t id;
    std::string name, dir;
    std::optional<Reader> reader;
    std::optional<Record> held;  // read, but belongs to the next batch
    Checkpoint ckpt;             // as last written
    std::uint64_t acked = 0, acked_ts = 0;
    std::deque<SeqRange> resend;                            // unknown fate: re-send first, with these bounds
    std::deque<Sent> sent;                                  // in flight (and virtual ranges), in order
    std::uint64_t next = 0;                                 // next seq to read
    std::uint64_t resume_to = 0;                            // where the sink said it is, once the re-sends are out
    bool ready = false, broken = false, caught_up = false;  // broken: its checkpoint is unreadable
    std::string refused;                                    // why its next record cannot go to this sink, or empty
    std::optional<Batch> building;
    std::uint64_t building_since = 0, last_ckpt_ns = 0;
    std::uint64_t hwm = 0, seen = 0, shipped = 0, shipped_bytes = 0;
    std::uint64_t ckpt_skipped = 0;  // skipped since the last checkpoint write
    std::uint64_t once_limit = 0;    // --once: the durable seq when shipping began
    std::unique_ptr<common::Mapping> ring;
  };

  void scan();
  void resume(Stream& s);
  bool fill(Stream& s, std::uint64_t now);  // true if it sent something
  void seek(Stream& s, std::uint64_t seq);
  void advance(Stream& s);  // pops ranges that need no acknowledgement
  void on_acked(const Batch& b);
  void save(Stream& s, bool force);
  void fail(const std::string& why);
  void write_status(std::uint64_t wall);
  std::uint64_t limit(Stream& s);
  bool idle() const;
  bool complete() const;  // idle, and no stream stuck

  const Options& o_;
  std::unique_ptr<Sink> sink_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<std::unique_ptr<Stream>> streams_;
  bool connected_ = false;
  std::uint64_t backoff_ms_ = 0, retry_at_ = 0, next_scan_ = 0, next_status_ = 0;
  std::string error_;
  std::uint64_t failures_ = 0;
  std::vector<std::uint64_t> lags_;  // publish -> acknowledged, ns, of each batch's oldest record (last 1M)
  std::uint64_t lag_samples_ = 0;
  std::string lag_summary() const;
};

}  // namespace aerolog::ship
