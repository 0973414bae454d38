#include "cli.hpp"

#include "config_file.hpp"
#include "units.hpp"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace aerolog::common {

namespace {

// The first word of argv that is neither an option nor an option's value: the command.
std::string command_word(const CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--") return {};
    if (a.size() > 1 && a[0] == '-') {
      const CLI::Option* o = a.find('=') == std::string::npos ? app.get_option_no_throw(a) : nullptr;
      if (o && o->get_type_size() > 0) ++i;  // its value
      continue;
    }
    return a;
  }
  return {};
}

// A subcommand missing or misspelt, said plainly: CLI11 says "A subcommand is required".
std::string bad_command(const CLI::App& app, int argc, char** argv) {
  std::vector<std::string> names;
  for (const CLI::App* s : app.get_subcommands([](const CLI::App*) { return true; })) names.push_back(s->get_name());
  if (names.empty() || !app.get_subcommands().empty()) return {};
  std::string all;
  for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
  const std::string word = command_word(app, argc, argv);
  if (word.empty()) return "a command is required: " + all;
  const std::string guess = nearest(word, names);
  return "unknown command '" + word + "'" + (guess.empty() ? "" : " (did you mean '" + guess + "'?)") +
         "; the commands are " + all;
}

bool on_command_line(const std::string& key, int argc, char** argv) {
  const std::string flag = "--" + key;
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], flag.c_str(), flag.size()) == 0) return true;
  return false;
}

}  // namespace

std::optional<int> parse_cli(CLI::App& app, int argc, char** argv, const char* name, const TomlConfig* config) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    if (std::string cmd = bad_command(app, argc, argv); !cmd.empty()) msg = cmd;
    if (config)  // a value the config file gave: say where
      for (const CLI::Option* o : app.get_options())
        if (!o->get_lnames().empty()) {
          const std::string key = o->get_lnames().front();
          if (msg.find("--" + key) != std::string::npos && !on_command_line(key, argc, argv) &&
              !config->where(key).empty()) {
            msg = config->where(key) + msg;
            break;
          }
        }
    std::fprintf(stderr, "%s: %s (try --help)\n", name, msg.c_str());
    return 2;
  }
  return std::nullopt;
}

CLI::Option* add_shm_dir(CLI::App& app, std::string& dir, const std::string& help) {
  app.fallthrough();
  return app.add_option("--shm-dir", dir, help)->envname("AEROLOG_SHM_DIR")->capture_default_str();
}

CLI::Option* add_wal_dir(CLI::App& app, std::string& dir, const std::string& help) {
  app.fallthrough();
  return app.add_option("--wal-dir", dir, help)->envname("AEROLOG_WAL_DIR");
}

}  // namespace aerolog::common
