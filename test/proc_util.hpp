// Child processes for the tests: forked producers publishing seq-derived payloads.
#pragma once
#include <aerolog/producer.hpp>

#include "ring_consumer.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace testutil {

// A test's size from the environment (the soak and sanitizer runs of scripts/test.sh set them):
// the variable's value, or `dflt` when it is unset or empty.
inline unsigned env_uint(const char* name, unsigned dflt) {
  const char* v = std::getenv(name);
  return v && *v ? static_cast<unsigned>(std::strtoul(v, nullptr, 10)) : dflt;
}

// Runs fn in a child process; the child never returns into Catch2.
template <class Fn>
pid_t spawn(Fn fn) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int rc = 0;
    try {
      rc = fn();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
      rc = 3;
    }
    ::_exit(rc);
  }
  return pid;
}

inline int wait_exit(pid_t pid) {
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

inline std::uint16_t type_for(std::uint64_t seq) { return static_cast<std::uint16_t>(256 + seq % 5); }

// Publishes payload_for(seq) with type_for(seq) from the ring's next seq through `last`
// (0: forever), waiting for space when full; at most `rate` records per second if given.
inline int publish_until(const std::string& dir, const std::string& stream, std::uint64_t capacity, std::uint64_t last,
                         std::uint64_t rate = 0) {
  aerolog::ProducerOptions o;
  o.shm_dir = dir;
  o.capacity = capacity;
  o.on_full = aerolog::FullPolicy::spin;
  auto p = aerolog::Producer::open(stream, o);
  const auto start = std::chrono::steady_clock::now();
  const std::uint64_t first = p.last_seq() + 1;
  for (std::uint64_t seq = first; last == 0 || seq <= last; ++seq) {
    if (rate && (seq - first) % 100 == 0)  // pace in steps of 100 records
      std::this_thread::sleep_until(start + std::chrono::nanoseconds((seq - first) * 1'000'000'000 / rate));
    auto pl = payload_for(seq);
    aerolog::Result r = p.publish(type_for(seq), pl.data(), static_cast<std::uint32_t>(pl.size()));
    if (!r || r.seq != seq) return 4;
  }
  return 0;
}

// publish_until in a fresh process (fork + exec of aerolog-test-publisher).
// fork + exec of args[0] with args, no signal blocked (sanitizer runtimes block some around fork).
inline pid_t spawn_exec(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

inline pid_t spawn_publisher(const std::string& dir, const std::string& stream, std::uint64_t capacity,
                             std::uint64_t last, std::uint64_t rate = 0) {
  return spawn_exec(
      {AEROLOG_TEST_PUBLISHER, dir, stream, std::to_string(capacity), std::to_string(last), std::to_string(rate)});
}

template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace testutil
