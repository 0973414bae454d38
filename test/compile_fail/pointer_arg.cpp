// expect: this argument type cannot be logged
// A pointer other than a string is refused (cast it to std::uintptr_t).
#include <aerolog/logger.hpp>

void f(aerolog::Logger& log, const int* p) { AEROLOG_INFO(log, "at {}", p); }
