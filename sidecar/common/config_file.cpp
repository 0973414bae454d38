#include "config_file.hpp"

#include "units.hpp"

#include <toml++/toml.h>

#include <sstream>

namespace aerolog::common {

namespace {

std::string line_of(const toml::source_region& r) { return std::to_string(r.begin.line); }

}  // namespace

std::vector<CLI::ConfigItem> TomlConfig::from_config(std::istream& in) const {
  const CLI::Option* opt = app_.get_config_ptr();
  file_ = opt && opt->count() ? opt->as<std::string>() : "config";
  lines_.clear();
  std::ostringstream text;
  text << in.rdbuf();
  toml::table t;
  try {
    t = toml::parse(text.str(), file_);
  } catch (const toml::parse_error& e) {
    throw CLI::ParseError(file_ + ":" + line_of(e.source()) + ": not valid TOML: " + std::string(e.description()),
                          CLI::ExitCodes::ConversionError);
  }
  std::vector<std::string> keys;
  for (const CLI::Option* o : app_.get_options())
    if (o != opt && o->get_configurable() && !o->get_lnames().empty()) keys.push_back(o->get_lnames().front());
  std::vector<CLI::ConfigItem> items;
  for (const auto& [k, v] : t) {
    const std::string key(k.str());
    const std::string at = file_ + ":" + line_of(k.source()) + ": ";
    if (v.is_table() || v.is_array_of_tables())
      throw CLI::ParseError(at + "[" + key + "]: this file has no sections; every key goes at the top level",
                            CLI::ExitCodes::ExtrasError);
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      const std::string guess = nearest(key, keys);
      throw CLI::ParseError(
          at + "unknown key '" + key + "'" + (guess.empty() ? "" : " (did you mean '" + guess + "'?)"),
          CLI::ExitCodes::ExtrasError);
    }
    CLI::ConfigItem item;
    item.name = key;
    if (auto s = v.value<std::string>(); s && v.is_string())
      item.inputs = {*s};
    else if (v.is_integer())
      item.inputs = {std::to_string(*v.value<std::int64_t>())};
    else if (v.is_boolean())
      item.inputs = {*v.value<bool>() ? "true" : "false"};
    else if (v.is_floating_point())
      item.inputs = {std::to_string(*v.value<double>())};
    else
      throw CLI::ParseError(at + key + ": a string, a whole number or true/false is expected here",
                            CLI::ExitCodes::ConversionError);
    lines_[key] = k.source().begin.line;
    items.push_back(std::move(item));
  }
  return items;
}

std::string TomlConfig::where(const std::string& key) const {
  auto it = lines_.find(key);
  return it == lines_.end() ? "" : file_ + ":" + std::to_string(it->second) + ": ";
}

std::shared_ptr<TomlConfig> use_toml_config(CLI::App& app, const std::string& help) {
  app.set_config("--config", "", help);
  auto c = std::make_shared<TomlConfig>(app);
  app.config_formatter(c);
  app.allow_config_extras(false);
  return c;
}

}  // namespace aerolog::common
