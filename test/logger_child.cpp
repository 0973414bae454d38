// aerolog-test-logger SHM_DIR LOGGER ROUNDS HOW [THREADS]: logs ROUNDS rounds of the test corpus
// (log_corpus.hpp) through aerolog::Logger from THREADS threads (default 1), each round ending
// with "round {} of {} done" so a test can count them; then ends as HOW says: exit (0), segv
// (an invalid write), abort (std::abort), kill (SIGKILL to itself), fork (a child logs the
// rounds again, then both exit), or flush-kill:PID (Logger::flush, then SIGKILL to PID and to
// itself the moment it returns true; exit 3 if it returns false). It installs no signal handler.
#include "log_corpus.hpp"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) return 2;
  aerolog::LoggerOptions o;
  o.ring.shm_dir = argv[1];
  o.ring.on_full = aerolog::FullPolicy::spin;  // nothing dropped: the tests count every line
  auto log = aerolog::Logger::open(argv[2], o);
  const long rounds = std::atol(argv[3]);
  const int threads = argc == 6 ? std::atoi(argv[5]) : 1;
  auto run = [&] {
    for (long i = 0; i < rounds; ++i) {
#define AEROLOG_TEST_LOG(...) AEROLOG_INFO(log, __VA_ARGS__);
      AEROLOG_TEST_CORPUS(AEROLOG_TEST_LOG, i)
      AEROLOG_WARN(log, "round {} of {} done", i, rounds);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(run);
  run();
  for (auto& t : pool) t.join();
  const std::string how = argv[4];
  if (how == "fork") {  // the child logs the rounds again, into rings of its own
    const pid_t pid = ::fork();
    if (pid == 0) {
      run();
      std::_Exit(0);  // as a child that never calls exit() would
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
  }
  if (how.rfind("flush-kill:", 0) == 0) {  // the threads but this one have exited: their lines count too
    if (!log.flush(std::chrono::seconds(30))) return 3;
    ::kill(static_cast<pid_t>(std::atol(how.c_str() + 11)), SIGKILL);
    ::kill(::getpid(), SIGKILL);
  }
  volatile std::uintptr_t nowhere = 8;  // a real invalid write, not a raise()
  if (how == "segv") *reinterpret_cast<volatile int*>(nowhere) = 1;
  if (how == "abort") std::abort();
  if (how == "kill") ::kill(::getpid(), SIGKILL);
  return 0;
}
