// The --config file of a daemon: TOML (read with toml++), its keys the long option names. An
// unknown key, a section, a value TOML does not accept or that the option refuses is an error
// naming the file, the line and the key (and the nearest valid key for a misspelt one).
#pragma once
#include <CLI/CLI.hpp>

#include <map>
#include <memory>
#include <string>

namespace aerolog::common {

class TomlConfig : public CLI::Config {
 public:
  explicit TomlConfig(const CLI::App& app) : app_(app) {}
  std::string to_config(const CLI::App*, bool, bool, std::string) const override { return {}; }
  std::vector<CLI::ConfigItem> from_config(std::istream& in) const override;

  // "FILE:LINE: " for a key read from the file, "" for any other.
  std::string where(const std::string& key) const;

 private:
  const CLI::App& app_;
  mutable std::string file_;
  mutable std::map<std::string, std::size_t> lines_;  // key -> line
};

// Adds --config FILE (no default: no file unless given) read by a TomlConfig, extras refused.
std::shared_ptr<TomlConfig> use_toml_config(CLI::App& app, const std::string& help);

}  // namespace aerolog::common
