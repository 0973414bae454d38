// aerologctl: status and flush of a running AeroLog pair, and reading / verifying .alog files.
#include "cli.hpp"
#include "ctl.hpp"
#include "ring_guard.hpp"
#include "shm_view.hpp"
#include "units.hpp"

#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <map>

namespace aerolog::ctl {
namespace {
volatile std::sig_atomic_t g_interrupted = 0;
}
void catch_interrupt() {
  std::signal(SIGINT, [](int) { g_interrupted = 1; });
}
bool interrupted() { return g_interrupted != 0; }
}  // namespace aerolog::ctl

int main(int argc, char** argv) {
  using namespace aerolog::ctl;
  CLI::App app{
      "aerologctl: status and flush of the AeroLog sidecar and its rings (read from shared memory,\n"
      "so it answers even when the sidecar is down or hung), and cat / verify of .alog WALs."};
  app.require_subcommand(1);
  app.footer(
      "Exit status: 0 ok / healthy; 1 failure or not healthy (one line on stderr says why);\n"
      "2 bad usage; 3 (verify) only a torn tail, which the sidecar repairs at its next start.");
  std::string shm_dir = aerolog::proto::kDefaultShmDir, wal_dir;
  // Before or after the command, or from the environment.
  aerolog::common::add_shm_dir(app, shm_dir, "where the rings and the sidecar's control block live");
  aerolog::common::add_wal_dir(app, wal_dir, "WAL root (default: the sidecar's, else /var/lib/aerolog)");

  StatusOptions st;
  auto* status = app.add_subcommand("status", "the sidecar and one row per stream; exit 0 if healthy");
  status->add_flag("--json", st.json, "one JSON document");
  status->add_flag("--prometheus", st.prometheus, "Prometheus text exposition (node_exporter textfile collector)");
  status->add_flag("-w,--watch", st.watch, "refresh every second until Ctrl-C");
  status->add_option("--ship-state-dir", st.ship_state_dir,
                     "aerolog-ship's --state-dir: one section per sink with its checkpoints and lag (default: "
                     "the sidecar's --ship-state-dir, else /var/lib/aerolog-ship)");

  FlushOptions fl;
  auto* flush = app.add_subcommand("flush", "wait until everything published before the call is durable");
  flush->add_option("target", fl.stream, "only this stream, or a logger's streams (default: every ring)");
  flush->add_option("-s,--stream", fl.stream, "the same as the target");
  flush->add_option("-t,--timeout", fl.timeout_s, "seconds to wait before failing")->capture_default_str();

  CatOptions ct;
  const std::map<std::string, Format> formats{{"text", Format::text}, {"csv", Format::csv}, {"json", Format::json}};
  auto add_format = [&](CLI::App* sub, Format& f) {
    sub->add_option_function<std::string>(
           "--format", [&f, formats](const std::string& v) { f = formats.at(v); },
           "text, csv (the columns of FORMAT.md 7.9, as scripts/alog.py cat prints them) or json (lines, the same "
           "keys)")
        ->transform(aerolog::common::one_of({"text", "csv", "json"}))
        ->default_str("text");
  };
  auto* cat = app.add_subcommand(
      "cat",
      "decode records: standard trading types pretty-printed, log events rendered, others as hex; exit 1 "
      "if the log stops short at damage (a torn tail at its end is not damage)");
  cat->alias("dump");
  cat->add_option("target", ct.target,
                  "a .alog file, a stream directory, a stream name in the WAL root, or a logger's name (its\n"
                  "streams <logger>.<thread> merged by timestamp; with -f a line waits until no stream can\n"
                  "still bring an earlier one)")
      ->required();
  add_format(cat, ct.format);
  cat->add_option("--from-seq", ct.from_seq, "first seq (seeks through the sparse index)");
  cat->add_option("--to-seq", ct.to_seq, "last seq");
  cat->add_option("--from-time", ct.from_time, "first timestamp: ns since the epoch or YYYY-MM-DDTHH:MM:SS[.fff]Z");
  cat->add_option("--to-time", ct.to_time, "last timestamp, same forms");
  cat->add_flag("-f,--follow", ct.follow, "keep printing records as they become durable, until Ctrl-C");

  CatOptions tl;
  tl.tail = 10;
  auto* tail =
      app.add_subcommand("tail", "the last N lines of a stream or a logger, then follow (cat -f) until Ctrl-C");
  tail->add_option("target", tl.target, "as for cat")->required();
  tail->add_option("-n,--lines", tl.tail, "how many lines first (of the merge, for a logger)")->capture_default_str();
  add_format(tail, tl.format);

  VerifyOptions vf;
  auto* verify =
      app.add_subcommand("verify", "check CRCs and seq continuity; report torn tails and corruption with offsets");
  verify->add_option("target", vf.target, "a .alog file, a stream directory, or a WAL root")->required();
  verify->add_flag("-q,--quiet", vf.quiet, "only problems and the per-stream verdict");

  AdoptOptions ad;
  auto* adopt = app.add_subcommand(
      "adopt",
      "renumber a REFUSED ring's unacknowledged records to follow its WAL (after a reboot, when the\n"
      "strategy started before the sidecar); stop the producer first, start it again after");
  adopt->add_option("stream", ad.stream, "the refused stream")->required();

  LevelOptions lv;
  auto* level = app.add_subcommand(
      "level",
      "show or change the level of a running aerolog::Logger (every ring of it, <logger>.<thread>);\n"
      "calls below the level do nothing. Rings a logger makes later start at the level its process set");
  level->add_option("logger", lv.logger, "the logger's name (Logger::open)")->required();
  level->add_option("level", lv.level, "trace, debug, info, warn, error or critical, in any case (omit to show)");

  if (auto rc = aerolog::common::parse_cli(app, argc, argv, "aerologctl")) return *rc;
  aerolog::common::guard::install();  // a ring or control block truncated while mapped reads as zeros
  st.shm_dir = fl.shm_dir = ct.shm_dir = tl.shm_dir = ad.shm_dir = lv.shm_dir = shm_dir;
  // Defaults a tool needs, from the sidecar of this shm directory (running or the last one).
  const aerolog::common::SidecarDirs sidecar = aerolog::common::sidecar_dirs(shm_dir);
  st.wal_dir = ct.wal_dir = tl.wal_dir = wal_dir.empty() ? sidecar.wal_dir : wal_dir;
  if (st.ship_state_dir.empty()) st.ship_state_dir = sidecar.ship_state_dir;
  tl.follow = true;
  if (*status) {
    if (st.json && st.prometheus) {
      std::fprintf(stderr, "aerologctl: choose one of --json and --prometheus\n");
      return 2;
    }
    return cmd_status(st);
  }
  if (*flush) return cmd_flush(fl);
  if (*cat) return cmd_cat(ct);
  if (*tail) return cmd_cat(tl);
  if (*adopt) return cmd_adopt(ad);
  if (*level) return cmd_level(lv);
  return cmd_verify(vf);
}
