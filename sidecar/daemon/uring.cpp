#include "uring.hpp"

#include "failpoint.hpp"

#include <cstring>
#include <stdexcept>
#include <string>

namespace aerolog::sidecar {

Uring::Uring(unsigned entries) {
  if (int r = io_uring_queue_init(entries, &ring_, 0); r < 0)
    throw std::runtime_error(std::string("io_uring_queue_init: ") + std::strerror(-r));
}

Uring::~Uring() { io_uring_queue_exit(&ring_); }

io_uring_sqe* Uring::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  if (!s) {
    submit();
    s = io_uring_get_sqe(&ring_);
    if (!s) throw std::runtime_error("io_uring: no free submission entry");
  }
  ++queued_;
  return s;
}

void Uring::reserve(unsigned n) {
  if (io_uring_sq_space_left(&ring_) < n) submit();
}

void Uring::submit() {
  if (!queued_) return;
  int r;
  do r = io_uring_submit(&ring_);
  while (r == -EINTR || r == -EAGAIN || r == -EBUSY);
  if (r < 0) throw std::runtime_error(std::string("io_uring_submit: ") + std::strerror(-r));
  queued_ = 0;
  AEROLOG_CRASH_POINT("after_submit");
}

void Uring::wait(std::uint64_t timeout_ns) {
  __kernel_timespec ts{static_cast<long long>(timeout_ns / 1'000'000'000ull),
                       static_cast<long long>(timeout_ns % 1'000'000'000ull)};
  io_uring_cqe* cqe;
  io_uring_wait_cqe_timeout(&ring_, &cqe, &ts);  // -ETIME or -EINTR are fine: the loop polls again
}

}  // namespace aerolog::sidecar
