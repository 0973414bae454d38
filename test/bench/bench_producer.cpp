// Producer benchmark: single-call latency and throughput of publishing a 40-byte record, beside
// baselines measured in the same run: a bare memcpy into a private buffer (the floor),
// std::ofstream::write, and spdlog's async logger with a file sink.
//
// Latency: each call bracketed by rdtscp + lfence; the bracket's own cost is measured and
// reported (it is included in every row alike). A thread on the other core drains the ring the
// way the sidecar does (reads write_pos, frees the space), so the producer sees the real cache
// line traffic but no disk; one row runs with the real sidecar (dsync, --idle spin) instead.
#include "bench_util.hpp"
#include "drainer.hpp"

#include <aerolog/producer.hpp>

#include <spdlog/async.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <csignal>
#include <cstdlib>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using namespace bench;

constexpr std::uint32_t kPayload = 40;

// The real sidecar as a child: dsync, `idle` (spin for the lowest latency, backoff by default),
// pinned to CPU 1 (the producer has CPU 0).
pid_t start_sidecar(const std::string& shm, const std::string& wal, const std::string& idle) {
  std::vector<std::string> args = {AEROLOG_SIDECAR_BIN,  "--shm-dir", shm,  "--wal-dir", wal, "--log-file",
                                   wal + "/sidecar.log", "--idle",    idle, "--cpu",     "1"};
  return spawn(args);
}

std::vector<Row> run_once(const Config& cfg) {
  std::vector<Row> rows;
  unsigned char payload[kPayload];
  for (unsigned i = 0; i < kPayload; ++i) payload[i] = static_cast<unsigned char>(i);

  {  // floor: memcpy into a private 64 MiB buffer, 64-byte stride like a ring frame
    Row r{"memcpy (floor)"};
    r.cross_core_ns = cross_core_ns();
    std::vector<unsigned char> buf(64 << 20);
    std::size_t pos = 0;
    auto op = [&] {
      std::memcpy(&buf[pos], payload, kPayload);
      pos = (pos + 64) & (buf.size() - 1);
      asm volatile("" ::: "memory");
    };
    latency(r, cfg.samples, op);
    r.tput_small = throughput(cfg.small, op);
    r.tput_large = throughput(cfg.large, op);
    rows.push_back(r);
  }
  const std::string shm = "/dev/shm";
  // publish (copy), claim + commit (zero-copy), and publish with a caller-supplied
  // timestamp (the ring alone, without reading the TSC).
  const char* names[] = {"aerolog publish", "aerolog claim+commit", "aerolog publish, user ts"};
  for (int mode = 0; mode < 3; ++mode) {
    Row r{names[mode]};
    r.cross_core_ns = cross_core_ns();
    aerolog::ProducerOptions o;
    o.shm_dir = shm;
    o.on_full = aerolog::FullPolicy::spin;
    const std::string stream = "bench-" + std::to_string(::getpid());
    ::unlink((shm + "/aerolog." + stream).c_str());
    {
      auto p = aerolog::Producer::open(stream, o);
      Drainer drain(p.path(), 1);
      std::function<void()> op;
      if (mode == 0) {
        auto f = [&] { p.publish(300, payload, kPayload); };
        latency(r, cfg.samples, f);
        r.tput_small = throughput(cfg.small, f);
        r.tput_large = throughput(cfg.large, f);
      } else if (mode == 2) {
        std::uint64_t ts = 1;
        auto f = [&] { p.publish(300, payload, kPayload, ++ts); };
        latency(r, cfg.samples, f);
        r.tput_small = throughput(cfg.small, f);
        r.tput_large = throughput(cfg.large, f);
      } else {
        auto f = [&] {
          aerolog::Claim c = p.claim(300, kPayload);
          std::memcpy(c.data, payload, kPayload);
          p.commit();
        };
        latency(r, cfg.samples, f);
        r.tput_small = throughput(cfg.small, f);
        r.tput_large = throughput(cfg.large, f);
      }
      r.dropped = p.stats().dropped;
    }
    ::unlink((shm + "/aerolog." + stream).c_str());
    rows.push_back(r);
  }
  for (const char* idle : {"spin", "backoff"}) {  // publish with the real sidecar (dsync, pinned to CPU 1)
    Row r{std::string("aerolog publish, sidecar ") + idle};
    r.cross_core_ns = cross_core_ns();
    char shm_t[] = "/dev/shm/aerolog-bench.XXXXXX", wal_t[] = "/tmp/aerolog-bench.XXXXXX";
    const std::string shm_dir = ::mkdtemp(shm_t) ? shm_t : "", wal_dir = ::mkdtemp(wal_t) ? wal_t : "";
    const pid_t sidecar = start_sidecar(shm_dir, wal_dir, idle);
    {
      aerolog::ProducerOptions o;
      o.shm_dir = shm_dir;
      o.on_full = aerolog::FullPolicy::spin;
      auto p = aerolog::Producer::open("bench", o);
      p.publish(300, payload, kPayload);
      if (!p.wait_durable(p.last_seq(), std::chrono::seconds(10))) std::fprintf(stderr, "the sidecar did not start\n");
      std::this_thread::sleep_for(std::chrono::milliseconds(500));  // its spare segment is ready
      auto f = [&] { p.publish(300, payload, kPayload); };
      auto settle = [&] { p.wait_durable(p.last_seq(), std::chrono::seconds(30)); };  // each phase: an empty ring
      latency(r, cfg.samples, f, settle);
      settle();
      r.tput_small = throughput(cfg.small, f);
      settle();
      r.tput_large = throughput(cfg.slow_large, f);  // durable at the disk's speed
      r.dropped = p.stats().dropped;
    }
    ::kill(sidecar, SIGTERM);
    ::waitpid(sidecar, nullptr, 0);
    std::system(("rm -rf '" + shm_dir + "' '" + wal_dir + "'").c_str());
    rows.push_back(r);
  }
  {  // std::ofstream::write
    Row r{"std::ofstream::write"};
    r.cross_core_ns = cross_core_ns();
    const std::string path = cfg.dir + "/aerolog-bench-ofstream.bin";
    {
      std::ofstream f(path, std::ios::binary | std::ios::trunc);
      auto op = [&] { f.write(reinterpret_cast<const char*>(payload), kPayload); };
      latency(r, cfg.samples, op);
      r.tput_small = throughput(cfg.small, op);
      f.close();
      f.open(path, std::ios::binary | std::ios::trunc);
      r.tput_large = throughput(cfg.slow_large, op);  // 10M: 100M would write 4 GB
    }
    ::unlink(path.c_str());
    rows.push_back(r);
  }
  {  // spdlog async, file sink, 40 characters per message
    Row r{"spdlog async (file)"};
    r.cross_core_ns = cross_core_ns();
    const std::string path = cfg.dir + "/aerolog-bench-spdlog.log";
    spdlog::init_thread_pool(1 << 20, 1);
    {
      auto log = spdlog::create_async<spdlog::sinks::basic_file_sink_mt>("bench", path, true);
      log->set_pattern("%v");
      const std::string_view msg(reinterpret_cast<const char*>("0123456789012345678901234567890123456789"), kPayload);
      auto op = [&] { log->info(msg); };
      latency(r, cfg.samples, op);
      r.tput_small = throughput(cfg.small, op);
      r.tput_large = throughput(cfg.slow_large, op);
      log->flush();
    }
    spdlog::drop_all();
    spdlog::shutdown();
    ::unlink(path.c_str());
    rows.push_back(r);
  }
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  const Config cfg =
      parse_args(argc, argv,
                 "usage: bench_producer [--samples N] [--large N] [--repeat R] [--json FILE] [--quick]\n"
                 "  Publishes 40-byte records; prints P50/P99/P99.9/P99.99/max single-call latency (ns), the\n"
                 "  per-call time of 20-call batches, and throughput for 1M and --large (default 100M)\n"
                 "  records, beside memcpy (floor), std::ofstream::write and spdlog async. A thread on CPU 1\n"
                 "  drains the ring as the sidecar does, without a disk. Each figure is the median of\n"
                 "  --repeat runs; the spread of P50 and the cross-core latency of each row are printed.\n");
  pin(0);
  const double bracket = calibrate(aerolog::TscClock::calibrate().ticks_per_ns());
  std::vector<std::vector<Row>> runs;
  for (int r = 0; r < cfg.repeat; ++r) {
    std::fprintf(stderr, "run %d/%d...\n", r + 1, cfg.repeat);
    runs.push_back(run_once(cfg));
  }
  const std::vector<Summary> rows = summarize(runs);
  print_table(rows);
  const Row& floor = rows[0].med;
  const Row& pub = rows[1].med;
  std::printf("\nlarge = %llu records (ofstream, spdlog: %llu); medians of %d runs\n",
              static_cast<unsigned long long>(cfg.large), static_cast<unsigned long long>(cfg.slow_large), cfg.repeat);
  std::printf(
      "targets: P50 - floor = %.1f ns (<= 10, one step of this TSC): %s; P99.9 / floor = %.2fx (<= 3): %s; "
      "throughput / floor = %.2fx (>= 0.7): %s; drops %llu\n",
      pub.p50 - floor.p50, pub.p50 - floor.p50 <= 10.5 ? "met" : "MISSED", pub.p999 / floor.p999,
      pub.p999 / floor.p999 <= 3 ? "met" : "MISSED", pub.tput_large / floor.tput_large,
      pub.tput_large / floor.tput_large >= 0.7 ? "met" : "MISSED", static_cast<unsigned long long>(pub.dropped));
  return write_json(cfg, "producer", kPayload, bracket, rows) ? 0 : 1;
}
