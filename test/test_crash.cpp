// The crash, fault and bad-input suite. Every test ends with the invariant (docs/testing.md):
// each stream's WAL holds a contiguous run of seqs from 1, payloads byte-identical to what was
// published, no duplicates, reaching every durable seq ever seen in shm, and - since the rings
// survive - everything the producers committed.
#include <aerolog/producer.hpp>
#include <aerolog/proto/segment.hpp>

#include <catch2/catch.hpp>

#include "proc_util.hpp"
#include "ring_consumer.hpp"
#include "sidecar_process.hpp"
#include "wal_reader.hpp"

#include <atomic>
#include <cstdlib>
#include <map>
#include <random>
#include <thread>

#include <grp.h>
#include <sys/stat.h>

using namespace testutil;

namespace {

// Rings, WALs, producers publishing up to `limit` records each (bounded, so a test never fills
// the disk), and a monitor of every ring's HWM.
class Rig {
 public:
  explicit Rig(std::vector<std::string> streams, std::uint64_t limit = 300'000, std::uint64_t capacity = 512 * 1024)
      : streams_(std::move(streams)), capacity_(capacity), limit_(limit) {
    for (const auto& s : streams_) start_producer(s);
    for (const auto& s : streams_) {
      REQUIRE(wait_until([&] { return ::access(ring(s).c_str(), F_OK) == 0; }));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      watch_.emplace(s, std::make_unique<RingConsumer>(ring(s)));
      max_hwm_[s] = 0;
    }
    monitor_ = std::thread([this] {
      while (!stop_) {
        for (const auto& s : streams_) {
          const std::uint64_t h = watch_.at(s)->header().durable.durable_seq.load();
          if (h < max_hwm_[s]) ++backwards_;
          if (h > max_hwm_[s]) max_hwm_[s] = h;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    });
  }
  ~Rig() {
    stop_ = true;
    if (monitor_.joinable()) monitor_.join();
    for (auto& [s, pid] : producers_) ::kill(pid, SIGKILL), wait_exit(pid);
  }
  std::string ring(const std::string& s) const { return shm.path + "/aerolog." + s; }
  void start_producer(const std::string& s) {
    const std::string dir = shm.path;
    const std::uint64_t cap = capacity_, limit = limit_;
    producers_[s] = spawn_publisher(dir, s, cap, limit);
  }
  void kill_producer(const std::string& s) {
    ::kill(producers_[s], SIGKILL);
    wait_exit(producers_[s]);
  }
  // Runs a sidecar until it dies by SIGKILL (a failpoint) or `limit` passes; true if it died.
  bool run_until_death(const std::string& failpoints, std::chrono::milliseconds limit = std::chrono::seconds(60),
                       std::vector<std::string> extra = {}) {
    SidecarProcess sc(shm.path, wal.path, extra, {"AEROLOG_FAILPOINTS=" + failpoints});
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int st = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(sc.pid(), &st, WNOHANG) == sc.pid()) {
        sc.forget();
        last_log = sc.log();
        return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;  // the destructor kills it
  }
  // Stops the producers, drains everything with a clean sidecar and checks the invariant.
  void finish_and_check(std::vector<std::string> extra = {}) {
    for (const auto& s : streams_) kill_producer(s);
    producers_.clear();
    {
      SidecarProcess sc(shm.path, wal.path, extra);
      for (const auto& s : streams_) {
        auto& h = watch_.at(s)->header();
        REQUIRE(wait_until([&] { return h.consumer.read_pos.load() == h.producer.write_pos.load(); }));
      }
      REQUIRE(wait_until([&] { return sc.log().find("ready") != std::string::npos; }));
      sc.signal(SIGTERM);
      REQUIRE(sc.wait() == 0);
    }
    stop_ = true;
    monitor_.join();  // (the destructor joins it too if a REQUIRE above failed)
    for (const auto& s : streams_) {
      INFO("stream " << s);
      WalScan w = read_wal(wal.path + "/" + s);
      REQUIRE(w.error == "");
      REQUIRE(!w.records.empty());
      for (std::uint64_t i = 0; i < w.records.size(); ++i) {
        const Record& r = w.records[i];
        REQUIRE(r.seq == i + 1);  // contiguous from 1, no duplicate
        REQUIRE(r.type == type_for(r.seq));
        REQUIRE(r.payload == payload_for(r.seq));
      }
      const std::uint64_t last = w.records.back().seq;
      // Everything committed to the ring is there: the ring's own frames say what that is.
      RingConsumer& c = *watch_.at(s);
      CHECK(c.header().durable.durable_seq.load() == last);
      CHECK(last >= max_hwm_[s]);  // every HWM ever published is covered
      records_[s] = last;
    }
    CHECK(backwards_ == 0);
  }
  std::uint64_t records(const std::string& s) const { return records_.at(s); }

  TempDir shm{"/dev/shm"};
  TempDir wal{wal_base()};
  std::string last_log;  // of the last run_until_death

 private:
  std::vector<std::string> streams_;
  std::uint64_t capacity_, limit_;
  std::map<std::string, pid_t> producers_;
  std::map<std::string, std::unique_ptr<RingConsumer>> watch_;
  std::map<std::string, std::uint64_t> max_hwm_, records_;
  std::atomic<std::uint64_t> backwards_{0};
  std::atomic<bool> stop_{false};
  std::thread monitor_;
};

int soak_cycles() { return static_cast<int>(env_uint("AEROLOG_SOAK_CYCLES", 100)); }

}  // namespace

TEST_CASE("crash at every named failpoint, then recover exactly", "[crash][failpoint]") {
  const char* point = GENERATE("after_submit", "after_write_complete", "after_hwm_store", "roll_after_seal",
                               "roll_started", "roll_named", "spare_made");
  INFO("failpoint " << point);
  Rig rig({"a", "b"}, 1'500'000);
  std::mt19937 rng(Catch::rngSeed());
  int died = 0;
  const bool roll = std::string(point).rfind("roll", 0) == 0 || std::string(point) == "spare_made";
  for (int i = 0; i < 4; ++i) {
    const int nth = roll ? 1 + static_cast<int>(rng() % 2) : 1 + static_cast<int>(rng() % 20);
    died += rig.run_until_death(std::string(point) + "=" + std::to_string(nth), std::chrono::seconds(60));
  }
  CHECK(died == 4);  // the point was reached every time
  rig.finish_and_check();
}

TEST_CASE("crash during recovery itself, and a torn write recovered exactly", "[crash]") {
  Rig rig({"t"}, 1'000'000);
  // A block torn after 3 sectors; then die at the start of recovery and just before the zeroing.
  REQUIRE(rig.run_until_death("torn_write=20:3"));
  REQUIRE(rig.run_until_death("recovery_start=1"));
  REQUIRE(rig.run_until_death("recovery_before_zero=1"));
  // The tail is still torn: this recovery must find it, zero it, report it and go on (until it
  // dies tearing another block).
  REQUIRE(rig.run_until_death("torn_write=30:5"));
  CHECK_THAT(rig.last_log, Catch::Contains("torn tail at offset"));
  CHECK_THAT(rig.last_log, Catch::Contains("recovered through seq"));
  // Die again in the middle of zeroing that second torn tail.
  REQUIRE(rig.run_until_death("recovery_mid_zero=1"));
  rig.finish_and_check();
}

TEST_CASE("injected EIO on writes and syncs: the HWM never passes it, the data is rewritten", "[crash][eio]") {
  const char* mode = GENERATE("dsync", "fdatasync");
  Rig rig({"e"}, 1'000'000);
  SidecarProcess sc(rig.shm.path, rig.wal.path, {"--durability", mode},
                    {std::string("AEROLOG_FAILPOINTS=") + (mode[0] == 'd' ? "write_eio=30" : "fsync_eio=30")});
  RingConsumer ring(rig.ring("e"));
  REQUIRE(wait_until([&] { return ring.header().sidecar.state.load() == 2; }));  // io_error, visible
  CHECK(std::string(ring.header().sidecar.error).find("Input/output error") != std::string::npos);
  REQUIRE(wait_until([&] { return sc.log().find("retrying from seq") != std::string::npos; }));
  REQUIRE(wait_until(
      [&] { return ring.header().sidecar.state.load() == 0 && ring.header().durable.durable_seq.load() > 10'000; }));
  sc.signal(SIGTERM);
  REQUIRE(sc.wait() == 0);
  rig.finish_and_check({"--durability", mode});
}

TEST_CASE("kill -9 soak: sidecar and producers killed at random moments, several streams", "[crash][soak]") {
  Rig rig({"s1", "s2", "s3"}, 2'000'000);
  std::mt19937 rng(Catch::rngSeed());
  const int cycles = soak_cycles();
  int producer_kills = 0;
  for (int i = 0; i < cycles; ++i) {
    SidecarProcess sc(rig.shm.path, rig.wal.path);  // 4 MiB segments: frequent rolls
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 60));
    if (rng() % 4 == 0) {
      const std::string s = "s" + std::to_string(1 + rng() % 3);
      rig.kill_producer(s);
      rig.start_producer(s);
      ++producer_kills;
    }
    sc.signal(SIGKILL);
    REQUIRE(sc.wait() == 128 + SIGKILL);
  }
  rig.finish_and_check();
  INFO(cycles << " sidecar kills, " << producer_kills << " producer kills");
  CHECK(rig.records("s1") > 1000);
}

TEST_CASE("a producer killed between claim and commit, or in the middle of a wrap, blocks nothing", "[crash]") {
  TempDir shm("/dev/shm"), wal(wal_base());
  SidecarProcess sc(shm.path, wal.path);
  const std::uint64_t cap = 64 * 1024;
  auto child = [&](bool wrap) {
    return spawn([&, wrap] {
      aerolog::ProducerOptions o;
      o.shm_dir = shm.path;
      o.capacity = cap;
      o.on_full = aerolog::FullPolicy::spin;
      auto p = aerolog::Producer::open("c", o);
      const std::uint64_t start = p.last_seq();
      for (std::uint64_t seq = start + 1; seq <= start + 500; ++seq) {
        auto pl = payload_for(seq);
        p.publish(type_for(seq), pl.data(), static_cast<std::uint32_t>(pl.size()));
      }
      if (wrap) {  // publish up to just before the ring's end, so the claim writes a padding frame
        RingConsumer view(shm.path + "/aerolog.c");
        while (cap - (view.header().producer.write_pos.load() & (cap - 1)) >= 3024) {
          const std::uint64_t seq = p.last_seq() + 1;
          auto pl = payload_for(seq);
          p.publish(type_for(seq), pl.data(), static_cast<std::uint32_t>(pl.size()));
        }
      }
      aerolog::Claim c = p.claim(type_for(p.last_seq() + 1), 3000);
      std::memset(c.data, 0xEE, 1500);  // half written, never committed
      ::kill(::getpid(), SIGKILL);
      return 0;
    });
  };
  REQUIRE(wait_exit(child(false)) == 128 + SIGKILL);
  REQUIRE(wait_exit(child(true)) == 128 + SIGKILL);
  REQUIRE(wait_exit(child(false)) == 128 + SIGKILL);
  // A clean producer finishes; the sidecar never waited on the dead claims.
  REQUIRE(wait_exit(spawn([&] {
            aerolog::ProducerOptions o;
            o.shm_dir = shm.path;
            o.capacity = cap;
            auto p = aerolog::Producer::open("c", o);
            const std::uint64_t start = p.last_seq(), last = start + 100;
            for (std::uint64_t seq = start + 1; seq <= last; ++seq) {
              auto pl = payload_for(seq);
              if (!p.publish(type_for(seq), pl.data(), static_cast<std::uint32_t>(pl.size()))) return 4;
            }
            return p.wait_durable(last, std::chrono::seconds(20)) ? 0 : 5;
          })) == 0);
  sc.signal(SIGTERM);
  REQUIRE(sc.wait() == 0);
  WalScan w = read_wal(wal.path + "/c");
  REQUIRE(w.error == "");
  for (std::uint64_t i = 0; i < w.records.size(); ++i) {
    REQUIRE(w.records[i].seq == i + 1);
    REQUIRE(w.records[i].payload == payload_for(i + 1));
  }
  CHECK(w.records.size() >= 1600);
}

TEST_CASE("two producers racing to open one stream: exactly one wins, the others are told who", "[crash]") {
  TempDir shm("/dev/shm");
  int go[2];
  REQUIRE(::pipe(go) == 0);
  std::vector<pid_t> kids;
  for (int i = 0; i < 8; ++i)
    kids.push_back(spawn([&] {
      ::close(go[1]);  // else this child's own write end keeps the pipe open
      char c;
      (void)!::read(go[0], &c, 1);
      aerolog::ProducerOptions o;
      o.shm_dir = shm.path;
      o.capacity = 64 * 1024;
      try {
        auto p = aerolog::Producer::open("race", o);
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        return 0;
      } catch (const aerolog::Error& e) {
        return e.code() == aerolog::Errc::busy && std::string(e.what()).find("pid") != std::string::npos ? 10 : 11;
      }
    }));
  ::close(go[0]);
  ::close(go[1]);  // everybody goes at once
  int winners = 0, told = 0;
  for (pid_t k : kids) {
    const int rc = wait_exit(k);
    winners += rc == 0;
    told += rc == 10;
  }
  CHECK(winners == 1);
  CHECK(told == 7);
}

TEST_CASE("a ring truncated or replaced underneath a running sidecar is handled, others keep running", "[crash]") {
  TempDir shm("/dev/shm"), wal(wal_base());
  SidecarProcess sc(shm.path, wal.path);
  REQUIRE(wait_exit(spawn_publisher(shm.path, "victim", 1 << 20, 1000)) == 0);
  REQUIRE(wait_exit(spawn_publisher(shm.path, "bystander", 1 << 20, 1000)) == 0);
  {
    RingConsumer v(shm.path + "/aerolog.victim");
    REQUIRE(wait_until([&] { return v.header().durable.durable_seq.load() == 1000; }));
  }
  // Truncate the live ring to half its size: the sidecar must not die of SIGBUS.
  REQUIRE(::truncate((shm.path + "/aerolog.victim").c_str(), 4096 + (1 << 19)) == 0);
  REQUIRE(wait_exit(spawn_publisher(shm.path, "bystander", 1 << 20, 3000)) == 0);
  RingConsumer b(shm.path + "/aerolog.bystander");
  REQUIRE(wait_until([&] { return b.header().durable.durable_seq.load() == 3000; }));
  REQUIRE(::waitpid(sc.pid(), nullptr, WNOHANG) == 0);  // still alive
  CHECK_THAT(sc.log(), Catch::Contains("truncated"));
  // Replace the bystander's ring with a fresh file: the old one is drained, the new one refused
  // (it restarts at seq 1, which the WAL already has) with a clear line, not silently skipped.
  ::unlink((shm.path + "/aerolog.bystander").c_str());
  {
    aerolog::ProducerOptions o;
    o.shm_dir = shm.path;
    o.capacity = 1 << 20;
    auto p = aerolog::Producer::open("bystander", o);
    for (int i = 0; i < 10; ++i) p.publish(300, "new", 3);
    REQUIRE(wait_until([&] {
      return sc.log().find("do not continue the WAL") != std::string::npos ||
             sc.log().find("seq jump") != std::string::npos;
    }));
  }
  sc.signal(SIGTERM);
  CHECK(sc.wait() == 0);
  WalScan w = read_wal(wal.path + "/bystander");
  CHECK(w.error == "");
  CHECK(w.records.size() == 3000);
}

TEST_CASE("a ring owned by another user and group is refused unless the group matches", "[crash][perm]") {
  if (::geteuid() != 0) {
    WARN("skipped: needs root to create files owned by another user");
    return;
  }
  TempDir shm("/dev/shm"), wal(wal_base());
  {
    aerolog::ProducerOptions o;
    o.shm_dir = shm.path;
    o.capacity = 64 * 1024;
    auto p = aerolog::Producer::open("foreign", o);
    for (int i = 0; i < 10; ++i) p.publish(300, "x", 1);
  }
  REQUIRE(::chown((shm.path + "/aerolog.foreign").c_str(), 65534, 65534) == 0);  // nobody:nogroup
  SidecarProcess sc(shm.path, wal.path);
  REQUIRE(wait_until([&] { return sc.log().find("ready") != std::string::npos; }));
  REQUIRE(wait_until([&] { return sc.log().find("owned by uid 65534") != std::string::npos; }));
  RingConsumer c(shm.path + "/aerolog.foreign");
  CHECK(c.header().durable.durable_seq.load() == 0);                                   // never drained
  REQUIRE(::chown((shm.path + "/aerolog.foreign").c_str(), 65534, ::getegid()) == 0);  // our group now
  REQUIRE(wait_until([&] { return c.header().durable.durable_seq.load() == 10; }));
  sc.signal(SIGTERM);
  CHECK(sc.wait() == 0);
}
