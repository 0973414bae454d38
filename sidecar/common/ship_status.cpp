#include "ship_status.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace aerolog::common {

using nlohmann::json;

std::string ship_status_path(const std::string& state_dir, const std::string& sink) {
  return state_dir + "/" + sink + "/status.json";
}

bool write_ship_status(const std::string& state_dir, const ShipStatus& s) {
  json streams = json::object();
  for (const auto& [name, t] : s.streams)
    streams[name] = {{"checkpoint", t.checkpoint},           {"durable_seq", t.durable_seq},
                     {"lag_records", t.lag_records},         {"lag_bytes", t.lag_bytes},
                     {"lag_seconds", t.lag_seconds},         {"shipped_records", t.shipped_records},
                     {"skipped_records", t.skipped_records}, {"state", t.state}};
  const json j = {{"sink", s.sink},         {"connected", s.connected},   {"error", s.error},
                  {"failures", s.failures}, {"updated_ns", s.updated_ns}, {"streams", streams}};
  const std::string dir = state_dir + "/" + s.sink, path = dir + "/status.json", tmp = dir + "/.status.json.tmp";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << j.dump(2) << '\n';
    if (!f) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

std::optional<ShipStatus> read_ship_status(const std::string& state_dir, const std::string& sink) {
  try {
    std::ifstream f(ship_status_path(state_dir, sink));
    if (!f) return std::nullopt;
    const json j = json::parse(f);
    ShipStatus s;
    s.sink = j.at("sink").get<std::string>();
    s.connected = j.at("connected").get<bool>();
    s.error = j.at("error").get<std::string>();
    s.failures = j.at("failures").get<std::uint64_t>();
    s.updated_ns = j.at("updated_ns").get<std::uint64_t>();
    for (const auto& [name, t] : j.at("streams").items())
      s.streams[name] = {t.at("checkpoint").get<std::uint64_t>(),
                         t.at("durable_seq").get<std::uint64_t>(),
                         t.at("lag_records").get<std::uint64_t>(),
                         t.at("lag_bytes").get<std::uint64_t>(),
                         t.at("lag_seconds").get<double>(),
                         t.at("shipped_records").get<std::uint64_t>(),
                         t.at("skipped_records").get<std::uint64_t>(),
                         t.at("state").get<std::string>()};
    return s;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace aerolog::common
