// aerologctl, the Reader and alog.py against WALs written by the real sidecar.
#include <aerolog/producer.hpp>
#include <aerolog/proto/control.hpp>
#include <aerolog/proto/records.hpp>
#include <aerolog/proto/segment.hpp>
#include <aerolog/proto/ship.hpp>
#include <aerolog/reader.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "proc_util.hpp"
#include "python_cmd.hpp"
#include "shell.hpp"
#include "sidecar_process.hpp"
#include "wal_fixture.hpp"
#include "wal_reader.hpp"

#include <fstream>
#include <sstream>
#include <thread>

using namespace testutil;
namespace p = aerolog::proto;

namespace {

// Every standard record type, a user type, and text that needs CSV quoting.
void publish_mixed(aerolog::Producer& prod, std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i) {
    switch (i % 7) {
      case 0: {
        p::Trade t{};
        std::memcpy(t.symbol, "AAPL", 4);
        t.price = 585'33000000 + static_cast<std::int64_t>(i);
        t.qty = static_cast<std::int64_t>(i);
        t.trade_id = i;
        t.aggressor = p::Side::buy;
        prod.publish(t);
        break;
      }
      case 1: {
        p::Order o{};
        std::memcpy(o.symbol, "MSFT", 4);
        o.order_id = i;
        o.price = -5'00000001;
        o.qty = 10;
        o.action = p::OrderAction::replace;
        o.side = p::Side::sell;
        prod.publish(o);
        break;
      }
      case 2: {
        p::Quote q{};
        std::memcpy(q.symbol, "SPY", 3);
        q.bid_price = 1;
        q.ask_price = 2;
        q.bid_qty = 3;
        q.ask_qty = 4;
        prod.publish(q);
        break;
      }
      case 3: {
        p::MarketData m{};
        m.event = p::BookEvent::execute;
        m.order_id = 77;
        prod.publish(m);
        break;
      }
      case 4: {
        p::Risk k{};
        std::memcpy(k.account, "acct,1", 6);
        k.verdict = p::RiskVerdict::breach;
        prod.publish(k);
        break;
      }
      case 5:
        prod.publish_text(p::Level::warn, "spread \"wide\", seq " + std::to_string(i));
        break;
      default:
        prod.publish(4242, "\x01\x02,\xff", 4);
    }
  }
}

}  // namespace

TEST_CASE("status, flush, cat and verify round-trip through a live sidecar", "[ctl]") {
  Wal w;
  SidecarProcess sc(w.shm.path, w.wal.path);
  // flush needs a sidecar that is up (a loaded machine may still be starting it)
  REQUIRE(wait_until([&] { return sc.log().find("ready") != std::string::npos; }));
  aerolog::ProducerOptions o;
  o.shm_dir = w.shm.path;
  o.capacity = 1 << 20;
  o.on_full = aerolog::FullPolicy::spin;
  auto prod = aerolog::Producer::open("mix", o);
  publish_mixed(prod, 7000);

  Run flush = sh(w.ctl() + "flush --timeout 20");
  REQUIRE(flush.rc == 0);
  CHECK_THAT(flush.out, Catch::Contains("mix: durable seq 7000"));
  CHECK(prod.durable_seq() == 7000);

  Run status = sh(w.ctl() + "status --json");
  REQUIRE(status.rc == 0);
  auto j = nlohmann::json::parse(status.out);
  CHECK(j["healthy"] == true);
  CHECK(j["sidecar"]["health"] == "up");
  CHECK(j["sidecar"]["pid"] == sc.pid());
  CHECK(j["sidecar"]["durability"] == "dsync");
  REQUIRE(j["streams"].size() == 1);
  CHECK(j["streams"][0]["stream"] == "mix");
  CHECK(j["streams"][0]["last_seq"] == 7000);
  CHECK(j["streams"][0]["durable_seq"] == 7000);
  CHECK(j["streams"][0]["producer_alive"] == true);
  CHECK(j["streams"][0]["lag_records"] == 0);
  CHECK(j["streams"][0]["wal_bytes"].get<std::uint64_t>() > 0);
  Run prom = sh(w.ctl() + "status --prometheus");
  CHECK(prom.rc == 0);
  CHECK_THAT(prom.out, Catch::Contains("aerolog_stream_durable_seq{stream=\"mix\"} 7000"));
  CHECK_THAT(prom.out, Catch::Contains("# TYPE aerolog_sidecar_up gauge"));
  Run text = sh(w.ctl() + "status");
  CHECK(text.rc == 0);
  CHECK_THAT(text.out, Catch::Contains("healthy"));

  // cat: every format, by path and by stream name, with seq windows.
  Run csv = sh(w.ctl() + "cat " + w.stream("mix") + " --format csv");
  REQUIRE(csv.rc == 0);
  CHECK(lines(csv.out) == 7001);
  CHECK_THAT(csv.out, Catch::Contains("1,"));
  CHECK_THAT(csv.out, Catch::Contains(",Trade,AAPL,trade,buy,585.33000000,0,0,"));
  CHECK_THAT(csv.out, Catch::Contains(",Order,MSFT,replace,sell,-5.00000001,10,1,"));
  CHECK_THAT(csv.out, Catch::Contains(",Quote,SPY,quote,,0.00000001,3,,ask 0.00000002 x 4"));
  CHECK_THAT(csv.out, Catch::Contains(",Risk,,breach,,0.00000000,0,0,\"acct,1\""));
  CHECK_THAT(csv.out, Catch::Contains(",Text,,warn,,,,,\"spread \"\"wide\"\", seq 5\""));
  CHECK_THAT(csv.out, Catch::Contains(",4242,,,,,,,01022cff,,,,mix\n"));
  CHECK_THAT(csv.out, Catch::Contains(",Order,MSFT,replace,sell,-5.00000001,10,1,,,0,,mix\n"));  // leaves_qty 0
  Run by_name = sh(w.ctl() + "cat mix --format json --from-seq 100 --to-seq 109 --wal-dir " + w.wal.path);
  REQUIRE(by_name.rc == 0);
  REQUIRE(lines(by_name.out) == 10);
  auto first = nlohmann::json::parse(by_name.out.substr(0, by_name.out.find('\n')));
  CHECK(first["seq"] == 100);
  // One schema: every key of a JSON line is a CSV column of the same name.
  const std::string header = csv.out.substr(0, csv.out.find('\n'));
  std::istringstream json_lines(by_name.out);
  for (std::string line; std::getline(json_lines, line);) {
    const nlohmann::json j = nlohmann::json::parse(line);
    for (auto it = j.begin(); it != j.end(); ++it) {
      CAPTURE(line);
      CHECK(("," + header + ",").find("," + it.key() + ",") != std::string::npos);
    }
  }
  Run txt = sh(w.ctl() + "dump " + w.stream("mix") + " --from-seq 6998");
  CHECK(lines(txt.out) == 3);
  CHECK_THAT(txt.out, Catch::Contains("#7000"));

  // Python reads the same bytes the same way.
  Run py = sh("python3 " AEROLOG_SCRIPTS "/alog.py cat " + w.stream("mix"));
  REQUIRE(py.rc == 0);
  CHECK(py.out == csv.out);

  Run verify = sh(std::string(AEROLOGCTL_BIN) + " verify " + w.stream("mix"));
  CHECK(verify.rc == 0);
  CHECK_THAT(verify.out, Catch::Contains("7000 records, seqs 1..7000: OK"));

  sc.signal(SIGKILL);
  sc.wait();
  Run down = sh(w.ctl() + "status");
  CHECK(down.rc == 1);
  CHECK_THAT(down.out, Catch::Contains("DOWN"));
  Run noflush = sh(w.ctl() + "flush");
  CHECK(noflush.rc == 1);
  CHECK(lines(noflush.out) == 1);
  CHECK_THAT(noflush.out, Catch::Contains("no sidecar is running"));
}

TEST_CASE(
    "aerologctl: directories before or after the command or from the environment, defaults from the sidecar, "
    "plain errors",
    "[ctl]") {
  Wal w;
  const std::string ship_dir = w.wal.path + "/ship-state";
  SidecarProcess sc(w.shm.path, w.wal.path, {"--ship-state-dir", ship_dir});
  REQUIRE(wait_until([&] { return sc.log().find("ready") != std::string::npos; }));
  aerolog::ProducerOptions o;
  o.shm_dir = w.shm.path;
  o.capacity = 1 << 20;
  auto prod = aerolog::Producer::open("app", o);
  publish_mixed(prod, 70);
  const std::string ctl = AEROLOGCTL_BIN, env = "AEROLOG_SHM_DIR=" + w.shm.path + " ";
  for (const std::string& flush : {ctl + " flush app --shm-dir " + w.shm.path, env + ctl + " flush app",
                                   ctl + " --shm-dir " + w.shm.path + " flush -s app"}) {
    CAPTURE(flush);
    const Run r = sh(flush);
    CHECK(r.rc == 0);
    CHECK_THAT(r.out, Catch::Contains("app: durable seq 70"));
  }
  for (const std::string& status : {ctl + " status --json --shm-dir " + w.shm.path, env + ctl + " status --json"}) {
    CAPTURE(status);
    const Run r = sh(status);
    REQUIRE(r.rc == 0);
    const auto j = nlohmann::json::parse(r.out);
    CHECK(j["sidecar"]["wal_dir"] == w.wal.path);
    CHECK(j["ship_state_dir"] == ship_dir);  // the sidecar's --ship-state-dir
  }
  // cat finds the stream in the sidecar's WAL root, with no --wal-dir; AEROLOG_WAL_DIR overrides it.
  CHECK(lines(sh(env + ctl + " cat app").out) == 70);
  CHECK(lines(sh(ctl + " cat app --format CSV --shm-dir " + w.shm.path).out) == 71);  // a header line
  const Run elsewhere = sh(env + "AEROLOG_WAL_DIR=/nonexistent " + ctl + " cat app");
  CHECK(elsewhere.rc == 1);
  CHECK_THAT(elsewhere.out, Catch::Contains("in /nonexistent"));

  const Run typo = sh(ctl + " stauts");
  CHECK(typo.rc == 2);
  CHECK_THAT(typo.out, Catch::Contains("unknown command 'stauts' (did you mean 'status'?)"));
  const Run none = sh(ctl);
  CHECK(none.rc == 2);
  CHECK_THAT(none.out, Catch::Contains("a command is required: status, flush, cat"));
  const Run format = sh(env + ctl + " cat app --format xml");
  CHECK(format.rc == 2);
  CHECK_THAT(format.out, Catch::Contains("--format: 'xml' is not one of text, csv, json"));
  const Run dir = sh(ctl + " status --shm-dir /nonexistent");
  CHECK(dir.rc == 1);
  CHECK_THAT(dir.out, Catch::Contains("shm directory /nonexistent"));
}

TEST_CASE("cat --follow prints records as they become durable", "[ctl]") {
  Wal w;
  SidecarProcess sc(w.shm.path, w.wal.path);
  aerolog::ProducerOptions o;
  o.shm_dir = w.shm.path;
  o.capacity = 1 << 20;
  auto prod = aerolog::Producer::open("live", o);
  for (int i = 0; i < 10; ++i) REQUIRE(prod.publish_text(p::Level::info, "before " + std::to_string(i)));
  REQUIRE(prod.wait_durable(10, std::chrono::seconds(10)));
  const std::string out = w.wal.path + "/follow.txt";
  pid_t pid = spawn([&] {
    const std::string cmd = w.ctl() + "cat -f --format csv " + w.stream("live") + " > " + out;
    ::execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    return 127;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (int i = 0; i < 5000; ++i) REQUIRE(prod.publish_text(p::Level::info, "after " + std::to_string(i)));
  REQUIRE(wait_until([&] { return lines(read_all(out)) == 5011; }, std::chrono::seconds(20)));
  ::kill(pid, SIGINT);
  CHECK(wait_exit(pid) == 0);
  CHECK_THAT(read_all(out), Catch::Contains("5010,"));
  sc.signal(SIGTERM);
  CHECK(sc.wait() == 0);
}

TEST_CASE("a time seek starts at the first record of its time when records of one time span blocks and segments",
          "[reader]") {
  Wal w;
  constexpr std::uint64_t kRecords = 120'000, kGroup = 1'000;  // 64-byte frames: about a block a group
  constexpr std::uint64_t kT0 = 1'700'000'000'000'000'000;
  {
    SidecarProcess sc(w.shm.path, w.wal.path, {"--max-block", "65536", "--segment-size", "2162688"});
    aerolog::ProducerOptions o;
    o.shm_dir = w.shm.path;
    o.capacity = 1 << 20;
    o.on_full = aerolog::FullPolicy::spin;
    auto p = aerolog::Producer::open("dup", o);
    const std::array<std::byte, 40> payload{};
    for (std::uint64_t s = 1; s <= kRecords; ++s)  // each group of kGroup records shares one timestamp
      REQUIRE(p.publish(256, payload.data(), payload.size(), kT0 + (s - 1) / kGroup * 1'000));
    REQUIRE(p.wait_durable(kRecords, std::chrono::seconds(30)));
    sc.signal(SIGTERM);
    REQUIRE(sc.wait() == 0);
  }
  REQUIRE(segment_files(w.stream("dup")).size() > 2);
  // Blocks and index entries that start inside a group: the block before them ends with records
  // of the time they start with, and a seek to that time must not skip them.
  std::uint64_t wrong = 0;
  for (std::uint64_t g = 0; g < kRecords / kGroup; ++g) {
    auto r = aerolog::Reader::open(w.stream("dup"));
    REQUIRE(r.seek_time(kT0 + g * 1'000));
    const aerolog::Record* rec = r.next();
    REQUIRE(rec);
    wrong += rec->seq != g * kGroup + 1;
  }
  CHECK(wrong == 0);
  for (const std::string& engine : frame_engines()) {
    const Run py = sh(python(engine) + "-c 'import aerolog; s = aerolog.open(\"" + w.stream("dup") +
                      "\"); print(sum(int(s.read(from_time=" + std::to_string(kT0) + " + g * 1000, to_time=" +
                      std::to_string(kT0) + " + g * 1000).seq[0]) != g * 1000 + 1 for g in range(120)))'");
    INFO(engine << ": " << py.out);
    CHECK(py.out == "0\n");
  }
}

TEST_CASE("Reader seeks by seq and time without scanning from the start", "[reader]") {
  Wal w;
  w.fill("big", 400'000);
  REQUIRE(segment_files(w.stream("big")).size() > 3);
  auto r = aerolog::Reader::open(w.stream("big"));
  REQUIRE(r.seek_seq(345'678));
  const aerolog::Record* rec = r.next();
  REQUIRE(rec);
  CHECK(rec->seq == 345'678);
  CHECK(rec->type == type_for(345'678));
  auto pl = payload_for(345'678);
  CHECK(std::memcmp(rec->payload.data(), pl.data(), pl.size()) == 0);
  CHECK(r.blocks_read() == 1);  // straight to the right block
  std::uint64_t n = 1, last = rec->seq;
  while ((rec = r.next())) {
    REQUIRE(rec->seq == last + 1);
    last = rec->seq;
    ++n;
  }
  CHECK(last == 400'000);
  CHECK(n == 400'000 - 345'678 + 1);

  // Time: the record's own timestamp finds it.
  auto all = read_wal(w.stream("big"));
  const std::uint64_t ts = all.records[250'000 - 1].ts;
  auto t = aerolog::Reader::open(w.stream("big"));
  REQUIRE(t.seek_time(ts));
  rec = t.next();
  REQUIRE(rec);
  CHECK(rec->timestamp >= ts);
  CHECK(rec->seq <= 250'000);
  CHECK(t.blocks_read() <= 2);
  // The time of a segment's first record: the seek picks the segment before (it starts before
  // that time), finds no record there that late, and goes on into the next one.
  for (const std::string& name : segment_files(w.stream("big"))) {
    const std::uint64_t first = std::stoull(name.substr(0, 20));
    auto s = aerolog::Reader::open(w.stream("big"));
    INFO("segment " << name);
    const std::uint64_t at = all.records[first - 1].ts;
    std::uint64_t want = first;  // the first record of that time (the clock may repeat a value)
    while (want > 1 && all.records[want - 2].ts >= at) --want;
    REQUIRE(s.seek_time(at));
    rec = s.next();
    REQUIRE(rec);
    CHECK(rec->seq == want);
  }

  // Pluggable consumers each see every record once.
  auto c = aerolog::Reader::open(w.stream("big"));
  aerolog::ConsumerSet set;
  std::uint64_t sum = 0;
  set.add("all", [&](const aerolog::Record& x) { sum += x.seq; });
  set.add(
      "type256", [](const aerolog::Record&) {}, 256);
  CHECK(set.poll(c) == 400'000);
  CHECK(set.counters("all").records == 400'000);
  CHECK(set.counters("all").last_seq == 400'000);
  CHECK(sum == 400'000ull * 400'001 / 2);
  CHECK(set.counters("type256").records == 80'000);
  CHECK(set.poll(c) == 0);  // nothing new: nothing twice

  // A limit (the durable seq, when following) stops next() exactly there, across segments, and
  // raising it carries on from the next seq.
  auto l = aerolog::Reader::open(w.stream("big"));
  std::uint64_t seen = 0;
  for (std::uint64_t limit :
       {std::uint64_t{1}, std::uint64_t{123'456}, std::uint64_t{123'456}, std::uint64_t{400'000}}) {
    l.set_limit(limit);
    while ((rec = l.next())) {
      REQUIRE(rec->seq == seen + 1);
      seen = rec->seq;
    }
    CHECK(seen == limit);
  }
}

TEST_CASE("verify and cat report damage and bad input with one clear line and an exit code", "[ctl]") {
  Wal w;
  w.fill("v", 30'000);
  const std::string ctl = AEROLOGCTL_BIN;
  const std::string dir = w.stream("v");
  const std::string seg = dir + "/" + segment_files(dir).back();
  CHECK(sh(ctl + " verify " + dir).rc == 0);
  CHECK(sh(ctl + " verify " + w.wal.path).rc == 0);  // a WAL root

  std::string bytes = read_all(seg);
  std::vector<std::size_t> blocks;
  for (std::size_t off = 4096;;) {
    p::BlockHeader h;
    std::memcpy(&h, bytes.data() + off, sizeof h);
    if (h.magic != p::kBlockMagic) break;
    blocks.push_back(off);
    off += (h.length + 4095) & ~std::size_t{4095};
  }
  REQUIRE(blocks.size() >= 4);
  SECTION("torn tail: exit 3, offset named") {
    std::string t = bytes;
    std::memset(t.data() + blocks.back() + 100, 0x5A, 50);
    std::ofstream(seg, std::ios::binary) << t;
    Run v = sh(ctl + " verify " + dir);
    CHECK(v.rc == 3);
    CHECK_THAT(v.out, Catch::Contains("torn tail at offset " + std::to_string(blocks.back())));
    Run c = sh(ctl + " cat " + dir + " --format csv");  // readers stop at the torn tail
    CHECK(c.rc == 0);
    CHECK(lines(c.out) < 30'001);
  }
  SECTION("corruption mid-log: exit 1, offset named") {
    std::string t = bytes;
    t[blocks[1] + 300] ^= 1;
    std::ofstream(seg, std::ios::binary) << t;
    Run v = sh(ctl + " verify " + seg);
    CHECK(v.rc == 1);
    CHECK_THAT(v.out, Catch::Contains("CORRUPT at offset " + std::to_string(blocks[1])));
  }
  SECTION("bad input") {
    Run missing = sh(ctl + " verify /nonexistent/dir");
    CHECK(missing.rc == 1);
    CHECK(lines(missing.out) == 1);
    const std::string garbage = w.wal.path + "/garbage.alog";
    std::ofstream(garbage) << std::string(10000, 'g');
    Run g1 = sh(ctl + " cat " + garbage);
    CHECK(g1.rc == 1);
    CHECK(lines(g1.out) == 1);
    CHECK_THAT(g1.out, Catch::Contains("not a valid .alog segment"));
    CHECK(sh(ctl + " verify " + garbage).rc == 1);
    const std::string tiny = w.wal.path + "/tiny.alog";
    std::ofstream(tiny) << "x";
    Run t1 = sh(ctl + " cat " + tiny);
    CHECK(t1.rc == 1);
    CHECK(lines(t1.out) == 1);
    Run unknown = sh(ctl + " cat no-such-stream --wal-dir " + w.wal.path);
    CHECK(unknown.rc == 1);
    CHECK(lines(unknown.out) == 1);
    CHECK_THAT(unknown.out, Catch::Contains("no-such-stream"));
    Run badtime = sh(ctl + " cat " + dir + " --from-time yesterday");
    CHECK(badtime.rc == 2);
    CHECK(lines(badtime.out) == 1);
    Run hugetime = sh(ctl + " cat " + dir + " --from-time 999999999999999999999999");  // out of range
    CHECK(hugetime.rc == 2);
    CHECK(lines(hugetime.out) == 1);
    Run usage = sh(ctl + " frobnicate");
    CHECK(usage.rc == 2);
    Run py = sh("python3 " AEROLOG_SCRIPTS "/alog.py cat /nonexistent");
    CHECK(py.rc == 1);
    CHECK_THAT(py.out, Catch::Contains("alog.py:"));
    Run pyg = sh("python3 " AEROLOG_SCRIPTS "/alog.py summary " + w.wal.path + "/nonexistent");
    CHECK(pyg.rc == 1);
    Run nostatus = sh(std::string(AEROLOGCTL_BIN) + " --shm-dir " + w.shm.path + " status");
    CHECK(nostatus.rc == 1);
    CHECK_THAT(nostatus.out, Catch::Contains("DOWN"));
  }
}

TEST_CASE("Python's view of the layouts equals the C++ structs", "[ctl][format]") {
  Run r = sh("python3 " AEROLOG_SCRIPTS "/alog.py layout");
  REQUIRE(r.rc == 0);
  auto j = nlohmann::json::parse(r.out);
  const std::map<std::string, std::size_t> cpp = {
      {"ring.magic", offsetof(p::RingHeader, id) + offsetof(p::RingIdentity, magic)},
      {"ring.capacity", offsetof(p::RingIdentity, capacity)},
      {"ring.write_pos", offsetof(p::RingHeader, producer) + offsetof(p::RingProducer, write_pos)},
      {"ring.last_seq", offsetof(p::RingHeader, producer) + offsetof(p::RingProducer, last_seq)},
      {"ring.payload_bytes", offsetof(p::RingHeader, producer) + offsetof(p::RingProducer, payload_bytes)},
      {"ring.dropped", offsetof(p::RingHeader, producer) + offsetof(p::RingProducer, dropped)},
      {"ring.read_pos", offsetof(p::RingHeader, consumer) + offsetof(p::RingConsumer, read_pos)},
      {"ring.durable_seq", offsetof(p::RingHeader, durable) + offsetof(p::RingDurable, durable_seq)},
      {"ring.state", offsetof(p::RingHeader, sidecar) + offsetof(p::RingSidecar, state)},
      {"ring.error", offsetof(p::RingHeader, sidecar) + offsetof(p::RingSidecar, error)},
      {"ring.log_magic", offsetof(p::RingHeader, log) + offsetof(p::RingLog, log_magic)},
      {"ring.log_level", offsetof(p::RingHeader, log) + offsetof(p::RingLog, level)},
      {"ring.header_size", sizeof(p::RingHeader)},
      {"frame.length", offsetof(p::FrameHeader, length)},
      {"frame.type", offsetof(p::FrameHeader, type)},
      {"frame.flags", offsetof(p::FrameHeader, flags)},
      {"frame.seq", offsetof(p::FrameHeader, seq)},
      {"frame.timestamp", offsetof(p::FrameHeader, timestamp)},
      {"frame.size", sizeof(p::FrameHeader)},
      {"segment.base_seq", offsetof(p::SegmentHeader, base_seq)},
      {"segment.generation", offsetof(p::SegmentHeader, generation)},
      {"segment.crc", offsetof(p::SegmentHeader, crc)},
      {"block.crc", offsetof(p::BlockHeader, crc)},
      {"block.length", offsetof(p::BlockHeader, length)},
      {"block.count", offsetof(p::BlockHeader, count)},
      {"block.first_seq", offsetof(p::BlockHeader, first_seq)},
      {"block.generation", offsetof(p::BlockHeader, generation)},
      {"block.size", sizeof(p::BlockHeader)},
      {"trade.size", sizeof(p::Trade)},
      {"order.size", sizeof(p::Order)},
      {"quote.size", sizeof(p::Quote)},
      {"marketdata.size", sizeof(p::MarketData)},
      {"risk.size", sizeof(p::Risk)},
      {"text.size", sizeof(p::TextHeader)},
      {"batch.magic", offsetof(p::BatchHeader, magic)},
      {"batch.count", offsetof(p::BatchHeader, count)},
      {"batch.first_seq", offsetof(p::BatchHeader, first_seq)},
      {"batch.last_seq", offsetof(p::BatchHeader, last_seq)},
      {"batch.size", sizeof(p::BatchHeader)},
  };
  CHECK(j.size() == cpp.size());
  for (const auto& [k, v] : cpp) {
    INFO(k);
    REQUIRE(j.contains(k));
    CHECK(j[k].get<std::size_t>() == v);
  }
}

TEST_CASE("aerolog-replay: the LOBSTER sample and a trades CSV round-trip, bad lines are counted with line numbers",
          "[ctl][replay]") {
  Wal w;
  SidecarProcess sc(w.shm.path, w.wal.path);
  REQUIRE(wait_until([&] { return sc.log().find("ready") != std::string::npos; }));
  const std::string replay = std::string(AEROLOG_REPLAY_BIN) + " --shm-dir " + w.shm.path + " ";
  const std::string sample = AEROLOG_DATA "/AAPL_2012-06-21_34200000_37800000_message_50.csv";
  Run lob = sh(replay + sample + " --stream aapl");
  REQUIRE(lob.rc == 0);
  CHECK_THAT(lob.out, Catch::Contains("91997 lines, 85729 orders, 6268 trades, 0 halts, 0 malformed, 0 dropped"));
  REQUIRE(sh(w.ctl() + "flush").rc == 0);
  Run csv = sh(w.ctl() + "cat " + w.stream("aapl") + " --format csv --to-seq 1");
  // 34200.004241176,1,16113575,18,5853300,1 -> a new buy order of 18 at 585.33
  CHECK_THAT(csv.out, Catch::Contains(",Order,AAPL,new,buy,585.33000000,18,16113575,"));
  Run all = sh(w.ctl() + "cat " + w.stream("aapl") + " --format csv");
  CHECK(lines(all.out) == 91998);
  CHECK(std::count(all.out.begin(), all.out.end(), 'T') >= 6268);

  const std::string trades = w.wal.path + "/trades.csv";
  std::ofstream(trades) << "ts,symbol,price,qty,side\n"
                           "2012-06-21T13:30:00.5Z,AAPL,585.33,100,buy\n"
                           "not,a,valid,line\n"
                           "1340285401.25,MSFT,30.1,7,sell\n"
                           "1340285402000000000,IBM,-1.5,3,\n"
                           "1340285403000000000,IBM,1.123456789,3,buy\n";
  Run tr = sh(replay + trades + " --stream trades");
  CHECK(tr.rc == 3);  // done, with malformed lines
  CHECK_THAT(tr.out, Catch::Contains("trades.csv:3: malformed line skipped: not,a,valid,line"));
  CHECK_THAT(tr.out, Catch::Contains("trades.csv:6: malformed line skipped"));  // 9 decimals
  CHECK_THAT(tr.out, Catch::Contains("3 trades, 0 halts, 2 malformed"));
  REQUIRE(sh(w.ctl() + "flush").rc == 0);
  Run tc = sh(w.ctl() + "cat " + w.stream("trades") + " --format csv");
  CHECK_THAT(tc.out, Catch::Contains("Trade,AAPL,trade,buy,585.33000000,100,1,"));
  CHECK_THAT(tc.out, Catch::Contains("Trade,MSFT,trade,sell,30.10000000,7,2,"));
  CHECK_THAT(tc.out, Catch::Contains("Trade,IBM,trade,,-1.50000000,3,3,"));
  Run missing = sh(replay + w.wal.path + "/nope.csv");
  CHECK(missing.rc == 2);  // CLI11: the file must exist
  Run badfmt = sh(replay + sample + " --format xml");
  CHECK(badfmt.rc == 2);
  sc.signal(SIGTERM);
  CHECK(sc.wait() == 0);
}
