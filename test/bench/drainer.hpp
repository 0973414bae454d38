// A thread that drains a ring like the sidecar with an infinitely fast disk (bench_producer,
// bench_logger): the producer sees the real cache-line traffic, and no disk.
#pragma once
#include "bench_util.hpp"

#include <aerolog/proto/ring.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <immintrin.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace bench {

// Drains the ring like the sidecar with an infinitely fast disk: copies the committed bytes into
// a private block buffer (as the sidecar does), marks them durable and frees the space.
class Drainer {
 public:
  explicit Drainer(const std::string& path, int cpu) {
    int fd = ::open(path.c_str(), O_RDWR);
    struct stat st;
    ::fstat(fd, &st);
    len_ = static_cast<std::size_t>(st.st_size);
    base_ = static_cast<unsigned char*>(::mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    ::close(fd);
    hdr_ = reinterpret_cast<aerolog::proto::RingHeader*>(base_);
    thread_ = std::thread([this, cpu] {
      pin(cpu);
      const std::uint64_t cap = hdr_->id.capacity;
      const unsigned char* data = base_ + aerolog::proto::kRingHeaderSize;
      std::vector<unsigned char> block(1 << 20);
      std::uint64_t r = hdr_->consumer.read_pos.load();
      while (!stop_.load(std::memory_order_relaxed)) {
        const std::uint64_t w = hdr_->producer.write_pos.load(std::memory_order_acquire);
        // Stay off the page the producer is writing while it is busy (the hardware prefetcher
        // would otherwise pull its next lines away from it); take the partial page once the
        // producer has paused. The sidecar follows the same rule.
        std::uint64_t upto = w & ~std::uint64_t{4095};
        if (upto <= r) upto = (w == last_w_) ? w : r;
        last_w_ = w;
        if (upto == r) {  // nothing to take: back off so as not to pull the producer's line
          for (int i = 0; i < 32; ++i) _mm_pause();
          continue;
        }
        const std::uint64_t end = std::min(upto, r + block.size());  // one block at most
        for (std::uint64_t p = r; p < end;) {                        // copy, split at the ring's end
          const std::uint64_t off = p & (cap - 1), n = std::min(end - p, cap - off);
          std::memcpy(block.data(), data + off, n);
          p += n;
        }
        hdr_->durable.durable_seq.store(hdr_->producer.last_seq.load(std::memory_order_relaxed),
                                        std::memory_order_release);
        hdr_->consumer.read_pos.store(end, std::memory_order_release);
        r = end;
      }
    });
  }
  ~Drainer() {
    stop_ = true;
    thread_.join();
    ::munmap(base_, len_);
  }

 private:
  unsigned char* base_;
  std::size_t len_;
  aerolog::proto::RingHeader* hdr_;
  std::atomic<bool> stop_{false};
  std::uint64_t last_w_ = ~0ull;
  std::thread thread_;
};

}  // namespace bench
