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

// A log level as `aerologctl level` and status show and accept it.
constexpr const char* name_of(Level l) {
  constexpr const char* names[] = {"trace", "debug", "info", "warn", "error", "critical"};
  const auto i = static_cast<unsigned>(l);
  return i < 6 ? names[i] : "level?";
}

constexpr std::optional<Level> level_named(std::string_view s) {
  for (unsigned i = 0; i < 6; ++i)
    if (s == name_of(static_cast<Level>(i))) return static_cast<Level>(i);
  return std::nullopt;
}

}  // namespace aerolog::proto
