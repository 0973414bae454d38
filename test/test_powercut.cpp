// The power-cut suite. The real sidecar runs on aerolog-cutfs (test/cutfs: a FUSE filesystem
// that keeps what is durable apart from what is merely written) while real producer processes
// publish and a monitor records every durable_seq they could see; a thread writes aerolog-ship
// checkpoints through the shipper's own code; in half the cuts retention recycles segments. Then the power is cut: the
// filesystem writes out states a disk could hold (the durable state, plus any subset of the sectors of each write not
// yet durable, plus a prefix of the namespace operations not yet durable; the extremes too).
// Each image is recovered by the real sidecar on a plain directory and must hold, per stream, a
// contiguous run of seqs (from 1, or from the oldest segment retention kept) with byte-identical
// payloads reaching every durable_seq seen; each checkpoint must be at least the last one whose
// write returned. Some images are recovered on cutfs again and cut during that recovery.
//
// AEROLOG_POWERCUT_CUTS (default 8) and AEROLOG_POWERCUT_IMAGES (default 24 per cut) set the size:
// 8 x (24 + 6 during recovery) = 240 images. Soak: AEROLOG_POWERCUT_CUTS=100.
#include <catch2/catch.hpp>

#include "cutfs_client.hpp"
#include "proc_util.hpp"
#include "ring_consumer.hpp"
#include "ship_checkpoint.hpp"
#include "sidecar_process.hpp"
#include "wal_reader.hpp"

#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <thread>

using namespace testutil;

namespace {

const std::string kSegment = "2162688";  // the smallest segment the default max block allows: many rolls

struct Plan {
  std::string durability;
  unsigned streams;
  unsigned run_ms;  // publishing time before the cut
  bool retention;   // retention keeps two segments: it recycles one at each roll, deletes by age every 10 s
  unsigned rate;    // records/s per producer
};

// What producers and the shipper could have seen acknowledged before the cut.
struct Seen {
  std::map<std::string, std::uint64_t> durable;  // the highest durable_seq seen per stream
  std::uint64_t checkpoint = 0;                  // the last checkpoint seq whose write returned
};

std::string stream_name(unsigned i) { return "pc" + std::to_string(i); }

bool exited(SidecarProcess& sc, int& rc) {
  int st = 0;
  if (::waitpid(sc.pid(), &st, WNOHANG) != sc.pid()) return false;
  sc.forget();
  rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return true;
}

// Recovers `image` with the real sidecar on a fresh shm (a power cut empties /dev/shm too) and
// checks the invariant. `where` names the image in failure messages. True if recovery repaired
// a torn tail (so the suite can say how often the images exercised that).
bool check_image(const std::string& image, const Seen& seen, const std::string& where) {
  bool torn = false;
  INFO("image " << where << " (" << image << ")");
  TempDir shm("/dev/shm");
  {
    SidecarProcess sc(shm.path, image + "/wal", {"--segment-size", kSegment}, {}, image);
    int rc = -1;
    REQUIRE(wait_until([&] { return sc.log().find("ready") != std::string::npos || exited(sc, rc); }));
    INFO(sc.log());
    REQUIRE(rc == -1);  // still running: recovery did not fail
    CHECK(sc.log().find("not served") == std::string::npos);
    torn = sc.log().find("torn tail") != std::string::npos;
    sc.signal(SIGTERM);
    REQUIRE(sc.wait() == 0);
  }
  for (const auto& [s, durable] : seen.durable) {
    INFO("stream " << s << ", durable_seq seen " << durable);
    const WalScan w = read_wal(image + "/wal/" + s);
    REQUIRE(w.error == "");
    if (durable == 0) continue;
    REQUIRE(!w.records.empty());
    const std::uint64_t first = std::stoull(w.segments.front().substr(0, 20));  // 1 unless retention deleted
    for (std::uint64_t i = 0; i < w.records.size(); ++i) {
      const Record& r = w.records[i];
      REQUIRE(r.seq == first + i);
      REQUIRE(r.type == type_for(r.seq));
      REQUIRE(r.payload == payload_for(r.seq));
    }
    REQUIRE(w.records.back().seq >= durable);
  }
  if (seen.checkpoint) {
    const auto c = aerolog::common::read_checkpoint(aerolog::common::checkpoint_path(image + "/ship", "sink", "pc0"));
    REQUIRE(c.has_value());
    CHECK(c->seq >= seen.checkpoint);
  }
  return torn;
}

// Runs the plan on cutfs over `root`/backing and cuts the power; returns the images and adds
// the segments retention recycled to `recycled`.
std::vector<std::string> run_and_cut(const Plan& p, const std::string& root, unsigned images, std::uint64_t seed,
                                     Seen& seen, unsigned& recycled) {
  TempDir shm("/dev/shm");
  CutFs fs(root + "/backing", root + "/mnt", 300, seed);
  std::vector<std::string> extra = {"--durability",     p.durability,
                                    "--segment-size",   kSegment,
                                    "--ship-state-dir", ""};  // retention by size alone, not by this host's sinks
  if (p.retention) extra.insert(extra.end(), {"--retention-bytes", "4325376"});  // two sealed segments
  SidecarProcess sc(shm.path, fs.mount() + "/wal", extra, {}, root);             // its log stays off the cut filesystem
  REQUIRE(wait_until([&] { return sc.log().find("ready") != std::string::npos; }));
  std::vector<pid_t> producers;
  for (unsigned i = 0; i < p.streams; ++i) {
    seen.durable[stream_name(i)] = 0;
    producers.push_back(spawn_publisher(shm.path, stream_name(i), 1 << 20, 0, p.rate));
  }
  std::atomic<bool> stop{false};
  std::thread monitor([&] {
    std::map<std::string, std::unique_ptr<RingConsumer>> rings;
    while (!stop) {
      for (auto& [s, max] : seen.durable) {
        if (!rings.count(s)) {
          if (::access((shm.path + "/aerolog." + s).c_str(), F_OK) != 0) continue;
          try {  // no Catch2 in this thread; a ring still being sized is tried again
            rings.emplace(s, std::make_unique<RingConsumer>(shm.path + "/aerolog." + s));
          } catch (const std::exception&) {
            continue;
          }
        }
        max = std::max(max, rings.at(s)->header().durable.durable_seq.load());
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  std::uint64_t checkpoint = 0;
  std::thread shipper([&] {  // aerolog-ship's checkpoint writes (write, fsync, rename, fsync dir)
    for (std::uint64_t seq = 1; !stop; ++seq) {
      try {
        aerolog::common::write_checkpoint(fs.mount() + "/ship", "sink", "pc0", {seq, seq, 0, {}});
        checkpoint = seq;
      } catch (const std::exception&) {
        break;  // the power is off
      }
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(p.run_ms));
  const std::vector<std::string> out = fs.cut(root + "/cut", images, seed);
  stop = true;  // only now: a durable_seq published right up to the cut counts
  monitor.join();
  shipper.join();
  seen.checkpoint = checkpoint;
  INFO(fs.stats());
  for (pid_t pid : producers) ::kill(pid, SIGKILL), wait_exit(pid);
  sc.signal(SIGKILL);
  sc.wait();
  const std::string log = sc.log();
  for (auto at = log.find("retention recycles"); at != std::string::npos; at = log.find("retention recycles", at + 1))
    ++recycled;
  return out;
}

// Recovers `image` (a copy) on cutfs and cuts the power at a random moment of that recovery.
std::vector<std::string> cut_during_recovery(const std::string& image, const std::string& root, unsigned images,
                                             std::uint64_t seed) {
  REQUIRE(std::system(("cp -a --sparse=always '" + image + "' '" + root + "/rbacking'").c_str()) == 0);
  TempDir shm("/dev/shm");
  CutFs fs(root + "/rbacking", root + "/rmnt", 300, seed);
  SidecarProcess sc(shm.path, fs.mount() + "/wal", {"--segment-size", kSegment}, {}, root);
  std::mt19937_64 rng(seed);
  std::this_thread::sleep_for(std::chrono::microseconds(rng() % 60'000));
  const std::vector<std::string> out = fs.cut(root + "/rcut", images, seed);
  sc.signal(SIGKILL);
  sc.wait();
  return out;
}

}  // namespace

TEST_CASE("power cuts under load: every image recovers every acknowledged record, byte for byte", "[powercut]") {
  if (!CutFs::available()) {
    WARN("SKIPPED: /dev/fuse or aerolog-cutfs is not usable here: the power-cut suite did not run");
    return;
  }
  const unsigned cuts = env_uint("AEROLOG_POWERCUT_CUTS", 8),
                 images = std::max(2u, env_uint("AEROLOG_POWERCUT_IMAGES", 24));
  const std::uint64_t base_seed = env_uint("AEROLOG_POWERCUT_SEED", 20261126);
  std::mt19937_64 rng(base_seed);
  unsigned checked = 0, during_recovery = 0, torn = 0, recycled = 0;
  for (unsigned c = 0; c < cuts; ++c) {
    // The first two run past the first retention pass (start + 10 s); the rest cut at random
    // moments. Every other cut recycles segments at 40K records/s (a roll about every second).
    const bool recycling = c % 2 == 1;
    Plan p{c % 2 ? "fdatasync" : "dsync", c < 2 ? 3u : 2u, c < 2 ? 11'000u : 300 + static_cast<unsigned>(rng() % 2500),
           c < 2 || recycling, recycling ? 40'000u : 10'000u};
    const std::uint64_t seed = base_seed + c;
    CAPTURE(c, p.durability, p.streams, p.run_ms, p.retention, p.rate, seed);
    TempDir root(wal_base());
    Seen seen;
    const auto out = run_and_cut(p, root.path, images, seed, seen, recycled);
    REQUIRE(out.size() == images);
    for (const auto& [s, d] : seen.durable) CHECK(d > 0);  // the cut came while records were durable
    for (std::size_t i = 0; i < out.size(); ++i, ++checked)
      torn += check_image(out[i], seen, std::to_string(c) + "/" + std::to_string(i));
    const std::string victim = out[out.size() > 2 ? 2 + rng() % (out.size() - 2) : 1];  // a random image
    const auto again = cut_during_recovery(victim, root.path, std::max(2u, images / 4), seed);
    for (std::size_t i = 0; i < again.size(); ++i, ++checked, ++during_recovery)
      torn += check_image(again[i], seen, std::to_string(c) + "/recovery/" + std::to_string(i));
  }
  WARN("power-cut suite: " << cuts << " cuts, " << checked << " images checked (" << during_recovery
                           << " cut during recovery, " << torn << " with a torn tail repaired), " << recycled
                           << " segments recycled before the cuts, 0 acknowledged records lost; base seed " << base_seed
                           << ", WAL base " << wal_base());
  CHECK(recycled > 0);  // the cuts came while retention recycled segments
}
