// libFuzzer: hostile TOML config files through the sidecar's option parser (toml++ into CLI11).
#include "options.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

#include <sys/mman.h>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const int fd = ::memfd_create("cfg", MFD_CLOEXEC);
  if (fd < 0) return 0;
  if (::write(fd, data, size) != static_cast<ssize_t>(size)) {
    ::close(fd);
    return 0;
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  aerolog::sidecar::Options o;
  CLI::App app;
  aerolog::sidecar::add_options(app, o);
  const char* argv[] = {"aerolog-sidecar", "--config", path.c_str()};
  try {
    app.parse(3, const_cast<char**>(argv));
  } catch (const CLI::Error&) {
    // a clear error is the expected outcome for most inputs
  }
  ::close(fd);
  return 0;
}
