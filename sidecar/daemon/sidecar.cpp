#include "sidecar.hpp"

#include "clock.hpp"
#include "files.hpp"
#include "instance_lock.hpp"
#include "ring_file.hpp"
#include "ring_guard.hpp"
#include "safe_file.hpp"
#include "sys_error.hpp"

#include <aerolog/proto/names.hpp>
#include <aerolog/proto/ring.hpp>

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <system_error>

#include <dirent.h>
#include <fcntl.h>
#include <immintrin.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef AEROLOG_VERSION
#define AEROLOG_VERSION "0.0.0"
#endif

namespace aerolog::sidecar {

using namespace common;  // files, clocks, errno errors

using namespace proto;

namespace {

constexpr std::uint64_t kHousekeepingNs = 10'000'000;  // 10 ms
constexpr std::uint64_t kStatusNs = 1'000'000'000;
constexpr std::size_t kMaxFastRetries = 64;       // rings retried every housekeeping pass; more wait for the scan
constexpr std::size_t kMaxRejectedLogged = 4096;  // names whose refusal is remembered (logged once)

Fd lock_wal_dir(const std::string& wal_dir) {
  make_dirs_durably(wal_dir);
  return lock_single_instance(wal_dir, "aerolog-sidecar");
}

// The shm directory is the sidecar's own (made here, 3770, when it is missing): producers take
// its owner for the sidecar, whose clock page and continuation rings they trust.
void check_own_shm_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0770) == 0 && ::chmod(dir.c_str(), 03770) != 0) throw_errno("chmod " + dir);
  struct stat st;
  if (std::string why = detail::check_shm_dir(dir, st); !why.empty()) throw std::runtime_error(why);
  if (st.st_uid != ::geteuid())
    throw std::runtime_error("shm directory " + dir + " is owned by uid " + std::to_string(st.st_uid) +
                             ", not the sidecar's user (uid " + std::to_string(::geteuid()) +
                             "): producers trust the directory's owner as the sidecar; chown it "
                             "(docs/security.md)");
}

}  // namespace

Sidecar::Sidecar(const Options& opt)
    : opt_(opt), wal_lock_(lock_wal_dir(opt.wal_dir)), uring_(1024), preparer_(opt.zero_spares) {
  check_own_shm_dir(opt_.shm_dir);
  // One sidecar per shm directory, whatever its WAL: a second one would take over the control
  // block and mark the first one's rings. Nothing in the directory is touched before this.
  shm_lock_ = lock_shared_dir(opt_.shm_dir, kShmLockName, "aerolog-sidecar");
  const std::string path = opt_.shm_dir + "/" + kControlName;
  control_fd_ = own_shared_file(opt_.shm_dir, kControlName, 0644);  // written by the sidecar only
  if (::ftruncate(control_fd_.get(), kControlSize) != 0) throw_errno("size " + path);
  void* m = ::mmap(nullptr, kControlSize, PROT_READ | PROT_WRITE, MAP_SHARED, control_fd_.get(), 0);
  if (m == MAP_FAILED) throw_errno("map " + path);
  std::memset(m, 0, kControlSize);
  control_ = static_cast<ControlBlock*>(m);
  control_->pid = static_cast<std::uint32_t>(::getpid());
  control_->start_ns = wall_ns();
  control_->heartbeat_ns = wall_ns();
  control_->durability = static_cast<std::uint32_t>(opt_.durability);
  std::snprintf(control_->sidecar_version, sizeof control_->sidecar_version, "%s", AEROLOG_VERSION);
  if (opt_.wal_dir.size() < sizeof control_->wal_dir)  // a cut path would point elsewhere: none then
    std::memcpy(control_->wal_dir, opt_.wal_dir.c_str(), opt_.wal_dir.size() + 1);
  if (opt_.ship_state_dir.size() < sizeof control_->ship_state_dir)
    std::memcpy(control_->ship_state_dir, opt_.ship_state_dir.c_str(), opt_.ship_state_dir.size() + 1);
  control_->version.store(kControlVersion, std::memory_order_release);
  control_->magic.store(kControlMagic, std::memory_order_release);

  try {
    clock_ = std::make_unique<ClockKeeper>(opt_.shm_dir);
  } catch (const std::exception& e) {  // producers then calibrate their own clocks
    spdlog::error("no clock page for the producers: {}", e.what());
  }

  inotify_ = Fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify_ || ::inotify_add_watch(inotify_.get(), opt_.shm_dir.c_str(),
                                       IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_MODIFY) < 0)
    throw_errno("inotify on " + opt_.shm_dir);
}

Sidecar::~Sidecar() {
  streams_.clear();
  if (control_) ::munmap(control_, kControlSize);
}

Stream& Sidecar::stream(const std::string& name) {
  auto it = streams_.find(name);
  if (it == streams_.end()) {
    it = streams_.emplace(name, std::make_unique<Stream>(name, opt_, uring_, preparer_, totals_)).first;
    it->second->recover_wal();
  }
  return *it->second;
}

void Sidecar::recover_all() {
  DIR* d = ::opendir(opt_.wal_dir.c_str());
  if (!d) throw_errno("open " + opt_.wal_dir);
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d))
    if (e->d_type == DT_DIR && valid_stream_name(e->d_name, std::strlen(e->d_name)) && e->d_name[0] != '.')
      names.push_back(e->d_name);
  ::closedir(d);
  for (const auto& n : names) stream(n);
}

// Why a new stream for a ring of `uid` would pass a cap ("" if it would not).
std::string Sidecar::over_cap(uid_t uid) const {
  if (streams_.size() >= opt_.max_streams)
    return std::to_string(streams_.size()) + " streams are served already (--max-streams)";
  std::uint64_t mine = 0;
  for (const auto& [n, s] : streams_) mine += s->owner_uid() == uid;
  if (mine >= opt_.max_streams_per_user)
    return "uid " + std::to_string(uid) + " has " + std::to_string(mine) + " streams already (--max-streams-per-user)";
  return {};
}

// A ring file for a name no stream has yet is checked before anything is built for it: a file
// that is not served costs one open and one fstat per scan, and one log line per name.
void Sidecar::try_attach(const std::string& name) {
  const std::string path = detail::ring_path(opt_.shm_dir, name);
  auto it = streams_.find(name);
  if (it != streams_.end() && it->second->attached()) {
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0 && st.st_ino == it->second->ring_inode()) {
      waiting_.erase(name);
      return;
    }
  }
  RingCandidate c = check_ring_file(path, opt_);
  if (it == streams_.end()) {
    std::string why = c.problem;
    if (why.empty() && !c.absent && c.probe.kind == detail::RingProbe::live) why = over_cap(c.st.st_uid);
    if (!why.empty()) {
      waiting_.erase(name);
      reject(name, why);
      return;
    }
    if (c.absent || c.probe.kind != detail::RingProbe::live) {  // gone, or being created: look again soon
      if (c.absent)
        waiting_.erase(name);
      else
        waiting_.insert(name);
      return;
    }
    rejected_.erase(name);
    stream(name);
  }
  if (streams_[name]->attach(path, std::move(c)))
    waiting_.erase(name);
  else
    waiting_.insert(name);
}

void Sidecar::reject(const std::string& name, const std::string& why) {
  auto [it, added] = rejected_.try_emplace(name, why);
  if (!added && it->second == why) return;
  if (added && rejected_.size() > kMaxRejectedLogged) {  // the names are not kept past that; the count is
    rejected_.erase(it);
    ++rejected_unlogged_;
    return;
  }
  it->second = why;
  spdlog::warn("ring not served: {}", why);
}

void Sidecar::scan_shm() {
  DIR* d = ::opendir(opt_.shm_dir.c_str());
  if (!d) {
    spdlog::error("cannot read {}: {}", opt_.shm_dir, std::strerror(errno));
    return;
  }
  std::set<std::string> names;
  while (dirent* e = ::readdir(d))
    if (std::string n = detail::stream_of_ring_file(e->d_name); !n.empty()) names.insert(n);
  ::closedir(d);
  std::erase_if(rejected_, [&](const auto& r) { return !names.count(r.first); });  // gone: forgotten
  rejected_unlogged_ = 0;                                                          // counted again below
  for (const auto& n : names) try_attach(n);
}

void Sidecar::read_inotify() {
  alignas(inotify_event) char buf[8192];
  for (;;) {
    const ssize_t n = ::read(inotify_.get(), buf, sizeof buf);
    if (n <= 0) return;
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<inotify_event*>(p);
      if (ev->len)
        if (std::string s = detail::stream_of_ring_file(ev->name);
            !s.empty() && !rejected_.count(s) && (!streams_.count(s) || !streams_[s]->attached()))
          waiting_.insert(s);
      p += sizeof(inotify_event) + ev->len;
    }
  }
}

std::string Sidecar::status_line() const {
  std::size_t attached = 0, failed = 0;
  for (const auto& [n, s] : streams_) {
    attached += s->attached();
    failed += s->state() != RingState::ok;
  }
  char b[256];
  std::snprintf(b, sizeof b,
                "%s%zu streams (%zu with a ring, %zu failed); %llu records, %llu MiB written; durability %s",
                stopping_ ? "stopping: " : "", streams_.size(), attached, failed,
                static_cast<unsigned long long>(totals_.frames), static_cast<unsigned long long>(totals_.bytes >> 20),
                opt_.durability == Durability::none ? "NONE (records are NOT durable)" : name_of(opt_.durability));
  return b;
}

void Sidecar::housekeeping(std::uint64_t now) {
  if (clock_) clock_->tick(now);
  read_inotify();
  if (now >= next_scan_ns_) {
    next_scan_ns_ = now + opt_.scan_interval_ms * 1'000'000ull;
    scan_shm();
  } else if (!waiting_.empty() && waiting_.size() <= kMaxFastRetries) {
    const auto names = waiting_;
    for (const auto& n : names) try_attach(n);
  }
  std::uint64_t failed = 0;
  for (auto& [n, s] : streams_) {
    s->housekeeping(now);
    failed += s->state() != RingState::ok;
  }
  control_->heartbeat_ns.store(wall_ns(), std::memory_order_relaxed);
  control_->streams.store(streams_.size(), std::memory_order_relaxed);
  control_->streams_failed.store(failed, std::memory_order_relaxed);
  control_->blocks_written.store(totals_.blocks, std::memory_order_relaxed);
  control_->bytes_written.store(totals_.bytes, std::memory_order_relaxed);
  control_->frames_written.store(totals_.frames, std::memory_order_relaxed);
  control_->io_errors.store(totals_.io_errors, std::memory_order_relaxed);
  control_->rings_rejected.store(rejected_.size() + rejected_unlogged_, std::memory_order_relaxed);
  if (now >= next_status_ns_) {
    next_status_ns_ = now + kStatusNs;
    sd_notifyf(0, "STATUS=%s", status_line().c_str());
  }
  if (watchdog_usec_ && now >= next_watchdog_ns_) {
    next_watchdog_ns_ = now + watchdog_usec_ * 1000 / 2;
    sd_notify(0, "WATCHDOG=1");
  }
}

void Sidecar::idle(std::uint64_t now) {
  std::size_t inflight = 0;
  for (auto& [n, s] : streams_) inflight += s->inflight();
  if (opt_.idle == Idle::spin || (opt_.idle == Idle::backoff && now - last_work_ns_ < opt_.spin_us * 1000)) {
    _mm_pause();
    return;
  }
  const std::uint64_t nap = opt_.idle == Idle::sleep ? opt_.max_sleep_us * 1000 : nap_ns_;
  if (inflight) {
    uring_.wait(nap);  // wakes as soon as a write completes
  } else {
    timespec ts{0, static_cast<long>(nap)};
    nanosleep(&ts, nullptr);
  }
  nap_ns_ = std::min<std::uint64_t>(nap_ns_ * 2, opt_.max_sleep_us * 1000);
}

int Sidecar::run(int signal_fd, const std::string& log_file) {
  common::guard::install();
  recover_all();
  scan_shm();
  if (sd_watchdog_enabled(0, &watchdog_usec_) <= 0) watchdog_usec_ = 0;
  spdlog::info("aerolog-sidecar {} ready: shm {}, WAL {}, durability {}, idle {}, {} stream(s)", AEROLOG_VERSION,
               opt_.shm_dir, opt_.wal_dir, name_of(opt_.durability), to_string(opt_.idle), streams_.size());
  if (opt_.durability == Durability::none)
    spdlog::warn("durability is NONE: nothing is synced, records are NOT durable (benchmarks only)");
  sd_notifyf(0, "READY=1\nSTATUS=%s\nMAINPID=%d", status_line().c_str(), static_cast<int>(::getpid()));
  if (!log_file.empty())
    std::fprintf(stderr, "aerolog-sidecar: ready: shm %s, WAL %s, %zu stream(s); its log is %s (Ctrl-C stops it)\n",
                 opt_.shm_dir.c_str(), opt_.wal_dir.c_str(), streams_.size(), log_file.c_str());

  std::uint64_t deadline = 0;
  for (std::uint64_t loops = 0;; ++loops) {
    const std::uint64_t now = mono_ns();
    bool work = false;
    for (auto& [n, s] : streams_) work |= s->poll(now, stopping_);
    uring_.submit();
    work |= uring_.reap([](std::uint64_t ud, int res) {
      if (ud & kCqeNaming) {
        reinterpret_cast<Stream*>(ud & ~kCqeTags)->on_naming_cqe(res, ud & kCqeHeader);
      } else {
        auto* b = reinterpret_cast<Block*>(ud & ~kCqeTags);
        b->owner->on_cqe(b, res, ud & kCqeSync);
      }
    }) > 0;
    if (now >= next_hk_ns_) {
      next_hk_ns_ = now + kHousekeepingNs;
      control_->loops.store(loops, std::memory_order_relaxed);
      housekeeping(now);
      signalfd_siginfo si;  // SIGTERM / SIGINT pending? (the first check is on the first pass)
      if (!stopping_ && ::read(signal_fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        stopping_ = true;
        deadline = now + opt_.stop_timeout_s * 1'000'000'000ull;
        control_->stopping.store(1, std::memory_order_relaxed);
        sd_notifyf(0, "STOPPING=1\nSTATUS=%s", status_line().c_str());
        spdlog::info("stopping: draining every ring (at most {} s)", opt_.stop_timeout_s);
      }
    }
    if (stopping_) {
      bool all = true;
      for (auto& [n, s] : streams_) all = all && s->drained();
      if (all || now >= deadline) {
        for (auto& [n, s] : streams_) s->sync_for_stop();
        if (!all) {
          spdlog::error("stop timeout: some records were not made durable; they stay in their rings");
          return 1;
        }
        spdlog::info("stopped: every ring drained and synced ({})", status_line());
        return 0;
      }
    }
    if (work) {
      last_work_ns_ = now;
      nap_ns_ = 10'000;
    } else {
      idle(now);
    }
  }
}

}  // namespace aerolog::sidecar
