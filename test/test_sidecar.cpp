// The real aerolog-sidecar process against real producer processes, real files, real signals.
#include <catch2/catch.hpp>

#include "proc_util.hpp"
#include "ring_consumer.hpp"
#include "shell.hpp"
#include "sidecar_process.hpp"
#include "wal_reader.hpp"

#include <atomic>
#include <memory>
#include <random>
#include <thread>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

using namespace testutil;

namespace {

struct Dirs {
  TempDir shm{"/dev/shm"};
  TempDir wal{"/tmp"};
  std::string ring(const std::string& s) const { return shm.path + "/aerolog." + s; }
  std::string stream(const std::string& s) const { return wal.path + "/" + s; }
};

// Read-only view of a ring header (the test's own mapping).
struct RingWatch {
  RingConsumer c;
  explicit RingWatch(const std::string& path) : c(path) {}
  std::uint64_t durable() { return c.header().durable.durable_seq.load(); }
  std::uint64_t last() { return c.header().producer.last_seq.load(); }
  bool drained() {
    auto& h = c.header();
    return h.consumer.read_pos.load() == h.producer.write_pos.load();
  }
};

void check_wal(const WalScan& w, std::uint64_t first, std::uint64_t last) {
  REQUIRE(w.error == "");
  REQUIRE(w.records.size() == last - first + 1);
  for (std::uint64_t i = 0; i < w.records.size(); ++i) {
    const auto& r = w.records[i];
    REQUIRE(r.seq == first + i);
    REQUIRE(r.type == type_for(r.seq));
    REQUIRE(r.payload == payload_for(r.seq));
  }
}

bool exists(const std::string& p) { return ::access(p.c_str(), F_OK) == 0; }

}  // namespace

TEST_CASE("end to end: several producer processes, every record durable exactly once", "[sidecar]") {
  Dirs d;
  SidecarProcess sc(d.shm.path, d.wal.path);
  const std::uint64_t n = 200'000;
  const char* names[] = {"alpha", "beta", "gamma"};
  std::vector<pid_t> kids;
  for (const char* s : names) kids.push_back(spawn_publisher(d.shm.path, s, 256 * 1024, n));
  for (pid_t k : kids) REQUIRE(wait_exit(k) == 0);
  for (const char* s : names) {
    RingWatch w(d.ring(s));
    REQUIRE(wait_until([&] { return w.durable() == n && w.drained(); }));
  }
  sc.signal(SIGTERM);
  REQUIRE(sc.wait() == 0);
  for (const char* s : names) {
    WalScan w = read_wal(d.stream(s));
    check_wal(w, 1, n);
    CHECK(w.segments.size() > 1);  // 4 MiB segments: it rolled
  }
  CHECK_THAT(sc.log(), Catch::Contains("every ring drained and synced"));
}

TEST_CASE("kill -9 of the sidecar at random moments loses nothing and never moves the HWM back", "[sidecar][crash]") {
  const char* mode = GENERATE("dsync", "fdatasync");
  Dirs d;
  const std::uint64_t cap = 512 * 1024;  // small: the producer is held back while the sidecar is down
  pid_t producer = spawn_publisher(d.shm.path, "s", cap, 2'000'000);  // bounded: ~130 MB of WAL at most
  REQUIRE(wait_until([&] { return exists(d.ring("s")); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  RingWatch ring(d.ring("s"));
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> max_hwm{0}, backwards{0};
  std::thread monitor([&] {
    while (!stop) {
      const std::uint64_t h = ring.durable();
      if (h < max_hwm) ++backwards;
      if (h > max_hwm) max_hwm = h;
    }
  });
  std::mt19937_64 rng(Catch::rngSeed() + (mode[0] == 'f'));
  const int cycles = 25;
  for (int i = 0; i < cycles; ++i) {
    SidecarProcess sc(d.shm.path, d.wal.path, {"--durability", mode});
    std::this_thread::sleep_for(std::chrono::milliseconds(10 + rng() % 150));
    sc.signal(SIGKILL);
    REQUIRE(sc.wait() == 128 + SIGKILL);
  }
  ::kill(producer, SIGKILL);
  wait_exit(producer);
  {
    SidecarProcess sc(d.shm.path, d.wal.path, {"--durability", mode});
    const bool drained = wait_until([&] { return ring.drained() && sc.log().find("ready") != std::string::npos; });
    sc.signal(SIGTERM);
    const int rc = sc.wait();
    stop = true;
    monitor.join();
    REQUIRE(drained);
    REQUIRE(rc == 0);
  }
  WalScan w = read_wal(d.stream("s"));
  REQUIRE(!w.records.empty());
  const std::uint64_t last = w.records.back().seq;
  check_wal(w, 1, last);
  CHECK(last == ring.durable());
  CHECK(last >= max_hwm);  // every HWM ever published is covered
  CHECK(backwards == 0);
  CHECK(max_hwm > 1000);  // the test did make progress
  INFO("mode " << mode << ": " << cycles << " kills, " << last << " records");
}

TEST_CASE("a torn unacknowledged block is zeroed and its records come back from the ring", "[sidecar][recovery]") {
  Dirs d;
  const std::uint64_t n = 5000;
  {
    SidecarProcess sc(d.shm.path, d.wal.path);
    REQUIRE(wait_exit(spawn_publisher(d.shm.path, "t", 1 << 20, n)) == 0);
    RingWatch w(d.ring("t"));
    REQUIRE(wait_until([&] { return w.durable() == n; }));
    sc.signal(SIGTERM);
    REQUIRE(sc.wait() == 0);
  }
  // More records while no sidecar runs: in the ring only.
  REQUIRE(wait_exit(spawn_publisher(d.shm.path, "t", 1 << 20, n + 3000)) == 0);
  // Fake a torn write: the first page of the last good block copied to the next free slot.
  const auto segs = segment_files(d.stream("t"));
  const std::string seg = d.stream("t") + "/" + segs.back();
  std::string bytes = read_all(seg);
  std::size_t off = 4096, last_block = 0;
  while (true) {
    aerolog::proto::BlockHeader h;
    std::memcpy(&h, bytes.data() + off, sizeof h);
    if (h.magic != aerolog::proto::kBlockMagic) break;
    last_block = off;
    off += (h.length + 4095) & ~std::size_t{4095};
  }
  REQUIRE(last_block > 0);
  {
    std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(off));
    f.write(bytes.data() + last_block, 4096);
  }
  SidecarProcess sc(d.shm.path, d.wal.path);
  RingWatch w(d.ring("t"));
  REQUIRE(wait_until([&] { return w.durable() == n + 3000; }));
  sc.signal(SIGTERM);
  REQUIRE(sc.wait() == 0);
  CHECK_THAT(sc.log(), Catch::Contains("torn tail at offset " + std::to_string(off)));
  check_wal(read_wal(d.stream("t")), 1, n + 3000);
}

TEST_CASE("hand-damaged segments: truncation and a zeroed page are torn tails, a flipped bit mid-log is refused",
          "[sidecar][recovery]") {
  Dirs d;
  const std::uint64_t n = 20'000;
  {
    SidecarProcess sc(d.shm.path, d.wal.path, {"--max-block", "65536"});
    std::vector<pid_t> kids;
    for (const char* s : {"a", "b"}) kids.push_back(spawn_publisher(d.shm.path, s, 1 << 20, n));
    for (pid_t k : kids) REQUIRE(wait_exit(k) == 0);
    for (const char* s : {"a", "b"}) {
      RingWatch w(d.ring(s));
      REQUIRE(wait_until([&] { return w.durable() == n; }));
    }
    sc.signal(SIGTERM);
    REQUIRE(sc.wait() == 0);
  }
  const std::string seg_a = d.stream("a") + "/" + segment_files(d.stream("a")).back();
  // Offsets of the blocks in a's last segment, and the middle byte of each one's frames.
  std::vector<std::pair<std::size_t, std::uint64_t>> blocks;  // offset, first seq
  std::vector<std::size_t> middles;
  {
    std::string bytes = read_all(seg_a);
    for (std::size_t off = 4096;;) {
      aerolog::proto::BlockHeader h;
      std::memcpy(&h, bytes.data() + off, sizeof h);
      if (h.magic != aerolog::proto::kBlockMagic) break;
      blocks.push_back({off, h.first_seq});
      middles.push_back(off + aerolog::proto::kBlockHeaderSize + (h.length - aerolog::proto::kBlockHeaderSize) / 2);
      off += (h.length + 4095) & ~std::size_t{4095};
    }
  }
  REQUIRE(blocks.size() >= 4);

  SECTION("flip a bit in the middle of the log: stream refused, bytes kept, other streams served") {
    // Inside the frames (a fixed +200 could fall in the zero padding of a short block, which no
    // check covers: the sidecar then rightly found nothing wrong).
    const std::size_t victim = middles[blocks.size() / 2];
    std::string before = read_all(seg_a);
    before[victim] ^= 0x10;
    { std::ofstream(seg_a, std::ios::binary | std::ios::in | std::ios::out).seekp(0) << before; }
    SidecarProcess sc(d.shm.path, d.wal.path);
    REQUIRE(wait_exit(spawn_publisher(d.shm.path, "b", 1 << 20, n + 100)) == 0);
    RingWatch b(d.ring("b"));
    REQUIRE(wait_until([&] { return b.durable() == n + 100; }));
    RingWatch a(d.ring("a"));
    REQUIRE(wait_until([&] { return a.c.header().sidecar.state.load() != 0; }));
    CHECK(std::string(a.c.header().sidecar.error).find("corruption") != std::string::npos);
    sc.signal(SIGTERM);
    CHECK(sc.wait() == 0);
    CHECK_THAT(sc.log(), Catch::Contains("mid-log corruption"));
    CHECK(read_all(seg_a) == before);  // never repaired silently
    check_wal(read_wal(d.stream("b")), 1, n + 100);
  }
  SECTION("truncate mid-block / zero a page of the last block: torn tail, the WAL keeps the prefix") {
    const auto [last_off, last_first] = blocks.back();
    if (GENERATE(0, 1) == 0) {
      REQUIRE(::truncate(seg_a.c_str(), static_cast<off_t>(last_off + 100)) == 0);
    } else {
      std::string bytes = read_all(seg_a);  // the header survives, the rest of its first page is gone
      std::memset(bytes.data() + last_off + 64, 0, 4096 - 64);
      std::ofstream(seg_a, std::ios::binary | std::ios::in | std::ios::out) << bytes;
    }
    ::unlink(d.ring("a").c_str());  // as after a reboot: the ring is gone too
    SidecarProcess sc(d.shm.path, d.wal.path);
    REQUIRE(wait_until([&] { return sc.log().find("ready") != std::string::npos; }));
    sc.signal(SIGTERM);
    REQUIRE(sc.wait() == 0);
    CHECK_THAT(sc.log(), Catch::Contains("torn tail at offset " + std::to_string(last_off)));
    check_wal(read_wal(d.stream("a")), 1, last_first - 1);
  }
}

TEST_CASE("a second sidecar on the same WAL directory refuses to start", "[sidecar]") {
  Dirs d;
  SidecarProcess first(d.shm.path, d.wal.path);
  REQUIRE(wait_until([&] { return first.log().find("ready") != std::string::npos; }));
  SidecarProcess second(d.shm.path, d.wal.path);
  CHECK(second.wait() == 1);
  CHECK_THAT(second.log(), Catch::Contains("another aerolog-sidecar (pid " + std::to_string(first.pid()) + ")"));
  first.signal(SIGTERM);
  CHECK(first.wait() == 0);
}

TEST_CASE("a second sidecar on the same shm directory with another WAL refuses to start and touches nothing",
          "[sidecar]") {
  Dirs d;
  TempDir wal2{"/tmp"};
  auto first = std::make_unique<SidecarProcess>(d.shm.path, d.wal.path);
  REQUIRE(wait_exit(spawn_publisher(d.shm.path, "app", 1 << 20, 1000)) == 0);
  RingWatch ring(d.ring("app"));
  REQUIRE(wait_until([&] { return ring.durable() == 1000; }));
  const std::string control_before = SidecarProcess::read_file(d.shm.path + "/aerolog-sidecar");

  SidecarProcess second(d.shm.path, wal2.path);
  CHECK(second.wait() == 1);
  CHECK_THAT(second.log(), Catch::Contains("another aerolog-sidecar (pid " + std::to_string(first->pid()) +
                                           ") is using " + d.shm.path));
  auto& h = ring.c.header();
  CHECK(h.sidecar.state.load() == 0);
  CHECK(std::string(h.sidecar.error) == "");
  CHECK(h.sidecar.sidecar_pid.load() == static_cast<std::uint32_t>(first->pid()));
  const std::string control_after = SidecarProcess::read_file(d.shm.path + "/aerolog-sidecar");
  CHECK(control_after.substr(0, 24) == control_before.substr(0, 24));  // magic, version, pid, start: the first's
  CHECK_FALSE(exists(wal2.path + "/app"));

  // The wrong WAL refuses the ring and says why in it; the right one, started again, clears that.
  first->signal(SIGTERM);
  REQUIRE(first->wait() == 0);
  first.reset();
  {
    SidecarProcess wrong(d.shm.path, wal2.path);
    REQUIRE(wait_until([&] { return h.sidecar.state.load() == 3; }));
    CHECK_THAT(std::string(h.sidecar.error), Catch::Contains("is empty"));
    wrong.signal(SIGTERM);
    REQUIRE(wrong.wait() == 0);
  }
  SidecarProcess right(d.shm.path, d.wal.path);
  REQUIRE(wait_until([&] { return h.sidecar.state.load() == 0 && h.sidecar.error[0] == 0; }));
  CHECK(h.sidecar.error_errno.load() == 0);
  REQUIRE(wait_exit(spawn_publisher(d.shm.path, "app", 1 << 20, 1500)) == 0);
  REQUIRE(wait_until([&] { return ring.durable() == 1500; }));
  right.signal(SIGTERM);
  REQUIRE(right.wait() == 0);
  check_wal(read_wal(d.stream("app")), 1, 1500);
}

TEST_CASE("a producer that comes back after the ring was retired continues its seqs", "[sidecar]") {
  Dirs d;
  SidecarProcess sc(d.shm.path, d.wal.path, {"--retire-grace", "0"});
  REQUIRE(wait_exit(spawn_publisher(d.shm.path, "r", 1 << 20, 1000)) == 0);
  struct stat st;
  REQUIRE(wait_until([&] { return ::stat(d.ring("r").c_str(), &st) == 0 && st.st_size == 4096; }));
  REQUIRE(wait_exit(spawn_publisher(d.shm.path, "r", 1 << 20, 2500)) == 0);
  REQUIRE(wait_until([&] { return ::stat(d.ring("r").c_str(), &st) == 0 && st.st_size == 4096; }));
  sc.signal(SIGTERM);
  REQUIRE(sc.wait() == 0);
  check_wal(read_wal(d.stream("r")), 1, 2500);
  CHECK_THAT(sc.log(), Catch::Contains("retired"));
}

TEST_CASE("sd_notify: READY after recovery, STATUS, WATCHDOG from the loop, STOPPING on SIGTERM",
          "[sidecar][systemd]") {
  Dirs d;
  const std::string sock = d.wal.path + "/notify.sock";
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock.c_str());
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  timeval tv{0, 100'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::vector<std::string> got;
  auto read_for = [&](std::chrono::milliseconds span) {
    const auto until = std::chrono::steady_clock::now() + span;
    char buf[4096];
    while (std::chrono::steady_clock::now() < until) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) got.emplace_back(buf, static_cast<std::size_t>(n));
    }
  };
  auto count = [&](const std::string& what) {
    return std::count_if(got.begin(), got.end(),
                         [&](const std::string& m) { return m.find(what) != std::string::npos; });
  };
  SidecarProcess sc(d.shm.path, d.wal.path, {}, {"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=200000"});
  read_for(std::chrono::milliseconds(1500));
  REQUIRE(count("READY=1") == 1);
  CHECK(got.front().find("READY=1") != std::string::npos);  // nothing before recovery is done
  CHECK(count("STATUS=") >= 2);
  CHECK(count("streams") >= 2);
  CHECK(count("WATCHDOG=1") >= 5);  // every WatchdogSec/2 = 100 ms
  CHECK(count("STOPPING=1") == 0);
  sc.signal(SIGTERM);
  read_for(std::chrono::milliseconds(300));
  CHECK(count("STOPPING=1") == 1);
  CHECK(sc.wait() == 0);
  ::close(fd);
}

TEST_CASE("bad flags or config give one clear line and exit 2", "[sidecar]") {
  Dirs d;
  const std::string cfg = d.wal.path + "/bad.toml";
  auto run = [&](std::vector<std::string> args) {
    std::string cmd = std::string(AEROLOG_SIDECAR_BIN) + " --shm-dir " + d.shm.path + " --wal-dir " + d.wal.path;
    for (auto& a : args) cmd += " " + a;
    cmd += " 2>&1";
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    const int st = ::pclose(p);
    return std::make_pair(WEXITSTATUS(st), out);
  };
  std::ofstream(cfg) << "depth = 4\nwal_dirr = \"/x\"\n";
  auto [rc1, out1] = run({"--config", cfg});
  CHECK(rc1 == 2);
  CHECK(std::count(out1.begin(), out1.end(), '\n') == 1);
  CHECK_THAT(out1, Catch::Contains(cfg + ":2: unknown key 'wal_dirr' (did you mean 'wal-dir'?)"));
  std::ofstream(cfg) << "# comment\n\ndepth = 99\n";
  auto [rc2, out2] = run({"--config", cfg});
  CHECK(rc2 == 2);
  CHECK_THAT(out2, Catch::Contains(cfg + ":3: --depth"));
  std::ofstream(cfg) << "depth = 4\n[sidecar]\nidle = \"spin\"\n";
  CHECK_THAT(run({"--config", cfg}).second, Catch::Contains(cfg + ":2: [sidecar]: this file has no sections"));
  std::ofstream(cfg) << "wal-dir = /x\n";
  CHECK_THAT(run({"--config", cfg}).second, Catch::Contains(cfg + ":1: not valid TOML"));
  std::ofstream(cfg) << "segment-size = \"64Q\"\n";
  CHECK_THAT(run({"--config", cfg}).second, Catch::Contains(cfg + ":1: --segment-size: '64Q' is not a size"));
  CHECK_THAT(run({"--retire-grace", "1500ms"}).second, Catch::Contains("'1500ms' is not a whole number of s"));
  // The example configs installed to /etc/aerolog are valid as shipped.
  const std::string systemd = std::string(AEROLOG_SCRIPTS) + "/../systemd/";
  const Run example = sh(std::string(AEROLOG_SIDECAR_BIN) + " --config " + systemd + "sidecar.toml --check-config");
  CHECK(example.rc == 0);
  CHECK_THAT(example.out, Catch::Contains("configuration valid: shm /dev/shm/aerolog, WAL /var/lib/aerolog, "
                                          "durability dsync, segments 4194304 to 67108864 bytes"));
  const Run ship = sh(std::string(AEROLOG_SHIP_BIN) + " --config " + systemd +
                      "ship.toml --nats-url nats://127.0.0.1:4222 --check-config");
  CHECK(ship.rc == 0);
  CHECK_THAT(ship.out, Catch::Contains("configuration valid"));
  auto [rc3, out3] = run({"--durability", "maybe"});
  CHECK(rc3 == 2);
  CHECK_THAT(out3, Catch::Contains("'maybe' is not one of dsync, fdatasync, none"));
  auto [rc4, out4] = run({"--segment-size", "1048576"});
  CHECK(rc4 == 2);
  CHECK_THAT(out4, Catch::Contains("too small"));
  auto [rc5, out5] = run({"--help"});
  CHECK(rc5 == 0);
  CHECK_THAT(out5, Catch::Contains("--retention-bytes"));
}

TEST_CASE("a TOML config with sizes and durations, and the directories from the environment, are what the sidecar uses",
          "[sidecar]") {
  Dirs d;
  const std::string cfg = d.wal.path + "/sidecar.toml";
  std::ofstream(cfg) << "# as an operator writes it\nsegment-size = \"16M\"\nmin-segment-size = \"4M\"\n"
                        "retire-grace = \"2m\"\n"
                        "scan-interval-ms = \"1s\"\nidle = \"Sleep\"\n";
  const std::string wal = d.wal.path + "/from-env";
  SidecarProcess sc(d.shm.path, wal, {"--config", cfg, "--segment-size", "8M", "--min-segment-size", "8M"});
  REQUIRE(wait_exit(spawn_publisher(d.shm.path, "cfg", 1 << 20, 100)) == 0);
  RingWatch ring(d.ring("cfg"));
  REQUIRE(wait_until([&] { return ring.durable() == 100; }));
  struct stat st;
  REQUIRE(::stat((wal + "/cfg/00000000000000000001.alog").c_str(), &st) == 0);
  CHECK(st.st_size == 8 << 20);  // the flag beats the file
  sc.signal(SIGTERM);
  REQUIRE(sc.wait() == 0);
  CHECK_THAT(sc.log(), Catch::Contains("idle sleep"));

  // No --shm-dir nor --wal-dir: AEROLOG_SHM_DIR and AEROLOG_WAL_DIR give them.
  const std::string log = d.wal.path + "/env.log";
  const Run r = sh("AEROLOG_SHM_DIR=" + d.shm.path + " AEROLOG_WAL_DIR=" + wal + " timeout 60 " + AEROLOG_SIDECAR_BIN +
                   " --config " + cfg + " --log-file " + log + " & pid=$!; for i in $(seq 1000); do grep -q ready " +
                   log + " 2>/dev/null && break; sleep 0.05; done; kill -TERM $pid; wait $pid");
  CHECK(r.rc == 0);
  CHECK_THAT(SidecarProcess::read_file(log), Catch::Contains("shm " + d.shm.path + ", WAL " + wal + ","));
}

TEST_CASE("segments start small and double with each roll: a quiet stream costs little disk, a busy one grows",
          "[sidecar]") {
  Dirs d;
  SidecarProcess sc(d.shm.path, d.wal.path, {"--segment-size", "16M", "--max-block", "64K"});
  REQUIRE(wait_exit(spawn_publisher(d.shm.path, "quiet", 1 << 20, 100)) == 0);
  REQUIRE(wait_exit(spawn_publisher(d.shm.path, "busy", 4 << 20, 400'000)) == 0);
  RingWatch quiet(d.ring("quiet")), busy(d.ring("busy"));
  REQUIRE(wait_until([&] { return quiet.durable() == 100 && busy.durable() == 400'000; }));
  auto sizes = [&](const std::string& s) {
    std::vector<std::uint64_t> out;
    for (const auto& f : segment_files(d.stream(s))) {
      struct stat st;
      REQUIRE(::stat((d.stream(s) + "/" + f).c_str(), &st) == 0);
      out.push_back(static_cast<std::uint64_t>(st.st_size));
    }
    return out;
  };
  auto disk = [&](const std::string& s) {  // allocated bytes of every file of the stream, the spare too
    std::uint64_t total = 0;
    for (const auto& e : std::filesystem::directory_iterator(d.stream(s))) {
      struct stat st;
      if (::stat(e.path().c_str(), &st) == 0) total += static_cast<std::uint64_t>(st.st_blocks) * 512;
    }
    return total;
  };
  constexpr std::uint64_t M = 1 << 20;
  CHECK(sizes("quiet") == std::vector<std::uint64_t>{4 * M});
  REQUIRE(wait_until([&] { return exists(d.stream("quiet") + "/.spare.alog"); }));
  CHECK(disk("quiet") <= 12 * M + 64 * 1024);  // its 4 MiB segment and an 8 MiB spare: not 2 x 16 MiB
  const auto grown = sizes("busy");
  INFO("busy: " << grown.size() << " segments");
  REQUIRE(grown.size() >= 4);
  CHECK(std::vector<std::uint64_t>(grown.begin(), grown.begin() + 4) ==
        std::vector<std::uint64_t>{4 * M, 8 * M, 16 * M, 16 * M});
  sc.signal(SIGTERM);
  REQUIRE(sc.wait() == 0);
  check_wal(read_wal(d.stream("busy")), 1, 400'000);
}

TEST_CASE("hostile ring contents quarantine that stream only", "[sidecar]") {
  Dirs d;
  SidecarProcess sc(d.shm.path, d.wal.path);
  REQUIRE(wait_exit(spawn_publisher(d.shm.path, "bad", 1 << 20, 100)) == 0);
  RingWatch bad(d.ring("bad"));
  REQUIRE(wait_until([&] { return bad.durable() == 100; }));
  // Scribble: a frame whose length points far outside the ring, then publish past it.
  auto& h = bad.c.header();
  const std::uint64_t w = h.producer.write_pos.load();
  auto* frame = reinterpret_cast<unsigned char*>(&h) + 4096 + (w & (h.id.capacity - 1));
  const std::uint32_t huge = 0x7FFFFFF8;
  std::memcpy(frame, &huge, 4);
  h.producer.write_pos.store(w + 64);
  REQUIRE(wait_until([&] { return h.sidecar.state.load() == 1; }));
  CHECK(std::string(h.sidecar.error).find("bad frame") != std::string::npos);
  CHECK(bad.durable() == 100);  // nothing past the bad frame was taken
  // Another stream is unaffected.
  REQUIRE(wait_exit(spawn_publisher(d.shm.path, "good", 1 << 20, 5000)) == 0);
  RingWatch good(d.ring("good"));
  REQUIRE(wait_until([&] { return good.durable() == 5000; }));
  sc.signal(SIGTERM);
  CHECK(sc.wait() == 0);
  check_wal(read_wal(d.stream("good")), 1, 5000);
  check_wal(read_wal(d.stream("bad")), 1, 100);
}

TEST_CASE("disk full: the ring backs up, the error shows, nothing is lost, it resumes when space returns",
          "[sidecar][enospc]") {
  Dirs d;
  const std::string img = d.wal.path + "/disk.img", mnt = d.wal.path + "/mnt";
  ::mkdir(mnt.c_str(), 0755);
  const std::string mk =
      "truncate -s 48M " + img + " && mkfs.ext4 -q -F " + img + " && mount -o loop " + img + " " + mnt;
  if (std::system((mk + " 2>/dev/null").c_str()) != 0) {
    WARN("skipped: cannot loop-mount an ext4 image here (needs root and loop devices)");
    return;
  }
  struct Unmount {
    std::string m;
    ~Unmount() { std::system(("umount -l " + m).c_str()); }
  } unmount{mnt};
  // Leave ~14 MiB: room for the first two 4 MiB segments and a spare, not for the next.
  REQUIRE(std::system(
              ("fallocate -l $(( $(df --output=avail -B1 " + mnt + " | tail -1) - 14*1024*1024 )) " + mnt + "/filler")
                  .c_str()) == 0);
  const std::string wal = mnt + "/wal";
  ::mkdir(wal.c_str(), 0750);
  SidecarProcess sc(d.shm.path, wal, {}, {}, d.wal.path);  // the log is not on the full disk
  const std::uint64_t n = 300'000;                         // ~25 MiB of frames: more than fits
  pid_t producer = spawn_publisher(d.shm.path, "full", 1 << 20, n);
  REQUIRE(wait_until([&] { return exists(d.ring("full")); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  RingWatch ring(d.ring("full"));
  auto& h = ring.c.header();
  REQUIRE(wait_until([&] { return h.sidecar.state.load() == 2; }));  // io_error
  CHECK(std::string(h.sidecar.error).find("No space left") != std::string::npos);
  const std::uint64_t stalled = ring.durable();
  CHECK(stalled < n);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(ring.durable() == stalled);  // the HWM does not move while the disk is full
  CHECK(h.producer.write_pos.load() - h.consumer.read_pos.load() > (1 << 20) - 4096);  // backpressure
  ::unlink((mnt + "/filler").c_str());
  REQUIRE(wait_exit(producer) == 0);
  REQUIRE(wait_until([&] { return ring.durable() == n; }));
  CHECK(h.sidecar.state.load() == 0);
  sc.signal(SIGTERM);
  REQUIRE(sc.wait() == 0);
  check_wal(read_wal(wal + "/full"), 1, n);
  CHECK_THAT(sc.log(), Catch::Contains("No space left"));
  CHECK_THAT(sc.log(), Catch::Contains("retrying from seq"));
}

TEST_CASE("the default idle strategy does not burn a core on an idle machine", "[sidecar]") {
  Dirs d;
  SidecarProcess sc(d.shm.path, d.wal.path);
  REQUIRE(wait_exit(spawn_publisher(d.shm.path, "idle", 1 << 20, 1000)) == 0);
  RingWatch w(d.ring("idle"));
  REQUIRE(wait_until([&] { return w.durable() == 1000; }));
  auto cpu_ticks = [&] {
    std::string stat = SidecarProcess::read_file("/proc/" + std::to_string(sc.pid()) + "/stat");
    unsigned long ut = 0, st = 0;
    std::sscanf(stat.c_str() + stat.rfind(')') + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
    return ut + st;
  };
  const unsigned long before = cpu_ticks();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const double share = double(cpu_ticks() - before) / double(::sysconf(_SC_CLK_TCK)) / 2.0;
  INFO("idle sidecar CPU share " << share);
  CHECK(share < 0.2);
  sc.signal(SIGTERM);
  CHECK(sc.wait() == 0);
}
