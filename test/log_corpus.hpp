// Calls for the deferred-format tests: every argument type and a range of {fmt} specs. X is
// applied to each call's format string and arguments (AEROLOG_INFO in the logging child,
// fmt::format in the test for the expected text). `i` varies the values per round.
#pragma once
#include <aerolog/logger.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace testutil {
enum Color { red = 1, green = 2 };  // unscoped: fmt::format takes it as an int too
}

// clang-format off
#define AEROLOG_TEST_CORPUS(X, i)                                                                   \
  X("plain text, no arguments")                                                                   \
  X("fill {} @ {}", (i), 585.33)                                                                  \
  X("{} {} {} {} {}", (i), 1.5, std::string("AAPL"), aerolog::Price{58533000000}, true)          \
  X("{:>8}|{:<8}|{:^9}|", (i), -(i), std::string_view("mid"))                                    \
  X("{:08.3f} {:+d} {:x} {:#x} {:#b} {:o}", 3.14159 * (i), (i), 255u + (i), 48879, 5, 8)          \
  X("{:e} {:.2e} {:g} {:.10g} {}", 12345.678, -0.000123, 1e-7, 2.0 / 3.0, 0.1 + 0.2)               \
  X("{} {} {} {}", std::numeric_limits<double>::quiet_NaN(), -std::numeric_limits<double>::infinity(), -0.0, 1e300) \
  X("{} {} {} {}", std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::uint64_t>::max(), \
    static_cast<std::int8_t>(-128), static_cast<std::uint8_t>(255))                               \
  X("{} {} {}", static_cast<std::int16_t>(-(i)), static_cast<std::uint16_t>(65535), 0.1f)        \
  X("{:c}{:c} {} {:d}", 'o', 'k', 'x', 'A')                                                       \
  X("{} {:s} {:d}", false, true, true)                                                            \
  X("[{}] [{:10.3s}] [{:*^20}]", "", "truncated", "centred")                                       \
  X("{{literal}} {0} {0} {1}", (i), "twice")                                                       \
  X("{:>{}}|{:.{}f}", "w", 6, 2.0 / 3.0, 3)                                                       \
  X("quote \" comma , newline\nsecond line, tab\there, utf-8: \u00fcn\u00efcode \u20ac {}", "\u00e9")   \
  X("price {:.2f} {} {}", aerolog::Price{-123456789}, aerolog::Price{1}, aerolog::Price{(i) * 100000000LL}) \
  X("color {} {}", testutil::red, testutil::green)                                                \
  X("[{:<06}] [{:06}] [{:>6}] [{:d}] [{:06.1f}]", (i), std::numeric_limits<double>::quiet_NaN(), "\u65e5\u672c", \
    static_cast<char>(-23), -std::numeric_limits<double>::infinity())                             \
  X("{:.3}", std::string(300, 'z'))                                                               \
  X("{}|{}|{}|{}|{}|{}|{}", "abc", "abcdefgh", std::string(16, 'p').c_str(), std::string(17, 'q').c_str(), \
    std::string(31, 'r').c_str(), std::string(32, 's').c_str(), std::string(33, 't').c_str())
// clang-format on

namespace testutil {

inline constexpr int kCorpusCalls = 20 + 1;  // the corpus and the round's closing line

// What the logging child (logger_child.cpp) renders for `rounds` rounds: the corpus, then
// "round I of N done", per round.
inline std::vector<std::string> corpus_messages(long rounds) {
  std::vector<std::string> out;
  for (long i = 0; i < rounds; ++i) {
#define AEROLOG_TEST_FORMAT(...) out.push_back(fmt::format(__VA_ARGS__));
    AEROLOG_TEST_CORPUS(AEROLOG_TEST_FORMAT, i)
#undef AEROLOG_TEST_FORMAT
    out.push_back(fmt::format("round {} of {} done", i, rounds));
  }
  return out;
}

}  // namespace testutil
