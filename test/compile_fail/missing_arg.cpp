// expect: argument not found
// Two fields and one argument: refused at compile time.
#include <aerolog/logger.hpp>

void f(aerolog::Logger& log) { AEROLOG_INFO(log, "fill {} @ {}", 100); }
