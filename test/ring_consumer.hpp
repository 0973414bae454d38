// A hand-written ring consumer for the tests: decodes frames straight from the documented
// layout (proto/FORMAT.md), independently of the library's own scanner, and frees space by
// advancing read_pos the way the sidecar would.
#pragma once
#include <aerolog/proto/frame.hpp>
#include <aerolog/proto/ring.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace testutil {

struct Record {
  std::uint16_t type;
  std::uint16_t flags;
  std::uint64_t seq;
  std::uint64_t ts;
  std::vector<unsigned char> payload;
};

class RingConsumer {
 public:
  explicit RingConsumer(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd_ < 0) throw std::runtime_error("consumer: cannot open " + path);
    struct stat st;
    ::fstat(fd_, &st);
    len_ = static_cast<std::size_t>(st.st_size);
    base_ = static_cast<unsigned char*>(::mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0));
    if (base_ == MAP_FAILED) throw std::runtime_error("consumer: cannot map " + path);
    hdr_ = reinterpret_cast<aerolog::proto::RingHeader*>(base_);
    cap_ = hdr_->id.capacity;
    pos_ = hdr_->consumer.read_pos.load();
  }
  ~RingConsumer() {
    ::munmap(base_, len_);
    ::close(fd_);
  }
  aerolog::proto::RingHeader& header() { return *hdr_; }

  // Reads every committed frame after the last call; with `free_space`, marks them consumed
  // (and durable, as a sidecar would after its write completes).
  std::size_t poll(std::vector<Record>& out, bool free_space = true, std::size_t max = ~std::size_t{0}) {
    const std::uint64_t end = hdr_->producer.write_pos.load(std::memory_order_acquire);
    std::size_t n = 0;
    std::uint64_t last = 0;
    while (pos_ < end && n < max) {
      const unsigned char* at = base_ + aerolog::proto::kRingHeaderSize + (pos_ & (cap_ - 1));
      std::uint32_t length;
      std::uint16_t type;
      std::memcpy(&length, at, 4);
      std::memcpy(&type, at + 4, 2);
      if (length < 8 || pos_ + length > end) throw std::runtime_error("consumer: bad frame length");
      if (type == 0) {  // padding to the end of the ring
        if (((pos_ + length) & (cap_ - 1)) != 0) throw std::runtime_error("consumer: pad does not reach ring end");
        pos_ += length;
        ++pads;
        continue;
      }
      Record r;
      r.type = type;
      std::memcpy(&r.flags, at + 6, 2);
      std::memcpy(&r.seq, at + 8, 8);
      std::memcpy(&r.ts, at + 16, 8);
      r.payload.assign(at + 24, at + length);
      last = r.seq;
      out.push_back(std::move(r));
      pos_ += (length + 7) & ~7u;
      ++n;
    }
    if (free_space && last) {
      hdr_->durable.durable_seq.store(last, std::memory_order_release);
      hdr_->durable.durable_pos.store(pos_, std::memory_order_release);
      hdr_->consumer.read_pos.store(pos_, std::memory_order_release);
    } else if (free_space) {
      hdr_->consumer.read_pos.store(pos_, std::memory_order_release);
    }
    return n;
  }
  std::uint64_t pads = 0;

 private:
  int fd_ = -1;
  std::size_t len_ = 0;
  unsigned char* base_ = nullptr;
  aerolog::proto::RingHeader* hdr_ = nullptr;
  std::uint64_t cap_ = 0;
  std::uint64_t pos_ = 0;
};

// Deterministic payloads derived from the seq, so any reader can check them.
inline std::vector<unsigned char> payload_for(std::uint64_t seq, std::size_t max_len = 97) {
  std::vector<unsigned char> p(static_cast<std::size_t>((seq * 2654435761u) % max_len));
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<unsigned char>(seq * 31 + i);
  return p;
}

// Where the tests put WALs: AEROLOG_TEST_DIR (test.sh points it at a loop-mounted XFS image to
// run the durability tests there too), else /tmp (ext4 here).
inline const char* wal_base() {
  const char* d = std::getenv("AEROLOG_TEST_DIR");
  return d && *d ? d : "/tmp";
}

// A private directory per test, removed at the end. Kept when AEROLOG_TEST_KEEP is set, and when
// a failing check unwinds through it outside /dev/shm (the path is printed), so a rare failure
// in CI leaves its files to look at.
struct TempDir {
  std::string path;
  bool in_shm;
  explicit TempDir(const char* base = "/dev/shm") : in_shm(std::string(base).rfind("/dev/shm", 0) == 0) {
    std::string tmpl = std::string(base) + "/aerolog-test-XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    if (!p) throw std::runtime_error("mkdtemp failed");
    path = p;
  }
  ~TempDir() {
    const char* keep = std::getenv("AEROLOG_TEST_KEEP");
    if ((keep && *keep) || (std::uncaught_exceptions() > 0 && !in_shm)) {
      std::fprintf(stderr, "kept %s for inspection\n", path.c_str());
      return;
    }
    std::system(("rm -rf '" + path + "'").c_str());
  }
};

}  // namespace testutil
