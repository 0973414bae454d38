// Producer against a hand-written consumer, in one process.
#include <aerolog/producer.hpp>

#include <catch2/catch.hpp>

#include "ring_consumer.hpp"

#include <atomic>
#include <fstream>
#include <sys/stat.h>
#include <thread>

using namespace aerolog;
using testutil::RingConsumer;
using testutil::TempDir;

namespace {

ProducerOptions small(const TempDir& d, std::uint64_t cap = 64 * 1024) {
  ProducerOptions o;
  o.shm_dir = d.path;
  o.capacity = cap;
  return o;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

Errc open_error(const std::string& stream, const ProducerOptions& o, std::string* msg = nullptr) {
  try {
    Producer::open(stream, o);
  } catch (const Error& e) {
    if (msg) *msg = e.what();
    return e.code();
  }
  FAIL("open of '" << stream << "' succeeded");
  return Errc::system;
}

}  // namespace

TEST_CASE("open creates a ring as documented", "[producer]") {
  TempDir d;
  auto p = Producer::open("md-feed", small(d));
  struct stat st;
  REQUIRE(::stat((d.path + "/aerolog.md-feed").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);  // the producer's alone (the sidecar, here the same user, needs no ACL)
  CHECK(st.st_size == 4096 + 64 * 1024);
  RingConsumer c(p.path());
  auto& h = c.header();
  CHECK(h.id.magic.load() == proto::kRingMagic);
  CHECK(h.id.version.load() == proto::kRingVersion);
  CHECK(h.id.capacity == 64 * 1024);
  CHECK(std::string(h.id.stream) == "md-feed");
  CHECK(h.producer.pid.load() == static_cast<std::uint32_t>(::getpid()));
  CHECK(p.max_payload() == 16 * 1024 - 24);
  CHECK(p.last_seq() == 0);
}

TEST_CASE("published bytes come back exactly, with seqs and timestamps", "[producer]") {
  TempDir d;
  auto p = Producer::open("s", small(d, 1 << 20));
  const std::uint64_t t0 = TscClock::realtime_ns();
  for (std::uint64_t i = 1; i <= 1000; ++i) {
    auto pl = testutil::payload_for(i);
    Result r = p.publish(static_cast<std::uint16_t>(256 + i % 7), pl.data(), static_cast<std::uint32_t>(pl.size()));
    REQUIRE(r);
    REQUIRE(r.seq == i);
  }
  const std::uint64_t t1 = TscClock::realtime_ns();
  Result u = p.publish(999, "x", 1, 12345);
  REQUIRE(u.seq == 1001);

  RingConsumer c(p.path());
  std::vector<testutil::Record> recs;
  c.poll(recs);
  REQUIRE(recs.size() == 1001);
  for (std::uint64_t i = 1; i <= 1000; ++i) {
    const auto& r = recs[i - 1];
    REQUIRE(r.seq == i);
    REQUIRE(r.type == 256 + i % 7);
    REQUIRE(r.payload == testutil::payload_for(i));
    REQUIRE(r.flags == 0);
    // TSC time agrees with CLOCK_REALTIME within 2 ms
    REQUIRE(r.ts + 2'000'000 >= t0);
    REQUIRE(r.ts <= t1 + 2'000'000);
  }
  CHECK(recs.back().ts == 12345);
  CHECK(recs.back().flags == proto::kFlagUserTimestamp);
  CHECK(c.header().producer.last_seq.load() == 1001);
}

TEST_CASE("claim, commit, shrink and abort", "[producer]") {
  TempDir d;
  auto p = Producer::open("c", small(d));
  Claim c1 = p.claim(300, 100);
  REQUIRE(c1);
  REQUIRE(c1.size == 100);
  CHECK(p.publish(1, "x", 1).status == Status::claimed);
  CHECK(p.claim(1, 1).status == Status::claimed);
  std::memset(c1.data, 0xAB, 100);
  CHECK(p.commit(10) == 1);  // only 10 bytes used
  CHECK(p.commit() == 0);    // nothing claimed

  Claim c2 = p.claim(301, 8);
  REQUIRE(c2);
  std::memset(c2.data, 0xCD, 8);
  p.abort();
  Claim c3 = p.claim(302, 4, 777);
  REQUIRE(c3);
  std::memcpy(c3.data, "abcd", 4);
  CHECK(p.commit() == 2);  // the aborted claim took no seq

  RingConsumer rc(p.path());
  std::vector<testutil::Record> recs;
  rc.poll(recs);
  REQUIRE(recs.size() == 2);
  CHECK(recs[0].type == 300);
  CHECK(recs[0].payload == std::vector<unsigned char>(10, 0xAB));
  CHECK(recs[1].type == 302);
  CHECK(recs[1].seq == 2);
  CHECK(recs[1].ts == 777);
  CHECK(std::string(recs[1].payload.begin(), recs[1].payload.end()) == "abcd");
}

TEST_CASE("wrap-around writes padding frames and keeps every byte", "[producer]") {
  TempDir d;
  auto p = Producer::open("w", small(d));  // 64 KiB: many laps
  RingConsumer c(p.path());
  std::vector<testutil::Record> recs;
  std::uint64_t next_check = 1, markers = 0, seq = 1;
  for (std::uint64_t i = 1; i <= 50'000; ++i) {
    auto pl = testutil::payload_for(i, 700);
    Result r = p.publish(400, pl.data(), static_cast<std::uint32_t>(pl.size()));
    if (!r) {
      REQUIRE(r.status == Status::full);
      c.poll(recs);
      r = p.publish(400, pl.data(), static_cast<std::uint32_t>(pl.size()));
      REQUIRE(r);
      ++markers;  // the refused publish left a Dropped record before this one
    }
    REQUIRE(r.seq == i + markers);
  }
  c.poll(recs);
  REQUIRE(recs.size() == 50'000 + markers);
  for (const auto& r : recs) {
    REQUIRE(r.seq == seq++);
    if (r.type == aerolog::proto::kTypeDropped) continue;
    REQUIRE(r.payload == testutil::payload_for(next_check, 700));
    ++next_check;
  }
  CHECK(c.pads > 10);  // the ring wrapped many times, mostly with a padding frame
  CHECK(p.stats().dropped > 0);
}

TEST_CASE("a full ring drops and counts, or spins until space", "[producer]") {
  TempDir d;
  SECTION("drop") {
    auto p = Producer::open("f", small(d));
    std::vector<unsigned char> pl(1000, 1);
    std::uint64_t ok = 0;
    while (p.publish(500, pl.data(), 1000)) ++ok;
    CHECK(ok == 64 * 1024 / 1024);  // 1000 + 24 -> 1024-byte frames
    CHECK(p.publish(500, pl.data(), 1000).status == Status::full);
    auto s = p.stats();
    CHECK(s.dropped == 2);
    CHECK(s.published == ok);
    CHECK(s.ring_used == 64 * 1024);
    CHECK(s.fill() == Approx(1.0));
    RingConsumer c(p.path());
    std::vector<testutil::Record> recs;
    c.poll(recs, true, 3);
    CHECK(p.publish(500, pl.data(), 1000).seq == ok + 2);  // after a Dropped record (24 + 16 bytes)
    CHECK(p.stats().ring_used == 64 * 1024 - 3 * 1024 + 40 + 1024);
  }
  SECTION("spin") {
    auto o = small(d);
    o.on_full = FullPolicy::spin;
    auto p = Producer::open("f", o);
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> seen{0};
    std::thread consumer([&] {
      RingConsumer c(p.path());
      std::vector<testutil::Record> recs;
      while (!stop) {
        c.poll(recs);
        seen = recs.size();
      }
      c.poll(recs);
      seen = recs.size();
      for (std::size_t i = 0; i < recs.size(); ++i)
        if (recs[i].seq != i + 1) seen = 0;
    });
    std::vector<unsigned char> pl(1000, 2);
    for (int i = 0; i < 5000; ++i) REQUIRE(p.publish(500, pl.data(), 1000));
    stop = true;
    consumer.join();
    CHECK(seen == 5000);
    CHECK(p.stats().dropped == 0);
  }
}

TEST_CASE("payloads above the limit get too_large, the limit itself works", "[producer]") {
  TempDir d;
  auto p = Producer::open("big", small(d));
  std::vector<unsigned char> pl(p.max_payload() + 1, 7);
  CHECK(p.publish(300, pl.data(), static_cast<std::uint32_t>(pl.size())).status == Status::too_large);
  CHECK(p.claim(300, 0xFFFFFFFFu).status == Status::too_large);
  CHECK(p.publish(300, pl.data(), p.max_payload()));
  CHECK(p.stats().dropped == 0);
  auto big = Producer::open("big2", small(d, 1ull << 26));
  CHECK(big.max_payload() == proto::kMaxPayload);  // 1 MiB frame cap
}

TEST_CASE("re-attach keeps undrained records and continues the seq", "[producer]") {
  TempDir d;
  {
    auto p = Producer::open("r", small(d));
    for (int i = 0; i < 10; ++i) REQUIRE(p.publish(300, &i, sizeof i));
  }
  {
    RingConsumer c(d.path + "/aerolog.r");
    std::vector<testutil::Record> recs;
    c.poll(recs, true, 4);  // 4 drained, 6 left in the ring
  }
  auto p = Producer::open("r", small(d));
  CHECK(p.last_seq() == 10);
  CHECK(p.durable_seq() == 4);
  int v = 99;
  CHECK(p.publish(300, &v, sizeof v).seq == 11);
  RingConsumer c(p.path());
  std::vector<testutil::Record> recs;
  c.poll(recs);
  REQUIRE(recs.size() == 7);
  CHECK(recs.front().seq == 5);
  CHECK(recs.back().seq == 11);

  // All drained: the seq continues from the durable seq.
  Producer q = std::move(p);
  q = Producer::open("r2", small(d));
  auto again = Producer::open("r", small(d));
  CHECK(again.last_seq() == 11);
}

TEST_CASE("a retired (shrunk, drained) ring regrows and the seq carries on", "[producer]") {
  TempDir d;
  {
    auto p = Producer::open("ret", small(d));
    for (int i = 0; i < 5; ++i) REQUIRE(p.publish(300, &i, sizeof i));
    RingConsumer c(p.path());
    std::vector<testutil::Record> recs;
    c.poll(recs);
  }
  REQUIRE(::truncate((d.path + "/aerolog.ret").c_str(), 4096) == 0);
  auto p = Producer::open("ret", small(d, 128 * 1024));  // a new capacity is fine here
  CHECK(p.capacity() == 128 * 1024);
  CHECK(p.publish(300, "z", 1).seq == 6);
}

TEST_CASE("bad names, sizes and foreign files give clear errors and are never overwritten", "[producer]") {
  TempDir d;
  auto o = small(d);
  std::string msg;
  CHECK(open_error("a/b", o, &msg) == Errc::invalid_argument);
  CHECK_THAT(msg, Catch::Contains("invalid stream name"));
  CHECK(open_error("..", o) == Errc::invalid_argument);
  CHECK(open_error("", o) == Errc::invalid_argument);
  CHECK(open_error(std::string(65, 'n'), o) == Errc::invalid_argument);
  auto bad_cap = o;
  bad_cap.capacity = 100'000;
  CHECK(open_error("s", bad_cap, &msg) == Errc::invalid_argument);
  CHECK_THAT(msg, Catch::Contains("power of two"));
  bad_cap.capacity = 4096;
  CHECK(open_error("s", bad_cap) == Errc::invalid_argument);
  auto bad_group = o;
  bad_group.group = "no-such-group-aerolog";
  CHECK(open_error("g", bad_group, &msg) == Errc::invalid_argument);
  CHECK_THAT(msg, Catch::Contains("unknown group"));

  SECTION("second producer in the same process names the holder") {
    auto p = Producer::open("one", o);
    CHECK(open_error("one", o, &msg) == Errc::busy);
    CHECK_THAT(msg, Catch::Contains("pid " + std::to_string(::getpid())));
  }
  SECTION("a foreign file") {
    const std::string path = d.path + "/aerolog.foreign";
    std::string junk(4096 + 65536, 'J');
    std::ofstream(path, std::ios::binary) << junk;
    CHECK(open_error("foreign", o, &msg) == Errc::insecure);  // 0644: anyone may read it
    CHECK_THAT(msg, Catch::Contains("every user could read or forge it"));
    REQUIRE(::chmod(path.c_str(), 0640) == 0);
    CHECK(open_error("foreign", o, &msg) == Errc::incompatible);
    CHECK_THAT(msg, Catch::Contains("not an AeroLog ring"));
    CHECK(slurp(path) == junk);
  }
  SECTION("another layout version, another capacity") {
    {
      auto p = Producer::open("v", o);
      REQUIRE(p.publish(300, "a", 1));
    }
    const std::string path = d.path + "/aerolog.v";
    {
      RingConsumer c(path);
      auto big = o;
      big.capacity = 128 * 1024;
      CHECK(open_error("v", big, &msg) == Errc::incompatible);
      CHECK_THAT(msg, Catch::Contains("capacity 65536"));
      c.header().id.version.store(99);
    }
    const std::string before = slurp(path);
    CHECK(open_error("v", o, &msg) == Errc::incompatible);
    CHECK_THAT(msg, Catch::Contains("version 99"));
    CHECK(slurp(path) == before);
  }
  SECTION("corrupt undrained data is refused and kept") {
    {
      auto p = Producer::open("cor", o);
      for (int i = 0; i < 3; ++i) REQUIRE(p.publish(300, "abcdefgh", 8));
    }
    const std::string path = d.path + "/aerolog.cor";
    {
      RingConsumer c(path);
      auto* first = reinterpret_cast<unsigned char*>(&c.header()) + 4096 + 32;  // 2nd frame's length
      first[0] = 0xFF;
      first[1] = 0xFF;
    }
    const std::string before = slurp(path);
    CHECK(open_error("cor", o, &msg) == Errc::corrupt);
    CHECK_THAT(msg, Catch::Contains("position 32"));
    CHECK(slurp(path) == before);
  }
  SECTION("a truncated ring") {
    { auto p = Producer::open("t", o); }
    REQUIRE(::truncate((d.path + "/aerolog.t").c_str(), 8192) == 0);
    CHECK(open_error("t", o, &msg) == Errc::corrupt);
    CHECK_THAT(msg, Catch::Contains("does not match"));
  }
}

TEST_CASE("durable seq, wait_durable and flush requests follow the ring header", "[producer]") {
  TempDir d;
  auto p = Producer::open("dur", small(d));
  for (int i = 0; i < 100; ++i) REQUIRE(p.publish(300, &i, sizeof i));
  CHECK(p.durable_seq() == 0);
  CHECK_FALSE(p.wait_durable(50, std::chrono::milliseconds(20)));
  CHECK_FALSE(p.wait_durable(101, std::chrono::seconds(10)));  // never published: no wait
  const std::uint64_t ticket = p.request_flush();
  CHECK(ticket == 1);
  CHECK_FALSE(p.flush_done(ticket));
  std::thread sidecar([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    RingConsumer c(p.path());
    std::vector<testutil::Record> recs;
    c.poll(recs);
    c.header().sidecar.flush_ack.store(c.header().flush.flush_request.load());
  });
  CHECK(p.wait_durable(100, std::chrono::seconds(10)));
  sidecar.join();
  CHECK(p.durable_seq() == 100);
  CHECK(p.flush_done(ticket));
  CHECK(p.stats().ring_used == 0);
}

TEST_CASE("standard records and text publish with their type ids", "[producer]") {
  TempDir d;
  auto p = Producer::open("std", small(d));
  proto::Trade t{};
  std::memcpy(t.symbol, "AAPL", 4);
  t.price = 585'33000000;
  t.qty = 100;
  REQUIRE(p.publish(t));
  proto::Order o{};
  o.action = proto::OrderAction::new_order;
  REQUIRE(p.publish(o));
  struct Mine {
    std::uint64_t a, b;
  } mine{1, 2};
  REQUIRE(p.publish(1000, mine));
  REQUIRE(p.publish_text(proto::Level::warn, "spread too wide"));
  RingConsumer c(p.path());
  std::vector<testutil::Record> recs;
  c.poll(recs);
  REQUIRE(recs.size() == 4);
  CHECK(recs[0].type == proto::kTypeTrade);
  CHECK(recs[0].payload.size() == sizeof(proto::Trade));
  CHECK(std::memcmp(recs[0].payload.data(), &t, sizeof t) == 0);
  CHECK(recs[1].type == proto::kTypeOrder);
  CHECK(recs[2].type == 1000);
  CHECK(recs[3].type == proto::kTypeText);
  CHECK(recs[3].payload[0] == static_cast<unsigned char>(proto::Level::warn));
  CHECK(std::string(recs[3].payload.begin() + 8, recs[3].payload.end()) == "spread too wide");
}

TEST_CASE("the TSC clock tracks CLOCK_REALTIME", "[producer]") {
  TscClock c = TscClock::calibrate();
  CHECK(c.ticks_per_ns() > 0.1);
  for (int i = 0; i < 5; ++i) {
    const auto a = TscClock::realtime_ns();
    const auto t = c.now();
    const auto b = TscClock::realtime_ns();
    CHECK(t + 1'000'000 >= a);
    CHECK(t <= b + 1'000'000);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  c.recalibrate();
  const auto a = TscClock::realtime_ns();
  CHECK(std::llabs(static_cast<long long>(c.now() - a)) < 200'000);
  TscClock r = TscClock::calibrate(ClockSource::realtime);
  CHECK(std::llabs(static_cast<long long>(r.now() - TscClock::realtime_ns())) < 1'000'000);
}
