// The hostile neighbour: real users on one box (docs/security.md). The fixture creates a
// sidecar user, two strategy users in the sidecar's group and one outsider; the sidecar runs as its
// own user with umask 0007 (looser than the unit's 0027) on a 3770 shm directory, a victim stream
// keeps publishing as alice, and each attack is mounted from the attacker's account. An attack
// passes when it fails (EACCES) or is refused, the victim's records keep becoming durable in
// their usual time, and what the WAL holds is exactly what alice published.
#include <aerolog/error.hpp>
#include <aerolog/log_decoder.hpp>
#include <aerolog/logger.hpp>
#include <aerolog/producer.hpp>
#include <aerolog/proto/clock.hpp>
#include <aerolog/proto/control.hpp>

#include "proc_util.hpp"
#include "ring_guard.hpp"
#include "ring_consumer.hpp"
#include "shell.hpp"
#include "shm_view.hpp"
#include "sidecar_process.hpp"
#include "wal_reader.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace testutil;
namespace fs = std::filesystem;

namespace {

struct User {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Runs a shell command until it succeeds (useradd from two test processes at once: one finds
// /etc/passwd locked and fails).
void retry(const std::string& cmd) {
  for (int i = 0; std::system(cmd.c_str()) != 0; ++i) {
    if (i == 20) throw std::runtime_error("failed 20 times: " + cmd);
    ::usleep(100'000);
  }
}

// `useradd` if missing (idempotent: the suite runs many times on one machine).
User ensure_user(const std::string& name, const std::string& useradd_args) {
  retry("id -u " + name + " >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin " + useradd_args + " " + name +
        " >/dev/null 2>&1");
  const passwd* pw = ::getpwnam(name.c_str());
  if (!pw) throw std::runtime_error("no user " + name);
  return {name, pw->pw_uid, pw->pw_gid};
}

struct Users {
  gid_t group;
  User sidecar, alice, bob, eve;  // eve is outside the group
};

const Users& users() {
  static const Users u = [] {
    retry("getent group aerolog-t >/dev/null || groupadd -r aerolog-t 2>/dev/null");
    Users x;
    x.group = ::getgrnam("aerolog-t")->gr_gid;
    x.sidecar = ensure_user("aerolog-tsc", "-N -g aerolog-t");
    x.alice = ensure_user("aerolog-talice", "-U -G aerolog-t");
    x.bob = ensure_user("aerolog-tbob", "-U -G aerolog-t");
    x.eve = ensure_user("aerolog-teve", "-U");
    return x;
  }();
  return u;
}

// Becomes `u` (its groups, then its uid) with umask 0007, the strategies' usual; in a child only.
void become(const User& u) {
  if (::initgroups(u.name.c_str(), u.gid) != 0 || ::setgid(u.gid) != 0 || ::setuid(u.uid) != 0) ::_exit(120);
  ::umask(0007);
}

// Runs fn as `u` in a child process; its exit code.
int as(const User& u, const std::function<int()>& fn) {
  return wait_exit(spawn([&] {
    become(u);
    return fn();
  }));
}

// errno of open(path, flags, 0660) as `u` (0: it opened).
int open_errno_as(const User& u, const std::string& path, int flags) {
  return as(u, [&] {
    const int fd = ::open(path.c_str(), flags | O_NONBLOCK | O_CLOEXEC, 0660);
    return fd >= 0 ? 0 : errno;
  });
}

// The box: a 3770 shm directory and a 0750 WAL owned by the sidecar user, the sidecar running as
// that user, and alice's victim stream publishing ~5000 records/s until stop().
struct Box {
  TempDir shm{"/dev/shm"}, wal{wal_base()};
  std::unique_ptr<SidecarProcess> sidecar;
  pid_t victim = -1;
  std::string victim_ring;

  Box() {
    const Users& u = users();
    REQUIRE(::chown(shm.path.c_str(), u.sidecar.uid, u.group) == 0);
    REQUIRE(::chmod(shm.path.c_str(), 03770) == 0);
    REQUIRE(::chown(wal.path.c_str(), u.sidecar.uid, u.group) == 0);
    REQUIRE(::chmod(wal.path.c_str(), 0750) == 0);
    victim_ring = shm.path + "/aerolog.victim";
  }
  ~Box() { stop_victim(); }

  void start_sidecar(std::vector<std::string> extra = {}) {
    sidecar = std::make_unique<SidecarProcess>(shm.path, wal.path, extra, std::vector<std::string>{}, "",
                                               users().sidecar.uid);
    REQUIRE(wait_until([&] { return sidecar->log().find("ready") != std::string::npos; }));
  }
  void start_victim() {
    const std::string dir = shm.path;
    victim = spawn([dir] {
      become(users().alice);
      return publish_until(dir, "victim", 1 << 20, 0, 5000);
    });
    REQUIRE(wait_until([&] {
      struct stat st;
      return ::stat(victim_ring.c_str(), &st) == 0 && st.st_size > 4096 &&
             RingConsumer(victim_ring).header().producer.last_seq.load() >= 100;
    }));
    REQUIRE(victim_ms_to_durable() < 2000);
  }
  void stop_sidecar() {
    sidecar->signal(SIGTERM);
    REQUIRE(sidecar->wait() == 0);
  }
  // A reboot: every file in the shm directory gone.
  void wipe_shm() {
    for (const auto& e : fs::directory_iterator(shm.path)) fs::remove(e.path());
  }
  // Alice publishes the victim's next records through seq `last`, in a process of hers.
  int publish_as_alice(std::uint64_t last) {
    const std::string dir = shm.path;
    return as(users().alice, [&] { return publish_until(dir, "victim", 1 << 20, last); });
  }
  bool victim_durable_reaches(std::uint64_t seq) {
    return wait_until([&] { return RingConsumer(victim_ring).header().durable.durable_seq.load() >= seq; });
  }
  // True if alice's Producer::open of the victim fails with Errc::insecure and `why` in its text.
  bool alice_refused(const char* why) {
    const std::string dir = shm.path;
    return as(users().alice, [&] {
             aerolog::ProducerOptions o;
             o.shm_dir = dir;
             o.capacity = 1 << 20;
             try {
               aerolog::Producer::open("victim", o);
             } catch (const aerolog::Error& e) {
               return e.code() == aerolog::Errc::insecure && std::strstr(e.what(), why) ? 0 : 2;
             }
             return 1;
           }) == 0;
  }
  void stop_victim() {
    if (victim > 0) {
      ::kill(victim, SIGKILL);
      wait_exit(victim);
      victim = -1;
    }
  }

  // How long the records the victim has published now take to become durable (ms; 1e9 if they
  // do not within 5 s). Read as root, through the ring. The tests' bound, 2 s, is far above the
  // usual few ms (an ASan build beside another test measured 515 ms once) and far below what an
  // attack that works costs: a hung drain loop never gets there, a 2 GiB MAP_POPULATE took 3.7 s.
  double victim_ms_to_durable() {
    RingConsumer c(victim_ring);
    const std::uint64_t target = c.header().producer.last_seq.load();
    const auto t0 = std::chrono::steady_clock::now();
    if (!wait_until([&] { return c.header().durable.durable_seq.load() >= target; }, std::chrono::seconds(5)))
      return 1e9;
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }

  // Everything the victim's WAL holds is exactly what it published: seqs 1..n contiguous, each
  // record's payload the one its seq gives, and n reaches the durable_seq the ring showed.
  WalScan check_victim_wal() {
    RingConsumer c(victim_ring);
    const std::uint64_t durable = c.header().durable.durable_seq.load();
    stop_sidecar();
    const WalScan w = read_wal(wal.path + "/victim");
    REQUIRE(w.error.empty());
    REQUIRE(w.records.size() >= durable);
    REQUIRE(durable > 0);
    for (std::size_t i = 0; i < w.records.size(); ++i) {
      REQUIRE(w.records[i].seq == i + 1);
      REQUIRE(w.records[i].payload == payload_for(i + 1));
    }
    return w;
  }
};

bool wal_has(const Box& b, const std::string& stream) { return fs::exists(b.wal.path + "/" + stream); }

}  // namespace

TEST_CASE(
    "hostile neighbour: outsiders are kept out of the shm directory and nothing there hangs or floods the sidecar",
    "[hostile]") {
  if (::geteuid() != 0) FAIL("the hostile-neighbour suite creates users and needs root");
  const Users& u = users();
  Box box;
  box.start_sidecar({"--max-streams-per-user", "8"});
  box.start_victim();

  // Outsider: the directory keeps eve out of everything (finding 1, 2, 3 from outside the group).
  CHECK(open_errno_as(u.eve, box.shm.path + "/aerolog.x", O_RDWR | O_CREAT | O_EXCL) == EACCES);
  CHECK(as(u.eve, [&] { return ::mkfifo((box.shm.path + "/aerolog.x").c_str(), 0666) == 0 ? 0 : errno; }) == EACCES);
  CHECK(open_errno_as(u.eve, box.victim_ring, O_RDONLY) == EACCES);
  CHECK(open_errno_as(u.eve, box.shm.path + "/aerolog-sidecar", O_RDONLY) == EACCES);

  // Finding 1: a FIFO named like a ring (made by a group member here: an outsider cannot) hangs
  // nothing: not the drain loop, not aerologctl status, not a restart.
  REQUIRE(as(u.bob, [&] { return ::mkfifo((box.shm.path + "/aerolog.x").c_str(), 0660) == 0 ? 0 : errno; }) == 0);
  // Finding 2: empty files, and a sparse ring claiming 2 GiB with one page allocated (finding 6),
  // made in a directory of bob's and moved in whole.
  TempDir bobs("/dev/shm");
  REQUIRE(::chown(bobs.path.c_str(), u.bob.uid, u.bob.gid) == 0);
  REQUIRE(as(u.bob, [&] {
            for (int i = 0; i < 120; ++i) {
              const int fd =
                  ::open((box.shm.path + "/aerolog.junk" + std::to_string(i)).c_str(), O_RDWR | O_CREAT | O_EXCL, 0660);
              if (fd < 0) return 1;
              ::close(fd);
            }
            aerolog::ProducerOptions o;
            o.shm_dir = bobs.path;
            o.capacity = 64 * 1024;
            { auto p = aerolog::Producer::open("sparse", o); }
            const int fd = ::open((bobs.path + "/aerolog.sparse").c_str(), O_RDWR);
            aerolog::proto::RingHeader h;
            if (fd < 0 || ::pread(fd, &h, sizeof h, 0) != sizeof h) return 2;
            h.id.capacity = 2ull << 30;
            h.id.max_frame = 1 << 20;
            if (::pwrite(fd, &h, sizeof h, 0) != sizeof h || ::fchown(fd, -1, users().group) != 0 ||
                ::fchmod(fd, 0660) != 0 || ::ftruncate(fd, 4096) != 0 || ::ftruncate(fd, 4096 + (2ll << 30)) != 0)
              return 3;
            return ::rename((bobs.path + "/aerolog.sparse").c_str(), (box.shm.path + "/aerolog.sparse").c_str());
          }) == 0);
  ::usleep(300'000);  // a few scans
  CHECK(box.victim_ms_to_durable() < 2000);
  CHECK_FALSE(wal_has(box, "x"));
  CHECK_FALSE(wal_has(box, "junk0"));
  CHECK_FALSE(wal_has(box, "junk119"));
  CHECK_FALSE(wal_has(box, "sparse"));
  CHECK(box.sidecar->log().find("sparse ring") != std::string::npos);
  struct stat st;
  REQUIRE(::stat((box.shm.path + "/aerolog.sparse").c_str(), &st) == 0);
  CHECK(st.st_blocks * 512 < (1 << 20));  // the sidecar did not fill it by mapping it

  // Caps: bob's 20 valid rings, 8 served (--max-streams-per-user 8), the rest refused and counted.
  REQUIRE(as(u.bob, [&] {
            aerolog::ProducerOptions o;
            o.shm_dir = box.shm.path;
            o.capacity = 64 * 1024;
            for (int i = 0; i < 20; ++i) {
              auto p = aerolog::Producer::open("bob" + std::to_string(i), o);
              if (!p.publish(300, "b", 1)) return 1;
            }
            return 0;
          }) == 0);
  REQUIRE(wait_until([&] {
    int n = 0;
    for (int i = 0; i < 20; ++i) n += wal_has(box, "bob" + std::to_string(i));
    return n == 8;
  }));
  ::usleep(200'000);
  int served = 0;
  for (int i = 0; i < 20; ++i) served += wal_has(box, "bob" + std::to_string(i));
  CHECK(served == 8);
  {
    RingConsumer ctl(box.shm.path + "/aerolog-sidecar");  // the control block, as aerologctl reads it
    const auto* cb = reinterpret_cast<const aerolog::proto::ControlBlock*>(&ctl.header());
    CHECK(cb->rings_rejected.load() >= 12 + 1);  // bob's 12 over the cap, the sparse ring
  }
  CHECK(box.sidecar->log().find("--max-streams-per-user") != std::string::npos);

  // aerologctl status (root) answers beside the FIFO and lists it as unreadable.
  const auto t0 = std::chrono::steady_clock::now();
  const std::string cmd =
      std::string("timeout 10 ") + AEROLOGCTL_BIN + " --shm-dir " + box.shm.path + " status --json > /dev/null";
  CHECK(WEXITSTATUS(std::system(cmd.c_str())) == 1);  // NOT HEALTHY: bob's unreadable rings; not 124 (timeout)
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  CHECK(box.victim_ms_to_durable() < 2000);

  // A restart beside all of it: READY, the victim continues.
  box.stop_sidecar();
  box.start_sidecar({"--max-streams-per-user", "8"});
  CHECK(box.victim_ms_to_durable() < 2000);
  CHECK_FALSE(wal_has(box, "x"));
  box.stop_victim();
  box.check_victim_wal();
}

TEST_CASE("hostile neighbour: a ring, clock page or control block another user prepared is never trusted",
          "[hostile]") {
  if (::geteuid() != 0) FAIL("the hostile-neighbour suite creates users and needs root");
  const Users& u = users();
  Box box;

  // Before the sidecar starts (after every reboot): bob forges a clock page an hour ahead, and
  // hard-links alice's ring to the control block's name (finding 5): alice shares this ring with
  // the group (mode 0660, as every ring was before), so the kernel lets bob link it.
  REQUIRE(as(u.alice, [&] {
            aerolog::ProducerOptions o;
            o.shm_dir = box.shm.path;
            o.capacity = 64 * 1024;
            o.mode = 0660;
            auto p = aerolog::Producer::open("alice", o);
            for (std::uint64_t s = 1; s <= 10; ++s)
              if (!p.publish(300, payload_for(s).data(), static_cast<std::uint32_t>(payload_for(s).size()))) return 1;
            return 0;
          }) == 0);
  REQUIRE(as(u.bob, [&] {
            const int fd = ::open((box.shm.path + "/aerolog-clock").c_str(), O_RDWR | O_CREAT | O_EXCL, 0664);
            if (fd < 0 || ::ftruncate(fd, aerolog::proto::kClockSize) != 0) return 1;
            aerolog::proto::ClockPage pg{};
            pg.anchor_tsc.store(__builtin_ia32_rdtsc());
            pg.anchor_ns.store(aerolog::TscClock::realtime_ns() + 3600'000'000'000ull);
            pg.mult.store(1ull << 32);
            pg.version.store(aerolog::proto::kClockVersion);
            pg.magic.store(aerolog::proto::kClockMagic);
            if (::pwrite(fd, &pg, sizeof pg, 0) != sizeof pg) return 2;
            return ::link((box.shm.path + "/aerolog.alice").c_str(), (box.shm.path + "/aerolog-sidecar").c_str()) == 0
                       ? 0
                       : 3;
          }) == 0);

  // A producer does not follow a clock page the sidecar did not write.
  REQUIRE(as(u.alice, [&] {
            aerolog::ProducerOptions o;
            o.shm_dir = box.shm.path;
            o.capacity = 64 * 1024;
            auto p = aerolog::Producer::open("clockcheck", o);
            const std::uint64_t now = aerolog::TscClock::realtime_ns();
            const std::uint64_t ts = p.now();
            return ts < now + 5'000'000'000ull ? 0 : 1;
          }) == 0);

  // Finding 3: bob squats the victim's name; alice's producer refuses it (it would have handed
  // bob every record and let him forge durable_seq).
  REQUIRE(as(u.bob, [&] {
            const int fd = ::open(box.victim_ring.c_str(), O_RDWR | O_CREAT | O_EXCL, 0660);
            return fd >= 0 ? 0 : 1;
          }) == 0);
  CHECK(box.alice_refused("was created by uid"));
  REQUIRE(::unlink(box.victim_ring.c_str()) == 0);  // the operator removes it

  // Bob makes the sidecar's lock file his own and holds a flock on it, to keep the sidecar from
  // ever starting: the sidecar unlinks it and locks a file of its own, which bob cannot open.
  const std::string lock = box.shm.path + "/" + aerolog::proto::kShmLockName;
  int held[2];
  REQUIRE(::pipe(held) == 0);
  const pid_t squatter = spawn([&] {
    become(u.bob);
    const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_EXCL, 0644);
    const char ok = fd >= 0 && ::flock(fd, LOCK_EX) == 0 ? 1 : 0;
    if (::write(held[1], &ok, 1) != 1) return 1;
    ::pause();
    return 0;
  });
  char squatted = 0;
  REQUIRE(::read(held[0], &squatted, 1) == 1);
  REQUIRE(squatted == 1);

  box.start_sidecar();
  struct stat lock_st;
  REQUIRE(::stat(lock.c_str(), &lock_st) == 0);
  CHECK(lock_st.st_uid == u.sidecar.uid);
  CHECK((lock_st.st_mode & 07777) == 0600);
  CHECK(open_errno_as(u.bob, lock, O_RDONLY) == EACCES);
  ::kill(squatter, SIGKILL);
  wait_exit(squatter);
  ::close(held[0]);
  ::close(held[1]);
  // The sidecar replaced both names instead of using them: alice's ring is untouched (a hard link
  // to it was unlinked, not truncated), the clock page and the control block are the sidecar's.
  struct stat st;
  REQUIRE(::stat((box.shm.path + "/aerolog-sidecar").c_str(), &st) == 0);
  CHECK(st.st_uid == u.sidecar.uid);
  CHECK((st.st_mode & 07777) == 0644);
  REQUIRE(::stat((box.shm.path + "/aerolog-clock").c_str(), &st) == 0);
  CHECK(st.st_uid == u.sidecar.uid);
  CHECK((st.st_mode & 0022) == 0);
  REQUIRE(::stat((box.shm.path + "/aerolog.alice").c_str(), &st) == 0);
  CHECK(st.st_nlink == 1);
  REQUIRE(wait_until([&] { return wal_has(box, "alice"); }));
  REQUIRE(wait_until(
      [&] { return RingConsumer(box.shm.path + "/aerolog.alice").header().durable.durable_seq.load() == 10; }));
  // Finding 8: nobody but the sidecar writes the control block or its log.
  CHECK(open_errno_as(u.bob, box.shm.path + "/aerolog-sidecar", O_RDWR) == EACCES);
  CHECK(open_errno_as(u.bob, box.shm.path + "/aerolog-clock", O_RDWR) == EACCES);
  for (const auto& e : fs::directory_iterator(box.wal.path))
    if (e.path().extension() == ".log") {
      REQUIRE(::stat(e.path().c_str(), &st) == 0);
      CHECK((st.st_mode & 0777) == 0640);
      CHECK(open_errno_as(u.bob, e.path(), O_WRONLY) == EACCES);
    }
  // The producers follow the sidecar's clock page now: timestamps are the real time.
  box.start_victim();
  box.stop_victim();
  const std::uint64_t now = aerolog::TscClock::realtime_ns();
  const WalScan w = box.check_victim_wal();
  CHECK(w.records.back().ts < now + 1'000'000'000ull);
  CHECK(w.records.back().ts + 10'000'000'000ull > now);
}

TEST_CASE("hostile neighbour: a group member can neither read, write nor take over another user's stream",
          "[hostile]") {
  if (::geteuid() != 0) FAIL("the hostile-neighbour suite creates users and needs root");
  const Users& u = users();
  Box box;
  box.start_sidecar();
  box.start_victim();
  // Alice's ring is hers (0600) with an ACL entry for the sidecar: bob, in the same group, can
  // neither read it, nor write its durable_seq, nor hard-link it anywhere.
  CHECK(open_errno_as(u.bob, box.victim_ring, O_RDONLY) == EACCES);
  CHECK(open_errno_as(u.bob, box.victim_ring, O_RDWR) == EACCES);
  CHECK(as(u.bob, [&] {
          return ::link(box.victim_ring.c_str(), (box.shm.path + "/aerolog.stolen").c_str()) == 0 ? 0 : errno;
        }) == EPERM);
  CHECK(as(u.bob, [&] { return ::truncate(box.victim_ring.c_str(), 0) == 0 ? 0 : errno; }) == EACCES);
  CHECK(as(u.bob, [&] { return ::unlink(box.victim_ring.c_str()) == 0 ? 0 : errno; }) == EPERM);  // sticky
  box.stop_victim();
  REQUIRE(box.victim_ms_to_durable() < 2000);
  const std::uint64_t n = RingConsumer(box.victim_ring).header().durable.durable_seq.load();
  REQUIRE(n >= 100);

  // A reboot wipes the shm directory; bob is first and makes a ring for alice's stream whose
  // seqs continue her WAL (he knows where it ends): it is never drained into her WAL.
  box.stop_sidecar();
  box.wipe_shm();
  REQUIRE(as(u.bob, [&] {
            aerolog::ProducerOptions o;
            o.shm_dir = box.shm.path;
            o.capacity = 1 << 20;
            o.mode = 0660;  // shared with the group, as a ring the sidecar may read must be without an ACL
            { auto p = aerolog::Producer::open("victim", o); }
            const int fd = ::open(box.victim_ring.c_str(), O_RDWR);
            aerolog::proto::RingHeader h;
            if (fd < 0 || ::pread(fd, &h, sizeof h, 0) != sizeof h) return 1;
            h.durable.durable_seq.store(n);
            h.producer.last_seq.store(n);
            if (::pwrite(fd, &h, sizeof h, 0) != sizeof h) return 2;
            ::close(fd);
            auto p = aerolog::Producer::open("victim", o);
            for (int i = 0; i < 10; ++i)
              if (!p.publish(300, "bob!", 4)) return 3;
            return p.last_seq() == n + 10 ? 0 : 4;
          }) == 0);
  box.start_sidecar();
  REQUIRE(wait_until(
      [&] { return box.sidecar->log().find("belongs to uid " + std::to_string(u.alice.uid)) != std::string::npos; }));
  ::usleep(200'000);
  CHECK(RingConsumer(box.victim_ring).header().durable.durable_seq.load() == n);  // nothing of bob's acknowledged
  // The operator removes bob's ring; at the next start the sidecar makes the continuation ring,
  // alice's alone (and the sidecar's): bob cannot open it, alice continues her stream at n + 1.
  box.stop_sidecar();
  REQUIRE(::unlink(box.victim_ring.c_str()) == 0);
  box.start_sidecar();
  REQUIRE(wait_until([&] { return ::access(box.victim_ring.c_str(), F_OK) == 0; }));
  struct stat st;
  REQUIRE(::stat(box.victim_ring.c_str(), &st) == 0);
  CHECK(st.st_uid == u.sidecar.uid);
  CHECK(open_errno_as(u.bob, box.victim_ring, O_RDONLY) == EACCES);
  CHECK(open_errno_as(u.alice, box.victim_ring, O_RDWR) == 0);
  box.start_victim();
  REQUIRE(wait_until([&] { return RingConsumer(box.victim_ring).header().durable.durable_seq.load() > n + 100; }));
  box.stop_victim();
  const WalScan w = box.check_victim_wal();  // 1..end contiguous, every payload alice's: none of bob's
  CHECK(w.records.size() > n);
}

TEST_CASE("hostile neighbour: a WAL with no recorded owner gets a continuation ring nobody else can open",
          "[hostile]") {
  if (::geteuid() != 0) FAIL("the hostile-neighbour suite creates users and needs root");
  const Users& u = users();
  Box box;
  box.start_sidecar();
  REQUIRE(box.publish_as_alice(100) == 0);
  REQUIRE(box.victim_durable_reaches(100));
  const std::string owner = box.wal.path + "/victim/owner";
  CHECK(SidecarProcess::read_file(owner) == std::to_string(u.alice.uid) + "\n");
  box.stop_sidecar();
  // A reboot, with a WAL from before owners were recorded: the continuation ring is the sidecar's
  // alone, and alice is told what to do.
  box.wipe_shm();
  REQUIRE(::unlink(owner.c_str()) == 0);
  box.start_sidecar();
  REQUIRE(wait_until([&] { return ::access(box.victim_ring.c_str(), F_OK) == 0; }));
  CHECK(open_errno_as(u.bob, box.victim_ring, O_RDONLY) == EACCES);
  CHECK(box.alice_refused("does not know the owner yet"));
  // The operator names the owner; the next continuation ring is alice's to open, seqs go on.
  box.stop_sidecar();
  REQUIRE(::unlink(box.victim_ring.c_str()) == 0);
  { std::ofstream(owner) << u.alice.uid << "\n"; }
  box.start_sidecar();
  REQUIRE(wait_until([&] { return ::access(box.victim_ring.c_str(), F_OK) == 0; }));
  REQUIRE(box.publish_as_alice(200) == 0);
  REQUIRE(box.victim_durable_reaches(200));
  CHECK(open_errno_as(u.bob, box.victim_ring, O_RDONLY) == EACCES);
  box.check_victim_wal();
}

TEST_CASE("hostile neighbour: aerologctl adopt, run by root, leaves no fd on the ring to anyone", "[hostile]") {
  if (::geteuid() != 0) FAIL("the hostile-neighbour suite creates users and needs root");
  const Users& u = users();
  Box box;
  const std::string dir = box.shm.path;
  // 1000 records durable, then a reboot with alice's strategy first: her new ring (seqs 1..500)
  // is refused, and adopt is the way out (docs/operating.md, "After a reboot").
  box.start_sidecar();
  REQUIRE(box.publish_as_alice(1000) == 0);
  REQUIRE(box.victim_durable_reaches(1000));
  box.stop_sidecar();
  box.wipe_shm();
  REQUIRE(box.publish_as_alice(500) == 0);
  box.start_sidecar();
  REQUIRE(wait_until([&] { return RingConsumer(box.victim_ring).header().sidecar.state.load() == 3; }));

  // Bob prepares every name adopt's copy had (.aerolog-adopt-<pid>, for the next 400 pids) and
  // keeps each open read-write, waiting to hold the live ring after adopt's rename.
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  std::uint64_t last_pid = 0;
  if (FILE* f = std::fopen("/proc/sys/kernel/ns_last_pid", "r")) {
    if (std::fscanf(f, "%lu", &last_pid) != 1) last_pid = 0;
    std::fclose(f);
  }
  const pid_t bob = spawn([&] {
    become(u.bob);
    int made = 0;
    for (std::uint64_t p = last_pid + 1; p <= last_pid + 400; ++p)
      made += ::open((dir + "/.aerolog-adopt-" + std::to_string(p)).c_str(), O_RDWR | O_CREAT | O_EXCL, 0666) >= 0;
    if (::write(ready[1], &made, sizeof made) != sizeof made) return 1;
    ::pause();
    return 0;
  });
  int made = 0;
  REQUIRE(::read(ready[0], &made, sizeof made) == sizeof made);
  CHECK(made == 400);
  const Run adopt = sh(std::string(AEROLOGCTL_BIN) + " --shm-dir " + dir + " adopt victim");
  CHECK(adopt.rc == 0);
  CHECK(adopt.out.find("renumbered 500") != std::string::npos);
  struct stat ring;
  REQUIRE(::stat(box.victim_ring.c_str(), &ring) == 0);
  int held = 0, fds = 0;
  for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(bob) + "/fd")) {
    struct stat st;
    if (::stat(e.path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      ++fds;
      held += st.st_ino == ring.st_ino && st.st_dev == ring.st_dev;
    }
  }
  ::kill(bob, SIGKILL);
  wait_exit(bob);
  CHECK(fds >= 400);
  CHECK(held == 0);  // no fd of bob's is the adopted ring
  CHECK(ring.st_uid == u.alice.uid);
  CHECK(open_errno_as(u.bob, box.victim_ring, O_RDONLY) == EACCES);  // alice's still: her ACL came along
  REQUIRE(box.victim_durable_reaches(1500));
  box.stop_sidecar();
  const WalScan w = read_wal(box.wal.path + "/victim");
  REQUIRE(w.error.empty());
  REQUIRE(w.records.size() == 1500);
  for (std::size_t i = 0; i < w.records.size(); ++i) {
    REQUIRE(w.records[i].seq == i + 1);
    REQUIRE(w.records[i].payload == payload_for(i < 1000 ? i + 1 : i + 1 - 1000));
  }
}

TEST_CASE("hostile neighbour: a ring truncated under aerologctl or aerolog-ship reads as zeros, never SIGBUS",
          "[hostile]") {
  // Its producer can shrink its ring at any time; the readers map rings through common::Mapping
  // with the SIGBUS guard both programs install at start.
  TempDir shm("/dev/shm");
  {
    aerolog::ProducerOptions o;
    o.shm_dir = shm.path;
    o.capacity = 64 * 1024;
    auto p = aerolog::Producer::open("t", o);
    REQUIRE(p.publish(300, "x", 1));
  }
  CHECK(wait_exit(spawn([&] {
          aerolog::common::guard::install();
          auto rings = aerolog::common::read_rings(shm.path, false, true);
          if (rings.size() != 1 || !rings[0].h) return 1;
          if (::truncate(rings[0].path.c_str(), 0) != 0) return 2;
          const std::uint64_t magic = rings[0].h->id.magic.load();  // past the end: SIGBUS unguarded
          const auto far = std::to_integer<unsigned>(rings[0].map->data()[rings[0].map->size() - 1]);
          return magic == 0 && far == 0 ? 0 : 3;
        })) == 0);
}

TEST_CASE("hostile neighbour: every program refuses a shm directory others could write", "[hostile]") {
  if (::geteuid() != 0) FAIL("the hostile-neighbour suite creates users and needs root");
  TempDir shm("/dev/shm"), wal(wal_base());
  REQUIRE(::chmod(shm.path.c_str(), 01777) == 0);  // as /dev/shm itself
  aerolog::ProducerOptions o;
  o.shm_dir = shm.path;
  o.capacity = 64 * 1024;
  try {
    aerolog::Producer::open("s", o);
    FAIL("opened a ring in a world-writable directory");
  } catch (const aerolog::Error& e) {
    CHECK(e.code() == aerolog::Errc::insecure);
    CHECK(std::string(e.what()).find("writable by every user") != std::string::npos);
  }
  SidecarProcess sc(shm.path, wal.path);
  CHECK(sc.wait() == 1);
  CHECK(sc.log().find("writable by every user") != std::string::npos);
  REQUIRE(::chmod(shm.path.c_str(), 0770) == 0);  // group-writable without the sticky bit
  CHECK_THROWS_AS(aerolog::Producer::open("s", o), aerolog::Error);
  REQUIRE(::chmod(shm.path.c_str(), 03770) == 0);
  CHECK_NOTHROW(aerolog::Producer::open("s", o));
}

TEST_CASE("hostile neighbour: a format spec's width or precision is capped for every reader", "[hostile][logger]") {
  // Finding 7: a LogSite asking for 2e9 columns, literal and from arguments, renders as a format
  // error at once in aerologctl cat and in the Python reader, instead of 2 GB per event.
  TempDir shm("/dev/shm"), wal(wal_base());
  SidecarProcess sc(shm.path, wal.path);
  REQUIRE(wait_exit(spawn([&] {
            aerolog::LoggerOptions o;
            o.ring.shm_dir = shm.path;
            auto log = aerolog::Logger::open("fw", o);
            AEROLOG_INFO(log, "wide {:>2000000000}", 1);
            AEROLOG_INFO(log, "dynamic {:>{}}|{:.{}f}", 1, 2000000000, 1.5, 2000000000);
            AEROLOG_INFO(log, "fine {:>8}|{:.{}f}", 7, 1.25, 3);
            AEROLOG_INFO(log, "esc {}", std::string_view("\x1b]0;pwned\x07\x1b[2J\r\xc2\x9b\xff!"));
            return 0;
          })) == 0);
  const std::string dir = wal.path + "/fw.t1";
  REQUIRE(wait_until([&] {
    if (::access((shm.path + "/aerolog.fw.t1").c_str(), F_OK) != 0) return false;
    RingConsumer c(shm.path + "/aerolog.fw.t1");
    const std::uint64_t last = c.header().producer.last_seq.load();
    return last >= 8 && c.header().durable.durable_seq.load() >= last;
  }));
  for (const std::string& reader :
       {std::string(AEROLOGCTL_BIN) + " cat " + dir, std::string("python3 " AEROLOG_SCRIPTS "/alog.py cat ") + dir}) {
    const auto t0 = std::chrono::steady_clock::now();
    const Run r = sh("timeout 20 " + reader);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
    CHECK(r.rc == 0);
    CHECK(r.out.size() < 4096);
    CHECK(r.out.find("wide {:>2000000000} [format error: a width or precision of 2000000000") != std::string::npos);
    CHECK(r.out.find("dynamic {:>{}}|{:.{}f} [format error: a width or precision of 2000000000 from argument 1") !=
          std::string::npos);
    CHECK(r.out.find("fine        7|1.250") != std::string::npos);
    // A terminal is sent no control character a record holds: each shows as \xNN.
    CHECK(r.out.find("esc \\x1b]0;pwned\\x07\\x1b[2J\\x0d\\xc2\\x9b\xff!") != std::string::npos);
    CHECK(r.out.find('\x1b') == std::string::npos);
  }
  // The C++ and Python readers print the same bytes; JSON stays valid (the byte that is not
  // UTF-8 becomes U+FFFD), its control characters escaped.
  CHECK(sh(std::string(AEROLOGCTL_BIN) + " cat --format csv " + dir).out ==
        sh(std::string("python3 " AEROLOG_SCRIPTS "/alog.py cat ") + dir).out);
  const Run json = sh(std::string(AEROLOGCTL_BIN) + " cat --format json " + dir);
  REQUIRE(json.rc == 0);
  CHECK(json.out.find("\"esc \\u001b]0;pwned\\u0007\\u001b[2J\\u000d\xc2\x9b\\ufffd!\"") != std::string::npos);
}
