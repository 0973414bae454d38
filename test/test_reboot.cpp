// Reboots (a wiped /dev/shm beside a surviving WAL) in both start orders, and recovery that knows
// what was acknowledged: a damaged block below, at and above a surviving ring's durable_seq.
// Real sidecar processes, real publisher processes, real files.
#include <aerolog/producer.hpp>
#include <aerolog/proto/ring.hpp>
#include <aerolog/proto/segment.hpp>

#include <catch2/catch.hpp>

#include "proc_util.hpp"
#include "ring_consumer.hpp"
#include "shell.hpp"
#include "sidecar_process.hpp"
#include "wal_reader.hpp"

#include <fstream>

using namespace testutil;

namespace {

constexpr std::uint64_t kCap = 1 << 20;

// What a reboot does to the shm directory: every ring and the control block are gone.
void wipe(const std::string& shm) {
  std::system(("rm -f '" + shm + "'/aerolog.* '" + shm + "'/aerolog-sidecar").c_str());
}

std::uint64_t durable(const std::string& ring) { return RingConsumer(ring).header().durable.durable_seq.load(); }

// Runs a sidecar until `last` is durable on `stream`, then stops it cleanly.
void publish_durably(const std::string& shm, const std::string& wal, const std::string& stream, std::uint64_t last) {
  SidecarProcess sc(shm, wal);
  REQUIRE(wait_exit(spawn_publisher(shm, stream, kCap, last)) == 0);
  REQUIRE(wait_until([&] { return durable(shm + "/aerolog." + stream) == last; }));
  sc.signal(SIGTERM);
  REQUIRE(sc.wait() == 0);
}

// seqs 1..n, each with the payload the publisher gave `payload_seq(seq)`.
template <class F>
void check_wal(const std::string& dir, std::uint64_t n, F payload_seq) {
  const WalScan w = read_wal(dir);
  CHECK(w.error == "");
  REQUIRE(w.records.size() == n);
  for (std::uint64_t i = 0; i < n; ++i) {
    REQUIRE(w.records[i].seq == i + 1);
    REQUIRE(w.records[i].payload == payload_for(payload_seq(i + 1)));
  }
}

std::string ctl(const std::string& shm) { return std::string(AEROLOGCTL_BIN) + " --shm-dir " + shm + " "; }

}  // namespace

TEST_CASE("reboot, sidecar first: the stream continues at the WAL's last seq + 1 with no operator action", "[reboot]") {
  TempDir shm("/dev/shm"), wal(wal_base());
  publish_durably(shm.path, wal.path, "feed", 1000);
  wipe(shm.path);
  SidecarProcess sc(shm.path, wal.path);
  // Ready means the ring is back (retired, seqs continuing the WAL) before any strategy starts.
  REQUIRE(wait_until([&] { return sc.log().find("ready") != std::string::npos; }));
  CHECK_THAT(sc.log(), Catch::Contains("continuing the WAL at seq 1001"));
  REQUIRE(::access((shm.path + "/aerolog.feed").c_str(), F_OK) == 0);
  REQUIRE(wait_exit(spawn_publisher(shm.path, "feed", kCap, 2000)) == 0);  // publishes from the ring's next seq
  REQUIRE(wait_until([&] { return durable(shm.path + "/aerolog.feed") == 2000; }));
  const Run flush = sh(ctl(shm.path) + "flush");
  CHECK(flush.rc == 0);
  CHECK_THAT(flush.out, Catch::Contains("durable seq 2000"));
  sc.signal(SIGTERM);
  REQUIRE(sc.wait() == 0);
  check_wal(wal.path + "/feed", 2000, [](std::uint64_t s) { return s; });
}

TEST_CASE("reboot, strategy first: never a false ack, and aerologctl adopt renumbers and loses nothing", "[reboot]") {
  TempDir shm("/dev/shm"), wal(wal_base());
  publish_durably(shm.path, wal.path, "feed", 1000);
  wipe(shm.path);
  // The strategy comes up first: a new ring, seqs 1..500, none of them on disk.
  REQUIRE(wait_exit(spawn_publisher(shm.path, "feed", kCap, 500)) == 0);
  const std::string ring = shm.path + "/aerolog.feed";
  {
    SidecarProcess sc(shm.path, wal.path);
    REQUIRE(wait_until([&] { return sc.log().find("do not continue the WAL") != std::string::npos; }));
    RingConsumer c(ring);
    REQUIRE(wait_until([&] { return c.header().sidecar.state.load() == 3; }));  // RingState::refused
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));               // a recheck happens meanwhile
    CHECK(c.header().durable.durable_seq.load() == 0);
    CHECK(c.header().consumer.read_pos.load() == 0);
    {
      aerolog::ProducerOptions o;
      o.shm_dir = shm.path;
      o.capacity = kCap;
      auto p = aerolog::Producer::open("feed", o);
      CHECK(p.last_seq() == 500);
      CHECK_FALSE(p.wait_durable(500, std::chrono::milliseconds(200)));
      CHECK_FALSE(p.wait_durable(1, std::chrono::milliseconds(10)));
    }
    const Run flush = sh(ctl(shm.path) + "flush");
    CHECK(flush.rc == 1);
    CHECK_THAT(flush.out, Catch::Contains("REFUSED") && Catch::Contains("do not continue the WAL"));
    const Run status = sh(ctl(shm.path) + "status");
    CHECK(status.rc == 1);
    CHECK_THAT(status.out, Catch::Contains("REFUSED") && Catch::Contains("aerologctl adopt"));

    // The way out: renumber the ring's unacknowledged records to follow the WAL.
    const Run adopt = sh(ctl(shm.path) + "adopt feed");
    CHECK(adopt.rc == 0);
    CHECK_THAT(adopt.out, Catch::Contains("renumbered 500") && Catch::Contains("1001..1500"));
    RingConsumer c2(ring);
    REQUIRE(wait_until([&] { return c2.header().durable.durable_seq.load() == 1500; }));
    REQUIRE(wait_exit(spawn_publisher(shm.path, "feed", kCap, 1600)) == 0);  // the next producer continues
    REQUIRE(wait_until([&] { return c2.header().durable.durable_seq.load() == 1600; }));
    CHECK(sh(ctl(shm.path) + "adopt feed").rc == 1);  // not refused any more: nothing to adopt
    sc.signal(SIGTERM);
    REQUIRE(sc.wait() == 0);
  }
  check_wal(wal.path + "/feed", 1600, [](std::uint64_t s) { return s <= 1000 ? s : s <= 1500 ? s - 1000 : s; });
}

TEST_CASE("adopt refuses while the producer runs and for a stream that is not refused", "[reboot]") {
  TempDir shm("/dev/shm"), wal(wal_base());
  aerolog::ProducerOptions o;
  o.shm_dir = shm.path;
  o.capacity = kCap;
  auto p = aerolog::Producer::open("live", o);
  const Run busy = sh(ctl(shm.path) + "adopt live");
  CHECK(busy.rc == 1);
  CHECK_THAT(busy.out, Catch::Contains("stop the producer first"));
  const Run missing = sh(ctl(shm.path) + "adopt nosuch");
  CHECK(missing.rc == 1);
  CHECK_THAT(missing.out, Catch::Contains("no ring for stream 'nosuch'"));
}

namespace {

struct Block {
  std::uint64_t off, first, last;
};

// Block offsets of a segment, read with the tests' own decoder rules (FORMAT.md 5).
std::vector<Block> blocks_of(const std::string& path) {
  const std::string b = read_all(path);
  std::vector<Block> out;
  for (std::size_t off = 4096; off + 64 <= b.size();) {
    aerolog::proto::BlockHeader h;
    std::memcpy(&h, b.data() + off, sizeof h);
    if (h.magic != aerolog::proto::kBlockMagic) break;
    out.push_back({off, h.first_seq, h.last_seq});
    off += (h.length + 4095) & ~std::size_t{4095};
  }
  return out;
}

void flip_byte(const std::string& path, std::uint64_t off) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(off));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(static_cast<std::streamoff>(off));
  f.write(&c, 1);
}

// A WAL of 5 blocks (one per burst of 100 records, each made durable before the next), the ring
// kept as a sidecar killed with SIGKILL left it: durable_seq 500.
struct DamageRig {
  TempDir shm{"/dev/shm"}, wal{wal_base()};
  std::string seg;
  std::vector<Block> blocks;
  DamageRig() {
    SidecarProcess sc(shm.path, wal.path);
    for (std::uint64_t last = 100; last <= 500; last += 100) {
      REQUIRE(wait_exit(spawn_publisher(shm.path, "s", kCap, last)) == 0);
      REQUIRE(wait_until([&] { return durable(shm.path + "/aerolog.s") == last; }));
    }
    sc.signal(SIGKILL);
    sc.wait();
    seg = wal.path + "/s/" + segment_files(wal.path + "/s").back();
    blocks = blocks_of(seg);
    REQUIRE(blocks.size() >= 5);
  }
  // Flips a payload byte of the block holding `seq` (its CRC then fails; its header is intact).
  void damage(std::uint64_t seq) {
    for (const Block& b : blocks)
      if (b.first <= seq && seq <= b.last) return flip_byte(seg, b.off + 64 + 30);
    FAIL("no block holds seq " << seq);
  }
};

}  // namespace

TEST_CASE("recovery never zeroes a damaged block holding an acknowledged seq", "[reboot][recovery]") {
  const bool keep_ring = GENERATE(true, false);
  const std::uint64_t where = GENERATE(250, 500);  // below and at the ring's durable_seq (500)
  CAPTURE(keep_ring, where);
  DamageRig r;
  r.damage(where);
  if (!keep_ring) wipe(r.shm.path);
  const std::string before = read_all(r.seg);
  SidecarProcess sc(r.shm.path, r.wal.path);
  REQUIRE(wait_until([&] { return sc.log().find("ready") != std::string::npos; }));
  const bool last_block = where == 500;
  if (!keep_ring && last_block) {
    // No ring, nothing after it: nothing says seq 500's block was acknowledged. A torn tail.
    CHECK_THAT(sc.log(), Catch::Contains("torn tail"));
    CHECK(read_wal(r.wal.path + "/s").records.size() == r.blocks.back().first - 1);
  } else {
    CHECK_THAT(sc.log(), Catch::Contains("not served"));
    CHECK(read_all(r.seg) == before);  // the bytes are kept
    if (keep_ring) {
      RingConsumer c(r.shm.path + "/aerolog.s");
      REQUIRE(wait_until([&] { return c.header().sidecar.state.load() == 3; }));
      CHECK(c.header().durable.durable_seq.load() == 500);
    }
  }
  sc.signal(SIGTERM);
  CHECK(sc.wait() == 0);
}

TEST_CASE("a damaged block above the ring's durable_seq is a torn tail: zeroed and rewritten from the ring",
          "[reboot][recovery]") {
  TempDir shm("/dev/shm"), wal(wal_base());
  {
    SidecarProcess sc(shm.path, wal.path);
    REQUIRE(wait_exit(spawn_publisher(shm.path, "s", kCap, 100)) == 0);
    REQUIRE(wait_until([&] { return durable(shm.path + "/aerolog.s") == 100; }));
    sc.signal(SIGKILL);
    sc.wait();
  }
  {  // the next block is written, then the sidecar dies before its HWM store
    SidecarProcess sc(shm.path, wal.path, {}, {"AEROLOG_FAILPOINTS=after_write_complete=1"});
    REQUIRE(wait_exit(spawn_publisher(shm.path, "s", kCap, 200)) == 0);
    sc.wait();
  }
  REQUIRE(durable(shm.path + "/aerolog.s") == 100);
  const std::string seg = wal.path + "/s/" + segment_files(wal.path + "/s").back();
  const auto blocks = blocks_of(seg);
  REQUIRE(blocks.size() >= 2);
  REQUIRE(blocks.back().first > 100);
  flip_byte(seg, blocks.back().off + 64 + 30);
  SidecarProcess sc(shm.path, wal.path);
  REQUIRE(wait_until([&] { return durable(shm.path + "/aerolog.s") == 200; }));
  CHECK_THAT(sc.log(), Catch::Contains("torn tail"));
  sc.signal(SIGTERM);
  REQUIRE(sc.wait() == 0);
  check_wal(wal.path + "/s", 200, [](std::uint64_t s) { return s; });
}
