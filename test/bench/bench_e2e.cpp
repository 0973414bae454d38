// End-to-end benchmark: a producer in this process, the real aerolog-sidecar as a child process,
// records timed from publish to durable (the ring's HWM), beside a raw io_uring O_DIRECT probe
// of the same disk in the same run:
//   probe bandwidth: 1 MiB RWF_DSYNC writes, 4 in flight (what the disk can sustain durably);
//   probe QD1 latency: one 4 KiB RWF_DSYNC write at a time (the floor for one durable record).
#include <aerolog/producer.hpp>
#include <aerolog/proto/ring.hpp>

#include <liburing.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using clk = std::chrono::steady_clock;
std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(clk::now().time_since_epoch()).count());
}

struct Pct {
  double p50 = 0, p99 = 0, p999 = 0, max = 0;
};
Pct percentiles(std::vector<std::uint64_t> v) {
  Pct p;
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<std::size_t>(q * v.size()))] / 1000.0; };
  p.p50 = at(0.5);
  p.p99 = at(0.99);
  p.p999 = at(0.999);
  p.max = v.back() / 1000.0;
  return p;
}

struct Probe {
  double mb_s = 0;
  Pct qd1_us;
};

Probe probe_disk(const std::string& dir) {
  Probe out;
  const std::string path = dir + "/probe.bin";
  const std::size_t file = 256u << 20, big = 1u << 20;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
  ::posix_fallocate(fd, 0, file);
  void* buf;
  ::posix_memalign(&buf, 4096, big);
  std::memset(buf, 0xAB, big);
  for (std::size_t off = 0; off < file; off += big)
    (void)!::pwrite(fd, buf, big, static_cast<off_t>(off));  // written extents
  ::fdatasync(fd);
  io_uring ring;
  io_uring_queue_init(64, &ring, 0);
  // bandwidth: 1 MiB dsync writes, 4 in flight, over the file twice
  const int qd = 4;
  std::size_t next = 0, done = 0, total = 2 * file / big;
  const std::uint64_t t0 = now_ns();
  int inflight = 0;
  while (done < total) {
    while (inflight < qd && next < total) {
      io_uring_sqe* s = io_uring_get_sqe(&ring);
      io_uring_prep_write(s, fd, buf, big, (next % (file / big)) * big);
      s->rw_flags = RWF_DSYNC;
      ++next;
      ++inflight;
    }
    io_uring_submit_and_wait(&ring, 1);
    io_uring_cqe* c;
    while (io_uring_peek_cqe(&ring, &c) == 0) {
      io_uring_cqe_seen(&ring, c);
      --inflight;
      ++done;
    }
  }
  out.mb_s = double(total * big) / 1e6 / (double(now_ns() - t0) / 1e9);
  // QD1 4 KiB dsync latency
  std::vector<std::uint64_t> lat;
  for (int i = 0; i < 2000; ++i) {
    const std::uint64_t a = now_ns();
    io_uring_sqe* s = io_uring_get_sqe(&ring);
    io_uring_prep_write(s, fd, buf, 4096, static_cast<std::uint64_t>(i % 4096) * 4096);
    s->rw_flags = RWF_DSYNC;
    io_uring_submit_and_wait(&ring, 1);
    io_uring_cqe* c;
    io_uring_wait_cqe(&ring, &c);
    io_uring_cqe_seen(&ring, c);
    lat.push_back(now_ns() - a);
  }
  out.qd1_us = percentiles(lat);
  io_uring_queue_exit(&ring);
  ::close(fd);
  ::unlink(path.c_str());
  std::free(buf);
  return out;
}

struct Run {
  std::string name;
  double offered = 0;  // records/s, 0 = saturation
  double rec_s = 0, mb_s = 0;
  Pct lat_us;
  std::uint64_t records = 0;
  double sidecar_cpu = 0;  // sidecar CPU seconds / wall seconds during the run
  double cpu_s_per_m = 0;  // sidecar CPU seconds per million records
  double write_amp = 0;    // block bytes written to disk / payload bytes published
  int streams = 1;
  std::vector<double> stream_p99;  // timed streams' P99 (us); lat_us is the worst one's
};

// Disk bytes the sidecar wrote for a stream and the payload bytes its producer published.
std::pair<double, double> ring_bytes(const std::string& shm, const std::string& stream) {
  aerolog::proto::RingHeader h;
  int fd = ::open((shm + "/aerolog." + stream).c_str(), O_RDONLY);
  const bool ok = fd >= 0 && ::pread(fd, static_cast<void*>(&h), sizeof h, 0) == static_cast<ssize_t>(sizeof h);
  if (fd >= 0) ::close(fd);
  if (!ok) return {0, 0};
  return {double(h.counters.bytes_written.load()), double(h.producer.payload_bytes.load())};
}

// A /proc/<pid>/status field in MiB: VmHWM (peak RSS, rings included) or RssAnon (private memory).
double status_mib(pid_t pid, const char* field) {
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/status").c_str(), "r");
  if (!f) return 0;
  char line[256];
  double kib = 0;
  const std::string want = std::string(field) + ": %lf kB";
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, want.c_str(), &kib) == 1) break;
  std::fclose(f);
  return kib / 1024;
}

// `streams` producer threads, each on its own ring, publishing `n` 40-byte records in total as
// fast as they can; records/s until every one of them is durable.
Run measure_streams(const std::string& shm, int streams, std::uint64_t n) {
  Run r;
  r.streams = streams;
  r.records = n;
  std::vector<aerolog::Producer> prods;
  for (int i = 0; i < streams; ++i) {
    aerolog::ProducerOptions o;
    o.shm_dir = shm;
    o.on_full = aerolog::FullPolicy::spin;
    o.capacity = 16u << 20;
    prods.push_back(aerolog::Producer::open("multi" + std::to_string(streams) + "-" + std::to_string(i), o));
    prods.back().publish(300, "warm", 4);
    prods.back().wait_durable(prods.back().last_seq(), std::chrono::seconds(30));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const std::uint64_t t0 = now_ns();
  std::vector<std::thread> threads;
  for (auto& p : prods)
    threads.emplace_back([&p, n, streams] {
      unsigned char buf[40] = {};
      for (std::uint64_t i = 0; i < n / static_cast<std::uint64_t>(streams); ++i) p.publish(300, buf, sizeof buf);
      p.wait_durable(p.last_seq(), std::chrono::seconds(120));
    });
  for (auto& t : threads) t.join();
  const double secs = double(now_ns() - t0) / 1e9;
  r.rec_s = double(n) / secs;
  r.mb_s = double(n) * 40 / 1e6 / secs;
  return r;
}

// utime + stime of a process (all its threads), in seconds.
double cpu_seconds(pid_t pid) {
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (!f) return 0;
  char buf[1024];
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  const char* p = std::strrchr(buf, ')');
  unsigned long ut = 0, st = 0;
  if (p) std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
  return double(ut + st) / double(::sysconf(_SC_CLK_TCK));
}

pid_t start_sidecar(const std::string& bin, const std::string& shm, const std::string& wal,
                    const std::string& durability, const std::string& idle, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {
      bin,        "--shm-dir", shm,  "--wal-dir", wal, "--log-file", wal + "/sidecar.log", "--durability",
      durability, "--idle",    idle, "--cpu",     "1"};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// Publishes `n` records of `payload` bytes at `rate` per second (0: as fast as possible) and
// measures each record's publish -> durable latency by watching the ring's HWM from the same
// thread between publishes (no second busy thread: the sidecar has the other core). With
// `busy` set, the waits between records also publish 1 KiB records to that second stream as
// fast as the sidecar takes them (dropped when its ring is full): a neighbour that saturates
// the disk and rolls its segments while this stream is timed.
// `n` records of `payload` bytes, at `rate` records/s in total (0: as fast as possible), spread
// round robin over `streams` rings (`stream`, or `stream`-0.. when more than one), each timed
// from publish to durable; the row shows the stream with the worst P99. While waiting between
// records it keeps the ring `busy` (if named) full of 1 KiB records.
Run measure(const std::string& shm, const std::string& stream, std::uint64_t n, std::uint32_t payload, double rate,
            const std::string& busy = "", int streams = 1) {
  Run r;
  r.offered = rate;
  r.records = n;
  r.streams = streams;
  struct Timed {
    aerolog::Producer p;
    std::uint64_t base = 0, seen = 0, count = 0;
    std::vector<std::uint64_t> lat;
  };
  std::vector<Timed> ts;
  for (int j = 0; j < streams; ++j) {
    aerolog::ProducerOptions o;
    o.shm_dir = shm;
    o.on_full = aerolog::FullPolicy::spin;
    ts.push_back({aerolog::Producer::open(streams == 1 ? stream : stream + "-" + std::to_string(j), o), 0, 0, 0, {}});
    // Warm up: the sidecar finds the new ring and prepares its first segment before timing.
    for (int i = 0; i < 100; ++i) ts.back().p.publish(300, "warm", 4);
    ts.back().p.wait_durable(ts.back().p.last_seq(), std::chrono::seconds(30));
  }
  // ...and makes the spare for its next segment (and zeroes it, the disk being quiet) before the
  // clock starts: the figures are the steady state, not a stream's first second.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto k = static_cast<std::uint64_t>(streams);
  for (std::uint64_t j = 0; j < k; ++j) {
    Timed& t = ts[j];
    t.base = t.seen = t.p.last_seq();
    t.count = n / k + (j < n % k);
    t.lat.reserve(t.count);
  }
  std::vector<std::uint64_t> pub(n);
  auto sample = [&] {
    for (std::uint64_t j = 0; j < k; ++j) {
      Timed& s = ts[j];
      const std::uint64_t d = s.p.durable_seq();
      if (d == s.seen) continue;
      const std::uint64_t t = now_ns();
      for (; s.seen < d && s.seen < s.base + s.count; ++s.seen) s.lat.push_back(t - pub[(s.seen - s.base) * k + j]);
    }
  };
  auto done = [&] {
    for (const Timed& s : ts)
      if (s.seen < s.base + s.count) return false;
    return true;
  };
  std::vector<unsigned char> buf(payload, 0x5A), kib(1024, 0x6B);
  std::optional<aerolog::Producer> neighbour;
  if (!busy.empty()) {
    aerolog::ProducerOptions bo;
    bo.shm_dir = shm;
    neighbour.emplace(aerolog::Producer::open(busy, bo));  // FullPolicy::drop: never waits
  }
  const std::uint64_t t0 = now_ns();
  for (std::uint64_t i = 0; i < n; ++i) {
    if (rate > 0) {
      const std::uint64_t due = t0 + static_cast<std::uint64_t>(double(i) * 1e9 / rate);
      while (now_ns() < due) {
        sample();
        if (neighbour)
          for (int m = 0; m < 16; ++m) neighbour->publish(301, kib.data(), static_cast<std::uint32_t>(kib.size()));
      }
    } else if ((i & 63) == 0) {
      sample();
    }
    pub[i] = now_ns();
    ts[i % k].p.publish(300, buf.data(), payload);
  }
  while (!done() && now_ns() - t0 < 120'000'000'000ull) sample();
  const double secs = double(now_ns() - t0) / 1e9;
  r.rec_s = double(n) / secs;
  r.mb_s = double(n) * payload / 1e6 / secs;
  for (Timed& s : ts) {
    const Pct p = percentiles(std::move(s.lat));
    r.stream_p99.push_back(p.p99);
    if (p.p99 >= r.lat_us.p99) r.lat_us = p;
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string durability = "dsync", idle = "backoff", dir = "/tmp", json, only, label;
  bool quick = false;
  std::vector<std::string> extra;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--durability" && i + 1 < argc)
      durability = argv[++i];
    else if (a == "--idle" && i + 1 < argc)
      idle = argv[++i];
    else if (a == "--dir" && i + 1 < argc)
      dir = argv[++i];
    else if (a == "--json" && i + 1 < argc)
      json = argv[++i];
    else if (a == "--quick")
      quick = true;
    else if (a == "--only" && i + 1 < argc)
      only = argv[++i];
    else if (a == "--label" && i + 1 < argc)
      label = argv[++i];
    else if (a == "--sidecar-arg" && i + 1 < argc)
      extra.push_back(argv[++i]);
    else {
      std::printf(
          "usage: bench_e2e [--durability dsync|fdatasync|none] [--idle spin|backoff|sleep] [--dir D]\n"
          "                 [--json FILE] [--label NAME] [--quick] [--only TEXT] [--sidecar-arg ARG]...\n"
          "  Probes the disk under --dir with raw io_uring O_DIRECT writes, then runs the real sidecar\n"
          "  (" AEROLOG_SIDECAR_BIN
          ")\n  and measures durable throughput and publish-to-durable latency.\n"
          "  --only TEXT runs only the workloads whose name contains TEXT (e.g. \"1M/s\").\n"
          "  --label NAME names the configuration in the JSON (bench_report.py groups runs by it).\n");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  char tmpl[256];
  std::snprintf(tmpl, sizeof tmpl, "%s/aerolog-bench-XXXXXX", dir.c_str());
  const std::string work = ::mkdtemp(tmpl);
  char stmpl[] = "/dev/shm/aerolog-bench-XXXXXX";
  const std::string shm = ::mkdtemp(stmpl);
  cpu_set_t cpu0;  // the producer on CPU 0, the sidecar pinned to CPU 1 (--cpu 1)
  CPU_ZERO(&cpu0);
  CPU_SET(0, &cpu0);
  sched_setaffinity(0, sizeof cpu0, &cpu0);
  std::fprintf(stderr, "probing the disk under %s...\n", work.c_str());
  const Probe probe = probe_disk(work);
  const std::string wal = work + "/wal";
  ::mkdir(wal.c_str(), 0750);
  pid_t sc = start_sidecar(AEROLOG_SIDECAR_BIN, shm, wal, durability, idle, extra);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  const std::uint64_t k = quick ? 1 : 4;
  std::vector<Run> runs;
  auto account = [&](Run& r, const char* name, double c0, std::uint64_t t0, const std::string& stream) {
    const double cpu = cpu_seconds(sc) - c0;
    r.sidecar_cpu = cpu / (double(now_ns() - t0) / 1e9);
    r.cpu_s_per_m = cpu / (double(r.records) / 1e6);
    if (!stream.empty()) {
      auto [disk, payload] = ring_bytes(shm, stream);
      r.write_amp = payload > 0 ? disk / payload : 0;
    }
    r.name = name;
    runs.push_back(r);
  };
  auto add = [&](const char* name, std::string stream, std::uint64_t n, std::uint32_t payload, double rate,
                 const std::string& busy = "", int streams = 1) {
    if (std::string(name).find(only) == std::string::npos) return;
    std::fprintf(stderr, "%s...\n", name);
    const double c0 = cpu_seconds(sc);
    const std::uint64_t t0 = now_ns();
    Run r = measure(shm, stream, n, payload, rate, busy, streams);
    account(r, name, c0, t0, streams == 1 ? stream : "");
  };
  auto add_multi = [&](const char* name, int streams, std::uint64_t n) {
    if (std::string(name).find(only) == std::string::npos) return;
    std::fprintf(stderr, "%s...\n", name);
    const double c0 = cpu_seconds(sc);
    const std::uint64_t t0 = now_ns();
    Run r = measure_streams(shm, streams, n);
    account(r, name, c0, t0, "");
  };
  add("10K/s, 40 B", "light", 5'000 * k, 40, 10'000);
  add("10K/s beside a saturating stream", "quiet", 5'000 * k, 40, 10'000, "busy");
  add("1M/s, 40 B", "million", 500'000 * k, 40, 1'000'000);
  add("1M/s over 8 streams, 40 B", "spread", 500'000 * k, 40, 1'000'000, "", 8);
  add("saturation, 40 B", "sat64", 5'000'000 * k, 40, 0);
  add("saturation, 256 B", "sat256", 2'000'000 * k, 256, 0);
  add("saturation, 4 KiB", "sat4k", 100'000 * k, 4096, 0);
  add("saturation, 64 KiB", "sat64k", 6'000 * k, 64 << 10, 0);
  add("saturation, 1 MiB", "sat1m", 400 * k, (1 << 20) - 24, 0);  // the largest frame: 1 MiB with its header
  add_multi("1 stream, 40 B", 1, 4'000'000 * k);
  add_multi("2 streams, 40 B", 2, 4'000'000 * k);
  add_multi("4 streams, 40 B", 4, 4'000'000 * k);
  add_multi("8 streams, 40 B", 8, 4'000'000 * k);
  const double rss = status_mib(sc, "VmHWM"), anon = status_mib(sc, "RssAnon");
  ::kill(sc, SIGTERM);
  int st;
  ::waitpid(sc, &st, 0);

  std::string extras;
  for (auto& e : extra) extras += " " + e;
  std::printf("durability %s, idle %s%s; disk under %s\n", durability.c_str(), idle.c_str(), extras.c_str(),
              dir.c_str());
  std::printf("probe: %.0f MB/s (1 MiB RWF_DSYNC writes, QD4); QD1 4 KiB write+sync P50 %.1f us, P99 %.1f us\n\n",
              probe.mb_s, probe.qd1_us.p50, probe.qd1_us.p99);
  std::printf("| %-32s | %11s | %8s | %7s | %9s | %9s | %9s | %9s | %9s | %9s |\n", "workload", "records/s", "MB/s",
              "x probe", "P50 us", "P99 us", "P99.9 us", "max us", "write amp", "CPU s/1M");
  std::printf("|%s|\n", std::string(140, '-').c_str());
  for (const auto& r : runs) {
    const bool lat = r.lat_us.p50 > 0;
    char l[4][16];
    std::snprintf(l[0], 16, lat ? "%.1f" : "-", r.lat_us.p50);
    std::snprintf(l[1], 16, lat ? "%.1f" : "-", r.lat_us.p99);
    std::snprintf(l[2], 16, lat ? "%.1f" : "-", r.lat_us.p999);
    std::snprintf(l[3], 16, lat ? "%.0f" : "-", r.lat_us.max);
    char amp[16];
    std::snprintf(amp, 16, r.write_amp > 0 ? "%.2f" : "-", r.write_amp);
    std::printf("| %-32s | %11.0f | %8.1f | %7.2f | %9s | %9s | %9s | %9s | %9s | %9.3f |\n", r.name.c_str(), r.rec_s,
                r.mb_s, r.mb_s / probe.mb_s, l[0], l[1], l[2], l[3], amp, r.cpu_s_per_m);
  }
  std::printf(
      "\nsidecar peak RSS %.1f MiB (the rings it maps from /dev/shm included); private memory (RssAnon) %.1f MiB\n",
      rss, anon);
  if (!runs.empty() && runs[0].name == "10K/s, 40 B")
    std::printf("\nlight-load P50 / probe QD1 P50 = %.2fx (target <= 1.2)\n", runs[0].lat_us.p50 / probe.qd1_us.p50);
  const auto row = [&](const std::string& name) -> const Run* {
    for (const Run& r : runs)
      if (r.name == name) return &r;
    return nullptr;
  };
  if (const Run* one = row("1M/s, 40 B"), *eight = row("1M/s over 8 streams, 40 B"); one && eight) {
    std::string each;
    for (double p : eight->stream_p99) each += (each.empty() ? "" : " ") + std::to_string(static_cast<int>(p));
    std::printf("8 streams sharing 1M/s: worst stream P99 / single-stream P99 = %.2fx (target <= 1.2); each: %s us\n",
                eight->lat_us.p99 / one->lat_us.p99, each.c_str());
  }
  if (!json.empty()) {
    FILE* f = std::fopen(json.c_str(), "w");
    std::fprintf(f,
                 "{\"bench\":\"e2e\",\"durability\":\"%s\",\"idle\":\"%s\",\"label\":\"%s\",\"probe_mb_s\":%.1f,"
                 "\"probe_qd1_p50_us\":%.2f,"
                 "\"probe_qd1_p99_us\":%.2f,\"sidecar_rss_mib\":%.1f,\"sidecar_anon_mib\":%.1f,\"runs\":[",
                 durability.c_str(), idle.c_str(), label.c_str(), probe.mb_s, probe.qd1_us.p50, probe.qd1_us.p99, rss,
                 anon);
    for (std::size_t i = 0; i < runs.size(); ++i)
      std::fprintf(
          f,
          "%s{\"name\":\"%s\",\"offered\":%.0f,\"records_s\":%.0f,\"mb_s\":%.2f,\"p50_us\":%.2f,\"p99_us\":%.2f,"
          "\"p999_us\":%.2f,\"max_us\":%.1f,\"sidecar_cpu\":%.3f,\"cpu_s_per_m\":%.4f,\"write_amp\":%.3f,\"streams\":%"
          "d}",
          i ? "," : "", runs[i].name.c_str(), runs[i].offered, runs[i].rec_s, runs[i].mb_s, runs[i].lat_us.p50,
          runs[i].lat_us.p99, runs[i].lat_us.p999, runs[i].lat_us.max, runs[i].sidecar_cpu, runs[i].cpu_s_per_m,
          runs[i].write_amp, runs[i].streams);
    std::fprintf(f, "]}\n");
    std::fclose(f);
  }
  std::system(("rm -rf '" + work + "' '" + shm + "'").c_str());
  return 0;
}
