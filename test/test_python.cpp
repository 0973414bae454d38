// The aerolog Python package (scripts/aerolog) against the C++ tools on real WALs written by the
// real sidecar: the AAPL sample's typed DataFrames equal `aerologctl cat --format csv` row for
// row; log events render as `aerologctl cat --format json` renders them; seeks by seq and time;
// a follow of a live WAL never passes the ring's durable seq; and docs/python.md's snippet
// runs. The checks themselves are test/python/check_frames.py (Debian's python3: numpy, pandas);
// those that compare data run twice, the frames found by libaerolog_frames.so and by numpy.
#include "log_corpus.hpp"
#include <aerolog/producer.hpp>
#include "proc_util.hpp"
#include "python_cmd.hpp"
#include "shell.hpp"
#include "sidecar_process.hpp"
#include "wal_fixture.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

using namespace testutil;

namespace {

// check_frames.py, with the frames found by `engine` (python_cmd.hpp).
std::string check(const std::string& engine = frame_engines().front()) {
  return python(engine) + AEROLOG_TEST_PYTHON "/check_frames.py ";
}
const std::string kSample = AEROLOG_DATA "/AAPL_2012-06-21_34200000_37800000_message_50.csv";

// The AAPL sample replayed into stream "aapl" and made durable.
void replay_sample(const Wal& w) {
  const Run r = sh(std::string(AEROLOG_REPLAY_BIN) + " --shm-dir " + w.shm.path + " " + kSample + " --stream aapl");
  REQUIRE(r.rc == 0);
  REQUIRE(sh(w.ctl() + "flush").rc == 0);
}

}  // namespace

TEST_CASE("python: the AAPL sample's DataFrames equal aerologctl cat's CSV row for row, and seeks are exact",
          "[python][process]") {
  Wal w;
  // Small segments and blocks: the sample spans several segments and hundreds of blocks.
  SidecarProcess sc(w.shm.path, w.wal.path, {"--segment-size", "2162688", "--max-block", "65536"});
  REQUIRE(wait_until([&] { return sc.log().find("ready") != std::string::npos; }));
  replay_sample(w);
  const std::string csv = w.wal.path + "/aapl.csv";
  REQUIRE(sh(w.ctl() + "cat " + w.stream("aapl") + " --format csv > " + csv).rc == 0);
  for (const std::string& engine : frame_engines()) {
    Run eq = sh(check(engine) + "csv " + w.stream("aapl") + " " + csv);
    INFO(eq.out);
    CHECK(eq.rc == 0);
    CHECK_THAT(eq.out, Catch::Contains("equal: 91997 rows (Trade 6268, Order 85729), frames by " + engine));
    Run seek = sh(check(engine) + "seek " + w.stream("aapl"));
    INFO(seek.out);
    CHECK(seek.rc == 0);
    CHECK_THAT(seek.out, Catch::Contains("seeks: ok over 91997 records"));
    CHECK_THAT(seek.out, Catch::Contains("frames by " + engine));
    CHECK_THAT(seek.out, Catch::Contains("a bogus entry is not followed"));  // seeks through the .idx
    CHECK_THAT(seek.out, !Catch::Contains(" in 1 segments"));                // the late-seek check needs several
  }
  // A damaged CSV row must be caught: the comparison can fail.
  REQUIRE(sh("sed -i '5000s/,AAPL,/,AAPM,/' " + csv).rc == 0);
  Run bad = sh(check() + "csv " + w.stream("aapl") + " " + csv);
  CHECK(bad.rc == 1);
  CHECK_THAT(bad.out, Catch::Contains("seq 4999:"));
}

TEST_CASE("python: DataFrames as pandas users expect them: UTC times, NaT, no empty category, every kind, any time",
          "[python][process]") {
  Wal w;
  SidecarProcess sc(w.shm.path, w.wal.path);
  REQUIRE(wait_until([&] { return sc.log().find("ready") != std::string::npos; }));
  aerolog::ProducerOptions o;
  o.shm_dir = w.shm.path;
  o.capacity = 1 << 20;
  auto prod = aerolog::Producer::open("mix", o);
  aerolog::proto::Trade t{};
  std::memcpy(t.symbol, "AAPL", 4);
  REQUIRE(prod.publish(t));               // exch_ts 0: not known
  t.exch_ts = 1'340'285'400'000'000'000;  // 2012-06-21T13:30:00Z
  REQUIRE(prod.publish(t));
  aerolog::proto::Order ord{};
  REQUIRE(prod.publish(ord));  // side 0: no name
  ord.side = aerolog::proto::Side::buy;
  REQUIRE(prod.publish(ord));
  REQUIRE(prod.publish_text(aerolog::proto::Level::warn, "wide spread"));
  REQUIRE(prod.publish(4242, "\x01\x02\x03\x04", 4));
  REQUIRE(prod.wait_durable(prod.last_seq(), std::chrono::seconds(30)));
  REQUIRE(wait_exit(spawn_exec({AEROLOG_TEST_LOGGER, w.shm.path, "pl", "2", "exit"})) == 0);
  REQUIRE(sh(w.ctl() + "flush").rc == 0);
  for (const std::string& engine : frame_engines()) {
    const Run r = sh(check(engine) + "pandas " + w.stream("mix") + " " + w.stream("pl.t1"));
    INFO(r.out);
    CHECK(r.rc == 0);
    CHECK_THAT(r.out, Catch::Contains("pandas: ok, frames by " + engine));
  }
}

TEST_CASE("python: log events render as aerologctl renders them, and a follow stops at the durable seq",
          "[python][process]") {
  Wal w;
  SidecarProcess sc(w.shm.path, w.wal.path);
  REQUIRE(wait_until([&] { return sc.log().find("ready") != std::string::npos; }));
  const long rounds = 50;
  REQUIRE(wait_exit(spawn_exec({AEROLOG_TEST_LOGGER, w.shm.path, "pylog", std::to_string(rounds), "exit", "1"})) == 0);
  REQUIRE(sh(w.ctl() + "flush").rc == 0);
  const std::string dir = w.stream("pylog.t1"), json = w.wal.path + "/pylog.jsonl";
  REQUIRE(sh(w.ctl() + "cat " + dir + " --format json > " + json).rc == 0);
  for (const std::string& engine : frame_engines()) {
    Run logs = sh(check(engine) + "logs " + dir + " " + json);
    INFO(logs.out);
    CHECK(logs.rc == 0);
    CHECK_THAT(logs.out, Catch::Contains("equal: " + std::to_string(rounds * kCorpusCalls) + " log events"));
    CHECK_THAT(logs.out, Catch::Contains("frames by " + engine));
  }

  // A logger of 3 threads: its streams merged as aerologctl merges them.
  REQUIRE(wait_exit(spawn_exec({AEROLOG_TEST_LOGGER, w.shm.path, "pymg", "20", "exit", "3"})) == 0);
  REQUIRE(sh(w.ctl() + "flush").rc == 0);
  const std::string merged = w.wal.path + "/pymg.jsonl";
  REQUIRE(sh(w.ctl() + "cat pymg --wal-dir " + w.wal.path + " --format json > " + merged).rc == 0);
  Run logger = sh(check() + "logger " + w.wal.path + " pymg " + merged);
  INFO(logger.out);
  CHECK(logger.rc == 0);
  CHECK_THAT(logger.out, Catch::Contains("equal: " + std::to_string(3 * 20 * kCorpusCalls) + " lines of 3 thread"));

  // Follow: one replay is in the WAL, a second one arrives while the follower runs.
  replay_sample(w);
  Run follow;
  std::thread follower([&] { follow = sh(check() + "follow " + w.stream("aapl") + " " + w.shm.path + " 183994"); });
  ::usleep(300'000);
  replay_sample(w);
  follower.join();
  INFO(follow.out);
  CHECK(follow.rc == 0);
  CHECK_THAT(follow.out, Catch::Contains("followed 183994 records, seqs 1..183994"));
}

TEST_CASE("python: the docs' From Python snippet runs against a real WAL", "[python][process]") {
  std::ifstream in(std::string(AEROLOG_SCRIPTS) + "/../docs/python.md");
  std::stringstream readme;
  readme << in.rdbuf();
  const std::string text = readme.str();
  const auto at = text.find("# From Python");
  REQUIRE(at != std::string::npos);
  const auto begin = text.find("```python\n", at);
  const auto end = text.find("```\n", begin + 10);
  REQUIRE(begin != std::string::npos);
  REQUIRE(end != std::string::npos);
  std::string snippet = text.substr(begin + 10, end - begin - 10);
  Wal w;
  SidecarProcess sc(w.shm.path, w.wal.path);
  REQUIRE(wait_until([&] { return sc.log().find("ready") != std::string::npos; }));
  const Run r = sh(std::string(AEROLOG_REPLAY_BIN) + " --shm-dir " + w.shm.path + " " + kSample + " --stream md-feed");
  REQUIRE(r.rc == 0);
  REQUIRE(sh(w.ctl() + "flush").rc == 0);
  // The snippet's paths are the documented defaults: point them at this test's directories.
  snippet = std::regex_replace(snippet, std::regex("/var/lib/aerolog"), w.wal.path);
  snippet = std::regex_replace(snippet, std::regex("/dev/shm\""), w.shm.path + "\"");
  const std::string file = w.wal.path + "/snippet.py";
  std::ofstream(file) << snippet;
  const Run run = sh(python() + file);
  INFO(snippet << "\n--- output:\n" << run.out);
  CHECK(run.rc == 0);
  CHECK_THAT(run.out, Catch::Contains("91997 {'Trade': 6268, 'Order': 85729}"));
}
