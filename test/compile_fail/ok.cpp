// expect: ^$
// The control: the same calls, right, compile (so a failure above is the call's, not the setup's).
#include <aerolog/logger.hpp>

#include <cstdint>
#include <string>

enum class Side : std::uint8_t { buy, sell };

void f(aerolog::Logger& log, const int* p, std::string s) {
  AEROLOG_INFO(log, "fill {} @ {:.2f} {} {} {} {}", 100, aerolog::Price{58533000000}, "AAPL", s, Side::buy, 'x');
  AEROLOG_INFO(log, "at {}", reinterpret_cast<std::uintptr_t>(p));
}
