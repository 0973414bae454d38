// aerolog-test-publisher DIR STREAM CAPACITY LAST [RATE]: publishes payload_for(seq) records from the
// ring's next seq through LAST (0: forever), at most RATE records/s if given, and exits 0. The tests fork+exec it
// rather than running a producer in a forked copy of themselves (which sanitizer runtimes dislike).
#define AEROLOG_TEST_PUBLISHER ""  // (only the tests start publishers)
#include "proc_util.hpp"

#include <cstdlib>

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) return 2;
  try {
    return testutil::publish_until(argv[1], argv[2], std::strtoull(argv[3], nullptr, 10),
                                   std::strtoull(argv[4], nullptr, 10),
                                   argc == 6 ? std::strtoull(argv[5], nullptr, 10) : 0);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "publisher: %s\n", e.what());
    return 3;
  }
}
