// Logger slow path: opening loggers, making a thread's ring, call-site records, levels, waiting
// for durability, thread exit and fork.
#include <aerolog/logger.hpp>

#include <algorithm>
#include <cstdio>
#include <mutex>

#include <pthread.h>
#include <unistd.h>

namespace aerolog {
namespace detail {

constexpr std::size_t kMaxExited = 1024;  // rings of exited threads kept open until their lines are durable

struct LoggerShared {
  std::string name;
  LoggerOptions options;
  std::size_t slot = 0;
  std::mutex mu;                                   // live, exited, next_thread, reported
  std::vector<std::shared_ptr<ThreadLog>> live;    // this process's rings of this logger
  std::vector<std::shared_ptr<ThreadLog>> exited;  // of threads gone, with lines not durable yet
  std::uint32_t next_thread = 1;
  bool reported = false;  // a ring that could not be made was reported on stderr
  std::atomic<std::uint32_t> level{0};

  // The level a new ring starts with: the one `aerologctl level` may have set on a live ring.
  std::uint32_t current_level() {
    std::lock_guard g(mu);
    return live.empty() ? level.load() : live.front()->level_->load(std::memory_order_relaxed);
  }

  // A thread exits: its ring is closed now if all its lines are durable, else when they are (so
  // that flush() still waits for them). Past kMaxExited such rings (no sidecar, and threads
  // coming and going) the oldest is closed anyway: its lines are drained later, unwaited for.
  void thread_exited(ThreadLog* t) {
    std::lock_guard g(mu);
    auto it = std::find_if(live.begin(), live.end(), [&](const auto& p) { return p.get() == t; });
    if (it == live.end()) return;
    std::shared_ptr<ThreadLog> ring = std::move(*it);
    live.erase(it);
    std::erase_if(exited, [](const auto& e) { return all_durable(*e); });
    if (all_durable(*ring)) return;
    ring->owner_.reset();  // the ring must not keep its logger alive: exited is the logger's
    if (exited.size() >= kMaxExited) exited.erase(exited.begin());
    try {
      exited.push_back(std::move(ring));
    } catch (...) {  // no memory: closed now, as past kMaxExited
    }
  }

  static bool all_durable(ThreadLog& t) { return t.producer().durable_seq() >= t.producer().published_seq(); }

  bool wait(std::chrono::nanoseconds timeout, bool ask_to_write) {
    std::vector<std::shared_ptr<ThreadLog>> rings;
    {
      std::lock_guard g(mu);
      std::erase_if(exited, [](const auto& e) { return all_durable(*e); });
      rings = live;
      rings.insert(rings.end(), exited.begin(), exited.end());
    }
    std::vector<std::uint64_t> upto;
    for (auto& r : rings) {
      upto.push_back(r->producer().published_seq());
      if (ask_to_write && upto.back() > r->producer().durable_seq()) r->producer().request_flush();
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (std::size_t i = 0; i < rings.size(); ++i) {
      const auto left = std::max(deadline - std::chrono::steady_clock::now(), std::chrono::nanoseconds::zero());
      if (upto[i] && !rings[i]->producer().wait_durable(upto[i], left)) return false;
    }
    return true;
  }
};

namespace {

std::mutex g_mu;                                       // g_loggers
std::vector<std::shared_ptr<LoggerShared>> g_loggers;  // by slot
std::atomic<std::uint32_t> g_next_site{1};
thread_local std::string t_name;  // Logger::set_thread_name

thread_local std::uint64_t t_failed = 0;  // by logger slot: this thread's ring could not be made
static_assert(kMaxLoggers <= 64);

// Closes this thread's rings when it exits (the sidecar then retires them).
struct ThreadRings {
  std::vector<std::shared_ptr<ThreadLog>> owned;
  ~ThreadRings();
};
thread_local ThreadRings t_rings;

// fork(): the child must not write into its parent's rings, nor keep their files open (which
// would keep the parent's stream locks alive after the parent lets them go).
void lock_all() {
  g_mu.lock();
  for (auto& s : g_loggers) s->mu.lock();
}
void unlock_all() {
  for (auto& s : g_loggers) s->mu.unlock();
  g_mu.unlock();
}
void child_after_fork() {
  for (auto& s : g_loggers) {
    for (auto& t : s->live) t->producer().forget_after_fork();
    for (auto& t : s->exited) t->producer().forget_after_fork();
    s->live.clear();
    s->exited.clear();
  }
  unlock_all();
  t_rings.owned.clear();  // this thread's (already forgotten); other threads' are gone with them
  std::fill(std::begin(tls_logs), std::end(tls_logs), nullptr);
  t_failed = 0;
}

}  // namespace

ThreadRings::~ThreadRings() {
  for (auto& t : owned) {
    LoggerShared& s = t->owner();  // alive as long as the process: g_loggers keeps every logger
    tls_logs[s.slot] = nullptr;
    s.thread_exited(t.get());
  }
}

ThreadLog::ThreadLog(Producer p, std::shared_ptr<LoggerShared> owner)
    : producer_(std::move(p)), level_(&producer_.log_control().level), owner_(std::move(owner)) {}

std::uint32_t ThreadLog::define(Site& site, std::string_view format, const proto::ArgType* types,
                                std::size_t n) noexcept {
  std::uint32_t id = site.id.load(std::memory_order_acquire);
  if (!id) {
    const std::uint32_t fresh = g_next_site.fetch_add(1, std::memory_order_relaxed);
    if (site.id.compare_exchange_strong(id, fresh, std::memory_order_acq_rel)) id = fresh;
  }
  const std::string_view file = std::string_view(site.file).substr(0, 65535);
  const std::string_view function = std::string_view(site.function).substr(0, 65535);
  format = format.substr(0, 65535);
  const auto size =
      static_cast<std::uint32_t>(sizeof(proto::LogSiteHeader) + n + format.size() + file.size() + function.size());
  const Claim c = producer_.claim(proto::kTypeLogSite, size);
  if (!c) return 0;
  proto::LogSiteHeader h{};
  h.site = id;
  h.line = site.line;
  h.level = site.level;
  h.arg_count = static_cast<std::uint8_t>(n);
  h.format_len = static_cast<std::uint16_t>(format.size());
  h.file_len = static_cast<std::uint16_t>(file.size());
  h.function_len = static_cast<std::uint16_t>(function.size());
  std::byte* at = c.data;
  std::memcpy(at, &h, sizeof h);
  at += sizeof h;
  std::memcpy(at, types, n);
  at += n;
  for (std::string_view s : {format, file, function}) {
    std::memcpy(at, s.data(), s.size());
    at += s.size();
  }
  producer_.commit();
  try {
    if (id >= defined_.size()) defined_.resize(std::max<std::size_t>(id + 1, 2 * defined_.size()));
  } catch (...) {
    return 0;  // no memory: the call is dropped (the site is defined again next time)
  }
  defined_[id] = 1;
  return id;
}

}  // namespace detail

using detail::LoggerShared;
using detail::ThreadLog;

Logger Logger::open(std::string_view name, const LoggerOptions& options) {
  // The thread's suffix needs room: ".t" and a number, or "." and a thread name.
  if (!proto::valid_stream_name(name.data(), name.size()) || name.size() > 52)
    throw Error(Errc::invalid_argument, "invalid logger name '" + std::string(name) +
                                            "': use 1-52 of [A-Za-z0-9_.-] (its threads' rings are named "
                                            "<logger>.t<N> or <logger>.<thread name>)");
  static std::once_flag fork_handlers;
  std::call_once(fork_handlers,
                 [] { ::pthread_atfork(detail::lock_all, detail::unlock_all, detail::child_after_fork); });
  auto s = std::make_shared<LoggerShared>();
  s->name = std::string(name);
  s->options = options;
  s->level = static_cast<std::uint32_t>(options.level);
  std::lock_guard g(detail::g_mu);
  if (detail::g_loggers.size() >= detail::kMaxLoggers)
    throw Error(Errc::invalid_argument, "a process can open at most 64 loggers (open each once and share it)");
  s->slot = detail::g_loggers.size();
  detail::g_loggers.push_back(s);
  return Logger(s->slot, s);
}

void Logger::set_thread_name(std::string_view name) {
  if (!proto::valid_stream_name(name.data(), name.size()) || name.size() > 8)
    throw Error(Errc::invalid_argument, "invalid thread name '" + std::string(name) + "': use 1-8 of [A-Za-z0-9_.-]");
  detail::t_name = std::string(name);
}

void Logger::preallocate() {
  if (detail::tls_logs[slot_]) return;
  LoggerShared& s = *shared_;
  const std::uint32_t level = s.current_level();
  std::shared_ptr<ThreadLog> made;
  for (int attempt = 0;; ++attempt) {
    std::string stream;
    {
      std::lock_guard g(s.mu);
      stream = s.name + "." +
               (detail::t_name.empty() ? "t" + std::to_string(s.next_thread++)
                : attempt              ? detail::t_name + std::to_string(attempt)
                                       : detail::t_name);
    }
    try {
      made.reset(new ThreadLog(Producer::open(stream, s.options.ring), shared_));
      break;
    } catch (const Error& e) {
      // Another live process (or a forked child's parent) holds that ring: take the next name.
      if (e.code() != Errc::busy || attempt == 99) throw;
    }
  }
  proto::RingLog& ctl = made->producer().log_control();
  ctl.level.store(level, std::memory_order_relaxed);
  ctl.log_magic.store(proto::kLogRingMagic, std::memory_order_release);
  {
    std::lock_guard g(s.mu);
    s.live.push_back(made);
  }
  detail::tls_logs[slot_] = made.get();
  detail::t_rings.owned.push_back(std::move(made));
}

// A thread's first call makes its ring whatever its level: deciding a filtered call without a
// ring would need the logger's lock (the level lives in the ring headers, where `aerologctl
// level` changes it), and every later call, filtered or not, then costs one load.
ThreadLog* Logger::attach_if(Level level) noexcept {
  if (detail::t_failed >> slot_ & 1) return nullptr;
  try {
    preallocate();
    ThreadLog* t = detail::tls_logs[slot_];
    return t->enabled(level) ? t : nullptr;
  } catch (const std::exception& e) {
    detail::t_failed |= 1ull << slot_;
    LoggerShared& s = *shared_;
    std::lock_guard g(s.mu);
    if (!s.reported)
      std::fprintf(stderr, "aerolog: logger %s: a thread's calls are dropped: %s\n", s.name.c_str(), e.what());
    s.reported = true;
    return nullptr;
  }
}

void Logger::set_level(Level level) {
  LoggerShared& s = *shared_;
  std::lock_guard g(s.mu);
  s.level = static_cast<std::uint32_t>(level);
  for (auto& t : s.live) t->producer().log_control().level.store(s.level, std::memory_order_relaxed);
}

bool Logger::flush(std::chrono::nanoseconds timeout) { return shared_->wait(timeout, true); }
bool Logger::wait_durable(std::chrono::nanoseconds timeout) { return shared_->wait(timeout, false); }

Level Logger::level() const noexcept { return static_cast<Level>(shared_->current_level()); }
const std::string& Logger::name() const noexcept { return shared_->name; }

}  // namespace aerolog
