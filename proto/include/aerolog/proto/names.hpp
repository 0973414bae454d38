// The names of the enum values that programs show or accept (command-line values, status
// output, JSON): defined once here, for the writer and every reader. FORMAT.md lists them too.
#pragma once

#include <aerolog/proto/control.hpp>
#include <aerolog/proto/records.hpp>
#include <aerolog/proto/ring.hpp>

#include <optional>
#include <string_view>

namespace aerolog::proto {

constexpr const char* name_of(Durability d) {
  switch (d) {
    case Durability::dsync:
      return "dsync";
    case Durability::fdatasync:
      return "fdatasync";
    case Durability::none:
      return "none";
  }
  return "unknown";
}

constexpr std::optional<Durability> durability_named(std::string_view s) {
  for (Durability d : {Durability::dsync, Durability::fdatasync, Durability::none})
    if (s == name_of(d)) return d;
  return std::nullopt;
}

constexpr const char* name_of(RingState s) {
  switch (s) {
    case RingState::ok:
      return "ok";
    case RingState::quarantined:
      return "quarantined";
    case RingState::io_error:
      return "io_error";
    case RingState::refused:
      return "refused";
  }
  return "unknown";
}

// The standard records' enumerations (FORMAT.md 7.8) as every output names them: the name of
// value i at [i], "" where no value is defined (0 for Side, OrderAction and BookEvent).
inline constexpr const char* kSideNames[] = {"", "buy", "sell"};
inline constexpr const char* kOrderActionNames[] = {"", "new", "cancel", "replace", "fill", "partial_cancel"};
inline constexpr const char* kBookEventNames[] = {"", "add", "modify", "remove", "execute", "clear", "halt"};
inline constexpr const char* kRiskVerdictNames[] = {"pass", "warn", "breach"};
inline constexpr const char* kLevelNames[] = {"trace", "debug", "info", "warn", "error", "critical"};

// A log level as `aerologctl level` and status show and accept it.
constexpr const char* name_of(Level l) {
  const auto i = static_cast<unsigned>(l);
  return i < 6 ? kLevelNames[i] : "level?";
}

// A level by name in any case, as the tools print it (INFO, WARN) or as other loggers spell it
// (warning, err, crit, fatal).
constexpr std::optional<Level> level_named(std::string_view s) {
  char low[16] = {};
  if (s.size() >= sizeof low) return std::nullopt;
  for (std::size_t i = 0; i < s.size(); ++i) low[i] = s[i] >= 'A' && s[i] <= 'Z' ? char(s[i] - 'A' + 'a') : s[i];
  const std::string_view l(low, s.size());
  for (unsigned i = 0; i < 6; ++i)
    if (l == name_of(static_cast<Level>(i))) return static_cast<Level>(i);
  if (l == "warning") return Level::warn;
  if (l == "err") return Level::error;
  if (l == "crit" || l == "fatal") return Level::critical;
  return std::nullopt;
}

}  // namespace aerolog::proto
