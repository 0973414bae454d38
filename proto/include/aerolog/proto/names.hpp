// The names of the enum values that programs show or accept (command-line values, status
// output, JSON): defined once here, for the writer and every reader. FORMAT.md lists them too.
#pragma once

#include <aerolog/proto/control.hpp>
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

}  // namespace aerolog::proto
