#include "preparer.hpp"

#include "clock.hpp"
#include "failpoint.hpp"
#include "segment.hpp"
#include "sys_error.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <sys/syscall.h>
#include <unistd.h>

namespace aerolog::sidecar {

using namespace common;  // files, clocks, errno errors

namespace {
constexpr std::size_t kZeroChunk = 256u << 10;     // a roll waits at most one such write for the spare
constexpr std::uint64_t kQuietNs = 20'000'000ull;  // no stream held back by the disk for this long
constexpr auto kBusyRecheck = std::chrono::milliseconds(2);
}  // namespace

Preparer::Preparer(Zeroing zeroing) : zeroing_(zeroing), thread_([this] { run(); }) {}

Preparer::~Preparer() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Preparer::push(Job job) {
  {
    std::lock_guard lk(mu_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void Preparer::request(std::shared_ptr<Spare> spare, std::string path, std::uint64_t size, bool zero_first) {
  spare->state = Spare::pending;
  push({Job::make, std::move(spare), nullptr, std::move(path), {}, {}, size, nullptr, 0, zero_first});
}

void Preparer::recycle(std::shared_ptr<Spare> spare, std::string from, std::string index, std::string path,
                       std::uint64_t size) {
  spare->state = Spare::pending;
  push({Job::recycle, std::move(spare), nullptr, std::move(path), std::move(from), std::move(index), size, nullptr, 0,
        false});
}

void Preparer::seal_later(std::shared_ptr<Sealing> sealing) {
  push({Job::seal, nullptr, std::move(sealing), {}, {}, {}, 0, nullptr, 0, false});
}

bool Preparer::disk_quiet() const {
  return zeroing_ == Zeroing::always || mono_ns() - busy_ns_.load(std::memory_order_relaxed) > kQuietNs;
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
      // Zeroing waits for a quiet disk, behind every other job (a moment if there is none).
      if (job.kind == Job::zero && !disk_quiet()) {
        const auto other_work = [&] {
          return stop_ || std::any_of(jobs_.begin(), jobs_.end(), [](const Job& j) { return j.kind != Job::zero; });
        };
        if (!other_work()) cv_.wait_for(lk, kBusyRecheck, other_work);
        jobs_.push_back(std::move(job));
        continue;
      }
    }
    switch (job.kind) {
      case Job::seal:
        job.sealing->error = seal(job.sealing->dir, job.sealing->seg);
        AEROLOG_CRASH_POINT("roll_after_seal");
        job.sealing->done = true;
        break;
      case Job::make:
        make_spare(job);
        break;
      case Job::recycle:
        recycle_segment(job);
        break;
      case Job::zero:
        if (zero_some(job)) push(std::move(job));
        break;
    }
  }
}

// A new spare: preallocated and synced, then zeroed as --zero-spares says.
void Preparer::make_spare(Job& job) {
  Spare& s = *job.spare;
  try {
    auto fd = std::make_shared<Fd>(create_spare(job.path, job.size));
    {
      std::lock_guard io(s.io);
      job.epoch = ++s.epoch;
    }
    job.kind = Job::zero;
    job.fd = std::move(fd);
    // Zeroed before it is ready, unless the disk turns busy first (idle): then it is ready as
    // it is and the rest is zeroed later, while quiet, if no roll has taken it by then.
    bool more = zeroing_ != Zeroing::never || job.zero_first;
    while (more && (job.zero_first || disk_quiet())) more = zero_some(job);
    s.state = Spare::ready;
    if (more) push(std::move(job));
  } catch (const std::exception& e) {
    s.error = e.what();
    s.error_code = errno_of(e);
    s.state = Spare::failed;
  }
}

// Retention chose the segment (of the spare's size): its index goes first (a segment without an
// index is read by scanning), then the rename, made durable before any block is written into the
// file. No zeroing job is left for an earlier spare: the roll that took it moved the epoch on.
void Preparer::recycle_segment(Job& job) {
  if ((::unlink(job.index.c_str()) == 0 || errno == ENOENT) && ::rename(job.from.c_str(), job.path.c_str()) == 0) {
    AEROLOG_CRASH_POINT("recycle_renamed");
    try {
      fsync_dir(job.path.substr(0, job.path.rfind('/')));
      job.spare->state = Spare::ready;
      return;
    } catch (const std::exception& e) {
      spdlog::warn("recycling {}: {}; making a new spare", job.from, e.what());
    }
  } else {
    spdlog::warn("recycling {}: {}; making a new spare", job.from, std::strerror(errno));
  }
  make_spare(job);
}

// One chunk of zeros at the front of the unzeroed part, unless a roll took the spare.
bool Preparer::zero_some(Job& job) {
  static const AlignedBuffer zeros(kZeroChunk);
  std::lock_guard io(job.spare->io);
  if (job.spare->epoch != job.epoch || job.zeroed >= job.size) return false;
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kZeroChunk, job.size - job.zeroed));
  if (::pwrite(job.fd->get(), zeros.data(), n, static_cast<off_t>(job.zeroed)) != static_cast<ssize_t>(n))
    return false;  // the spare is usable as it is: unwritten extents read as zeros
  job.zeroed += n;
  return job.zeroed < job.size;
}

}  // namespace aerolog::sidecar
