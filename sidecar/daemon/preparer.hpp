// The streams' background file work, on one thread, so a roll never waits on the drain loop:
// preparing the next segment (preallocated, zeroed, synced) and sealing the one a roll left
// (fdatasync, close, its index). Jobs run in the order they were asked for.
#pragma once
#include "segment.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace aerolog::sidecar {

struct Spare {
  enum State { none, pending, ready, failed };
  std::atomic<int> state{none};
  std::string error;  // set before state becomes failed
  int error_code = 0;
};

// A segment a roll has left behind: every block of it is complete (durable), the next one is
// named. `done` is set once it is synced, closed and indexed; `error` first if that failed.
struct Sealing {
  std::string dir;
  SegmentFile seg;
  std::string error;
  std::atomic<bool> done{false};
};

class Preparer {
 public:
  Preparer();
  ~Preparer();  // finishes the seals already asked for; drops spares not yet made
  void request(std::shared_ptr<Spare> spare, std::string path, std::uint64_t size);
  void seal_later(std::shared_ptr<Sealing> sealing);

 private:
  struct Job {
    std::shared_ptr<Spare> spare;      // a spare to make, or
    std::shared_ptr<Sealing> sealing;  // a segment to seal
    std::string path;
    std::uint64_t size = 0;
  };
  void run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace aerolog::sidecar
