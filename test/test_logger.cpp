// Deferred-format logging (aerolog::Logger): what a logging process wrote renders exactly as
// {fmt} formats the same calls, from the WAL alone (after the process is gone, after a seek,
// through the site catalog); a process that dies by SIGSEGV, SIGABRT or SIGKILL right after
// logging loses none of it; a full ring leaves a Dropped marker where the gap is; levels change
// from outside.
#include "log_corpus.hpp"
#include "proc_util.hpp"
#include "python_cmd.hpp"
#include "ring_consumer.hpp"
#include "shell.hpp"
#include "sidecar_process.hpp"
#include "wal_reader.hpp"

#include <aerolog/log_decoder.hpp>
#include <aerolog/reader.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

using namespace testutil;

namespace {

pid_t spawn_logger(const std::string& shm, const std::string& logger, long rounds, const std::string& how,
                   int threads = 1) {
  return spawn_exec({AEROLOG_TEST_LOGGER, shm, logger, std::to_string(rounds), how, std::to_string(threads)});
}

// The messages of a stream's log events in the WAL, read through `aerologctl cat --format json`.
std::vector<std::string> messages(const std::string& dir, const std::string& extra = "") {
  const Run r = sh(std::string(AEROLOGCTL_BIN) + " cat " + dir + " --format json " + extra + " 2>&1");
  std::vector<std::string> out;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("message")) {
      out.push_back("not a log event: " + line);
      continue;
    }
    out.push_back(j["message"].get<std::string>());
  }
  return out;
}

// Once the sidecar has made everything in the ring durable (the ring stays after its producer
// is gone), the stream's WAL holds at least n lines.
bool wait_for_lines(const std::string& shm, const std::string& dir, std::size_t n) {
  const std::string ring = shm + "/aerolog." + dir.substr(dir.rfind('/') + 1);
  const bool drained = wait_until(
      [&] {
        if (::access(ring.c_str(), F_OK) != 0) return false;
        RingConsumer c(ring);
        const std::uint64_t last = c.header().producer.last_seq.load();
        return last > 0 && c.header().durable.durable_seq.load() == last;
      },
      std::chrono::seconds(120));
  return drained && messages(dir).size() >= n;
}

}  // namespace

TEST_CASE("log events render from the WAL exactly as fmt::format renders the same calls", "[logger][process]") {
  TempDir shm("/dev/shm"), wal(wal_base());
  SidecarProcess sc(shm.path, wal.path);
  REQUIRE(wait_exit(spawn_logger(shm.path, "lg", 3, "exit")) == 0);
  const std::string dir = wal.path + "/lg.t1";
  const auto want = corpus_messages(3);
  REQUIRE(wait_for_lines(shm.path, dir, want.size()));
  CHECK(messages(dir) == want);

  // Text: "<time> <LEVEL> <stream> <file>:<line> <message>", each message whole.
  const Run text = sh(std::string(AEROLOGCTL_BIN) + " cat " + dir);
  REQUIRE(text.rc == 0);
  std::size_t at = 0;
  for (const std::string& m : want) {
    at = text.out.find(m, at);
    REQUIRE(at != std::string::npos);
  }
  CHECK(text.out.find(" info lg.t1 logger_child.cpp:") != std::string::npos);
  // alog.py renders every spec of the corpus byte for byte as aerologctl does.
  const Run py = sh("python3 " AEROLOG_SCRIPTS "/alog.py cat " + dir);
  const Run cpp = sh(std::string(AEROLOGCTL_BIN) + " cat " + dir + " --format csv");
  REQUIRE(py.rc == 0);
  CHECK(py.out == cpp.out);
  CHECK(text.out.find(" warn lg.t1 logger_child.cpp:") != std::string::npos);
  // JSON args: a float as the float's shortest decimal (0.1f is 0.1, as the message has it).
  const Run json = sh(std::string(AEROLOGCTL_BIN) + " cat " + dir + " --format json");
  bool seen_float = false;
  std::istringstream json_lines(json.out);
  for (std::string line; std::getline(json_lines, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || j.value("format", "") != "{} {} {}") continue;
    CHECK(j["args"][2].get<double>() == 0.1);
    CHECK(line.find("65535,0.1]") != std::string::npos);
    CHECK(j["level"] == "info");
    seen_float = true;
  }
  CHECK(seen_float);
  // CSV quotes what needs it.
  const Run csv = sh(std::string(AEROLOGCTL_BIN) + " cat " + dir + " --format csv");
  CHECK(csv.out.find(",Log,logger_child.cpp:") != std::string::npos);
  CHECK(csv.out.find("\"quote \"\" comma , newline\nsecond line") != std::string::npos);

  // A seek past every LogSite record still decodes (the site catalog), and so does a reader
  // without the WAL's earlier records: a copy of the last segment and the catalog only.
  const auto from_seq = messages(dir, "--from-seq 30");
  REQUIRE(!from_seq.empty());
  CHECK(from_seq.front().rfind("not a log event", 0) != 0);
  aerolog::Reader reader = aerolog::Reader::open(dir);
  aerolog::LogDecoder decoder;
  REQUIRE(decoder.load_catalog(dir));
  CHECK(decoder.sites() == kCorpusCalls);
  reader.seek_seq(2 * kCorpusCalls + 1);  // round 1: one event per call
  std::size_t decoded = 0;
  while (const aerolog::Record* r = reader.next())
    if (const aerolog::LogEvent* e = decoder.decode(*r)) {
      CHECK(decoder.render(*e) == want.at(r->seq - 1 - kCorpusCalls));  // round 0 has each site before its event
      ++decoded;
    }
  CHECK(decoded > 0);
}

TEST_CASE("a process that dies by SIGSEGV, SIGABRT or SIGKILL right after logging loses no line", "[crash][logger]") {
  for (const auto& [how, sig] : {std::pair{"segv", SIGSEGV}, {"abort", SIGABRT}, {"kill", SIGKILL}}) {
    CAPTURE(how);
    TempDir shm("/dev/shm"), wal(wal_base());
    SidecarProcess sc(shm.path, wal.path);
    const long kRounds = env_uint("AEROLOG_LOGGER_CRASH_ROUNDS", 500);  // 10K lines per thread
    const std::size_t kLines = static_cast<std::size_t>(kRounds) * kCorpusCalls;
    constexpr int kThreads = 3;
    int st = 0;
    const pid_t child = spawn_logger(shm.path, "crash", kRounds, how, kThreads);
    REQUIRE(::waitpid(child, &st, 0) == child);
    // The signal itself; a sanitizer runtime reports a SEGV and exits non-zero instead.
    CHECK((WIFSIGNALED(st) ? WTERMSIG(st) == sig : WEXITSTATUS(st) != 0));
    for (int t = 1; t <= kThreads; ++t) {
      const std::string dir = wal.path + "/crash.t" + std::to_string(t);
      CAPTURE(dir);
      REQUIRE(wait_for_lines(shm.path, dir, kLines));
      const auto got = messages(dir);
      REQUIRE(got.size() == kLines);
      CHECK(got.back() == fmt::format("round {} of {} done", kRounds - 1, kRounds));
    }
  }
}

TEST_CASE("Logger::flush returns once every thread's lines are durable: the sidecar killed right after loses none",
          "[crash][logger]") {
  TempDir shm("/dev/shm"), wal(wal_base());
  // A long batching delay: without the flush request the last blocks would wait half a second.
  SidecarProcess sc(shm.path, wal.path, {"--batch-delay-us", "500000"});
  constexpr long kRounds = 200;
  constexpr int kThreads = 3;  // two of them have exited when flush() is called
  const std::size_t kLines = static_cast<std::size_t>(kRounds) * kCorpusCalls;
  int st = 0;
  const pid_t child = spawn_logger(shm.path, "fl", kRounds, "flush-kill:" + std::to_string(sc.pid()), kThreads);
  REQUIRE(::waitpid(child, &st, 0) == child);
  REQUIRE(WIFSIGNALED(st));  // exit 3 would be a flush that timed out
  CHECK(WTERMSIG(st) == SIGKILL);
  CHECK(sc.wait() == 128 + SIGKILL);
  for (int t = 1; t <= kThreads; ++t) {
    const std::string dir = wal.path + "/fl.t" + std::to_string(t);
    CAPTURE(dir);
    const auto got = messages(dir);  // the WAL as the killed sidecar left it
    REQUIRE(got.size() == kLines);
    CHECK(got.back() == fmt::format("round {} of {} done", kRounds - 1, kRounds));
  }
}

TEST_CASE("Logger::flush and wait_durable with no sidecar return false at the timeout", "[logger]") {
  TempDir shm("/dev/shm");
  aerolog::LoggerOptions o;
  o.ring.shm_dir = shm.path;
  auto log = aerolog::Logger::open("nosidecar", o);
  CHECK(log.flush(std::chrono::milliseconds(1)));  // nothing logged yet: nothing to wait for
  AEROLOG_INFO(log, "one line {}", 1);
  CHECK_FALSE(log.flush(std::chrono::milliseconds(50)));
  CHECK_FALSE(log.wait_durable(std::chrono::milliseconds(1)));
  std::thread([&] { AEROLOG_INFO(log, "from a thread that exits {}", 2); }).join();
  CHECK_FALSE(log.wait_durable(std::chrono::milliseconds(1)));
}

TEST_CASE("a full ring drops records and the next one in is preceded by a Dropped marker", "[logger][producer]") {
  TempDir shm("/dev/shm");
  aerolog::ProducerOptions o;
  o.shm_dir = shm.path;
  o.capacity = 64 * 1024;
  auto p = aerolog::Producer::open("drops", o);
  RingConsumer c(shm.path + "/aerolog.drops");
  const std::uint64_t word = 7;
  std::uint64_t published = 0;
  while (p.publish(300, &word, sizeof word)) ++published;
  for (int i = 0; i < 4; ++i) CHECK(!p.publish(300, &word, sizeof word));  // 5 dropped in all
  std::vector<Record> got;
  c.poll(got);  // frees the space
  REQUIRE(got.size() == published);
  got.clear();
  const auto r = p.publish(301, &word, sizeof word);
  REQUIRE(r);
  c.poll(got);
  REQUIRE(got.size() == 2);
  CHECK(got[0].type == aerolog::proto::kTypeDropped);
  CHECK(got[0].seq == published + 1);
  aerolog::proto::Dropped d;
  REQUIRE(got[0].payload.size() == sizeof d);
  std::memcpy(&d, got[0].payload.data(), sizeof d);
  CHECK(d.count == 5);
  CHECK(d.first_ns > 0);
  CHECK(got[1].type == 301);
  CHECK(got[1].seq == r.seq);
  CHECK(r.seq == published + 2);
  CHECK(p.stats().dropped == 5);
}

TEST_CASE("aerologctl level shows and changes a running logger's level through its ring headers",
          "[logger][process][ctl]") {
  TempDir shm("/dev/shm");
  aerolog::LoggerOptions o;
  o.ring.shm_dir = shm.path;
  o.ring.capacity = 64 * 1024;
  o.level = aerolog::Level::warn;
  auto log = aerolog::Logger::open("lvl", o);
  log.preallocate();
  const std::string ctl = std::string(AEROLOGCTL_BIN) + " --shm-dir " + shm.path + " level lvl";
  Run r = sh(ctl);
  CHECK(r.rc == 0);
  CHECK(r.out.find("lvl.t") != std::string::npos);
  CHECK(r.out.find("warn") != std::string::npos);
  int evaluated = 0;
  auto side_effect = [&] { return ++evaluated; };
  AEROLOG_INFO(log, "filtered {}", side_effect());
  CHECK(evaluated == 0);  // a filtered call does not evaluate its arguments
  r = sh(ctl + " debug");
  CHECK(r.rc == 0);
  CHECK(log.level() == aerolog::Level::debug);
  AEROLOG_DEBUG(log, "now logged {}", side_effect());
  CHECK(evaluated == 1);
  // A thread whose first call is filtered out gets its ring then (so that it never needs the
  // logger's lock to decide a call), and a level set from outside reaches it.
  std::atomic<int> step{0};
  int thread_evaluated = 0;
  std::thread other([&] {
    AEROLOG_TRACE(log, "filtered {}", ++thread_evaluated);
    step = 1;
    while (step != 2) std::this_thread::yield();
    AEROLOG_TRACE(log, "now logged {}", ++thread_evaluated);
  });
  while (step != 1) std::this_thread::yield();
  CHECK(::access((shm.path + "/aerolog.lvl.t2").c_str(), F_OK) == 0);
  CHECK(sh(ctl + " trace").rc == 0);
  step = 2;
  other.join();
  CHECK(thread_evaluated == 1);
  const Run status = sh(std::string(AEROLOGCTL_BIN) + " --shm-dir " + shm.path + " status --json");
  const auto j = nlohmann::json::parse(status.out, nullptr, false);
  REQUIRE(j.contains("streams"));
  for (const auto& ring : j["streams"]) CHECK(ring.value("log_level", "") == "trace");
  CHECK(sh(ctl + " WARN").rc == 0);  // as cat prints it
  CHECK(log.level() == aerolog::Level::warn);
  CHECK(sh("AEROLOG_SHM_DIR=" + shm.path + " " + AEROLOGCTL_BIN + " level lvl Warning").rc == 0);
  CHECK(sh(std::string(AEROLOGCTL_BIN) + " level lvl Error --shm-dir " + shm.path).rc == 0);
  CHECK(log.level() == aerolog::Level::error);
  CHECK(sh(ctl + " loud").rc == 2);  // not a level
  CHECK(sh(std::string(AEROLOGCTL_BIN) + " --shm-dir " + shm.path + " level nosuch").rc == 1);
}

TEST_CASE("aerologctl cat LOGGER merges its thread streams by timestamp, and tail starts with the last lines",
          "[logger][process][ctl]") {
  TempDir shm("/dev/shm"), wal(wal_base());
  SidecarProcess sc(shm.path, wal.path);
  constexpr long kRounds = 50;
  REQUIRE(wait_exit(spawn_logger(shm.path, "mg", kRounds, "exit", 3)) == 0);
  for (int t = 1; t <= 3; ++t)
    REQUIRE(wait_for_lines(shm.path, wal.path + "/mg.t" + std::to_string(t), kRounds * kCorpusCalls));
  const std::string ctl = std::string(AEROLOGCTL_BIN) + " --shm-dir " + shm.path + " ";
  const Run merged = sh(ctl + "cat mg --wal-dir " + wal.path + " --format json");
  REQUIRE(merged.rc == 0);
  std::vector<std::string> lines;
  std::istringstream in(merged.out);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  REQUIRE(lines.size() == 3 * kRounds * kCorpusCalls);
  std::uint64_t prev = 0;
  std::set<std::string> streams;
  for (const auto& line : lines) {
    const auto j = nlohmann::json::parse(line);
    CHECK(j["ts"].get<std::uint64_t>() >= prev);
    prev = j["ts"].get<std::uint64_t>();
    streams.insert(j["stream"].get<std::string>());
  }
  CHECK(streams == std::set<std::string>{"mg.t1", "mg.t2", "mg.t3"});
  CHECK(sh(ctl + "cat mg --wal-dir " + wal.path + " --from-seq 5").rc == 2);  // seqs are per stream
  // tail follows until stopped: the first lines are the merge's last 5.
  const Run tail = sh("timeout -s INT 2 " + ctl + "tail mg -n 5 --wal-dir " + wal.path + " --format json");
  std::vector<std::string> tailed;
  std::istringstream tin(tail.out);
  for (std::string line; std::getline(tin, line);) tailed.push_back(line);
  CHECK(tailed == std::vector<std::string>(lines.end() - 5, lines.end()));
}

TEST_CASE("log events stay decodable after retention deleted their LogSite records and the sidecar died mid-catalog",
          "[crash][logger][failpoint]") {
  TempDir shm("/dev/shm"), wal(wal_base());
  // The smallest segments and a limit of three: the first segment, with every LogSite record,
  // is deleted (or recycled) long before the end.
  const std::vector<std::string> retention = {"--segment-size", "2162688",          "--retention-bytes",
                                              "6488064",        "--ship-state-dir", ""};
  const std::string dir = wal.path + "/cat.t1", ring = shm.path + "/aerolog.cat.t1";
  constexpr long kRounds = 6000;  // 120K events, ~7 MB of WAL: several rolls
  const pid_t child = spawn_logger(shm.path, "cat", kRounds, "exit");
  // Dies with a LogSite's catalog entry written and its block not (the entry is cut at recovery
  // and written again), then at a random later HWM store, then runs to the end.
  for (const char* failpoints : {"site_catalog_written=1", "after_hwm_store=3"}) {
    SidecarProcess sc(shm.path, wal.path, retention, {std::string("AEROLOG_FAILPOINTS=") + failpoints});
    int st = 0;
    REQUIRE(wait_until(
        [&] {
          if (::waitpid(sc.pid(), &st, WNOHANG) != sc.pid()) return false;
          sc.forget();
          return true;
        },
        std::chrono::seconds(60)));
    INFO(failpoints << "\n" << sc.log());
    REQUIRE((WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL));
  }
  SidecarProcess sc(shm.path, wal.path, retention);
  REQUIRE(wait_exit(child) == 0);
  REQUIRE(wait_until([&] { return ::access(ring.c_str(), F_OK) != 0 || messages(dir).size() > 0; }));
  // Everything the child logged is durable once the ring is drained.
  REQUIRE(wait_until(
      [&] {
        RingConsumer c(ring);
        return c.header().durable.durable_seq.load() == c.header().producer.last_seq.load();
      },
      std::chrono::seconds(60)));
  const auto segs = segment_files(dir);
  REQUIRE(!segs.empty());
  CHECK(std::stoull(segs.front().substr(0, 20)) > 40);  // the LogSite records' segment is gone
  const auto got = messages(dir);
  REQUIRE(!got.empty());
  for (const auto& m : got) REQUIRE(m.rfind("not a log event", 0) != 0);  // every event decodes
  CHECK(got.back() == fmt::format("round {} of {} done", kRounds - 1, kRounds));
  aerolog::LogDecoder d;
  REQUIRE(d.load_catalog(dir));
  CHECK(d.sites() == kCorpusCalls);
}

TEST_CASE("a damaged site catalog entry costs its own sites only: verify reports it, readers and the sidecar skip it",
          "[logger][ctl]") {
  TempDir shm("/dev/shm"), wal(wal_base());
  const std::string dir = wal.path + "/dmg.t1", catalog = dir + "/sites";
  constexpr long kRounds = 50;
  {
    SidecarProcess sc(shm.path, wal.path);
    REQUIRE(wait_exit(spawn_logger(shm.path, "dmg", kRounds, "exit")) == 0);
    REQUIRE(wait_for_lines(shm.path, dir, kRounds * kCorpusCalls));
    sc.signal(SIGTERM);
    REQUIRE(sc.wait() == 0);
  }
  const std::string verify = std::string(AEROLOGCTL_BIN) + " verify " + dir;
  Run v = sh(verify);
  CHECK(v.rc == 0);
  aerolog::LogDecoder whole;
  REQUIRE(whole.load_catalog(dir));
  const std::size_t sites = whole.sites();
  CHECK_THAT(v.out, Catch::Contains("sites: " + std::to_string(sites) + " sites"));

  // One bit flipped in the second entry's frame.
  const std::string original = SidecarProcess::read_file(catalog);
  std::uint32_t len0 = 0;
  std::memcpy(&len0, original.data(), 4);
  const std::size_t second = 8 + aerolog::proto::frame_stride(len0);
  std::string bad = original;
  bad[second + 8 + 30] ^= 0x10;
  std::ofstream(catalog, std::ios::binary | std::ios::trunc) << bad;
  v = sh(verify);
  CHECK(v.rc == 1);
  CHECK_THAT(v.out, Catch::Contains("CORRUPT: 1 damaged entry, the first at offset " + std::to_string(second)));
  aerolog::LogDecoder skipped;
  REQUIRE(skipped.load_catalog(dir));
  CHECK(skipped.sites() == sites - 1);  // that entry's site only
  CHECK_FALSE(skipped.catalog_damage().empty());
  // Past the LogSite records, the events of that one site do not decode; every other one does.
  const auto got = messages(dir, "--from-seq " + std::to_string(2 * kCorpusCalls + 10));
  const auto undecodable = std::count_if(got.begin(), got.end(), [](const std::string& m) {
    return m.find("undecodable") != std::string::npos || m.rfind("not a log event", 0) == 0;
  });
  CHECK(undecodable > 0);
  CHECK(undecodable <= kRounds);
  CHECK(got.back() == fmt::format("round {} of {} done", kRounds - 1, kRounds));
  // The Python reader skips it the same way.
  const Run py = sh(python() +
                    "-c \"import aerolog.logfmt as l, aerolog.wal as w; d = l.LogDecoder(); "
                    "d.load_catalog('" +
                    dir + "', w.crc32c); print(len(d.sites), bool(d.catalog_damage))\"");
  CHECK(py.out == std::to_string(sites - 1) + " True\n");
  {  // The sidecar keeps the file as it is (readers skip the entry) and says so.
    SidecarProcess sc(shm.path, wal.path);
    REQUIRE(wait_until([&] { return sc.log().find("ready") != std::string::npos; }));
    CHECK_THAT(sc.log(), Catch::Contains("1 damaged entry skipped"));
    sc.signal(SIGTERM);
    REQUIRE(sc.wait() == 0);
  }
  CHECK(SidecarProcess::read_file(catalog) == bad);

  // A torn append at the end only: exit 3, and the sidecar cuts it off.
  std::ofstream(catalog, std::ios::binary | std::ios::trunc) << original << std::string("\x30\0\0\0\x01\x02", 6);
  v = sh(verify);
  CHECK(v.rc == 3);
  CHECK_THAT(v.out, Catch::Contains("torn tail at offset " + std::to_string(original.size())));
  {
    SidecarProcess sc(shm.path, wal.path);
    REQUIRE(wait_until([&] { return sc.log().find("ready") != std::string::npos; }));
    sc.signal(SIGTERM);
    REQUIRE(sc.wait() == 0);
  }
  CHECK(SidecarProcess::read_file(catalog) == original);
}

TEST_CASE("after fork the child logs into rings of its own and the parent's stay whole", "[logger][process]") {
  TempDir shm("/dev/shm"), wal(wal_base());
  SidecarProcess sc(shm.path, wal.path);
  constexpr long kRounds = 200;
  REQUIRE(wait_exit(spawn_logger(shm.path, "fk", kRounds, "fork")) == 0);
  for (const char* stream : {"/fk.t1", "/fk.t2"}) {  // the parent's ring, then the child's
    CAPTURE(stream);
    REQUIRE(wait_for_lines(shm.path, wal.path + stream, kRounds * kCorpusCalls));
    CHECK(messages(wal.path + stream) == corpus_messages(kRounds));
  }
}
