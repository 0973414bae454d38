// Errors from the slow paths (open, attach). The hot path never throws: it returns a Status.
#pragma once
#include <stdexcept>
#include <string>

namespace aerolog {

enum class Errc {
  invalid_argument,  // bad stream name, capacity, option
  busy,              // another live producer holds the stream
  incompatible,      // not an AeroLog ring, other layout version, other capacity
  corrupt,           // undrained ring data fails validation: refused, never overwritten
  system,            // a system call failed (errno in the message)
  insecure,          // a file or directory another user made or can change: refused, left alone
};

class Error : public std::runtime_error {
 public:
  Error(Errc code, const std::string& what) : std::runtime_error(what), code_(code) {}
  Errc code() const noexcept { return code_; }

 private:
  Errc code_;
};

}  // namespace aerolog
