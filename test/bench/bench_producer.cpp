// Producer benchmark: single-call latency and throughput of publishing a 40-byte record, beside
// baselines measured in the same run: a bare memcpy into a private buffer (the floor),
// std::ofstream::write, and spdlog's async logger with a file sink.
//
// Latency: each call bracketed by rdtscp + lfence; the bracket's own cost is measured and
// reported (it is included in every row alike). A thread on the other core drains the ring the
// way the sidecar does (reads write_pos, frees the space), so the producer sees the real cache
// line traffic but no disk.
#include <aerolog/producer.hpp>

#include <spdlog/async.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <string>
#include <thread>
#include <vector>

#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <x86intrin.h>

namespace {

constexpr std::uint32_t kPayload = 40;
double g_tpn = 1.0;  // TSC ticks per ns

struct Row {
  std::string name;
  double p50 = 0, p99 = 0, p999 = 0, p9999 = 0, max = 0;  // ns
  double tput_small = 0, tput_large = 0;                  // records/s
  std::uint64_t dropped = 0;
};

void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu % static_cast<int>(std::thread::hardware_concurrency()), &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

inline std::uint64_t stamp() {
  unsigned aux;
  std::uint64_t t = __rdtscp(&aux);
  _mm_lfence();
  return t;
}

// Percentiles of `samples` single calls of op().
template <class Op>
void latency(Row& row, std::size_t samples, Op&& op) {
  std::vector<std::uint32_t> ticks(samples);
  for (std::size_t i = 0; i < 10'000; ++i) op();  // warm up
  for (std::size_t i = 0; i < samples; ++i) {
    const std::uint64_t a = stamp();
    op();
    const std::uint64_t b = stamp();
    ticks[i] = static_cast<std::uint32_t>(std::min<std::uint64_t>(b - a, 0xFFFFFFFFu));
  }
  std::sort(ticks.begin(), ticks.end());
  auto at = [&](double q) { return ticks[std::min(samples - 1, static_cast<std::size_t>(q * samples))] / g_tpn; };
  row.p50 = at(0.50);
  row.p99 = at(0.99);
  row.p999 = at(0.999);
  row.p9999 = at(0.9999);
  row.max = ticks.back() / g_tpn;
}

template <class Op>
double throughput(std::uint64_t n, Op&& op) {
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) op();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return static_cast<double>(n) / s;
}

// Drains the ring like the sidecar with an infinitely fast disk: copies the committed bytes into
// a private block buffer (as the sidecar does), marks them durable and frees the space.
class Drainer {
 public:
  explicit Drainer(const std::string& path, int cpu) {
    int fd = ::open(path.c_str(), O_RDWR);
    struct stat st;
    ::fstat(fd, &st);
    len_ = static_cast<std::size_t>(st.st_size);
    base_ = static_cast<unsigned char*>(::mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    ::close(fd);
    hdr_ = reinterpret_cast<aerolog::proto::RingHeader*>(base_);
    thread_ = std::thread([this, cpu] {
      pin(cpu);
      const std::uint64_t cap = hdr_->id.capacity;
      const unsigned char* data = base_ + aerolog::proto::kRingHeaderSize;
      std::vector<unsigned char> block(1 << 20);
      std::uint64_t r = hdr_->consumer.read_pos.load();
      while (!stop_.load(std::memory_order_relaxed)) {
        const std::uint64_t w = hdr_->producer.write_pos.load(std::memory_order_acquire);
        // Stay off the page the producer is writing while it is busy (the hardware prefetcher
        // would otherwise pull its next lines away from it); take the partial page once the
        // producer has paused. The sidecar follows the same rule.
        std::uint64_t upto = w & ~std::uint64_t{4095};
        if (upto <= r) upto = (w == last_w_) ? w : r;
        last_w_ = w;
        if (upto == r) {  // nothing to take: back off so as not to pull the producer's line
          for (int i = 0; i < 32; ++i) _mm_pause();
          continue;
        }
        const std::uint64_t end = std::min(upto, r + block.size());  // one block at most
        for (std::uint64_t p = r; p < end;) {                        // copy, split at the ring's end
          const std::uint64_t off = p & (cap - 1), n = std::min(end - p, cap - off);
          std::memcpy(block.data(), data + off, n);
          p += n;
        }
        hdr_->durable.durable_seq.store(hdr_->producer.last_seq.load(std::memory_order_relaxed),
                                        std::memory_order_release);
        hdr_->consumer.read_pos.store(end, std::memory_order_release);
        r = end;
      }
    });
  }
  ~Drainer() {
    stop_ = true;
    thread_.join();
    ::munmap(base_, len_);
  }

 private:
  unsigned char* base_;
  std::size_t len_;
  aerolog::proto::RingHeader* hdr_;
  std::atomic<bool> stop_{false};
  std::uint64_t last_w_ = ~0ull;
  std::thread thread_;
};

struct Config {
  std::size_t samples = 1'000'000;
  std::uint64_t small = 1'000'000;
  std::uint64_t large = 100'000'000;
  std::uint64_t spdlog_large = 10'000'000;
  int repeat = 3;
  std::string json;
  std::string dir = "/tmp";
};

std::vector<Row> run_once(const Config& cfg) {
  std::vector<Row> rows;
  unsigned char payload[kPayload];
  for (unsigned i = 0; i < kPayload; ++i) payload[i] = static_cast<unsigned char>(i);

  {  // floor: memcpy into a private 64 MiB buffer, 64-byte stride like a ring frame
    Row r{"memcpy (floor)"};
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
  {  // std::ofstream::write
    Row r{"std::ofstream::write"};
    const std::string path = cfg.dir + "/aerolog-bench-ofstream.bin";
    {
      std::ofstream f(path, std::ios::binary | std::ios::trunc);
      auto op = [&] { f.write(reinterpret_cast<const char*>(payload), kPayload); };
      latency(r, cfg.samples, op);
      r.tput_small = throughput(cfg.small, op);
      f.close();
      f.open(path, std::ios::binary | std::ios::trunc);
      r.tput_large = throughput(cfg.large / 10, op);  // 10M: 100M would write 4 GB
    }
    ::unlink(path.c_str());
    rows.push_back(r);
  }
  {  // spdlog async, file sink, 40 characters per message
    Row r{"spdlog async (file)"};
    const std::string path = cfg.dir + "/aerolog-bench-spdlog.log";
    spdlog::init_thread_pool(1 << 20, 1);
    {
      auto log = spdlog::create_async<spdlog::sinks::basic_file_sink_mt>("bench", path, true);
      log->set_pattern("%v");
      const std::string_view msg(reinterpret_cast<const char*>("0123456789012345678901234567890123456789"), kPayload);
      auto op = [&] { log->info(msg); };
      latency(r, cfg.samples, op);
      r.tput_small = throughput(cfg.small, op);
      r.tput_large = throughput(cfg.spdlog_large, op);
      log->flush();
    }
    spdlog::drop_all();
    spdlog::shutdown();
    ::unlink(path.c_str());
    rows.push_back(r);
  }
  return rows;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--samples")
      cfg.samples = std::stoull(next());
    else if (a == "--large")
      cfg.large = std::stoull(next());
    else if (a == "--repeat")
      cfg.repeat = std::stoi(next());
    else if (a == "--json")
      cfg.json = next();
    else if (a == "--quick") {
      cfg.samples = 200'000;
      cfg.large = 10'000'000;
      cfg.spdlog_large = 2'000'000;
      cfg.repeat = 1;
    } else {
      std::printf(
          "usage: bench_producer [--samples N] [--large N] [--repeat R] [--json FILE] [--quick]\n"
          "  Publishes 40-byte records; prints P50/P99/P99.9/P99.99/max single-call latency (ns)\n"
          "  and throughput for 1M and --large (default 100M) records, beside memcpy (floor),\n"
          "  std::ofstream::write and spdlog async. Each figure is the median of --repeat runs;\n"
          "  the spread of P50 across runs is printed as the noise.\n");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  pin(0);
  g_tpn = aerolog::TscClock::calibrate().ticks_per_ns();
  // Resolution: the smallest step the TSC is seen to make, and the cost of an empty bracket.
  std::uint64_t step = ~0ull;
  for (int i = 0; i < 100'000; ++i) {
    const std::uint64_t a = stamp(), b = stamp();
    if (b > a) step = std::min(step, b - a);
  }
  Row bracket{"(empty bracket)"};
  latency(bracket, 200'000, [] {});
  std::printf(
      "TSC %.3f GHz, smallest observed step %.1f ns (the resolution); empty rdtscp bracket P50 %.1f ns "
      "(included in every latency below)\n",
      g_tpn, step / g_tpn, bracket.p50);

  std::vector<std::vector<Row>> runs;
  for (int r = 0; r < cfg.repeat; ++r) {
    std::fprintf(stderr, "run %d/%d...\n", r + 1, cfg.repeat);
    runs.push_back(run_once(cfg));
  }
  const std::size_t n = runs[0].size();
  std::vector<Row> med(n);
  std::vector<std::pair<double, double>> spread(n);
  for (std::size_t k = 0; k < n; ++k) {
    auto col = [&](double Row::*f) {
      std::vector<double> v;
      for (auto& run : runs) v.push_back(run[k].*f);
      return v;
    };
    med[k].name = runs[0][k].name;
    med[k].p50 = median(col(&Row::p50));
    med[k].p99 = median(col(&Row::p99));
    med[k].p999 = median(col(&Row::p999));
    med[k].p9999 = median(col(&Row::p9999));
    med[k].max = median(col(&Row::max));
    med[k].tput_small = median(col(&Row::tput_small));
    med[k].tput_large = median(col(&Row::tput_large));
    for (auto& run : runs) med[k].dropped += run[k].dropped;
    auto p50s = col(&Row::p50);
    spread[k] = {*std::min_element(p50s.begin(), p50s.end()), *std::max_element(p50s.begin(), p50s.end())};
  }
  std::printf("\n| %-22s | %7s | %7s | %7s | %8s | %9s | %11s | %11s | %13s |\n", "40-byte record", "P50 ns", "P99 ns",
              "P99.9", "P99.99", "max ns", "1M rec/s", "large rec/s", "P50 spread");
  std::printf("|%s|\n", std::string(130, '-').c_str());
  for (std::size_t k = 0; k < n; ++k)
    std::printf("| %-22s | %7.1f | %7.1f | %7.1f | %8.1f | %9.0f | %11.3g | %11.3g | %5.1f..%-6.1f |\n",
                med[k].name.c_str(), med[k].p50, med[k].p99, med[k].p999, med[k].p9999, med[k].max, med[k].tput_small,
                med[k].tput_large, spread[k].first, spread[k].second);
  const Row& floor = med[0];
  const Row& pub = med[1];
  std::printf("\nlarge = %llu records (ofstream: a tenth of that, spdlog: %llu); medians of %d runs\n",
              static_cast<unsigned long long>(cfg.large), static_cast<unsigned long long>(cfg.spdlog_large),
              cfg.repeat);
  std::printf(
      "targets: P50 - floor = %.1f ns (<= 10): %s; P99.9 / floor = %.2fx (<= 3): %s; "
      "throughput / floor = %.2fx (>= 0.7): %s; drops %llu\n",
      pub.p50 - floor.p50, pub.p50 - floor.p50 <= 10 ? "met" : "MISSED", pub.p999 / floor.p999,
      pub.p999 / floor.p999 <= 3 ? "met" : "MISSED", pub.tput_large / floor.tput_large,
      pub.tput_large / floor.tput_large >= 0.7 ? "met" : "MISSED", static_cast<unsigned long long>(pub.dropped));
  if (!cfg.json.empty()) {
    FILE* f = std::fopen(cfg.json.c_str(), "w");
    if (!f) {
      std::perror(cfg.json.c_str());
      return 1;
    }
    std::fprintf(f, "{\"bench\":\"producer\",\"payload\":%u,\"repeat\":%d,\"bracket_ns\":%.2f,\"rows\":[", kPayload,
                 cfg.repeat, bracket.p50);
    for (std::size_t k = 0; k < n; ++k)
      std::fprintf(f,
                   "%s{\"name\":\"%s\",\"p50\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"p9999\":%.2f,\"max\":%.1f,"
                   "\"tput_1m\":%.0f,\"tput_large\":%.0f,\"p50_min\":%.2f,\"p50_max\":%.2f}",
                   k ? "," : "", med[k].name.c_str(), med[k].p50, med[k].p99, med[k].p999, med[k].p9999, med[k].max,
                   med[k].tput_small, med[k].tput_large, spread[k].first, spread[k].second);
    std::fprintf(f, "]}\n");
    std::fclose(f);
  }
  return 0;
}
