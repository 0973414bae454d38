// The sidecar's one io_uring, shared by every stream.
#pragma once
#include <liburing.h>

#include <cstdint>

namespace aerolog::sidecar {

class Uring {
 public:
  explicit Uring(unsigned entries);
  ~Uring();
  Uring(const Uring&) = delete;
  Uring& operator=(const Uring&) = delete;

  io_uring_sqe* sqe();  // a free SQE (submits to make room if the queue is full)
  // Makes room for n SQEs in a row (submitting what is queued if needed), so that a linked
  // chain is never split across two submissions.
  void reserve(unsigned n);
  void submit();  // submits what is queued, if anything
  // Calls on_cqe(user_data, res) for each completion ready now; returns how many.
  template <class F>
  unsigned reap(F&& on_cqe) {
    io_uring_cqe* cqe;
    unsigned head, n = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      on_cqe(cqe->user_data, cqe->res);
      ++n;
    }
    io_uring_cq_advance(&ring_, n);
    return n;
  }
  void wait(std::uint64_t timeout_ns);  // until a completion is ready or the timeout passes

 private:
  io_uring ring_;
  unsigned queued_ = 0;
};

}  // namespace aerolog::sidecar
