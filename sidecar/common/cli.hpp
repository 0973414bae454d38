// Command-line parsing shared by the AeroLog binaries: --help prints and exits 0; a bad flag,
// value or config key is one line on stderr and exit status 2.
#pragma once
#include <CLI/CLI.hpp>

#include <cstdio>
#include <optional>

namespace aerolog::common {

// Parses; returns the exit status when the program should stop now, nullopt to go on.
inline std::optional<int> parse_cli(CLI::App& app, int argc, char** argv, const char* name) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: %s (try --help)\n", name, e.what());
    return 2;
  }
  return std::nullopt;
}

}  // namespace aerolog::common
