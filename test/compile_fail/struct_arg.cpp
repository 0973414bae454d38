// expect: this argument type cannot be logged
// A struct is not an argument: the message says what to log instead.
#include <aerolog/logger.hpp>

struct Order {
  int qty;
};

void f(aerolog::Logger& log) { AEROLOG_INFO(log, "order {}", Order{1}); }
