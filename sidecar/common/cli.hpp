// Command-line parsing shared by the AeroLog binaries: --help prints and exits 0; a bad flag,
// value, command or config key is one line on stderr and exit status 2. The line names the
// config file and line when the bad value came from there, and the valid choices when a
// command or a name was misspelt.
#pragma once
#include <CLI/CLI.hpp>

#include <optional>

namespace aerolog::common {

class TomlConfig;

// Parses; returns the exit status when the program should stop now, nullopt to go on.
std::optional<int> parse_cli(CLI::App& app, int argc, char** argv, const char* name,
                             const TomlConfig* config = nullptr);

// The directory options every program takes, the same way: after a subcommand too (the app
// falls through), from AEROLOG_SHM_DIR / AEROLOG_WAL_DIR when not given.
CLI::Option* add_shm_dir(CLI::App& app, std::string& dir, const std::string& help);
CLI::Option* add_wal_dir(CLI::App& app, std::string& dir, const std::string& help);

}  // namespace aerolog::common
