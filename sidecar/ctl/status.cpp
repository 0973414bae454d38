// aerologctl status: the sidecar and every ring, from shared memory, and aerolog-ship's sinks,
// from its state directory.
#include "ctl.hpp"
#include "clock.hpp"
#include "record_format.hpp"
#include "ship_checkpoint.hpp"
#include "ship_status.hpp"
#include "shm_view.hpp"

#include "wal_files.hpp"

#include <aerolog/proto/clock.hpp>
#include <aerolog/proto/frame.hpp>
#include <aerolog/proto/names.hpp>
#include <aerolog/proto/ship.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include <unistd.h>

namespace aerolog::ctl {

using namespace proto;
using nlohmann::json;

namespace {

// The sidecar's clock page (proto/clock.hpp), if there is one. Its fields are read without the
// seqlock: status shows them, nothing computes with them.
struct ClockState {
  std::uint32_t writer_pid;
  std::uint64_t updated_ns, error_ns;
};
std::optional<ClockState> read_clock(const std::string& shm_dir) {
  try {
    Mapping m(shm_dir + "/" + kClockName, sizeof(ClockPage), false);
    const auto* p = reinterpret_cast<const ClockPage*>(m.data());
    if (p->magic.load() != kClockMagic) return std::nullopt;
    return ClockState{p->writer_pid.load(), p->updated_ns.load(), p->error_ns.load()};
  } catch (const std::exception&) {
    return std::nullopt;  // no page: no sidecar has run on this shm_dir
  }
}

std::uint64_t dir_bytes(const std::string& dir) {
  std::error_code ec;
  std::uint64_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.is_regular_file(ec) && e.path().filename().string()[0] != '.') n += e.file_size(ec);
  return n;
}

// One entry per sink aerolog-ship has run: the checkpoint files are the truth for "acknowledged
// up to"; the shipper's status.json (rewritten every second) adds connection state and lag.
json collect_sinks(const StatusOptions& o, const json& rings, std::uint64_t now, bool& healthy) {
  json sinks = json::array();
  if (o.ship_state_dir.empty()) return sinks;
  for (const std::string& name : common::list_sinks(o.ship_state_dir)) {
    const std::string dir = o.ship_state_dir + "/" + name;
    const std::optional<ShipStatus> st = read_ship_status(o.ship_state_dir, name);
    json sink;
    sink["sink"] = name;
    const std::uint64_t updated = st ? st->updated_ns : 0;
    const double age = updated ? double(now - std::min(now, updated)) / 1e9 : -1;
    sink["status_age_s"] = age;
    sink["running"] = updated && age < 5;
    sink["connected"] = st && st->connected;
    sink["error"] = st ? st->error : std::string();
    if (!sink["running"].get<bool>() || !sink["connected"].get<bool>()) healthy = false;
    sink["streams"] = json::array();
    std::error_code ec;
    std::vector<std::string> streams;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      const std::string f = e.path().filename().string(), suffix = proto::kCheckpointSuffix;
      if (f.size() > suffix.size() && f.compare(f.size() - suffix.size(), suffix.size(), suffix) == 0)
        streams.push_back(f.substr(0, f.size() - suffix.size()));
    }
    if (sink["running"].get<bool>() && st)  // with no checkpoint yet, e.g. stuck at seq 1
      for (const auto& [stream, _] : st->streams) streams.push_back(stream);
    std::sort(streams.begin(), streams.end());
    streams.erase(std::unique(streams.begin(), streams.end()), streams.end());
    for (const std::string& stream : streams) {
      json r;
      r["stream"] = stream;
      try {
        const auto c = common::read_checkpoint(common::checkpoint_path(o.ship_state_dir, name, stream));
        r["checkpoint"] = c ? c->seq : 0;
        r["skipped_records"] = c ? c->skipped : 0;
      } catch (const std::exception& e) {
        r["error"] = e.what();
        healthy = false;
        sink["streams"].push_back(r);
        continue;
      }
      ShipStreamStatus live;
      if (st && st->streams.count(stream)) live = st->streams.at(stream);
      std::uint64_t durable = live.durable_seq;
      for (const json& ring : rings)
        if (ring["stream"] == stream && ring.contains("durable_seq")) durable = ring["durable_seq"];
      const std::uint64_t ck = r["checkpoint"];
      r["durable_seq"] = durable;
      r["lag_records"] = durable > ck ? durable - ck : 0;
      r["lag_bytes"] = live.lag_bytes;
      r["lag_s"] = live.lag_seconds;
      const bool running = sink["running"].get<bool>();
      r["state"] = running ? (live.state.empty() ? std::string("?") : live.state) : std::string("shipper not running");
      r["refused"] = running && live.refused();  // the shipper says why
      if (r["refused"].get<bool>()) healthy = false;
      sink["streams"].push_back(r);
    }
    sinks.push_back(sink);
  }
  return sinks;
}

json collect(const StatusOptions& o) {
  json out;
  const std::uint64_t now = common::wall_ns();
  SidecarInfo sc = read_sidecar(o.shm_dir);
  json& s = out["sidecar"];
  s["health"] = to_string(sc.health);
  if (!sc.problem.empty()) s["problem"] = sc.problem;
  std::string wal_dir = o.wal_dir;
  if (sc.cb) {
    s["pid"] = sc.cb->pid.load();
    s["version"] = shm_text(sc.cb->sidecar_version, sizeof sc.cb->sidecar_version);
    s["uptime_s"] = double(now - std::min(now, sc.cb->start_ns.load())) / 1e9;
    s["heartbeat_age_s"] = sc.heartbeat_age_s;
    s["durability"] = shown_durability(sc.cb->durability.load());
    s["stopping"] = sc.cb->stopping.load() != 0;
    s["wal_dir"] = shm_text(sc.cb->wal_dir, sizeof sc.cb->wal_dir);
    s["rings_rejected"] = sc.cb->rings_rejected.load();
    s["streams_failed"] = sc.cb->streams_failed.load();
    s["records_written"] = sc.cb->frames_written.load();
    s["bytes_written"] = sc.cb->bytes_written.load();
    s["io_errors"] = sc.cb->io_errors.load();
    if (wal_dir.empty()) wal_dir = s["wal_dir"];
  }
  if (const auto clock = read_clock(o.shm_dir)) {
    json& c = out["clock"];
    c["writer_pid"] = clock->writer_pid;
    c["updated_age_s"] = double(now - std::min(now, clock->updated_ns)) / 1e9;
    c["error_ns"] = clock->error_ns;
  }
  bool healthy = sc.health == SidecarHealth::up;
  if (sc.cb && sc.cb->durability.load() == static_cast<std::uint32_t>(Durability::none)) healthy = false;
  out["streams"] = json::array();
  for (RingInfo& r : read_rings(o.shm_dir, false, true)) {
    json j;
    j["stream"] = r.stream;
    if (!r.h && ::access(r.path.c_str(), R_OK) != 0 && errno == EACCES) {  // another user's ring: not ours to judge
      j["state"] = "NO ACCESS";
      j["error"] = "another user's ring (run status as root or as the sidecar's user to see every stream)";
      out["streams"].push_back(j);
      continue;
    }
    if (!r.h) {
      j["state"] = "UNREADABLE";
      j["error"] = r.problem;
      healthy = false;
      out["streams"].push_back(j);
      continue;
    }
    const RingHeader& h = *r.h;
    const bool retired = r.map->size() == kRingHeaderSize;
    const std::uint64_t last = h.producer.last_seq.load(), durable = h.durable.durable_seq.load();
    const std::uint64_t w = h.producer.write_pos.load(), dpos = h.durable.durable_pos.load(),
                        rpos = h.consumer.read_pos.load();
    const std::uint64_t cap = h.id.capacity;
    j["producer_pid"] = h.producer.pid.load();
    j["producer_alive"] = r.producer_alive;
    j["retired"] = retired;
    j["last_seq"] = last;
    j["durable_seq"] = durable;
    j["lag_records"] = last > durable ? last - durable : 0;
    j["lag_bytes"] = w > dpos ? w - dpos : 0;
    double lag_s = 0;
    if (!retired && w > dpos && w - dpos <= cap) {  // the oldest record not yet durable
      FrameHeader f;
      std::memcpy(&f, r.map->data() + kRingHeaderSize + (dpos & (cap - 1)), sizeof f);
      if (f.type != kTypePad && f.timestamp && f.timestamp <= now) lag_s = double(now - f.timestamp) / 1e9;
    }
    j["lag_s"] = lag_s;
    j["fill"] = retired || w < rpos ? 0.0 : double(w - rpos) / double(cap);
    j["capacity"] = cap;
    j["dropped"] = h.producer.dropped.load();
    j["segment"] = h.counters.segment_base.load() ? detail::segment_file_name(h.counters.segment_base.load()) : "";
    j["wal_bytes"] = wal_dir.empty() ? 0 : dir_bytes(wal_dir + "/" + r.stream);
    j["write_us_last"] = double(h.counters.write_ns_last.load()) / 1e3;
    j["write_us_max"] = double(h.counters.write_ns_max.load()) / 1e3;
    j["blocks_written"] = h.counters.blocks_written.load();
    if (h.log.log_magic.load() == kLogRingMagic)  // an aerolog::Logger's ring: its level
      j["log_level"] = name_of(static_cast<Level>(h.log.level.load()));
    const std::uint32_t st = h.sidecar.state.load();
    j["state"] = shown_state(st);
    j["error"] = shm_text(h.sidecar.error, sizeof h.sidecar.error);
    if (st != 0) healthy = false;
    out["streams"].push_back(j);
  }
  out["ship_state_dir"] = o.ship_state_dir;  // where the sinks below were looked for
  out["sinks"] = collect_sinks(o, out["streams"], now, healthy);
  out["healthy"] = healthy;
  return out;
}

void print_text(const json& j) {
  const json& s = j["sidecar"];
  const std::string health = s["health"];
  if (s.contains("problem")) std::printf("%s\n", s["problem"].get<std::string>().c_str());
  if (health == "ABSENT") {
    std::printf("sidecar: not running (no control block)\n");
  } else {
    std::printf("sidecar: %s, pid %u, version %s, up %.0f s, heartbeat %.2f s ago, durability %s%s\n", health.c_str(),
                s.value("pid", 0u), s.value("version", std::string("?")).c_str(), s.value("uptime_s", 0.0),
                s.value("heartbeat_age_s", 0.0), s.value("durability", std::string("?")).c_str(),
                s.value("durability", std::string()) == "NONE" ? "  <-- records are NOT durable" : "");
    if (health == "DOWN")
      std::printf("  the sidecar (pid %u) is not running: nothing is being made durable\n", s.value("pid", 0u));
    if (health == "HUNG")
      std::printf("  the sidecar is alive but its main loop has not run for %.1f s\n", s.value("heartbeat_age_s", 0.0));
    std::printf("  WAL %s, %llu records / %.1f MiB written since start, %llu I/O errors\n",
                s.value("wal_dir", std::string("?")).c_str(), s.value("records_written", 0ull),
                double(s.value("bytes_written", 0ull)) / 1048576.0, s.value("io_errors", 0ull));
    if (s.value("rings_rejected", 0ull))
      std::printf(
          "  %llu ring files not served (wrong type, owner, mode or size, or over a cap: see the sidecar's log)\n",
          s.value("rings_rejected", 0ull));
  }
  if (j.contains("clock"))
    std::printf("  clock page: updated %.2f s ago by pid %u, its last correction %llu ns\n",
                j["clock"]["updated_age_s"].get<double>(), j["clock"]["writer_pid"].get<unsigned>(),
                j["clock"]["error_ns"].get<unsigned long long>());
  if (j["streams"].empty()) {
    std::printf("no rings\n");
  } else {
    std::printf("%-16s %-14s %12s %12s %10s %10s %8s %6s %8s %22s %10s %14s  %s\n", "stream", "producer", "last seq",
                "durable", "lag recs", "lag bytes", "lag s", "fill", "dropped", "segment", "WAL MiB", "write us (max)",
                "state");
    for (const json& r : j["streams"]) {
      if (!r.contains("last_seq")) {
        std::printf("%-16s %s: %s\n", r["stream"].get<std::string>().c_str(), r["state"].get<std::string>().c_str(),
                    r["error"].get<std::string>().c_str());
        continue;
      }
      char prod[32];
      std::snprintf(prod, sizeof prod, "%u %s", r["producer_pid"].get<unsigned>(),
                    r["retired"].get<bool>()          ? "retired"
                    : r["producer_alive"].get<bool>() ? "alive"
                                                      : "gone");
      char lat[32];
      std::snprintf(lat, sizeof lat, "%.0f (%.0f)", r["write_us_last"].get<double>(), r["write_us_max"].get<double>());
      const std::string err = r["error"];
      std::printf("%-16s %-14s %12llu %12llu %10llu %10llu %8.3f %5.1f%% %8llu %22s %10.1f %14s  %s%s%s\n",
                  r["stream"].get<std::string>().c_str(), prod, r["last_seq"].get<unsigned long long>(),
                  r["durable_seq"].get<unsigned long long>(), r["lag_records"].get<unsigned long long>(),
                  r["lag_bytes"].get<unsigned long long>(), r["lag_s"].get<double>(), 100 * r["fill"].get<double>(),
                  r["dropped"].get<unsigned long long>(), r["segment"].get<std::string>().c_str(),
                  double(r["wal_bytes"].get<unsigned long long>()) / 1048576.0, lat,
                  r["state"].get<std::string>().c_str(), err.empty() ? "" : ": ", err.c_str());
      if (r.contains("log_level"))
        std::printf("%-16s   logger ring, level %s\n", "", r["log_level"].get<std::string>().c_str());
    }
  }
  for (const json& k : j["sinks"]) {
    const std::string err = k["error"];
    std::printf("sink %s: %s%s%s\n", k["sink"].get<std::string>().c_str(),
                !k["running"].get<bool>()    ? "aerolog-ship NOT RUNNING"
                : k["connected"].get<bool>() ? "connected"
                                             : "DOWN",
                err.empty() ? "" : ": ", err.c_str());
    std::printf("  %-16s %12s %12s %10s %12s %8s %8s  %s\n", "stream", "checkpoint", "durable", "lag recs", "lag bytes",
                "lag s", "skipped", "state");
    for (const json& r : k["streams"]) {
      if (r.contains("error")) {
        std::printf("  %-16s %s\n", r["stream"].get<std::string>().c_str(), r["error"].get<std::string>().c_str());
        continue;
      }
      std::printf("  %-16s %12llu %12llu %10llu %12llu %8.3f %8llu  %s\n", r["stream"].get<std::string>().c_str(),
                  r["checkpoint"].get<unsigned long long>(), r["durable_seq"].get<unsigned long long>(),
                  r["lag_records"].get<unsigned long long>(), r["lag_bytes"].get<unsigned long long>(),
                  r["lag_s"].get<double>(), r["skipped_records"].get<unsigned long long>(),
                  r["state"].get<std::string>().c_str());
    }
  }
  std::printf("%s\n", j["healthy"].get<bool>() ? "healthy" : "NOT HEALTHY");
}

void print_prometheus(const json& j) {
  auto metric = [](const char* name, const char* help, const char* type) {
    std::printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
  };
  auto sample = [](const json& v) { return v.is_boolean() ? std::string(v.get<bool>() ? "1" : "0") : v.dump(); };
  const json& s = j["sidecar"];
  metric("aerolog_sidecar_up", "1 if the sidecar runs and its loop is alive", "gauge");
  std::printf("aerolog_sidecar_up %d\n", s["health"] == "up" ? 1 : 0);
  if (s.contains("pid")) {
    metric("aerolog_sidecar_heartbeat_age_seconds", "seconds since the sidecar's main loop last ran", "gauge");
    std::printf("aerolog_sidecar_heartbeat_age_seconds %.3f\n", s["heartbeat_age_s"].get<double>());
    metric("aerolog_sidecar_durable", "1 unless the sidecar runs with durability none", "gauge");
    std::printf("aerolog_sidecar_durable{mode=\"%s\"} %d\n", s["durability"].get<std::string>().c_str(),
                s["durability"] == "NONE" ? 0 : 1);
    metric("aerolog_sidecar_io_errors_total", "write or sync errors since start", "counter");
    std::printf("aerolog_sidecar_io_errors_total %llu\n", s["io_errors"].get<unsigned long long>());
    metric("aerolog_sidecar_rings_rejected", "ring files not served: wrong type, owner, mode or size, or over a cap",
           "gauge");
    std::printf("aerolog_sidecar_rings_rejected %llu\n", s["rings_rejected"].get<unsigned long long>());
  }
  if (j.contains("clock")) {
    metric("aerolog_clock_age_seconds", "seconds since the sidecar last updated the clock page", "gauge");
    std::printf("aerolog_clock_age_seconds %.3f\n", j["clock"]["updated_age_s"].get<double>());
    metric("aerolog_clock_correction_nanoseconds", "|CLOCK_REALTIME - page clock| at its last update", "gauge");
    std::printf("aerolog_clock_correction_nanoseconds %llu\n", j["clock"]["error_ns"].get<unsigned long long>());
  }
  struct M {
    const char* key;
    const char* name;
    const char* help;
    const char* type;
  };
  const M ms[] = {
      {"last_seq", "aerolog_stream_published_seq", "last seq published by the producer", "gauge"},
      {"durable_seq", "aerolog_stream_durable_seq", "every seq up to this is on stable storage", "gauge"},
      {"lag_records", "aerolog_stream_lag_records", "records published but not yet durable", "gauge"},
      {"lag_bytes", "aerolog_stream_lag_bytes", "ring bytes not yet durable", "gauge"},
      {"lag_s", "aerolog_stream_lag_seconds", "age of the oldest record not yet durable", "gauge"},
      {"fill", "aerolog_stream_ring_fill_ratio", "fraction of the ring not yet freed", "gauge"},
      {"dropped", "aerolog_stream_dropped_total", "publishes refused because the ring was full", "counter"},
      {"wal_bytes", "aerolog_stream_wal_bytes", "bytes of the stream's WAL files", "gauge"},
      {"write_us_last", "aerolog_stream_write_last_microseconds", "last block: submit to durable", "gauge"},
      {"write_us_max", "aerolog_stream_write_max_microseconds", "largest submit to durable time", "gauge"},
  };
  for (const M& m : ms) {
    metric(m.name, m.help, m.type);
    for (const json& r : j["streams"])
      if (r.contains(m.key))
        std::printf("%s{stream=\"%s\"} %s\n", m.name, r["stream"].get<std::string>().c_str(), sample(r[m.key]).c_str());
  }
  metric("aerolog_ship_connected", "1 if aerolog-ship runs and is connected to the sink", "gauge");
  for (const json& k : j["sinks"])
    std::printf("aerolog_ship_connected{sink=\"%s\"} %d\n", k["sink"].get<std::string>().c_str(),
                k["running"].get<bool>() && k["connected"].get<bool>() ? 1 : 0);
  const M ship[] = {
      {"checkpoint", "aerolog_ship_checkpoint_seq", "every seq up to this is in the sink", "gauge"},
      {"lag_records", "aerolog_ship_lag_records", "durable records not yet in the sink", "gauge"},
      {"lag_bytes", "aerolog_ship_lag_bytes", "durable bytes not yet in the sink (estimate)", "gauge"},
      {"lag_s", "aerolog_ship_lag_seconds", "age of the last shipped record while records wait", "gauge"},
      {"skipped_records", "aerolog_ship_skipped_total", "records the retention cap deleted before shipping", "counter"},
      {"refused", "aerolog_ship_stream_refused",
       "1 if the stream cannot be shipped to the sink (see the shipper's log)", "gauge"},
  };
  for (const M& m : ship) {
    metric(m.name, m.help, m.type);
    for (const json& k : j["sinks"])
      for (const json& r : k["streams"])
        if (r.contains(m.key))
          std::printf("%s{sink=\"%s\",stream=\"%s\"} %s\n", m.name, k["sink"].get<std::string>().c_str(),
                      r["stream"].get<std::string>().c_str(), sample(r[m.key]).c_str());
  }
  metric("aerolog_stream_ok", "1 if the sidecar serves the stream without error", "gauge");
  for (const json& r : j["streams"])
    std::printf("aerolog_stream_ok{stream=\"%s\"} %d\n", r["stream"].get<std::string>().c_str(),
                r["state"] == "ok" ? 1 : 0);
}

}  // namespace

int cmd_status(const StatusOptions& o) {
  if (o.watch) catch_interrupt();
  for (;;) {
    json j;
    try {
      j = collect(o);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "aerologctl: %s\n", e.what());
      return 1;
    }
    if (o.watch) std::printf("\033[H\033[2J%s\n", format_time(common::wall_ns()).c_str());
    if (o.json)
      std::printf("%s\n", j.dump(o.watch ? 2 : -1, ' ', false, json::error_handler_t::replace).c_str());
    else if (o.prometheus)
      print_prometheus(j);
    else
      print_text(j);
    std::fflush(stdout);
    if (!o.watch || interrupted()) return j["healthy"].get<bool>() ? 0 : 1;
    for (int i = 0; i < 10 && !interrupted(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (interrupted()) return 0;
  }
}

namespace {
std::string capitals(const char* name) {
  std::string s = name;
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

std::string shown_state(std::uint32_t ring_state) {
  const auto s = static_cast<RingState>(ring_state);
  return s == RingState::ok ? name_of(s) : capitals(name_of(s));
}

std::string shown_durability(std::uint32_t durability) {
  const auto d = static_cast<Durability>(durability);
  return d == Durability::none ? capitals(name_of(d)) : name_of(d);
}

}  // namespace aerolog::ctl
