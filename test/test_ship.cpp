// aerolog-ship against real servers: clickhouse-server and nats-server started on 127.0.0.1
// in temp directories, the real sidecar writing the WAL, the shipper as a child process.
#include <aerolog/producer.hpp>
#include <aerolog/proto/records.hpp>
#include <aerolog/proto/ship.hpp>
#include <aerolog/reader.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "proc_util.hpp"
#include "shell.hpp"
#include "ship_checkpoint.hpp"
#include "sidecar_process.hpp"
#include "sink_servers.hpp"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

using namespace testutil;
using aerolog::test::ClickHouseServer;
using aerolog::test::NatsServer;
namespace p = aerolog::proto;

namespace {

struct Setup {
  TempDir shm{"/dev/shm"};
  TempDir wal{"/tmp"};
  TempDir state{"/tmp"};
  TempDir servers{"/tmp"};
  ClickHouseServer ch{servers.path + "/ch"};
  NatsServer nats{servers.path + "/nats"};  // declared after the dirs: stopped before they go
};

std::vector<std::string> ship_args(const Setup& s, std::vector<std::string> extra) {
  std::vector<std::string> a = {AEROLOG_SHIP_BIN, "--wal-dir",          s.wal.path,   "--shm-dir",
                                s.shm.path,       "--state-dir",        s.state.path, "--host",
                                "box1",           "--scan-interval-ms", "50"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

int ship_once(const Setup& s, std::vector<std::string> extra) {
  extra.push_back("--once");
  aerolog::test::detail::Child c;
  c.start(ship_args(s, extra), s.state.path + "/ship.log");
  return c.wait();
}

std::uint64_t ch_number(const ClickHouseServer& ch, const std::string& sql) { return std::stoull(ch.query(sql)); }

// Every record in the NATS stream, by seq, with how often it arrived.
struct NatsContents {
  std::map<std::uint64_t, std::string> payload;  // seq -> payload
  std::uint64_t records = 0, messages = 0;
  bool well_formed = true;
};
NatsContents nats_contents(const std::string& url, const std::string& subject) {
  NatsContents out;
  const std::string id_prefix = "box1/" + subject.substr(subject.rfind('.') + 1) + "/";
  for (const auto& m : aerolog::test::nats_read_stream(url, "AEROLOG")) {
    if (m.subject != subject) continue;
    ++out.messages;
    p::BatchHeader h;
    if (m.data.size() < sizeof h) {
      out.well_formed = false;
      continue;
    }
    std::memcpy(&h, m.data.data(), sizeof h);
    if (h.magic != p::kBatchMagic || m.msg_id != id_prefix + std::to_string(h.first_seq)) out.well_formed = false;
    std::size_t off = sizeof h;
    for (std::uint32_t i = 0; i < h.count; ++i) {
      p::FrameHeader f;
      std::memcpy(&f, m.data.data() + off, sizeof f);
      if (f.seq != h.first_seq + i) out.well_formed = false;
      out.payload[f.seq] = m.data.substr(off + sizeof f, f.length - sizeof f);
      ++out.records;
      off += p::frame_stride(f.length);
    }
  }
  return out;
}

std::uint64_t checkpoint(const Setup& s, const std::string& sink, const std::string& stream) {
  try {
    auto c = aerolog::common::read_checkpoint(aerolog::common::checkpoint_path(s.state.path, sink, stream));
    return c ? c->seq : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

std::uint64_t durable_seq(const Setup& s, const std::string& stream, std::uint64_t n) {
  aerolog::ProducerOptions o;
  o.shm_dir = s.shm.path;
  o.capacity = 1 << 20;
  auto prod = aerolog::Producer::open(stream, o);
  REQUIRE(prod.wait_durable(n, std::chrono::seconds(30)));
  return prod.durable_seq();
}

}  // namespace

TEST_CASE("ship: the AAPL sample reaches ClickHouse and NATS exactly once, decoded by the views and alog.py",
          "[ship]") {
  Setup s;
  s.ch.start();
  s.nats.start();
  SidecarProcess sc(s.shm.path, s.wal.path);
  const std::string sample = AEROLOG_DATA "/AAPL_2012-06-21_34200000_37800000_message_50.csv";
  REQUIRE(sh(std::string(AEROLOG_REPLAY_BIN) + " --shm-dir " + s.shm.path + " " + sample + " --stream md").rc == 0);
  REQUIRE(sh(std::string(AEROLOGCTL_BIN) + " --shm-dir " + s.shm.path + " flush").rc == 0);

  // What the WAL holds: the reference for every check below.
  std::uint64_t n = 0, seq_sum = 0, trades = 0, trade_qty = 0, orders = 0;
  std::int64_t order_px_sum = 0;
  std::map<std::uint64_t, std::string> wal;
  auto r = aerolog::Reader::open(s.wal.path + "/md");
  while (const aerolog::Record* rec = r.next()) {
    ++n;
    seq_sum += rec->seq;
    wal[rec->seq].assign(reinterpret_cast<const char*>(rec->payload.data()), rec->payload.size());
    if (rec->type == p::kTypeTrade) {
      p::Trade t;
      std::memcpy(&t, rec->payload.data(), sizeof t);
      ++trades;
      trade_qty += static_cast<std::uint64_t>(t.qty);
    } else if (rec->type == p::kTypeOrder) {
      p::Order o;
      std::memcpy(&o, rec->payload.data(), sizeof o);
      ++orders;
      order_px_sum += o.price / 1'000'000;  // to 1e-2, exact for this data
    }
  }
  REQUIRE(n == 91997);

  const std::vector<std::string> sinks = {"--clickhouse-url", s.ch.url(), "--nats-url", s.nats.url()};
  REQUIRE(ship_once(s, sinks) == 0);
  CHECK(checkpoint(s, "clickhouse", "md") == n);
  CHECK(checkpoint(s, "nats", "md") == n);

  // ClickHouse: every row once (even without FINAL: nothing was re-sent), the typed views agree.
  CHECK(ch_number(s.ch, "SELECT count() FROM aerolog_records") == n);
  CHECK(ch_number(s.ch, "SELECT sum(seq) FROM aerolog_records FINAL WHERE host = 'box1' AND stream = 'md'") == seq_sum);
  CHECK(ch_number(s.ch, "SELECT count() FROM aerolog_records_trades WHERE stream = 'md'") == trades);
  CHECK(ch_number(s.ch, "SELECT sum(qty) FROM aerolog_records_trades WHERE stream = 'md'") == trade_qty);
  CHECK(ch_number(s.ch, "SELECT count() FROM aerolog_records_orders WHERE symbol = 'AAPL'") == orders);
  CHECK(ch_number(s.ch, "SELECT toInt64(round(sum(price) * 100)) FROM aerolog_records_orders") ==
        static_cast<std::uint64_t>(order_px_sum));
  CHECK(ch_number(s.ch, "SELECT count() FROM aerolog_records WHERE payload != ''") == n);

  // NATS: one subject, every seq exactly once with the WAL's bytes, message ids as documented.
  NatsContents nc = nats_contents(s.nats.url(), "aerolog.box1.md");
  CHECK(nc.well_formed);
  CHECK(nc.records == n);
  CHECK(nc.payload == wal);

  // alog.py decodes the message bodies to the same CSV as the WAL.
  std::string files;
  int i = 0;
  for (const auto& m : aerolog::test::nats_read_stream(s.nats.url(), "AEROLOG")) {
    const std::string f = s.state.path + "/msg" + std::to_string(++i);
    std::ofstream(f, std::ios::binary) << m.data;
    files += " " + f;
  }
  const std::string py = std::string("/usr/bin/python3 ") + AEROLOG_SCRIPTS + "/alog.py ";
  Run from_nats = sh(py + "batch" + files);
  Run from_wal = sh(py + "cat " + s.wal.path + "/md");
  REQUIRE(from_nats.rc == 0);
  CHECK(lines(from_nats.out) == n + 1);
  CHECK(from_nats.out == from_wal.out);

  // Shipping again sends nothing; status shows both sinks at the durable seq with no lag.
  REQUIRE(ship_once(s, sinks) == 0);
  CHECK(ch_number(s.ch, "SELECT count() FROM aerolog_records") == n);
  CHECK(nats_contents(s.nats.url(), "aerolog.box1.md").messages == nc.messages);
  Run st =
      sh(std::string(AEROLOGCTL_BIN) + " --shm-dir " + s.shm.path + " status --json --ship-state-dir " + s.state.path);
  auto j = nlohmann::json::parse(st.out);
  REQUIRE(j["sinks"].size() == 2);
  for (const auto& k : j["sinks"]) {
    INFO(k.dump());
    CHECK(k["streams"][0]["checkpoint"] == n);
    CHECK(k["streams"][0]["durable_seq"] == n);
    CHECK(k["streams"][0]["lag_records"] == 0);
  }
}

TEST_CASE("ship: kill -9 of the shipper, clickhouse-server and nats-server in loops: every record arrives once",
          "[ship][crash]") {
  Setup s;
  s.ch.start();
  s.nats.start();
  SidecarProcess sc(s.shm.path, s.wal.path);
  // Small batches, so that there is a lot in flight to lose at each kill.
  const std::vector<std::string> args =
      ship_args(s, {"--clickhouse-url", s.ch.url(), "--nats-url", s.nats.url(), "--clickhouse-batch-rows", "3000",
                    "--clickhouse-linger-ms", "5", "--nats-batch-bytes", "8192", "--nats-in-flight", "16",
                    "--max-backoff-ms", "200", "--checkpoint-interval-ms", "20"});
  aerolog::test::detail::Child ship;
  std::mt19937 rng(Catch::rngSeed());
  const int cycles = 12;
  const std::uint64_t per_cycle = 25'000;
  std::uint64_t n = 0;
  for (int c = 0; c < cycles; ++c) {
    n += per_cycle;
    REQUIRE(wait_exit(spawn_publisher(s.shm.path, "md", 1 << 20, n)) == 0);
    ship.start(args, s.state.path + "/ship.log");
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 150));
    switch (c % 3) {  // the worst moment: batches in flight to both sinks
      case 0:
        ship.kill9();
        break;
      case 1:
        s.ch.kill9();
        std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
        s.ch.start();
        ship.kill9();
        break;
      case 2:
        s.nats.kill9();
        std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
        s.nats.start();
        ship.kill9();
        break;
    }
  }
  REQUIRE(durable_seq(s, "md", n) == n);
  ship.start(args, s.state.path + "/ship.log");
  const bool done =
      wait_until([&] { return checkpoint(s, "clickhouse", "md") == n && checkpoint(s, "nats", "md") == n; },
                 std::chrono::seconds(120));
  ship.stop();
  INFO(SidecarProcess::read_file(s.state.path + "/ship.log").substr(0, 6000));
  REQUIRE(done);

  // ClickHouse: FINAL collapses the re-sent rows; every seq 1..n exactly once.
  const std::uint64_t raw = ch_number(s.ch, "SELECT count() FROM aerolog_records");
  INFO("rows before collapsing: " << raw);
  CHECK(raw >= n);
  CHECK(ch_number(s.ch, "SELECT count() FROM aerolog_records FINAL") == n);
  CHECK(ch_number(s.ch, "SELECT uniqExact(seq) FROM aerolog_records FINAL") == n);
  CHECK(ch_number(s.ch, "SELECT max(seq) FROM aerolog_records FINAL") == n);
  // NATS: the server dropped every duplicate message; the records are exactly 1..n.
  NatsContents nc = nats_contents(s.nats.url(), "aerolog.box1.md");
  CHECK(nc.well_formed);
  CHECK(nc.records == n);
  CHECK(nc.payload.size() == n);
  CHECK(nc.payload.rbegin()->first == n);
  for (std::uint64_t q : {std::uint64_t{1}, n / 2, n}) {
    const auto want = payload_for(q);
    CHECK(nc.payload[q] == std::string(want.begin(), want.end()));
  }
}

TEST_CASE("ship: retention keeps what a sink still needs, the cap deletes it (logged) and the shipper counts the skip",
          "[ship][retention]") {
  Setup s;
  const std::vector<std::string> small = {"--max-block", "65536", "--ship-state-dir", s.state.path};  // 4 MiB segments
  aerolog::common::write_checkpoint(s.state.path, "nats", "md", {});  // a sink that has shipped nothing yet
  const std::uint64_t n = 250'000;                                    // about 20 MiB of frames: five 4 MiB segments
  {
    std::vector<std::string> a = small;
    a.insert(a.end(), {"--retention-bytes", "8388608"});
    SidecarProcess sc(s.shm.path, s.wal.path, a);
    REQUIRE(wait_exit(spawn_publisher(s.shm.path, "md", 1 << 20, n)) == 0);
    REQUIRE(durable_seq(s, "md", n) == n);
    REQUIRE(wait_until([&] { return sc.log().find("retention keeps segment") != std::string::npos; },
                       std::chrono::seconds(20)));
    CHECK(std::filesystem::exists(s.wal.path + "/md/00000000000000000001.alog"));
    sc.signal(SIGTERM);
    REQUIRE(sc.wait() == 0);
  }
  {
    std::vector<std::string> a = small;
    a.insert(a.end(), {"--retention-bytes", "8388608", "--retention-cap-bytes", "12582912"});
    SidecarProcess sc(s.shm.path, s.wal.path, a);
    REQUIRE(wait_until([&] { return sc.log().find("retention cap") != std::string::npos; }, std::chrono::seconds(20)));
    CHECK_THAT(sc.log(), Catch::Contains("not yet shipped to every sink"));
    // Gone, or renamed to the spare by the preparer thread just after the log line (recycling).
    CHECK(wait_until([&] { return !std::filesystem::exists(s.wal.path + "/md/00000000000000000001.alog"); },
                     std::chrono::seconds(10)));
    sc.signal(SIGTERM);
    REQUIRE(sc.wait() == 0);
  }
  s.nats.start();
  REQUIRE(ship_once(s, {"--nats-url", s.nats.url()}) == 0);
  auto c = aerolog::common::read_checkpoint(aerolog::common::checkpoint_path(s.state.path, "nats", "md"));
  REQUIRE(c);
  CHECK(c->seq == n);
  CHECK(c->skipped > 0);
  NatsContents nc = nats_contents(s.nats.url(), "aerolog.box1.md");
  CHECK(nc.records == n - c->skipped);
  CHECK(nc.payload.rbegin()->first == n);
  CHECK(nc.payload.begin()->first == c->skipped + 1);
  CHECK_THAT(SidecarProcess::read_file(s.state.path + "/ship.log"), Catch::Contains("deleted by the retention cap"));
}

TEST_CASE(
    "ship: a record too big for a NATS message stops only its stream, loudly, and a bigger max_payload ships the rest "
    "once",
    "[ship]") {
  Setup s;
  s.nats.set_max_payload(16384);
  s.nats.start();
  SidecarProcess sc(s.shm.path, s.wal.path);
  // 6000-byte records: two fit in 16 KiB, a third would not, so a batch must end before a record
  // takes it over the limit, not after. Seq 51 of "md" (20,000 bytes) does not fit even alone.
  auto body = [](const std::string& stream, std::uint64_t seq) {
    const std::size_t len = stream == "md" && seq == 51 ? 20000 : 6000;
    std::string b(len, static_cast<char>('a' + seq % 26));
    std::memcpy(b.data(), &seq, sizeof seq);
    return b;
  };
  const std::uint64_t n = 100;
  for (const std::string stream : {"md", "ok"}) {
    aerolog::ProducerOptions o;
    o.shm_dir = s.shm.path;
    o.capacity = 4 << 20;
    auto prod = aerolog::Producer::open(stream, o);
    for (std::uint64_t q = 1; q <= n; ++q) {
      const std::string b = body(stream, q);
      REQUIRE(prod.publish(p::kTypeText + 100, b.data(), static_cast<std::uint32_t>(b.size())));
    }
    REQUIRE(prod.wait_durable(n, std::chrono::seconds(30)));
  }
  auto check_stream = [&](const std::string& stream, std::uint64_t last) {
    INFO(stream);
    NatsContents nc = nats_contents(s.nats.url(), "aerolog.box1." + stream);
    CHECK(nc.well_formed);
    CHECK(nc.records == last);  // each exactly once
    REQUIRE(nc.payload.size() == last);
    for (std::uint64_t q = 1; q <= last; ++q) CHECK(nc.payload[q] == body(stream, q));
  };

  // The daemon ships "ok" whole and "md" up to seq 50, and status says why "md" stopped.
  const std::vector<std::string> args = ship_args(s, {"--nats-url", s.nats.url()});
  aerolog::test::detail::Child ship;
  ship.start(args, s.state.path + "/ship.log");
  Run st{};
  const bool stuck = wait_until(
      [&] {  // status.json is rewritten every second
        st = sh(std::string(AEROLOGCTL_BIN) + " --shm-dir " + s.shm.path + " status --ship-state-dir " + s.state.path);
        return checkpoint(s, "nats", "ok") == n && checkpoint(s, "nats", "md") == 50 &&
               st.out.find("refused") != std::string::npos;
      },
      std::chrono::seconds(30));
  Run prom = sh(std::string(AEROLOGCTL_BIN) + " --shm-dir " + s.shm.path + " status --prometheus --ship-state-dir " +
                s.state.path);
  ship.stop();
  const std::string log = SidecarProcess::read_file(s.state.path + "/ship.log");
  INFO(log);
  REQUIRE(stuck);
  CHECK_THAT(log, Catch::Contains("record seq 51 (20024 bytes) does not fit in one message"));
  CHECK_THAT(log, Catch::Contains("max_payload"));
  CHECK_THAT(st.out, Catch::Contains("refused: record seq 51 is too big for this sink"));
  CHECK_THAT(st.out, Catch::Contains("NOT HEALTHY"));
  CHECK_THAT(prom.out, Catch::Contains("aerolog_ship_stream_refused{sink=\"nats\",stream=\"md\"} 1"));
  CHECK_THAT(prom.out, Catch::Contains("aerolog_ship_stream_refused{sink=\"nats\",stream=\"ok\"} 0"));
  check_stream("ok", n);
  check_stream("md", 50);
  // --once says so in its exit status.
  CHECK(ship_once(s, {"--nats-url", s.nats.url()}) == 1);

  // With room for it, the rest of "md" follows, nothing twice.
  s.nats.stop();
  s.nats.set_max_payload(65536);
  s.nats.start();
  REQUIRE(ship_once(s, {"--nats-url", s.nats.url()}) == 0);
  CHECK(checkpoint(s, "nats", "md") == n);
  check_stream("md", n);
  check_stream("ok", n);

  // A damaged checkpoint also stops its stream, and stays as it was for the user to look at.
  const std::string ok_ckpt = aerolog::common::checkpoint_path(s.state.path, "nats", "ok");
  std::ofstream(ok_ckpt, std::ios::trunc) << "garbage\n";
  CHECK(ship_once(s, {"--nats-url", s.nats.url()}) == 1);
  CHECK(SidecarProcess::read_file(ok_ckpt) == "garbage\n");
  CHECK_THAT(SidecarProcess::read_file(s.state.path + "/ship.log"), Catch::Contains("not an aerolog-ship checkpoint"));
  check_stream("ok", n);
}

TEST_CASE("ship: bad configuration and unreachable sinks are one clear line and a distinct exit status", "[ship]") {
  TempDir state{"/tmp"}, wal{"/tmp"};
  const std::string ship = std::string(AEROLOG_SHIP_BIN) + " --state-dir " + state.path + " --wal-dir " + wal.path;
  Run none = sh(ship);
  CHECK(none.rc == 2);
  CHECK_THAT(none.out, Catch::Contains("no sink configured"));
  std::ofstream(state.path + "/bad.toml") << "clickhouse_url = \"http://127.0.0.1:1\"\n";
  Run bad = sh(ship + " --config " + state.path + "/bad.toml");
  CHECK(bad.rc == 2);
  CHECK(lines(bad.out) == 1);
  Run down = sh(ship + " --once --clickhouse-url http://127.0.0.1:" + std::to_string(aerolog::test::free_port()));
  CHECK(down.rc == 1);
  CHECK_THAT(down.out, Catch::Contains("clickhouse"));
  Run help = sh(std::string(AEROLOG_SHIP_BIN) + " --help");
  CHECK(help.rc == 0);
  CHECK_THAT(help.out, Catch::Contains("--nats-in-flight"));
}
