// expect: invalid type specifier
// The format string is checked at compile time: "{:d}" does not format a string.
#include <aerolog/logger.hpp>

void f(aerolog::Logger& log) { AEROLOG_INFO(log, "symbol {:d}", "AAPL"); }
