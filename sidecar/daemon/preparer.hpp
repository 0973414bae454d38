// Prepares the next segment of each stream (preallocated, zeroed, synced) on a background
// thread, so a roll never waits for 64 MiB of zeros on the drain loop.
#pragma once
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

class Preparer {
 public:
  Preparer();
  ~Preparer();
  void request(std::shared_ptr<Spare> spare, std::string path, std::uint64_t size);

 private:
  struct Job {
    std::shared_ptr<Spare> spare;
    std::string path;
    std::uint64_t size;
  };
  void run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace aerolog::sidecar
