// The daemon: finds rings, owns the streams and the io_uring, runs the drain loop, talks to
// systemd, and publishes its control block for aerologctl.
#pragma once
#include "clock_keeper.hpp"
#include "files.hpp"
#include "options.hpp"
#include "preparer.hpp"
#include "stream.hpp"
#include "uring.hpp"

#include <aerolog/proto/control.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>

namespace aerolog::sidecar {

class Sidecar {
 public:
  explicit Sidecar(const Options& opt);  // takes the WAL and shm locks and the control block; throws
  ~Sidecar();
  // Until SIGTERM/SIGINT arrive on signal_fd; returns the exit code. A `log_file` is named on
  // stderr with the ready line (for a sidecar started by hand).
  int run(int signal_fd, const std::string& log_file = "");

 private:
  Stream& stream(const std::string& name);
  void recover_all();
  void scan_shm();
  void read_inotify();
  void try_attach(const std::string& name);
  std::string over_cap(uid_t uid) const;
  void reject(const std::string& name, const std::string& why);
  void housekeeping(std::uint64_t now);
  void idle(std::uint64_t now);
  std::string status_line() const;

  Options opt_;
  common::Fd wal_lock_;
  common::Fd shm_lock_;  // held for as long as it runs: one sidecar per shm directory
  common::Fd control_fd_;
  proto::ControlBlock* control_ = nullptr;
  std::unique_ptr<ClockKeeper> clock_;  // the producers' clock page (none if it cannot be made)
  Uring uring_;
  Preparer preparer_;
  StreamTotals totals_;
  std::map<std::string, std::unique_ptr<Stream>> streams_;
  std::set<std::string> waiting_;                // rings seen but not attachable yet
  std::map<std::string, std::string> rejected_;  // ring files not served, and why: looked at each scan only
  std::uint64_t rejected_unlogged_ = 0;          // more of them than rejected_ keeps
  common::Fd inotify_;
  bool stopping_ = false;
  std::uint64_t last_work_ns_ = 0, nap_ns_ = 10'000;
  std::uint64_t next_hk_ns_ = 0, next_scan_ns_ = 0, next_status_ns_ = 0, next_watchdog_ns_ = 0;
  std::uint64_t watchdog_usec_ = 0;
};

}  // namespace aerolog::sidecar
