// SIGTERM/SIGINT for the AeroLog daemons: blocked in every thread (call this first in main,
// before any thread exists) and read from the returned signalfd by the main loop, so a stop
// request during start-up is kept until the loop sees it and no helper thread takes it.
// SIGPIPE is ignored (a sink or pipe that goes away is an error return, not a death).
#pragma once
#include <csignal>

#include <sys/signalfd.h>

namespace aerolog::common {

inline int stop_signal_fd() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigprocmask(SIG_BLOCK, &stop, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC);
}

}  // namespace aerolog::common
