// aerolog-ship against real servers: clickhouse-server and nats-server started on 127.0.0.1
// in temp directories, the real sidecar writing the WAL, the shipper as a child process.
#include <aerolog/logger.hpp>
#include <aerolog/producer.hpp>
#include <aerolog/proto/log.hpp>
#include <aerolog/proto/records.hpp>
#include <aerolog/proto/ship.hpp>
#include <aerolog/reader.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "log_corpus.hpp"
#include "proc_util.hpp"
#include "ring_consumer.hpp"
#include "shell.hpp"
#include "ship_checkpoint.hpp"
#include "sidecar_process.hpp"
#include "sink_servers.hpp"

#include <cctype>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>

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
// Of a stream of host box1: its subject is aerolog.box1.<stream with '.' as '~'> (FORMAT.md 10.3).
NatsContents nats_contents(const std::string& url, const std::string& stream) {
  NatsContents out;
  std::string token = stream;
  std::replace(token.begin(), token.end(), '.', '~');
  const std::string subject = "aerolog.box1." + token, id_prefix = "box1/" + stream + "/";
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

// A query's rows, one JSON object each (ClickHouse quotes 64-bit integers as strings).
std::vector<nlohmann::json> ch_rows(const ClickHouseServer& ch, const std::string& sql) {
  std::vector<nlohmann::json> out;
  std::istringstream in(ch.query(sql + " FORMAT JSONEachRow"));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}
std::uint64_t u64(const nlohmann::json& j) { return std::stoull(j.get<std::string>()); }

// UTC times written here rather than by the code under test: "2026-11-21 08:00:00" (ClickHouse's
// DateTime) and "2026-11-21T08:00:00.123456789Z" (aerologctl cat).
std::string utc_seconds(std::uint64_t ns) {
  const std::time_t t = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S", &tm);
  return b;
}
std::string iso_ns(std::uint64_t ns) {
  std::string s = utc_seconds(ns);
  s[10] = 'T';
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%09lluZ", static_cast<unsigned long long>(ns % 1'000'000'000));
  return s + frac;
}

const char* level_text(aerolog::Level l) {
  static const char* const names[] = {"trace", "debug", "info", "warn", "error", "critical"};
  return names[static_cast<int>(l)];
}

// Once the sidecar has made everything in a stream's ring durable: the stream's last seq.
std::uint64_t drained(const Setup& s, const std::string& stream) {
  const std::string ring = s.shm.path + "/aerolog." + stream;
  std::uint64_t last = 0;
  const bool ok = wait_until(
      [&] {
        if (::access(ring.c_str(), F_OK) != 0) return false;
        RingConsumer c(ring);
        last = c.header().producer.last_seq.load();
        return last > 0 && c.header().durable.durable_seq.load() == last;
      },
      std::chrono::seconds(60));
  REQUIRE(ok);
  return last;
}

// The records of a stream's WAL that make log rows (LogEvent, Text, Dropped), in seq order.
struct LogRecord {
  std::uint64_t seq, timestamp;
  std::uint16_t type;
  std::string payload;
};
std::vector<LogRecord> log_records(const Setup& s, const std::string& stream) {
  std::vector<LogRecord> out;
  auto r = aerolog::Reader::open(s.wal.path + "/" + stream);
  while (const aerolog::Record* rec = r.next())
    if (rec->type == p::kTypeLogEvent || rec->type == p::kTypeText || rec->type == p::kTypeDropped)
      out.push_back({rec->seq, rec->timestamp, rec->type,
                     std::string(reinterpret_cast<const char*>(rec->payload.data()), rec->payload.size())});
  return out;
}

// One logging call of the log-table test and what its row must hold.
struct Call {
  aerolog::Level level;
  std::uint32_t line;
  std::string format, message;
};
template <class... A>
Call expect(aerolog::Level level, std::uint32_t line, fmt::format_string<A...> f, const A&... args) {
  const fmt::string_view text = f;
  return {level, line, std::string(text.data(), text.size()), fmt::vformat(text, fmt::make_format_args(args...))};
}
// Logs through `log` and notes the call in `calls` (the same line, format and arguments).
#define LOGGED(level, ...)                                 \
  do {                                                     \
    AEROLOG_LOG(log, level, __VA_ARGS__);                  \
    calls.push_back(expect(level, __LINE__, __VA_ARGS__)); \
  } while (0)

// Every level, every kind of argument, text that needs escaping (quotes, comma, tab, backslash,
// a newline, UTF-8).
void log_app_calls(aerolog::Logger& log, std::vector<Call>& calls, int from, int to, int rounds) {
  using aerolog::Level;
  for (int i = from; i < to; ++i) {
    LOGGED(Level::trace, "trace {} of {}", i, rounds);
    LOGGED(Level::debug, "debug {:.3f} {}", 2.0 / 3.0 * i, i % 2 == 0);
    LOGGED(Level::info, "order {} {} {} @ {:.2f}", std::string("AAPL"), 'B', 100 + i, aerolog::Price{58533000000 + i});
    LOGGED(Level::warn, "slow fill on {}: {} us, note \"{}\", a,b\ttab \\ end", "XNAS", 1500 + i,
           std::string_view("it's \"quoted\""));
    LOGGED(Level::error, "reject {}: {}\nsecond line, utf-8 \u00e9 \u20ac", -i - 1, "insufficient margin");
    LOGGED(Level::critical, "halt {} {}", std::numeric_limits<std::uint64_t>::max(), -0.5f);
  }
}

// A thread that waits for go() before its last steps: let go and joined on any way out of the
// test (a failed REQUIRE must not leave it joinable, or waiting).
struct Paused {
  std::promise<void> release;
  std::thread thread;
  bool released = false;
  void go() {
    if (!released) release.set_value();
    released = true;
  }
  void finish() {
    go();
    if (thread.joinable()) thread.join();
  }
  ~Paused() { finish(); }
};

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
  std::uint64_t n = 0, seq_sum = 0, trades = 0, trade_qty = 0, orders = 0, buys = 0, first_ts = 0;
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
      if (!orders++) first_ts = rec->timestamp;
      buys += o.side == p::Side::buy;
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
  // Enumerations by name, the time as a DateTime for ClickHouse's date functions.
  CHECK(ch_number(s.ch, "SELECT count() FROM aerolog_records_orders WHERE side = 'buy'") == buys);
  CHECK(ch_number(s.ch, "SELECT count() FROM aerolog_records_orders WHERE side NOT IN ('buy', 'sell')") == 0);
  CHECK(ch_number(s.ch, "SELECT count() FROM aerolog_records_orders WHERE action = '?'") == 0);
  CHECK(ch_number(s.ch, "SELECT min(toUInt64(ts)) FROM aerolog_records_orders") == first_ts / 1'000'000'000);
  CHECK(ch_number(s.ch,
                  "SELECT count() FROM aerolog_records_trades WHERE toStartOfMinute(ts) <= ts AND "
                  "toUInt64(ts) = intDiv(ts_ns, 1000000000)") == trades);

  // NATS: one subject, every seq exactly once with the WAL's bytes, message ids as documented.
  NatsContents nc = nats_contents(s.nats.url(), "md");
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
  Run from_nats = sh(py + "batch --stream md" + files);
  Run from_wal = sh(py + "cat " + s.wal.path + "/md");
  REQUIRE(from_nats.rc == 0);
  CHECK(lines(from_nats.out) == n + 1);
  CHECK(from_nats.out == from_wal.out);

  // Shipping again sends nothing; status shows both sinks at the durable seq with no lag.
  REQUIRE(ship_once(s, sinks) == 0);
  CHECK(ch_number(s.ch, "SELECT count() FROM aerolog_records") == n);
  CHECK(nats_contents(s.nats.url(), "md").messages == nc.messages);
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
  NatsContents nc = nats_contents(s.nats.url(), "md");
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
  NatsContents nc = nats_contents(s.nats.url(), "md");
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
  for (const std::string stream : {"md", "ok.t1"}) {  // a dotted name, as a logger thread's
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
    NatsContents nc = nats_contents(s.nats.url(), stream);
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
        return checkpoint(s, "nats", "ok.t1") == n && checkpoint(s, "nats", "md") == 50 &&
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
  CHECK_THAT(prom.out, Catch::Contains("aerolog_ship_stream_refused{sink=\"nats\",stream=\"ok.t1\"} 0"));
  check_stream("ok.t1", n);
  for (const auto& m : aerolog::test::nats_read_stream(s.nats.url(), "AEROLOG"))  // aerolog.box1.* has them all
    CHECK(std::count(m.subject.begin(), m.subject.end(), '.') == 2);
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
  check_stream("ok.t1", n);

  // A damaged checkpoint also stops its stream, and stays as it was for the user to look at.
  const std::string ok_ckpt = aerolog::common::checkpoint_path(s.state.path, "nats", "ok.t1");
  std::ofstream(ok_ckpt, std::ios::trunc) << "garbage\n";
  CHECK(ship_once(s, {"--nats-url", s.nats.url()}) == 1);
  CHECK(SidecarProcess::read_file(ok_ckpt) == "garbage\n");
  CHECK_THAT(SidecarProcess::read_file(s.state.path + "/ship.log"), Catch::Contains("not an aerolog-ship checkpoint"));
  check_stream("ok.t1", n);
}

TEST_CASE("ship: another user's ring for a stream does not set how far it is shipped", "[ship][hostile]") {
  if (::geteuid() != 0) FAIL("needs root to give a ring to another user");
  // The shipper ships up to the durable seq of the stream's ring, a ring the sidecar would serve
  // (its own user's or the stream's owner's, FORMAT.md 4.5), else as far as the WAL goes: a
  // ring someone else made for the stream is not believed, whatever it claims.
  Setup s;
  {
    SidecarProcess sc(s.shm.path, s.wal.path);
    REQUIRE(wait_exit(spawn_publisher(s.shm.path, "md", 1 << 20, 100)) == 0);
    REQUIRE(durable_seq(s, "md", 100) == 100);
    sc.signal(SIGTERM);
    REQUIRE(sc.wait() == 0);
  }
  const std::string ring = s.shm.path + "/aerolog.md";
  {
    RingConsumer c(ring);
    c.header().durable.durable_seq.store(40);  // as if only 40 were durable
  }
  s.nats.start();
  REQUIRE(ship_once(s, {"--nats-url", s.nats.url()}) == 0);
  CHECK(checkpoint(s, "nats", "md") == 40);                 // our own ring: believed
  REQUIRE(::chown(ring.c_str(), 65534, ::getegid()) == 0);  // now a group member's, for a stream it does not own
  REQUIRE(ship_once(s, {"--nats-url", s.nats.url()}) == 0);
  CHECK(checkpoint(s, "nats", "md") == 100);  // not believed: the WAL as far as it goes
  CHECK(nats_contents(s.nats.url(), "md").records == 100);
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
  const std::string ch = ship + " --once --clickhouse-url http://127.0.0.1:1";  // a regression exits 1, never hangs
  Run quote = sh(ch + " --clickhouse-table 'x`; DROP TABLE y'");
  CHECK(quote.rc == 2);
  CHECK_THAT(quote.out, Catch::Contains("not a ClickHouse name"));
  Run clash = sh(ch + " --clickhouse-table t --clickhouse-logs t_trades");
  CHECK(clash.rc == 2);
  CHECK_THAT(clash.out, Catch::Contains("both name 't_trades'"));
  Run clash_data = sh(ch + " --clickhouse-table t_data --clickhouse-logs t");
  CHECK(clash_data.rc == 2);
  CHECK_THAT(clash_data.out, Catch::Contains("both name 't_data'"));
  Run down = sh(ship + " --once --clickhouse-url http://127.0.0.1:" + std::to_string(aerolog::test::free_port()));
  CHECK(down.rc == 1);
  CHECK_THAT(down.out, Catch::Contains("clickhouse"));
  Run help = sh(std::string(AEROLOG_SHIP_BIN) + " --help");
  CHECK(help.rc == 0);
  CHECK_THAT(help.out, Catch::Contains("--nats-in-flight"));
}

TEST_CASE(
    "ship: log events, Text records and Dropped markers become rows of aerolog_logs, rendered as cat renders "
    "them",
    "[ship]") {
  Setup s;
  s.ch.start();
  // A burst into a 64 KiB ring before the sidecar runs: the ring fills and the rest of the
  // burst is dropped; the first call after the sidecar drained it comes after a Dropped marker.
  constexpr int kBurst = 5000;
  aerolog::LoggerOptions bo;
  bo.ring.shm_dir = s.shm.path;
  bo.ring.capacity = 64 * 1024;
  auto burst_log = aerolog::Logger::open("burst", bo);
  std::promise<void> burst_done;
  Paused burst;
  burst.thread = std::thread([&, go = burst.release.get_future()] {
    aerolog::Logger::set_thread_name("w");
    for (int i = 0; i < kBurst; ++i) AEROLOG_INFO(burst_log, "burst {} of {}", i, kBurst);
    burst_done.set_value();
    go.wait();
    AEROLOG_WARN(burst_log, "after the burst of {}", kBurst);
  });
  burst_done.get_future().wait();
  SidecarProcess sc(s.shm.path, s.wal.path);
  const std::uint64_t burst_first = drained(s, "burst.w");
  burst.finish();
  REQUIRE(drained(s, "burst.w") > burst_first);

  // Every level, from a thread of its own (its ring closes when it ends). Two rounds are shipped
  // first: the third round's events come after the checkpoint and their sites before it, so the
  // next aerolog-ship run finds them in the site catalog.
  aerolog::LoggerOptions ao;
  ao.ring.shm_dir = s.shm.path;
  ao.level = aerolog::Level::trace;
  auto log = aerolog::Logger::open("app", ao);
  std::vector<Call> calls;
  std::promise<void> two_rounds;
  Paused app;
  app.thread = std::thread([&, go = app.release.get_future()] {
    aerolog::Logger::set_thread_name("w");
    log_app_calls(log, calls, 0, 2, 3);
    two_rounds.set_value();
    go.wait();
    log_app_calls(log, calls, 2, 3, 3);
  });
  two_rounds.get_future().wait();
  const std::uint64_t app_first = drained(s, "app.w");
  REQUIRE(ship_once(s, {"--clickhouse-url", s.ch.url()}) == 0);
  REQUIRE(checkpoint(s, "clickhouse", "app.w") == app_first);
  app.finish();
  REQUIRE(drained(s, "app.w") > app_first);
  // Text records (Producer::publish_text): rows with no site.
  {
    aerolog::ProducerOptions o;
    o.shm_dir = s.shm.path;
    o.capacity = 1 << 20;
    auto prod = aerolog::Producer::open("txt", o);
    REQUIRE(prod.publish_text(aerolog::Level::warn, "disk 91% full, 'quoted'"));
    REQUIRE(prod.publish_text(aerolog::Level::info, "started"));
    REQUIRE(prod.publish_text(aerolog::Level::error, "line one\nline two"));
    REQUIRE(prod.wait_durable(3, std::chrono::seconds(30)));
  }
  REQUIRE(ship_once(s, {"--clickhouse-url", s.ch.url()}) == 0);

  // The expected rows, from the WAL (seqs, times, the Dropped marker) and the calls.
  struct Row {
    std::string stream, type, level, message;
    std::uint64_t seq, ts_ns;
    const Call* call;  // a log event of app.w
  };
  std::vector<Row> want;
  {
    const auto app_recs = log_records(s, "app.w");
    REQUIRE(app_recs.size() == calls.size());
    for (std::size_t i = 0; i < calls.size(); ++i) {
      REQUIRE(app_recs[i].type == p::kTypeLogEvent);
      want.push_back({"app.w", "Log", level_text(calls[i].level), calls[i].message, app_recs[i].seq,
                      app_recs[i].timestamp, &calls[i]});
    }
    const auto burst_recs = log_records(s, "burst.w");
    REQUIRE(burst_recs.size() >= 3);
    const std::size_t kept = burst_recs.size() - 2;  // the burst's events, then the marker and the last call
    p::Dropped d;
    REQUIRE(burst_recs[kept].type == p::kTypeDropped);
    std::memcpy(&d, burst_recs[kept].payload.data(), sizeof d);
    INFO("burst: " << kept << " events kept, " << d.count << " dropped");
    CHECK(kept > 0);
    CHECK(kept + d.count == kBurst);
    for (std::size_t i = 0; i < kept; ++i)
      want.push_back({"burst.w", "Log", "info", fmt::format("burst {} of {}", i, kBurst), burst_recs[i].seq,
                      burst_recs[i].timestamp, nullptr});
    want.push_back({"burst.w", "Dropped", "warn",
                    fmt::format("{} records dropped (ring full) since {}", d.count, iso_ns(d.first_ns)),
                    burst_recs[kept].seq, burst_recs[kept].timestamp, nullptr});
    want.push_back({"burst.w", "Log", "warn", fmt::format("after the burst of {}", kBurst), burst_recs[kept + 1].seq,
                    burst_recs[kept + 1].timestamp, nullptr});
    const auto txt_recs = log_records(s, "txt");
    REQUIRE(txt_recs.size() == 3);
    const std::vector<std::pair<const char*, const char*>> texts = {
        {"warn", "disk 91% full, 'quoted'"}, {"info", "started"}, {"error", "line one\nline two"}};
    for (std::size_t i = 0; i < 3; ++i)
      want.push_back({"txt", "Text", texts[i].first, texts[i].second, txt_recs[i].seq, txt_recs[i].timestamp, nullptr});
  }

  // Every row, every column but the time (below).
  const auto rows = ch_rows(s.ch,
                            "SELECT stream, seq, ts_ns, type, level, file, line, function, format, args, message, site "
                            "FROM aerolog_logs ORDER BY stream, seq");
  REQUIRE(rows.size() == want.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    const Row& w = want[i];
    INFO(r.dump());
    CHECK(r["stream"] == w.stream);
    CHECK(u64(r["seq"]) == w.seq);
    CHECK(u64(r["ts_ns"]) == w.ts_ns);
    CHECK(r["type"] == w.type);
    CHECK(r["level"] == w.level);
    CHECK(r["message"] == w.message);
    if (w.type == "Log") {
      CHECK(r["site"].get<std::uint32_t>() > 0);
      CHECK(r["file"] == __FILE__);
      CHECK(!r["function"].get<std::string>().empty());
      CHECK(r["format"] != "");
    } else {
      CHECK(r["site"] == 0);
      CHECK(r["file"] == "");
      CHECK(r["line"] == 0);
      CHECK(r["function"] == "");
      CHECK(r["format"] == "");
      CHECK(r["args"].empty());
    }
    if (w.call) {
      CHECK(r["line"] == w.call->line);
      CHECK(r["function"] == "log_app_calls");
      CHECK(r["format"] == w.call->format);
    }
  }
  CHECK(ch_number(s.ch, "SELECT count() FROM aerolog_logs_data") == want.size());  // nothing re-sent

  // The query: warnings and worse, with their time (UTC, to the second) and message.
  std::vector<std::pair<std::string, std::string>> warn_rows, warn_want;
  for (const auto& r : ch_rows(s.ch,
                               "SELECT ts, message FROM aerolog_logs WHERE level >= 'warn' "
                               "ORDER BY stream, seq"))
    warn_rows.emplace_back(r["ts"].get<std::string>(), r["message"].get<std::string>());
  for (const Row& w : want)
    if (w.level == "warn" || w.level == "error" || w.level == "critical")
      warn_want.emplace_back(utc_seconds(w.ts_ns), w.message);
  CHECK(warn_want.size() == 3 * 3 + 2 + 2);
  CHECK(warn_rows == warn_want);

  // One row, every column: round 1's warning.
  const Call& c = calls.at(6 + 3);
  const Row& w = want.at(6 + 3);
  REQUIRE(c.level == aerolog::Level::warn);
  const auto one =
      ch_rows(s.ch, "SELECT * FROM aerolog_logs WHERE stream = 'app.w' AND seq = " + std::to_string(w.seq));
  REQUIRE(one.size() == 1);
  const auto& r = one[0];
  INFO(r.dump());
  CHECK(r["ts"] == utc_seconds(w.ts_ns));
  CHECK(r["host"] == "box1");
  CHECK(r["stream"] == "app.w");
  CHECK(u64(r["seq"]) == w.seq);
  CHECK(r["level"] == "warn");
  CHECK(r["file"] == __FILE__);
  CHECK(r["line"] == c.line);
  CHECK(r["function"] == "log_app_calls");
  CHECK(r["format"] == "slow fill on {}: {} us, note \"{}\", a,b\ttab \\ end");
  CHECK(r["message"] == "slow fill on XNAS: 1501 us, note \"it's \"quoted\"\", a,b\ttab \\ end");
  CHECK(r["args"] == nlohmann::json::array({"XNAS", "1501", "it's \"quoted\""}));
  CHECK(r["type"] == "Log");
  std::uint32_t site_id = 0;  // the event's site, as the WAL has it
  for (const LogRecord& rec : log_records(s, "app.w"))
    if (rec.seq == w.seq) std::memcpy(&site_id, rec.payload.data(), sizeof site_id);
  CHECK(r["site"] == site_id);
  CHECK(u64(r["ts_ns"]) == w.ts_ns);

  // aerologctl cat prints the same lines from the WAL: time, level, stream, file:line, message.
  std::string from_ch;
  for (const auto& row : ch_rows(s.ch,
                                 "SELECT ts, ts_ns, level, stream, file, line, message FROM "
                                 "aerolog_logs WHERE stream = 'app.w' ORDER BY seq")) {
    std::string ts = row["ts"].get<std::string>();
    ts[10] = 'T';
    const std::string level = row["level"].get<std::string>();  // spelt as cat spells it
    const std::string file = row["file"].get<std::string>();
    from_ch += ts + fmt::format(".{:09}Z ", u64(row["ts_ns"]) % 1'000'000'000) + level + " " +
               row["stream"].get<std::string>() + " " + file.substr(file.rfind('/') + 1) + ":" +
               std::to_string(row["line"].get<std::uint32_t>()) + " " + row["message"].get<std::string>() + "\n";
  }
  const Run cat = sh(std::string(AEROLOGCTL_BIN) + " cat " + s.wal.path + "/app.w");
  REQUIRE(cat.rc == 0);
  CHECK(cat.out == from_ch);

  // Shipping again adds nothing.
  REQUIRE(ship_once(s, {"--clickhouse-url", s.ch.url()}) == 0);
  CHECK(ch_number(s.ch, "SELECT count() FROM aerolog_logs_data") == want.size());
}

TEST_CASE("ship: kill -9 of the shipper and of clickhouse-server while log rows are in flight, each event is one row",
          "[ship][crash]") {
  Setup s;
  // Without background merges, the rows a re-sent batch repeats stay in the table: only the
  // view's FINAL collapses them (the setting lasts until the server restarts).
  auto start_ch = [&] {
    s.ch.start();
    s.ch.query("SYSTEM STOP MERGES");
  };
  start_ch();
  SidecarProcess sc(s.shm.path, s.wal.path);
  // Small batches: many INSERT pairs (records, then log rows) in flight at each kill.
  const std::vector<std::string> args =
      ship_args(s, {"--clickhouse-url", s.ch.url(), "--clickhouse-batch-rows", "500", "--clickhouse-linger-ms", "5",
                    "--max-backoff-ms", "200", "--checkpoint-interval-ms", "20", "--clickhouse-logs",
                    "lg_lines"});  // a log view not named by default
  aerolog::test::detail::Child ship;
  std::mt19937 rng(Catch::rngSeed());
  const int cycles = 8;
  const long rounds = 250;  // 5,000 events per logging process
  std::vector<std::string> want;
  int cut = 0;  // kills that left the checkpoint inside a logging process's events
  for (int c = 0; c < cycles; ++c) {
    // A new logging process each time, on the same stream: its sites are defined again.
    const std::uint64_t before = c ? drained(s, "lg.t1") : 0;
    REQUIRE(wait_exit(spawn_exec({AEROLOG_TEST_LOGGER, s.shm.path, "lg", std::to_string(rounds), "exit"})) == 0);
    const auto m = corpus_messages(rounds);
    want.insert(want.end(), m.begin(), m.end());
    const std::uint64_t ckpt = checkpoint(s, "clickhouse", "lg.t1");
    ship.start(args, s.state.path + "/ship.log");
    if (c % 2 == 0) {  // anywhere: connecting, INSERTs in flight, or idle
      std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 150));
    } else {  // once it has made progress, clickhouse-server too
      REQUIRE(wait_until([&] { return checkpoint(s, "clickhouse", "lg.t1") > ckpt; }));
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 20));
      s.ch.kill9();
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
      start_ch();
    }
    ship.kill9();
    const std::uint64_t at = checkpoint(s, "clickhouse", "lg.t1");
    cut += at > before && at < drained(s, "lg.t1");
  }
  INFO(cut << " kills left the checkpoint inside a logging process's events");
  const std::uint64_t last = drained(s, "lg.t1");
  ship.start(args, s.state.path + "/ship.log");
  const bool done = wait_until([&] { return checkpoint(s, "clickhouse", "lg.t1") == last; }, std::chrono::seconds(120));
  ship.stop();
  INFO(SidecarProcess::read_file(s.state.path + "/ship.log").substr(0, 6000));
  REQUIRE(done);

  const std::uint64_t n = want.size();
  const std::uint64_t raw = ch_number(s.ch, "SELECT count() FROM lg_lines_data");
  INFO("log rows before collapsing: " << raw);  // more than n when a kill caught a batch in flight
  CHECK(raw >= n);
  CHECK(ch_number(s.ch, "SELECT count() FROM lg_lines") == n);
  CHECK(ch_number(s.ch, "SELECT uniqExact(seq) FROM lg_lines") == n);
  CHECK(ch_number(s.ch, "SELECT count() FROM aerolog_records FINAL") == last);
  // Every event in order, rendered; the warnings are each round's closing line.
  std::vector<std::string> got, warn_got, warn_want;
  for (const auto& r : ch_rows(s.ch, "SELECT level, message FROM lg_lines ORDER BY seq")) {
    got.push_back(r["message"].get<std::string>());
    if (r["level"] == "warn") warn_got.push_back(r["message"].get<std::string>());
  }
  for (const std::string& m : want)
    if (m.rfind("round ", 0) == 0) warn_want.push_back(m);
  CHECK(got.size() == n);
  CHECK(got == want);
  CHECK(warn_want.size() == static_cast<std::size_t>(cycles * rounds));
  CHECK(warn_got == warn_want);
}
