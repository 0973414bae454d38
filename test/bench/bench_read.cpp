// Reading benchmark, the C++ side: aerolog::Reader over a stream directory, every record's seq,
// type and payload touched, the best of --repeat passes. bench_python.py reads the same
// directory into numpy; scripts/bench.sh runs both on one WAL and bench_report.py compares them.
//   bench_read DIR [--repeat N]     prints one JSON line: {"bench":"read_cpp","records":..,"seconds":..}
#include <aerolog/error.hpp>
#include <aerolog/reader.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::fprintf(argc < 2 ? stderr : stdout,
                 "usage: bench_read STREAM_DIR [--repeat N]\n"
                 "  aerolog::Reader over every record of STREAM_DIR (seq, type and payload touched), the\n"
                 "  best of N passes (default 3); prints {\"bench\":\"read_cpp\",\"records\":..,\"seconds\":..}\n");
    return argc < 2 ? 2 : 0;
  }
  int repeat = 3;
  if (argc == 4 && !std::strcmp(argv[2], "--repeat")) {
    repeat = std::atoi(argv[3]);
  } else if (argc != 2) {
    repeat = 0;
  }
  if (repeat < 1) {
    std::fprintf(stderr, "bench_read: want STREAM_DIR [--repeat N], N >= 1 (try --help)\n");
    return 2;
  }
  double best = 0;
  std::uint64_t records = 0, check = 0;
  try {
    for (int r = 0; r < repeat; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      auto reader = aerolog::Reader::open(argv[1]);
      std::uint64_t n = 0;
      while (const aerolog::Record* rec = reader.next()) {
        check += rec->seq + rec->type + (rec->payload.empty() ? 0 : std::to_integer<unsigned>(rec->payload[0]));
        ++n;
      }
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (!reader.damage().empty()) std::fprintf(stderr, "bench_read: %s\n", reader.damage().c_str());
      records = n;
      best = (r == 0 || s < best) ? s : best;
    }
  } catch (const aerolog::Error& e) {
    std::fprintf(stderr, "bench_read: %s\n", e.what());
    return 1;
  }
  std::printf("{\"bench\":\"read_cpp\",\"records\":%llu,\"seconds\":%.6f,\"check\":%llu}\n",
              static_cast<unsigned long long>(records), best, static_cast<unsigned long long>(check % 1000));
  return 0;
}
