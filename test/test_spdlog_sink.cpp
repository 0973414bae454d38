// aerolog::spdlog_sink: what an spdlog logger writes through it reaches the real sidecar's WAL as
// Text records with the exact text, level and order of every line (and the call's file:line
// when it has one); threads sharing one sink keep their own order and lose nothing; a full ring
// drops and counts lines without blocking or throwing, and readers see the gap; a line longer
// than a record is cut at a character boundary; docs/library.md's "From spdlog" snippet runs.
#include "proc_util.hpp"
#include "ring_consumer.hpp"
#include "shell.hpp"
#include "sidecar_process.hpp"

#include <aerolog/reader.hpp>
#include <aerolog/spdlog_sink.hpp>

#include <catch2/catch.hpp>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace testutil;
using aerolog::proto::Level;

namespace {

struct Line {
  std::uint64_t seq;
  std::uint64_t ts;
  Level level;
  std::string text;
};

Line text_of(std::uint64_t seq, std::uint64_t ts, const void* payload, std::size_t size) {
  aerolog::proto::TextHeader th;
  REQUIRE(size >= sizeof th);
  std::memcpy(&th, payload, sizeof th);
  return {seq, ts, th.level, std::string(static_cast<const char*>(payload) + sizeof th, size - sizeof th)};
}

// Every record of a stream's WAL; REQUIREs that each is a Text record.
std::vector<Line> wal_lines(const std::string& dir) {
  std::vector<Line> out;
  aerolog::Reader reader = aerolog::Reader::open(dir);
  while (const aerolog::Record* r = reader.next()) {
    REQUIRE(r->type == aerolog::proto::kTypeText);
    out.push_back(text_of(r->seq, r->timestamp, r->payload.data(), r->payload.size()));
  }
  return out;
}

std::shared_ptr<spdlog::logger> make_logger(std::string name, spdlog::sink_ptr sink, int& errors) {
  auto log = std::make_shared<spdlog::logger>(std::move(name), std::move(sink));
  log->set_level(spdlog::level::trace);
  log->set_error_handler([&errors](const std::string&) { ++errors; });  // spdlog's catch of a sink's throw
  return log;
}

aerolog::ProducerOptions ring(const std::string& shm, std::uint64_t capacity) {
  aerolog::ProducerOptions o;
  o.shm_dir = shm;
  o.capacity = capacity;
  return o;
}

}  // namespace

TEST_CASE("spdlog sink: every line reaches the WAL with its exact text, level and order", "[spdlog][process]") {
  TempDir shm("/dev/shm"), wal(wal_base());
  SidecarProcess sc(shm.path, wal.path);
  auto sink = std::make_shared<aerolog::spdlog_sink_mt>("sp", ring(shm.path, 1 << 20));
  int errors = 0;
  auto log = make_logger("sp", sink, errors);
  const auto before = std::chrono::system_clock::now();
  log->trace("trace {}", 1);
  log->debug("debug {} {}", 2, "two");
  log->info("fill {} @ {} {}", 42, 585.33, "AAPL");
  log->warn("warn [{:>5}]", "ab");
  log->error("error {:.3f}", 2.0 / 3);
  log->critical("critical {}", true);
  log->log(spdlog::level::off, "at level off");
  log->info("two\nlines, \"quoted\", caf\xc3\xa9");
  log->info("");
  const int line = __LINE__ + 1;
  SPDLOG_LOGGER_WARN(log, "with its location {}", 7);
  log->flush();
  const auto after = std::chrono::system_clock::now();
  CHECK(errors == 0);
  CHECK(sink->last_seq() == 10);
  REQUIRE(sink->wait_durable(std::chrono::seconds(30)));

  const std::vector<std::pair<Level, std::string>> want = {
      {Level::trace, "trace 1"},
      {Level::debug, "debug 2 two"},
      {Level::info, "fill 42 @ 585.33 AAPL"},
      {Level::warn, "warn [   ab]"},
      {Level::error, "error 0.667"},
      {Level::critical, "critical true"},
      {Level::critical, "at level off"},
      {Level::info, "two\nlines, \"quoted\", caf\xc3\xa9"},
      {Level::info, ""},
      {Level::warn, "test_spdlog_sink.cpp:" + std::to_string(line) + " with its location 7"},
  };
  const std::vector<Line> got = wal_lines(wal.path + "/sp");
  REQUIRE(got.size() == want.size());
  const auto ns = [](auto t) {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
  };
  for (std::size_t i = 0; i < want.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i].seq == i + 1);
    CHECK(got[i].level == want[i].first);
    CHECK(got[i].text == want[i].second);
    // The producer's clock (following the sidecar's clock page): near the system clock, in seq order.
    CHECK(got[i].ts + 1'000'000'000 >= ns(before));
    CHECK(got[i].ts <= ns(after) + 1'000'000'000);
    if (i) CHECK(got[i].ts >= got[i - 1].ts);
  }
  // What aerologctl cat shows: "<time> #<seq> Text <level> <text>".
  const Run cat = sh(std::string(AEROLOGCTL_BIN) + " cat " + wal.path + "/sp");
  REQUIRE(cat.rc == 0);
  CHECK(cat.out.find(" #3 Text info fill 42 @ 585.33 AAPL\n") != std::string::npos);
  CHECK(cat.out.find(" #10 Text warn test_spdlog_sink.cpp:" + std::to_string(line) + " with its location 7\n") !=
        std::string::npos);
}

TEST_CASE("spdlog sink: threads sharing one spdlog_sink_mt keep their order and lose no line", "[spdlog][producer]") {
  TempDir shm("/dev/shm");
  constexpr int kThreads = 4, kLines = 2000;
  auto sink = std::make_shared<aerolog::spdlog_sink_mt>("mt", ring(shm.path, 4 << 20));  // room for all
  int errors = 0;
  auto log = make_logger("mt", sink, errors);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&log, t] {
      for (int i = 0; i < kLines; ++i) log->info("thread {} line {}", t, i);
    });
  for (auto& th : threads) th.join();
  CHECK(errors == 0);
  CHECK(sink->stats().dropped == 0);
  RingConsumer c(shm.path + "/aerolog.mt");
  std::vector<Record> recs;
  c.poll(recs);
  REQUIRE(recs.size() == kThreads * kLines);
  std::vector<int> next(kThreads, 0);
  for (std::size_t k = 0; k < recs.size(); ++k) {
    const Line l = text_of(recs[k].seq, recs[k].ts, recs[k].payload.data(), recs[k].payload.size());
    REQUIRE(l.seq == k + 1);
    int t = -1, i = -1;
    REQUIRE(std::sscanf(l.text.c_str(), "thread %d line %d", &t, &i) == 2);
    REQUIRE((t >= 0 && t < kThreads));
    REQUIRE(i == next[t]++);
    REQUIRE(l.text == "thread " + std::to_string(t) + " line " + std::to_string(i));
  }
}

TEST_CASE("spdlog sink: a full ring drops and counts lines, never blocks or throws, and readers see the gap",
          "[spdlog][producer]") {
  TempDir shm("/dev/shm");
  auto sink = std::make_shared<aerolog::spdlog_sink_st>("full", ring(shm.path, 64 * 1024));
  int errors = 0;
  auto log = make_logger("full", sink, errors);
  constexpr int kCalls = 5000;  // ~72 bytes a record: about 900 fit in 64 KiB, no sidecar frees any
  for (int i = 0; i < kCalls; ++i) log->info("line {} of a ring that nobody drains", i);
  CHECK(errors == 0);
  const aerolog::ProducerStats s = sink->stats();
  CHECK(s.published + s.dropped == kCalls);
  CHECK(s.dropped > kCalls / 2);
  CHECK(sink->last_seq() == s.published);
  CHECK(!sink->wait_durable(std::chrono::milliseconds(1)));  // nobody made them durable

  RingConsumer c(shm.path + "/aerolog.full");
  std::vector<Record> recs;
  c.poll(recs);  // frees the space
  REQUIRE(recs.size() == s.published);
  CHECK(text_of(recs.back().seq, 0, recs.back().payload.data(), recs.back().payload.size()).text ==
        "line " + std::to_string(s.published - 1) + " of a ring that nobody drains");
  CHECK(sink->wait_durable(std::chrono::seconds(1)));  // the consumer marked them durable
  recs.clear();
  log->error("after the gap");
  c.poll(recs);
  REQUIRE(recs.size() == 2);
  REQUIRE(recs[0].type == aerolog::proto::kTypeDropped);
  aerolog::proto::Dropped d;
  REQUIRE(recs[0].payload.size() == sizeof d);
  std::memcpy(&d, recs[0].payload.data(), sizeof d);
  CHECK(d.count == s.dropped);
  const Line after = text_of(recs[1].seq, recs[1].ts, recs[1].payload.data(), recs[1].payload.size());
  CHECK(after.level == Level::error);
  CHECK(after.text == "after the gap");
  CHECK(after.seq == s.published + 2);

  // A line longer than a record holds is cut to max_payload(), never inside a UTF-8 character.
  std::string big = "x";
  for (int i = 0; i < 10000; ++i) big += "\xc3\xa9";  // U+00E9, 2 bytes
  recs.clear();
  log->info(big);
  c.poll(recs);
  REQUIRE(recs.size() == 1);
  const std::size_t room = 64 * 1024 / 4 - aerolog::proto::kFrameHeaderSize - sizeof(aerolog::proto::TextHeader);
  REQUIRE(room % 2 == 0);  // the cut at `room` would split a character: one byte less
  const Line cut = text_of(recs[0].seq, recs[0].ts, recs[0].payload.data(), recs[0].payload.size());
  CHECK(cut.text.size() == room - 1);
  CHECK(cut.text == big.substr(0, room - 1));
}

TEST_CASE("spdlog sink: the docs' From spdlog snippet runs and its lines reach the WAL", "[spdlog][process]") {
  TempDir shm("/dev/shm"), wal(wal_base());
  SidecarProcess sc(shm.path, wal.path);
  REQUIRE(wait_exit(spawn_exec({AEROLOG_TEST_README_SPDLOG, shm.path})) == 0);
  std::vector<Line> got;
  CHECK(wait_until([&] {
    if (::access((wal.path + "/app").c_str(), F_OK) != 0) return false;
    try {
      got = wal_lines(wal.path + "/app");
    } catch (const aerolog::Error&) {  // no segment yet
      return false;
    }
    return got.size() >= 2;
  }));
  REQUIRE(got.size() == 2);
  CHECK(got[0].level == Level::info);
  CHECK(got[0].text == "fill 100 @ 585.33 AAPL");
  CHECK(got[1].level == Level::warn);
  CHECK(got[1].text.find("library.md:") != std::string::npos);  // the snippet's own line in docs/library.md
  CHECK(got[1].text.ends_with(" late by 12 us"));
}
