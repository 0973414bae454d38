// Test-side handle on aerolog-cutfs: spawns it on a backing dir and mount point, talks to its
// control socket (cut, stats) and unmounts in the destructor, also after a cut.
//
// Header-only, no test-framework dependency. The binary path comes from the compile
// definition AEROLOG_CUTFS_BIN: a test target gets it with
//   target_compile_definitions(t PRIVATE AEROLOG_CUTFS_BIN="$<TARGET_FILE:aerolog-cutfs>")
// Set AEROLOG_CUTFS_LOG=FILE in the environment to get the daemon's debug log.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace testutil {

class CutFs {
 public:
  static constexpr long kFuseMagic = 0x65735546;  // FUSE_SUPER_MAGIC

  // Mounts backing (created if missing) on mount (created if missing); throws on failure.
  // sectors: "512", "4096" or "mixed" (the default sector size of random images).
  CutFs(std::string backing, std::string mount, unsigned max_delay_us = 300, std::uint64_t seed = 1,
        std::string sectors = "mixed")
      : backing_(std::move(backing)), mount_(std::move(mount)) {
    static std::atomic<unsigned> counter{0};
    control_ = "/tmp/cutfs-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".sock";
    ::mkdir(backing_.c_str(), 0755);
    ::mkdir(mount_.c_str(), 0755);
    std::vector<std::string> args = {bin(),
                                     "--backing",
                                     backing_,
                                     "--mount",
                                     mount_,
                                     "--control",
                                     control_,
                                     "--max-delay-us",
                                     std::to_string(max_delay_us),
                                     "--seed",
                                     std::to_string(seed),
                                     "--sectors",
                                     sectors};
    if (const char* log = std::getenv("AEROLOG_CUTFS_LOG"); log && *log) {
      args.push_back("--log");
      args.push_back(log);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("cutfs: fork failed");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // a crashed test must not leave a mount behind
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    wait_live();
  }

  ~CutFs() {
    try {
      command("quit");
    } catch (...) {
    }
    if (!wait_exit(std::chrono::seconds(10))) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    struct statfs sf {};
    if (::statfs(mount_.c_str(), &sf) == 0 && sf.f_type == kFuseMagic)
      ::umount2(mount_.c_str(), MNT_DETACH);
    else if (errno == ENOTCONN)  // the daemon died: its mount is left dangling
      ::umount2(mount_.c_str(), MNT_DETACH);
    ::unlink(control_.c_str());
  }

  CutFs(const CutFs&) = delete;
  CutFs& operator=(const CutFs&) = delete;

  // Why the tests cannot run here, or "" when they can.
  static std::string unavailable_reason() {
    if (bin().empty()) return "AEROLOG_CUTFS_BIN is not defined for this target";
    if (::access(bin().c_str(), X_OK) != 0) return bin() + " is not executable";
    int fd = ::open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (fd < 0) return std::string("/dev/fuse: ") + std::strerror(errno);
    ::close(fd);
    if (::geteuid() != 0 && ::access("/usr/bin/fusermount3", X_OK) != 0) return "not root and no fusermount3";
    return {};
  }
  static bool available() { return unavailable_reason().empty(); }

  // Cuts the power and writes count (>= 2) images: outdir/0 keeps nothing that was not
  // durable, outdir/1 keeps everything, the rest are random from seed. sector: 512 or 4096,
  // or 0 for the daemon's --sectors. Returns the image paths; throws on error.
  std::vector<std::string> cut(const std::string& outdir, unsigned count, std::uint64_t seed, unsigned sector = 0) {
    std::string line = "cut " + outdir + " " + std::to_string(count) + " " + std::to_string(seed);
    if (sector) line += " " + std::to_string(sector);
    std::string reply = command(line);
    if (reply != "ok " + std::to_string(count)) throw std::runtime_error("cutfs cut: " + reply);
    std::vector<std::string> images;
    for (unsigned i = 0; i < count; ++i) images.push_back(outdir + "/" + std::to_string(i));
    return images;
  }

  // One line of counters: writes, dsync_writes, fsyncs, fsyncdirs, ns_pending, bytes_pending…
  std::string stats() { return command("stats"); }

  const std::string& mount() const { return mount_; }
  const std::string& backing() const { return backing_; }

 private:
  static std::string bin() {
#ifdef AEROLOG_CUTFS_BIN
    return AEROLOG_CUTFS_BIN;
#else
    return {};
#endif
  }

  bool wait_exit(std::chrono::milliseconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || (r < 0 && errno == ECHILD)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  // Live = the mount point is a FUSE mount and the control socket answers.
  void wait_live() {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_)
        throw std::runtime_error("aerolog-cutfs exited early, status " + std::to_string(status));
      struct statfs sf {};
      if (::statfs(mount_.c_str(), &sf) == 0 && sf.f_type == kFuseMagic && ::access(control_.c_str(), F_OK) == 0)
        return;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    ::umount2(mount_.c_str(), MNT_DETACH);
    throw std::runtime_error("aerolog-cutfs did not mount " + mount_ + " within 10 s");
  }

  std::string command(const std::string& line) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("cutfs: socket failed");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, control_.c_str(), sizeof addr.sun_path - 1);
    std::string msg = line + "\n", reply;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(msg.size())) {
      ::close(fd);
      throw std::runtime_error("cutfs: control socket " + control_ + ": " + std::strerror(errno));
    }
    char c;
    while (::read(fd, &c, 1) == 1 && c != '\n') reply += c;
    ::close(fd);
    return reply;
  }

  std::string backing_, mount_, control_;
  pid_t pid_ = -1;
};

}  // namespace testutil
