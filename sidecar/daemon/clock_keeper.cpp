#include "clock_keeper.hpp"

#include "sys_error.hpp"

#include <aerolog/clock.hpp>

#include <cstdlib>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace aerolog::sidecar {

using namespace proto;
using std::memory_order_relaxed, std::memory_order_release;

namespace {
constexpr std::size_t kWindow = 100;         // samples behind the rate (10 s)
constexpr std::int64_t kStepNs = 1'000'000;  // a larger error is a stepped clock: taken at once
constexpr std::uint64_t kOneSecond = 1'000'000'000;
}  // namespace

ClockKeeper::ClockKeeper(const std::string& shm_dir) {
  const std::string path = shm_dir + "/" + kClockName;
  // Kept across restarts while it is ours (producers keep following the page they mapped).
  fd_ = common::own_shared_file(shm_dir, kClockName, 0644);
  struct stat st;
  if (::fstat(fd_.get(), &st) != 0) common::throw_errno("stat " + path);
  if (static_cast<std::size_t>(st.st_size) < kClockSize && ::ftruncate(fd_.get(), kClockSize) != 0)
    common::throw_errno("size " + path);
  void* m = ::mmap(nullptr, kClockSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
  if (m == MAP_FAILED) common::throw_errno("map " + path);
  page_ = static_cast<ClockPage*>(m);
  page_->writer_pid.store(static_cast<std::uint32_t>(::getpid()), memory_order_relaxed);
  if (page_->seq.load() & 1) page_->seq.fetch_add(1);  // a writer died mid-update
  update();
  if (page_->magic.load() != kClockMagic) {
    page_->version.store(kClockVersion, memory_order_relaxed);
    page_->magic.store(kClockMagic, memory_order_release);
  }
}

ClockKeeper::~ClockKeeper() {
  if (page_) ::munmap(page_, kClockSize);
}

void ClockKeeper::tick(std::uint64_t mono_ns) {
  if (mono_ns < next_ns_) return;
  next_ns_ = mono_ns + kPeriodNs;
  update();
}

void ClockKeeper::update() {
  Sample s{};
  TscClock::sample(s.tsc, s.ns);
  history_.push_back(s);
  if (history_.size() > kWindow) history_.pop_front();
  const auto cur_mult = static_cast<std::int64_t>(page_->mult.load(memory_order_relaxed));
  const bool valid = page_->magic.load(memory_order_relaxed) == kClockMagic && cur_mult > 0;
  // The rate: realtime per tick over the window (a second at least), else the page's or the
  // process's 10 ms calibration.
  std::int64_t rate = valid ? cur_mult : static_cast<std::int64_t>(4294967296.0 / TscClock::calibrate().ticks_per_ns());
  const Sample& first = history_.front();
  if (s.ns - first.ns >= kOneSecond && s.tsc > first.tsc)
    rate = static_cast<std::int64_t>(double(s.ns - first.ns) / double(s.tsc - first.tsc) * 4294967296.0);
  std::uint64_t anchor_ns = s.ns;
  std::int64_t err = 0, mult = rate;
  if (valid) {
    const auto delta = static_cast<std::int64_t>(s.tsc - page_->anchor_tsc.load(memory_order_relaxed));
    const std::uint64_t predicted = page_->anchor_ns.load(memory_order_relaxed) +
                                    static_cast<std::uint64_t>((static_cast<__int128>(delta) * cur_mult) >> 32);
    err = static_cast<std::int64_t>(s.ns - predicted);
    if (std::llabs(err) <= kStepNs) {
      anchor_ns = predicted;  // continuous: the error is absorbed over the next period instead
      mult = rate + static_cast<std::int64_t>(static_cast<__int128>(err) * rate / static_cast<std::int64_t>(kPeriodNs));
    }
  }
  page_->seq.fetch_add(1, std::memory_order_acq_rel);  // odd: readers wait
  page_->anchor_tsc.store(s.tsc, memory_order_relaxed);
  page_->anchor_ns.store(anchor_ns, memory_order_relaxed);
  page_->mult.store(static_cast<std::uint64_t>(mult), memory_order_relaxed);
  page_->updated_ns.store(s.ns, memory_order_relaxed);
  page_->error_ns.store(static_cast<std::uint64_t>(std::llabs(err)), memory_order_relaxed);
  page_->seq.fetch_add(1, memory_order_release);  // even: consistent again
}

}  // namespace aerolog::sidecar
