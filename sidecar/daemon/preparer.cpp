#include "preparer.hpp"

#include "failpoint.hpp"
#include "segment.hpp"
#include "sys_error.hpp"

#include <sys/syscall.h>
#include <unistd.h>

namespace aerolog::sidecar {

using namespace common;  // files, clocks, errno errors

Preparer::Preparer() : thread_([this] { run(); }) {}

Preparer::~Preparer() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Preparer::request(std::shared_ptr<Spare> spare, std::string path, std::uint64_t size) {
  spare->state = Spare::pending;
  {
    std::lock_guard lk(mu_);
    jobs_.push_back({std::move(spare), nullptr, std::move(path), size});
  }
  cv_.notify_one();
}

void Preparer::seal_later(std::shared_ptr<Sealing> sealing) {
  {
    std::lock_guard lk(mu_);
    jobs_.push_back({nullptr, std::move(sealing), {}, 0});
  }
  cv_.notify_one();
}

void Preparer::run() {
  // Zeroing a segment is bulk background I/O: the idle I/O class keeps it from delaying the
  // latency-critical block writes (honoured by mq-deadline and bfq; harmless elsewhere).
  constexpr int kIoprioWhoProcess = 1, kIoprioClassIdle = 3, kIoprioClassShift = 13;
  ::syscall(SYS_ioprio_set, kIoprioWhoProcess, static_cast<int>(::gettid()), kIoprioClassIdle << kIoprioClassShift);
  for (;;) {
    Job job;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stop_ || !jobs_.empty(); });
      while (stop_ && !jobs_.empty() && !jobs_.front().sealing) jobs_.pop_front();  // no new spares at stop
      if (stop_ && jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    if (job.sealing) {
      job.sealing->error = seal(job.sealing->dir, job.sealing->seg);
      AEROLOG_CRASH_POINT("roll_after_seal");
      job.sealing->done = true;
      continue;
    }
    try {
      prepare_spare(job.path, job.size);
      job.spare->state = Spare::ready;
    } catch (const std::exception& e) {
      job.spare->error = e.what();
      job.spare->error_code = errno_of(e);
      job.spare->state = Spare::failed;
    }
  }
}

}  // namespace aerolog::sidecar
