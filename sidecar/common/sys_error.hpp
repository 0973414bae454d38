// The programs' one error type for failed system calls: std::system_error carrying the errno,
// with what was being done in its message (CONTRIBUTING.md, "Errors").
#pragma once
#include <cerrno>
#include <exception>
#include <string>
#include <system_error>

namespace aerolog::common {

[[noreturn]] inline void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// The errno a std::system_error carries, else 0.
inline int errno_of(const std::exception& e) {
  const auto* se = dynamic_cast<const std::system_error*>(&e);
  return se ? se->code().value() : 0;
}

}  // namespace aerolog::common
