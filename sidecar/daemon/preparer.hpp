// The streams' background file work, on one thread, so a roll never waits on the drain loop:
// making the next segment (a spare: preallocated, or a segment retention recycles), zeroing a
// spare while the disk has room for it, and sealing the segment a roll left (close,
// its index). Jobs run in the order they were asked for; zeroing yields to every other job.
#pragma once
#include "files.hpp"
#include "options.hpp"
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

// The next segment of a stream, made by the preparer and taken by a roll (stream_segment.cpp).
struct Spare {
  enum State { none, pending, ready, failed };
  std::atomic<int> state{none};
  std::string error;  // set before state becomes failed
  int error_code = 0;
  // A spare's bytes not yet zeroed are fallocate's unwritten extents: they read as zeros, but
  // each data write into them commits metadata. The preparer zeroes a chunk at a time under
  // `io`, for the file `epoch` names; a roll that takes the spare and every new spare move the
  // epoch on, so zeroing never writes into a segment.
  std::mutex io;
  std::uint64_t epoch = 0;
};

// A segment a roll has left behind: every block of it is complete (durable), the next one is
// named. `done` is set once it is closed and indexed; `error` first if that failed.
struct Sealing {
  std::string dir;
  SegmentFile seg;
  std::string error;
  std::atomic<bool> done{false};
};

class Preparer {
 public:
  explicit Preparer(Zeroing zeroing);
  ~Preparer();  // finishes the seals already asked for; drops spares not yet made
  // A new spare at `path`: created, preallocated to `size`, synced; then zeroed as --zero-spares
  // says, or (`zero_first`: a stream's first segment, needed at once) before it is ready.
  void request(std::shared_ptr<Spare> spare, std::string path, std::uint64_t size, bool zero_first = false);
  // Retention's oldest segment `from` (and its index) becomes the spare at `path`: its extents are
  // written already. If that fails, a new spare is made instead.
  void recycle(std::shared_ptr<Spare> spare, std::string from, std::string index, std::string path, std::uint64_t size);
  void seal_later(std::shared_ptr<Sealing> sealing);
  // A stream has every block in flight and a full one waiting: the disk sets the pace, so
  // zeroing waits until that has not happened for a while (--zero-spares idle).
  void note_busy(std::uint64_t mono_ns) { busy_ns_.store(mono_ns, std::memory_order_relaxed); }

 private:
  struct Job {
    enum Kind { make, recycle, zero, seal } kind = make;
    std::shared_ptr<Spare> spare;
    std::shared_ptr<Sealing> sealing;
    std::string path, from, index;
    std::uint64_t size = 0;
    std::shared_ptr<common::Fd> fd;  // zero: the spare, open O_DIRECT
    std::uint64_t epoch = 0;         // zero: the spare's epoch when it was made
    std::uint64_t zeroed = 0;        // zero: bytes [0, zeroed) are written as zeros
    bool zero_first = false;         // make: zeroed before it is ready
  };
  void push(Job job);
  void run();
  void make_spare(Job& job);
  void recycle_segment(Job& job);
  bool zero_some(Job& job);  // false: done with this spare
  bool disk_quiet() const;
  Zeroing zeroing_;
  std::atomic<std::uint64_t> busy_ns_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace aerolog::sidecar
