// expect: wide characters cannot be logged
// A wide character is refused with its own message (log it as an integer).
#include <aerolog/logger.hpp>

void f(aerolog::Logger& log) { AEROLOG_INFO(log, "char {}", L'x'); }
