// Producer in a second process: millions of records across the process boundary, kill -9 in
// the middle of publishing, and the one-producer-per-stream lock between processes.
#include <aerolog/producer.hpp>

#include <catch2/catch.hpp>

#include "proc_util.hpp"
#include "ring_consumer.hpp"

#include <chrono>
#include <csignal>
#include <random>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

using namespace aerolog;
using testutil::RingConsumer;
using testutil::TempDir;

namespace {

using testutil::spawn;
using testutil::spawn_publisher;
using testutil::wait_exit;

// Drains until `want` records were seen (or the deadline), checking each against its seq.
// Returns what went wrong, if anything (no Catch2 assertion here: it may run on a thread).
std::string drain_and_check(RingConsumer& c, std::uint64_t& next, std::uint64_t want,
                            std::chrono::seconds limit = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  std::vector<testutil::Record> recs;
  while (next <= want && std::chrono::steady_clock::now() < deadline) {
    recs.clear();
    c.poll(recs);
    for (const auto& r : recs) {
      if (r.seq != next || r.type != 256 + next % 5 || r.payload != testutil::payload_for(next))
        return "record " + std::to_string(r.seq) + " where " + std::to_string(next) + " was due, or bad bytes";
      ++next;
    }
  }
  return {};
}

}  // namespace

TEST_CASE("millions of records cross the process boundary byte-exact", "[producer][process]") {
  TempDir d;
  const std::uint64_t n = 3'000'000;
  const std::uint64_t cap = 1 << 20;  // small: the ring laps ~150 times
  pid_t child = spawn_publisher(d.path, "x", cap, n);
  // Wait for the ring to exist, then consume concurrently.
  const std::string path = d.path + "/aerolog.x";
  for (int i = 0; i < 2000 && ::access(path.c_str(), F_OK) != 0; ++i) ::usleep(1000);
  ::usleep(50'000);  // let creation finish (magic written last)
  RingConsumer c(path);
  REQUIRE(c.header().id.magic.load() == proto::kRingMagic);
  std::uint64_t next = 1;
  CHECK(drain_and_check(c, next, n) == "");
  CHECK(next == n + 1);
  CHECK(wait_exit(child) == 0);
  CHECK(c.pads > 0);
  CHECK(c.header().producer.last_seq.load() == n);
}

TEST_CASE("kill -9 of a producer mid-stream: re-attach keeps every record and the seq", "[producer][process]") {
  TempDir d;
  const std::uint64_t cap = 256 * 1024;
  const std::string path = d.path + "/aerolog.x";
  std::mt19937_64 rng(Catch::rngSeed());
  std::uint64_t next = 1;
  std::unique_ptr<RingConsumer> c;
  for (int round = 0; round < 8; ++round) {
    pid_t child = spawn_publisher(d.path, "x", cap, 0);
    if (!c) {
      for (int i = 0; i < 2000 && ::access(path.c_str(), F_OK) != 0; ++i) ::usleep(1000);
      ::usleep(50'000);
      c = std::make_unique<RingConsumer>(path);
    }
    // Let it publish (and sometimes fill the ring) for a random while, draining part of it.
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(5 + rng() % 40);
    std::vector<testutil::Record> recs;
    while (std::chrono::steady_clock::now() < until) {
      recs.clear();
      c->poll(recs, true, 1 + rng() % 2000);
      for (const auto& r : recs) {
        REQUIRE(r.seq == next);
        REQUIRE(r.payload == testutil::payload_for(next));
        ++next;
      }
    }
    ::kill(child, SIGKILL);
    REQUIRE(wait_exit(child) == 128 + SIGKILL);
  }
  // A last producer re-attaches, continues the seq, and finishes at a known seq.
  ProducerOptions o;
  o.shm_dir = d.path;
  o.capacity = cap;
  o.on_full = FullPolicy::spin;
  auto p = Producer::open("x", o);
  const std::uint64_t resume = p.last_seq();
  CHECK(resume > 1000);
  const std::uint64_t final_seq = resume + 1000;
  std::string drained;
  std::thread drainer([&] { drained = drain_and_check(*c, next, final_seq); });
  for (std::uint64_t seq = resume + 1; seq <= final_seq; ++seq) {
    auto pl = testutil::payload_for(seq);
    REQUIRE(
        p.publish(static_cast<std::uint16_t>(256 + seq % 5), pl.data(), static_cast<std::uint32_t>(pl.size())).seq ==
        seq);
  }
  drainer.join();
  CHECK(drained == "");
  CHECK(next == final_seq + 1);  // no gap, no duplicate across 8 kills
}

TEST_CASE("a second live producer in another process is refused, naming the holder", "[producer][process]") {
  TempDir d;
  int pipefd[2];
  REQUIRE(::pipe(pipefd) == 0);
  pid_t child = spawn([&] {
    ProducerOptions o;
    o.shm_dir = d.path;
    o.capacity = 64 * 1024;
    auto p = Producer::open("held", o);
    char c = 'r';
    (void)!::write(pipefd[1], &c, 1);
    ::pause();
    return 0;
  });
  char ready;
  REQUIRE(::read(pipefd[0], &ready, 1) == 1);
  ProducerOptions o;
  o.shm_dir = d.path;
  o.capacity = 64 * 1024;
  try {
    Producer::open("held", o);
    FAIL("second producer was let in");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::busy);
    CHECK_THAT(e.what(), Catch::Contains("pid " + std::to_string(child)));
  }
  ::kill(child, SIGKILL);
  wait_exit(child);
  // The lock died with the holder.
  auto p = Producer::open("held", o);
  CHECK(p.last_seq() == 0);
  ::close(pipefd[0]);
  ::close(pipefd[1]);
}
