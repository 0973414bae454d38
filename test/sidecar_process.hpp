// The real aerolog-sidecar as a child process, on private shm and WAL directories.
#pragma once
#include <algorithm>
#include <chrono>
#include <csignal>
#include <stdexcept>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace testutil {

class SidecarProcess {
 public:
  // run_as: the user to run it as (its groups; umask 0007, looser than the unit's 0027), else ours.
  SidecarProcess(std::string shm, std::string wal, std::vector<std::string> extra = {},
                 std::vector<std::string> env = {}, const std::string& log_dir = "",
                 uid_t run_as = static_cast<uid_t>(-1))
      : shm_(std::move(shm)), wal_(std::move(wal)) {
    static int instance = 0;
    log_ = (log_dir.empty() ? wal_ : log_dir) + "/sidecar-" + std::to_string(++instance) + ".log";  // one per run
    std::vector<std::string> args = {AEROLOG_SIDECAR_BIN,  "--shm-dir", shm_, "--wal-dir", wal_, "--log-file", log_,
                                     "--scan-interval-ms", "50"};
    if (std::find(extra.begin(), extra.end(), "--segment-size") == extra.end())
      args.insert(args.end(), {"--segment-size", "4194304"});
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int exec_pipe[2];
    if (::pipe2(exec_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    pid_ = ::fork();
    if (pid_ == 0) {  // no allocation and no Catch2 from here on
      for (int sig : {SIGTERM, SIGINT, SIGSEGV, SIGABRT}) ::signal(sig, SIG_DFL);
      sigset_t none;  // the sanitizer runtimes block signals around fork: do not pass that on
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      for (auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
      if (run_as != static_cast<uid_t>(-1)) {
        const passwd* pw = ::getpwuid(run_as);
        if (!pw || ::initgroups(pw->pw_name, pw->pw_gid) != 0 || ::setgid(pw->pw_gid) != 0 || ::setuid(run_as) != 0)
          ::_exit(126);
        ::umask(0007);
      }
      int devnull = ::open("/dev/null", O_WRONLY);
      ::dup2(devnull, 1);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    // Return only once the child has exec'd (the pipe closes): a signal sent after this
    // reaches the sidecar, not a half-forked copy of the test.
    ::close(exec_pipe[1]);
    char c;
    while (::read(exec_pipe[0], &c, 1) > 0) {
    }
    ::close(exec_pipe[0]);
  }
  ~SidecarProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }
  pid_t pid() const { return pid_; }
  void forget() { pid_ = -1; }  // already reaped by the caller
  void signal(int sig) { ::kill(pid_, sig); }
  // Exit code, or 128 + signal.
  int wait() {
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  std::string log() const { return read_file(log_); }
  static std::string read_file(const std::string& p) {
    std::string s;
    if (FILE* f = std::fopen(p.c_str(), "rb")) {
      char buf[4096];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
      std::fclose(f);
    }
    return s;
  }

 private:
  std::string shm_, wal_, log_;
  pid_t pid_ = -1;
};

}  // namespace testutil
