// The read tools agree with recovery on damaged input. For each damaged WAL: what
// aerolog::Reader, `aerologctl verify`, `aerologctl cat` and `alog.py cat` do, and what the real
// sidecar's recovery does with the same bytes (proto/FORMAT.md 4.1, 4.3, 5 and 8).
#include <aerolog/proto/crc32c.hpp>
#include <aerolog/proto/segment.hpp>
#include <aerolog/reader.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "python_cmd.hpp"
#include "shell.hpp"
#include "wal_files.hpp"
#include "wal_fixture.hpp"
#include "wal_reader.hpp"

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>

using namespace testutil;
namespace p = aerolog::proto;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kRecords = 80'000;  // two 4 MiB segments or more: the first sealed, with an index
const std::string kPy = "python3 " AEROLOG_SCRIPTS "/alog.py ";

// One WAL of stream "s" written by the real sidecar, shared by every test here; each test
// damages a copy of it.
const Wal& pristine() {
  static std::unique_ptr<Wal> w;
  if (!w) {
    auto x = std::make_unique<Wal>();
    x->fill("s", kRecords);
    w = std::move(x);
  }
  return *w;
}

// A copy of the pristine stream directory as <own WAL root>/<name>.
struct Copy {
  TempDir root{"/tmp"};
  TempDir shm{"/dev/shm"};
  std::string dir;
  std::vector<std::string> segs;  // paths, ascending
  explicit Copy(const std::string& name = "s") : dir(root.path + "/" + name) {
    fs::copy(pristine().stream("s"), dir, fs::copy_options::recursive);
    for (const auto& n : segment_files(dir)) segs.push_back(dir + "/" + n);
    REQUIRE(segs.size() >= 2);
  }
};

void write_at(const std::string& path, std::size_t off, const void* p, std::size_t n) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(off));
  f.write(static_cast<const char*>(p), static_cast<std::streamsize>(n));
  REQUIRE(f.good());
}

// Changes a segment header and gives it a valid CRC again: only the checks beyond the CRC can tell.
void patch_header(const std::string& seg, const std::function<void(p::SegmentHeader&)>& change) {
  p::SegmentHeader h;
  std::memcpy(&h, read_all(seg).data(), sizeof h);
  change(h);
  h.crc = p::crc32c(&h, offsetof(p::SegmentHeader, crc));
  write_at(seg, 0, &h, sizeof h);
}

std::vector<std::size_t> block_offsets(const std::string& bytes) {
  std::vector<std::size_t> out;
  for (std::size_t off = 4096; off + 64 <= bytes.size();) {
    p::BlockHeader h;
    std::memcpy(&h, bytes.data() + off, sizeof h);
    if (h.magic != p::kBlockMagic) break;
    out.push_back(off);
    off += (h.length + 4095) & ~std::size_t{4095};
  }
  return out;
}

// What each tool does with a stream directory.
struct Outcome {
  std::string open_error;  // Reader::open threw aerolog::Error with this
  std::string damage;      // else Reader::damage() once next() returned nullptr
  std::uint64_t read = 0, last_seq = 0;
  Run verify, cat, py;
  std::string recovery_log;  // the real sidecar, started on the same WAL root afterwards
};

Outcome observe(const std::string& root, const std::string& shm, const std::string& stream) {
  Outcome o;
  const std::string dir = root + "/" + stream;
  try {
    auto r = aerolog::Reader::open(dir);
    bool in_order = true;
    while (const aerolog::Record* rec = r.next()) {
      in_order = in_order && rec->seq == o.last_seq + 1;
      o.last_seq = rec->seq;
      ++o.read;
    }
    CHECK(in_order);
    o.damage = r.damage();
  } catch (const aerolog::Error& e) {
    CHECK(e.code() == aerolog::Errc::corrupt);
    o.open_error = e.what();
  }
  o.verify = sh(std::string(AEROLOGCTL_BIN) + " verify " + dir);
  o.cat = sh(std::string(AEROLOGCTL_BIN) + " cat --format csv " + dir);
  o.py = sh(kPy + "cat " + dir);
  CHECK_THAT(o.py.out, !Catch::Contains("Traceback"));
  // The Python package (scripts/aerolog) stops where the Reader stops, and says so as it does,
  // whichever engine finds its frames.
  for (const std::string& engine : frame_engines()) {
    const Run np = sh(python(engine) + AEROLOG_TEST_PYTHON "/check_frames.py summary " + dir);
    const auto j = nlohmann::json::parse(np.out, nullptr, false);
    INFO("Python package, " << engine << ": " << np.out);
    REQUIRE(!j.is_discarded());
    if (!o.open_error.empty()) {
      CHECK(j.contains("error"));
    } else {
      CHECK(j.value("engine", std::string()) == engine);
      CHECK(j.value("records", ~0ull) == o.read);
      CHECK(j.value("last_seq", ~0ull) == o.last_seq);
      CHECK(j.value("damage", std::string("?")).empty() == o.damage.empty());
    }
  }
  // Recovery last: it zeroes torn tails. No ring: as after a reboot.
  SidecarProcess sc(shm, root);
  REQUIRE(wait_until([&] { return sc.log().find("ready") != std::string::npos; }));
  sc.signal(SIGTERM);
  CHECK(sc.wait() == 0);
  o.recovery_log = sc.log();
  return o;
}
Outcome observe(const Copy& c, const std::string& stream = "s") { return observe(c.root.path, c.shm.path, stream); }

// A refusal every tool must show the same way: Reader::open throws, verify says CORRUPT, both cats
// exit 1 with the reason and print no record, recovery refuses the stream.
void check_refused_at_open(const Outcome& o, const std::string& why, const std::string& recovery_why) {
  INFO("verify: " << o.verify.out << "cat: " << o.cat.out << "alog.py: " << o.py.out);
  CHECK_THAT(o.open_error, Catch::Contains(why));
  CHECK(o.verify.rc == 1);
  CHECK_THAT(o.verify.out, Catch::Contains("CORRUPT: ") && Catch::Contains(why));
  CHECK_THAT(o.verify.out, Catch::EndsWith("CORRUPT\n"));
  CHECK(o.cat.rc == 1);
  CHECK(lines(o.cat.out) == 1);
  CHECK_THAT(o.cat.out, Catch::StartsWith("aerologctl: ") && Catch::Contains(why));
  CHECK(o.py.rc == 1);
  CHECK_THAT(o.py.out, Catch::Contains("alog.py: ") && Catch::Contains(why));
  CHECK_THAT(o.recovery_log, Catch::Contains(recovery_why) && Catch::Contains("(refused)"));
}

}  // namespace

TEST_CASE("read tools: a frame changed under a Reader after its block was checked is not followed out of the block",
          "[read]") {
  Copy c;
  auto r = aerolog::Reader::open(c.dir);
  const aerolog::Record* rec = r.next();  // the first block checked; its frames are read one by one
  REQUIRE(rec);
  REQUIRE(rec->seq == 1);
  // The second frame's length becomes one no frame has, in the file the Reader maps (as when
  // retention recycles a segment a slow reader still has mapped).
  const std::uint64_t second =
      p::kSegmentHeaderSize + p::kBlockHeaderSize + p::frame_stride(p::kFrameHeaderSize + rec->payload.size());
  const std::uint32_t bad = 0xFFFFFFF0;
  write_at(c.segs.front(), second, &bad, sizeof bad);
  rec = r.next();
  CHECK(rec == nullptr);  // not a record of 4 GiB
  CHECK_THAT(r.damage(), Catch::Contains("the log stops after seq 1"));
}

TEST_CASE("read tools: a segment whose header base_seq does not match its name is refused by all", "[read]") {
  Copy c;
  patch_header(c.segs.back(), [](p::SegmentHeader& h) { ++h.base_seq; });
  const Outcome o = observe(c);
  check_refused_at_open(o, "does not match the file name", "base_seq");
  CHECK_THAT(o.open_error, Catch::Contains(c.segs.back()));
}

TEST_CASE("read tools: a segment of another stream is refused by all", "[read]") {
  Copy c("t");  // stream t's directory holding stream s's segments
  const Outcome o = observe(c, "t");
  check_refused_at_open(o, "belongs to another stream", "another stream");
  CHECK_THAT(o.open_error, Catch::Contains("'s'") && Catch::Contains("'t'"));

  // A file given alone: checked against its directory's name when that is a stream name.
  const std::string first = segment_files(c.dir).front();
  const std::string ctl = std::string(AEROLOGCTL_BIN) + " ";
  CHECK(sh(ctl + "verify " + c.dir + "/" + first).rc == 1);
  CHECK_THROWS_AS(aerolog::Reader::open(c.dir + "/" + first), aerolog::Error);
  fs::create_directory(c.root.path + "/not a stream");
  fs::copy(c.dir + "/" + first, c.root.path + "/not a stream/" + first);
  CHECK(sh(ctl + "verify '" + c.root.path + "/not a stream/" + first + "'").rc == 0);
  fs::copy(c.dir + "/" + first, c.dir + "/copy.alog");  // not named like a segment: no name checks
  CHECK(sh(ctl + "verify " + c.dir + "/copy.alog").rc == 0);
  CHECK_NOTHROW(aerolog::Reader::open(c.dir + "/copy.alog"));
}

TEST_CASE("read tools: a block whose count disagrees with its frames (valid CRC) is damage, never a traceback",
          "[read]") {
  Copy c;
  const std::string seg = c.segs.back();
  std::string bytes = read_all(seg);
  const auto blocks = block_offsets(bytes);
  REQUIRE(blocks.size() >= 8);
  const std::size_t victim = blocks[1];
  p::BlockHeader h;
  std::memcpy(&h, bytes.data() + victim, sizeof h);
  const int delta = GENERATE(-1, 1);
  h.count += delta;
  h.last_seq += delta;  // the header agrees with itself: only walking the frames can tell
  std::memcpy(bytes.data() + victim, &h, sizeof h);
  h.crc = p::crc32c(bytes.data() + victim + 8, h.length - 8);
  write_at(seg, victim, &h, sizeof h);
  p::BlockHeader b0;
  std::memcpy(&b0, bytes.data() + blocks[0], sizeof b0);
  const std::uint64_t good_to = b0.last_seq;  // the last seq before the damage

  const Outcome o = observe(c);
  INFO("verify: " << o.verify.out << "alog.py, the end: "
                  << o.py.out.substr(o.py.out.size() - std::min<std::size_t>(400, o.py.out.size())));
  CHECK(o.open_error.empty());
  CHECK(o.last_seq == good_to);
  CHECK_THAT(o.damage, Catch::Contains("mid-log corruption") && Catch::Contains("offset " + std::to_string(victim)));
  CHECK(o.verify.rc == 1);
  CHECK_THAT(o.verify.out, Catch::Contains("CORRUPT at offset " + std::to_string(victim)));
  CHECK(o.cat.rc == 1);
  CHECK(lines(o.cat.out) == good_to + 2);  // CSV header, the records before the damage, the reason
  CHECK_THAT(o.cat.out, Catch::Contains("mid-log corruption"));
  CHECK(o.py.rc == 1);
  CHECK(lines(o.py.out) == good_to + 2);
  CHECK_THAT(o.py.out, Catch::Contains("alog.py: ") && Catch::Contains("mid-log corruption"));
  CHECK_THAT(o.recovery_log, Catch::Contains("mid-log corruption") && Catch::Contains("(refused)"));
  Run summary = sh(kPy + "summary " + c.dir);
  CHECK(summary.rc == 1);
  CHECK_THAT(summary.out, Catch::Contains("mid-log corruption") && !Catch::Contains("Traceback"));
}

TEST_CASE("read tools: a 100-byte segment is shorter than a segment header, with no bogus numbers", "[read]") {
  Copy c;
  REQUIRE(::truncate(c.segs.back().c_str(), 100) == 0);
  const Outcome o = observe(c);
  check_refused_at_open(o, "shorter than a segment header", "shorter than a segment header");
  CHECK_THAT(o.verify.out, !Catch::Contains("18446744073709551615"));
  Run alone = sh(std::string(AEROLOGCTL_BIN) + " verify " + c.segs.back());
  CHECK(alone.rc == 1);
  CHECK(lines(alone.out) == 1);
  CHECK_THAT(alone.out, Catch::Contains("CORRUPT: shorter than a segment header (100 bytes"));
}

TEST_CASE("read tools: a segment with no block has no records and no seq range", "[read]") {
  // A stream whose only segment is a header page and zeros, as after a crash right after a roll.
  TempDir root{"/tmp"}, shm{"/dev/shm"};
  const std::string first = segment_files(pristine().stream("s")).front();
  std::string bytes = read_all(pristine().stream("s") + "/" + first);
  std::memset(bytes.data() + 4096, 0, bytes.size() - 4096);
  fs::create_directory(root.path + "/s");
  std::ofstream(root.path + "/s/" + first, std::ios::binary) << bytes;

  const Outcome o = observe(root.path, shm.path, "s");
  INFO("verify: " << o.verify.out);
  CHECK(o.open_error.empty());
  CHECK(o.damage.empty());
  CHECK(o.read == 0);
  CHECK(o.verify.rc == 0);
  CHECK_THAT(o.verify.out, Catch::Contains(first + ": no records"));
  CHECK_THAT(o.verify.out, Catch::Contains("1 segment(s), 0 records: OK"));
  CHECK_THAT(o.verify.out, !Catch::Contains("1..0") && !Catch::Contains("18446744073709551615"));
  CHECK(o.cat.rc == 0);
  CHECK(lines(o.cat.out) == 1);  // the CSV header
  CHECK(o.py.rc == 0);
  CHECK(o.py.out == o.cat.out);
  CHECK_THAT(o.recovery_log, !Catch::Contains("(refused)"));

  // The same as the last segment of a longer log: the log ends just before its base_seq.
  Copy c;
  bytes = read_all(c.segs.back());
  std::memset(bytes.data() + 4096, 0, bytes.size() - 4096);
  std::ofstream(c.segs.back(), std::ios::binary) << bytes;
  const std::uint64_t base = std::stoull(fs::path(c.segs.back()).filename().string().substr(0, 20));
  const Outcome l = observe(c);
  CHECK(l.damage.empty());
  CHECK(l.last_seq == base - 1);
  CHECK(l.verify.rc == 0);
  CHECK_THAT(l.verify.out, Catch::Contains("records, seqs 1.." + std::to_string(base - 1) + ": OK"));
  CHECK(l.cat.rc == 0);
  CHECK(l.py.rc == 0);
  CHECK_THAT(l.recovery_log, !Catch::Contains("(refused)"));
}

TEST_CASE("index: the CRC covers the header, the size is exact, and the sidecar writes it so", "[read]") {
  namespace d = aerolog::detail;
  const std::vector<p::IndexEntry> entries{{11, 4096, 500}, {900, 1u << 20, 600}};
  const std::string bytes = d::encode_index(11, 2000, entries);
  CHECK(bytes.size() == sizeof(p::IndexHeader) + 2 * sizeof(p::IndexEntry));
  p::IndexHeader h;
  std::vector<p::IndexEntry> out;
  REQUIRE(d::decode_index(bytes, 11, h, out) == nullptr);
  CHECK(h.last_seq == 2000);
  CHECK(out.size() == 2);
  CHECK(out[1].first_ts == 600);
  for (std::size_t i = 0; i < bytes.size(); ++i) {  // every byte counts, the header's too
    std::string bad = bytes;
    bad[i] ^= 0x01;
    INFO("byte " << i);
    CHECK(d::decode_index(bad, 11, h, out) != nullptr);
    CHECK(out.empty());
  }
  CHECK(d::decode_index(bytes + '\0', 11, h, out) != nullptr);  // a byte too many
  CHECK(d::decode_index(bytes, 12, h, out) != nullptr);         // another segment's

  // What the sidecar wrote at seal decodes, and verify finds nothing to warn about.
  const std::string dir = pristine().stream("s");
  const std::uint64_t base = std::stoull(segment_files(dir).front().substr(0, 20));
  REQUIRE(d::decode_index(read_all(dir + "/" + d::index_file_name(base)), base, h, out) == nullptr);
  CHECK(out.front().offset == 4096);
  Run v = sh(std::string(AEROLOGCTL_BIN) + " verify " + dir);
  CHECK(v.rc == 0);
  CHECK_THAT(v.out, !Catch::Contains("warning"));
}

TEST_CASE("read tools: an index entry that names the wrong block (its CRC right) is not followed: the seek scans",
          "[read]") {
  namespace d = aerolog::detail;
  Copy c;
  const std::string first = c.segs.front();
  const std::uint64_t base = std::stoull(fs::path(first).filename().string().substr(0, 20));
  const std::string idx = c.dir + "/" + d::index_file_name(base);
  p::IndexHeader h;
  std::vector<p::IndexEntry> entries;
  REQUIRE(d::decode_index(read_all(idx), base, h, entries) == nullptr);
  REQUIRE(entries.size() >= 2);
  ++entries.back().first_seq;  // its block starts one seq earlier
  const std::string bogus = d::encode_index(base, h.last_seq, entries);
  REQUIRE(d::decode_index(bogus, base, h, entries) == nullptr);  // the index passes its own checks
  std::ofstream(idx, std::ios::binary | std::ios::trunc) << bogus;

  for (const std::uint64_t target : {entries.back().first_seq, h.last_seq, base + 1}) {
    auto r = aerolog::Reader::open(c.dir);
    INFO("seek to " << target);
    REQUIRE(r.seek_seq(target));
    std::uint64_t n = 0, last = 0;
    while (const aerolog::Record* rec = r.next()) {
      CHECK((n == 0 ? rec->seq == target : rec->seq == last + 1));
      last = rec->seq, ++n;
    }
    CHECK(r.damage().empty());
    CHECK(last == kRecords);
  }
  Run cat =
      sh(std::string(AEROLOGCTL_BIN) + " cat --format csv --from-seq " + std::to_string(h.last_seq) + " " + c.dir);
  CHECK(cat.rc == 0);
  CHECK(lines(cat.out) == kRecords - h.last_seq + 2);  // the CSV header and every record from there
  Run v = sh(std::string(AEROLOGCTL_BIN) + " verify " + c.dir);
  CHECK(v.rc == 0);
  CHECK_THAT(v.out, Catch::Contains(idx + ": warning: the index disagrees with the segment's blocks"));
  // The Python package too.
  for (const std::string& engine : frame_engines()) {
    Run py = sh(python(engine) + "-c 'import aerolog; s = aerolog.open(\"" + c.dir + "\"); r = s.read(from_seq=" +
                std::to_string(h.last_seq) + "); print(len(r), int(r.seq[0]), s.damage())'");
    INFO(engine << ": " << py.out);
    CHECK(py.out == std::to_string(kRecords - h.last_seq + 1) + " " + std::to_string(h.last_seq) + " None\n");
  }
}

TEST_CASE("read tools: an index whose header field was flipped is ignored (a warning), reading scans instead",
          "[read]") {
  Copy c;
  const std::string first = c.segs.front();
  const std::uint64_t base = std::stoull(fs::path(first).filename().string().substr(0, 20));
  const std::string idx = c.dir + "/" + aerolog::detail::index_file_name(base);
  std::string bytes = read_all(idx);
  REQUIRE(bytes.size() >= sizeof(p::IndexHeader) + sizeof(p::IndexEntry));
  bytes[offsetof(p::IndexHeader, last_seq)] ^= 0x04;  // the seal-time last_seq, outside the old CRC
  write_at(idx, 0, bytes.data(), bytes.size());

  const std::uint64_t target = base + 12'345;
  auto r = aerolog::Reader::open(c.dir);
  REQUIRE(r.seek_seq(target));
  const aerolog::Record* rec = r.next();
  REQUIRE(rec);
  CHECK(rec->seq == target);

  const Outcome o = observe(c);
  INFO("verify: " << o.verify.out);
  CHECK(o.open_error.empty());
  CHECK(o.damage.empty());
  CHECK(o.last_seq == kRecords);
  CHECK(o.verify.rc == 0);
  CHECK_THAT(o.verify.out, Catch::Contains(idx + ": warning: index ignored (index CRC mismatch)"));
  CHECK_THAT(o.verify.out,
             Catch::Contains(std::to_string(kRecords) + " records, seqs 1.." + std::to_string(kRecords) + ": OK"));
  CHECK(o.cat.rc == 0);
  CHECK(lines(o.cat.out) == kRecords + 1);
  CHECK(o.py.rc == 0);
  CHECK(o.py.out == o.cat.out);
  CHECK_THAT(o.recovery_log, !Catch::Contains("(refused)"));
}
