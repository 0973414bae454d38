// What the publish benchmarks share (bench_producer and the peer benchmarks in peers/): pinning,
// the rdtscp bracket, latency percentiles of single calls and of 20-call batches, throughput
// loops, the cross-core latency of the moment, and the JSON row every one of them writes.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <pthread.h>
#include <unistd.h>
#include <sched.h>
#include <x86intrin.h>

namespace bench {

struct Row {
  std::string name;
  double p50 = 0, p99 = 0, p999 = 0, p9999 = 0, max = 0;  // ns, one call
  double batch = 0;                                       // ns per call, P50 of 20-call batches
  double tput_small = 0, tput_large = 0;                  // records/s
  double cross_core_ns = 0;                               // placement when this row ran
  std::uint64_t dropped = 0;
};

inline double g_tpn = 1.0;  // TSC ticks per ns, set by the caller once

inline void pin(int cpu) {
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

struct Nothing {
  void operator()() const {}
};

// Percentiles of `samples` single calls of op(), and the P50 per call of 20-call batches;
// settle() runs in between (a peer empties its queue there, so both phases start alike).
template <class Op, class Settle = Nothing>
void latency(Row& row, std::size_t samples, Op&& op, Settle&& settle = {}) {
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
  settle();
  constexpr int kBatch = 20;
  std::vector<std::uint32_t> batches(samples / kBatch);
  for (auto& t : batches) {
    const std::uint64_t a = stamp();
    for (int k = 0; k < kBatch; ++k) op();
    const std::uint64_t b = stamp();
    t = static_cast<std::uint32_t>(std::min<std::uint64_t>(b - a, 0xFFFFFFFFu));
  }
  std::sort(batches.begin(), batches.end());
  row.batch = batches[batches.size() / 2] / g_tpn / kBatch;
}

template <class Op>
double throughput(std::uint64_t n, Op&& op) {
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < n; ++i) op();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return static_cast<double>(n) / s;
}

// One-way latency of a cache line moving between CPU 0 and CPU 1 now (median of a ping-pong):
// on a 2-vCPU VM it moves between a near (~55 ns) and a far (~230 ns) placement.
inline double cross_core_ns() {
  alignas(64) std::atomic<std::uint64_t> ball{0};
  constexpr std::uint64_t kRounds = 20'000;
  std::thread other([&] {
    pin(1);
    for (std::uint64_t i = 1; i < 2 * kRounds; i += 2) {
      while (ball.load(std::memory_order_acquire) != i) _mm_pause();
      ball.store(i + 1, std::memory_order_release);
    }
  });
  pin(0);
  std::vector<std::uint64_t> rt(kRounds);
  for (std::uint64_t i = 0; i < 2 * kRounds; i += 2) {
    const std::uint64_t a = stamp();
    ball.store(i + 1, std::memory_order_release);
    while (ball.load(std::memory_order_acquire) != i + 2) _mm_pause();
    rt[i / 2] = stamp() - a;
  }
  other.join();
  std::sort(rt.begin(), rt.end());
  return rt[kRounds / 2] / g_tpn / 2;
}

inline const char* placement(double cross_ns) { return cross_ns < 120 ? "near" : "far"; }

// fork + exec of args[0] with args; the child's pid.
inline pid_t spawn(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

struct Config {
  std::size_t samples = 1'000'000;
  std::uint64_t small = 1'000'000;
  std::uint64_t large = 100'000'000;
  std::uint64_t slow_large = 10'000'000;  // for the rows that write to a file on the caller's thread
  int repeat = 3;
  std::string json;
  std::string dir = "/tmp";
};

// --samples N --large N --repeat R --json FILE --quick; prints `usage` and exits on anything else.
inline Config parse_args(int argc, char** argv, const char* usage) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--samples") {
      cfg.samples = std::stoull(next());
    } else if (a == "--large") {
      cfg.large = std::stoull(next());
    } else if (a == "--repeat") {
      cfg.repeat = std::max(1, std::stoi(next()));
    } else if (a == "--json") {
      cfg.json = next();
    } else if (a == "--quick") {
      cfg.samples = 200'000;
      cfg.large = 10'000'000;
      cfg.slow_large = 2'000'000;
      cfg.repeat = 1;
    } else {
      std::printf("%s", usage);
      std::exit(a == "--help" || a == "-h" ? 0 : 2);
    }
  }
  return cfg;
}

// Calibrates the TSC and prints its resolution and the cost of an empty bracket (returned).
inline double calibrate(double ticks_per_ns) {
  g_tpn = ticks_per_ns;
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
  return bracket.p50;
}

struct Summary {
  Row med;                  // medians over the runs
  double p50_min, p50_max;  // spread of P50 across the runs
  double cross_min, cross_max;
};

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// runs[r][k]: row k of run r. Medians per row and the spread of P50 and placement.
inline std::vector<Summary> summarize(const std::vector<std::vector<Row>>& runs) {
  std::vector<Summary> out;
  for (std::size_t k = 0; k < runs[0].size(); ++k) {
    auto col = [&](double Row::*f) {
      std::vector<double> v;
      for (const auto& run : runs) v.push_back(run[k].*f);
      return v;
    };
    Summary s{};
    s.med.name = runs[0][k].name;
    for (double Row::*f : {&Row::p50, &Row::p99, &Row::p999, &Row::p9999, &Row::max, &Row::batch, &Row::tput_small,
                           &Row::tput_large, &Row::cross_core_ns})
      s.med.*f = median(col(f));
    for (const auto& run : runs) s.med.dropped += run[k].dropped;
    const auto p50 = col(&Row::p50), cross = col(&Row::cross_core_ns);
    s.p50_min = *std::min_element(p50.begin(), p50.end());
    s.p50_max = *std::max_element(p50.begin(), p50.end());
    s.cross_min = *std::min_element(cross.begin(), cross.end());
    s.cross_max = *std::max_element(cross.begin(), cross.end());
    out.push_back(s);
  }
  return out;
}

inline void print_table(const std::vector<Summary>& rows) {
  std::printf("\n| %-28s | %7s | %7s | %7s | %8s | %9s | %9s | %11s | %11s | %13s | %14s |\n", "40-byte record",
              "P50 ns", "P99 ns", "P99.9", "P99.99", "max ns", "batch/call", "1M rec/s", "large rec/s", "P50 spread",
              "cross-core ns");
  std::printf("|%s|\n", std::string(168, '-').c_str());
  for (const Summary& s : rows) {
    const Row& r = s.med;
    std::printf(
        "| %-28s | %7.1f | %7.1f | %7.1f | %8.1f | %9.0f | %9.1f | %11.3g | %11.3g | %5.1f..%-6.1f | %4.0f..%-4.0f "
        "%-4s |\n",
        r.name.c_str(), r.p50, r.p99, r.p999, r.p9999, r.max, r.batch, r.tput_small, r.tput_large, s.p50_min, s.p50_max,
        s.cross_min, s.cross_max, placement(r.cross_core_ns));
  }
}

// {"bench":NAME,"payload":40,"repeat":R,"bracket_ns":B,"rows":[...]}: what bench_report.py reads.
inline bool write_json(const Config& cfg, const char* bench, unsigned payload, double bracket_ns,
                       const std::vector<Summary>& rows) {
  if (cfg.json.empty()) return true;
  FILE* f = std::fopen(cfg.json.c_str(), "w");
  if (!f) {
    std::perror(cfg.json.c_str());
    return false;
  }
  std::fprintf(f, "{\"bench\":\"%s\",\"payload\":%u,\"repeat\":%d,\"bracket_ns\":%.2f,\"rows\":[", bench, payload,
               cfg.repeat, bracket_ns);
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const Row& r = rows[k].med;
    std::fprintf(f,
                 "%s{\"name\":\"%s\",\"p50\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"p9999\":%.2f,\"max\":%.1f,"
                 "\"batch\":%.2f,\"tput_1m\":%.0f,\"tput_large\":%.0f,\"p50_min\":%.2f,\"p50_max\":%.2f,"
                 "\"cross_core_ns\":%.1f,\"cross_min\":%.1f,\"cross_max\":%.1f,\"dropped\":%llu}",
                 k ? "," : "", r.name.c_str(), r.p50, r.p99, r.p999, r.p9999, r.max, r.batch, r.tput_small,
                 r.tput_large, rows[k].p50_min, rows[k].p50_max, r.cross_core_ns, rows[k].cross_min, rows[k].cross_max,
                 static_cast<unsigned long long>(r.dropped));
  }
  std::fprintf(f, "]}\n");
  return std::fclose(f) == 0;
}

}  // namespace bench
