// aerolog-ship: ships every stream's durable records from the WAL to ClickHouse and/or NATS
// JetStream, exactly once, with a checkpoint per stream and sink.
#include "cli.hpp"
#include "instance_lock.hpp"
#include "logging.hpp"
#include "files.hpp"
#include "ring_guard.hpp"
#include "shm_view.hpp"
#include "stop_signals.hpp"
#include "clickhouse.hpp"
#include "nats.hpp"
#include "options.hpp"
#include "shipper.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace {}  // namespace

int main(int argc, char** argv) {
  using namespace aerolog::ship;
  using namespace aerolog::common;
  const int signal_fd = aerolog::common::stop_signal_fd();

  Options o;
  CLI::App app{
      "aerolog-ship: ships every stream's durable records (at or below the HWM the sidecar\n"
      "publishes) from the WAL in --wal-dir to ClickHouse and/or NATS JetStream. Each sink keeps a\n"
      "checkpoint per stream in --state-dir; batches re-sent after a failure are collapsed by the\n"
      "sink, so every record arrives exactly once. A sink that is down is retried with backoff;\n"
      "the WAL is the buffer (the sidecar keeps segments a sink still needs)."};
  const auto config = add_options(app, o);
  bool check_only = false;
  app.add_flag("--check-config", check_only, "check the flags and the --config file, say so, and exit (0 valid, 2 not)")
      ->configurable(false);
  app.footer(
      "Exit status: 0 stopped cleanly (--once: everything durable was shipped); 1 runtime error or,\n"
      "with --once, a sink failed or a stream could not be shipped (a record too big for the sink,\n"
      "an unreadable checkpoint); 2 invalid flags or config file.");
  if (auto rc = aerolog::common::parse_cli(app, argc, argv, "aerolog-ship", config.get())) return *rc;
  aerolog::common::guard::install();  // a ring truncated while mapped reads as zeros, never SIGBUS
  if (o.wal_dir.empty()) o.wal_dir = sidecar_dirs(o.shm_dir).wal_dir;  // the running sidecar's, else the default
  if (o.clickhouse_url.empty() && o.nats_url.empty()) {
    std::fprintf(stderr, "aerolog-ship: no sink configured: give --clickhouse-url and/or --nats-url (try --help)\n");
    return 2;
  }
  if (auto clash = aerolog::ship::clickhouse_name_clash(o.clickhouse_table, o.clickhouse_logs)) {
    std::fprintf(stderr, "aerolog-ship: --clickhouse-table and --clickhouse-logs both name '%s' (try --help)\n",
                 clash->c_str());
    return 2;
  }
  if (o.host.empty()) {
    char h[256] = {};
    ::gethostname(h, sizeof h - 1);
    o.host = h;
  }
  if (check_only) {
    std::printf("aerolog-ship: configuration valid: WAL %s, state %s, sinks:%s%s\n", o.wal_dir.c_str(),
                o.state_dir.c_str(), o.clickhouse_url.empty() ? "" : " ClickHouse", o.nats_url.empty() ? "" : " NATS");
    return 0;
  }
  try {
    aerolog::common::make_dirs_durably(o.state_dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "aerolog-ship: state dir: %s\n", e.what());
    return 1;
  }
  Fd lock;
  std::shared_ptr<spdlog::logger> log;
  try {
    lock = lock_single_instance(o.state_dir, "aerolog-ship");
    log = make_logger("aerolog-ship", o.log_file, o.log_level);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "aerolog-ship: %s\n", e.what());
    return 1;
  }
  std::vector<std::unique_ptr<Shipper>> shippers;
  if (!o.clickhouse_url.empty())
    shippers.push_back(std::make_unique<Shipper>(o, std::make_unique<ClickHouseSink>(o), log));
  if (!o.nats_url.empty()) shippers.push_back(std::make_unique<Shipper>(o, std::make_unique<NatsSink>(o), log));
  log->info("aerolog-ship: host {}, WAL {}, state {}{}{}", o.host, o.wal_dir, o.state_dir,
            o.clickhouse_url.empty() ? "" : ", clickhouse " + o.clickhouse_url,
            o.nats_url.empty() ? "" : ", nats " + o.nats_url);

  std::atomic<bool> stop{false};
  std::atomic<int> running{static_cast<int>(shippers.size())}, failed{0};
  std::vector<std::thread> threads;
  for (auto& s : shippers)
    threads.emplace_back([&, sh = s.get()] {
      bool done = false;
      try {
        done = sh->run(stop);
      } catch (const std::exception& e) {
        log->critical("aerolog-ship: {}", e.what());
      }
      if (o.once && !done) failed.fetch_add(1);
      running.fetch_sub(1);
    });
  sd_notify(0, "READY=1\nSTATUS=shipping");
  while (running.load() > 0) {
    pollfd p{signal_fd, POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      signalfd_siginfo si;
      if (::read(signal_fd, &si, sizeof si) == sizeof si) {
        log->info("aerolog-ship: signal {}: stopping", si.ssi_signo);
        sd_notify(0, "STOPPING=1");
        stop.store(true);
      }
    }
  }
  for (auto& t : threads) t.join();
  shippers.clear();
  log->info("aerolog-ship: stopped");
  return failed.load() ? 1 : 0;
}
