// aerologctl verify: every block's CRC, seq continuity within and across segments, torn tails
// and corruption with their offsets. The same rules as the sidecar's recovery (FORMAT.md 8).
#include "ctl.hpp"
#include "shm_view.hpp"

#include "block_check.hpp"
#include "catalog_scan.hpp"
#include "segment_check.hpp"
#include "wal_files.hpp"

#include <aerolog/log_decoder.hpp>
#include <aerolog/proto/frame.hpp>
#include <aerolog/proto/log.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace aerolog::ctl {

using namespace proto;

namespace {

enum Verdict { kOk = 0, kCorrupt = 1, kTorn = 3 };

struct SegmentResult {
  Verdict verdict = kOk;
  std::uint64_t blocks = 0, first = 0, next = 0;  // next: the seq after the last good record (0: unreadable)
};

using ull = unsigned long long;

// The sparse index beside a segment, if there is one. A bad index is only a warning: readers
// ignore it and scan the block headers instead.
void check_index(const std::string& seg_path, std::uint64_t base, std::uint64_t last_seq,
                 const std::vector<std::pair<std::uint64_t, BlockHeader>>& blocks) {
  const std::string dir = std::filesystem::path(seg_path).parent_path().string();
  const std::string path = dir + "/" + detail::index_file_name(base);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return;
  IndexHeader ih;
  std::vector<IndexEntry> entries;
  if (const char* why = detail::load_index(dir, base, ih, entries)) {
    std::printf("%s: warning: index ignored (%s): readers scan the segment instead; delete the file to silence this\n",
                path.c_str(), why);
    return;
  }
  // A valid index that disagrees with the blocks (a writer bug): seeks scan past a wrong entry,
  // and a wrong first_ts makes a time seek start late or early.
  bool agrees = ih.last_seq == last_seq;
  for (const IndexEntry& e : entries) {
    auto b = std::find_if(blocks.begin(), blocks.end(), [&](const auto& x) { return x.first == e.offset; });
    agrees = agrees && b != blocks.end() && b->second.first_seq == e.first_seq && b->second.first_ts == e.first_ts;
  }
  if (!agrees)
    std::printf(
        "%s: warning: the index disagrees with the segment's blocks: seeks through it are slow or land wrong; "
        "delete it (readers then scan the segment)\n",
        path.c_str());
}

// The header, through the check every reader shares (FORMAT.md 4.1); "" if it is good.
std::string read_header(const std::string& path, SegmentHeader& h) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::strerror(errno);
  std::string why = detail::check_segment_header(fd, detail::identity_from_path(path), h);
  ::close(fd);
  return why;
}

SegmentResult check_segment(const std::string& path, std::uint64_t expect, bool last, bool quiet) {
  SegmentResult res;
  SegmentHeader h;
  std::string bad = read_header(path, h);
  std::unique_ptr<Mapping> m;
  if (bad.empty()) try {
      m = std::make_unique<Mapping>(path, kSegmentHeaderSize, false);
    } catch (const std::exception& e) {
      bad = e.what();
    }
  if (!bad.empty()) {
    std::printf("%s: CORRUPT: %s\n", path.c_str(), bad.c_str());
    res.verdict = kCorrupt;
    return res;
  }
  if (h.segment_size != m->size())  // recovery and readers use the blocks within the file: not an error
    std::printf(
        "%s: warning: the file is %zu bytes but its header says segment_size %llu: it was cut short or "
        "extended after it was written\n",
        path.c_str(), m->size(), static_cast<ull>(h.segment_size));
  if (expect && h.base_seq != expect) {
    std::printf("%s: CORRUPT: starts at seq %llu but the previous segment ends at %llu (missing seqs)\n", path.c_str(),
                static_cast<ull>(h.base_seq), static_cast<ull>(expect - 1));
    res.verdict = kCorrupt;
  }
  res.first = h.base_seq;
  std::uint64_t off = kSegmentHeaderSize, e = h.base_seq;
  const char* why = nullptr;
  BlockHeader b;
  std::vector<std::pair<std::uint64_t, BlockHeader>> blocks;
  while (!(why = detail::check_block(m->data(), m->size(), off, h.generation, e, b))) {
    blocks.emplace_back(off, b);
    e = b.last_seq + 1;
    off += align_up(b.length, kPage);
  }
  res.blocks = blocks.size();
  res.next = e;
  // What lies after the last good block: zeros (clean end), a torn tail, or corruption.
  const detail::TailScan tail = detail::scan_tail(m->data(), m->size(), off, h.generation, e);
  const std::uint64_t dirty_end = tail.dirty_end, stale = tail.stale, corrupt_at = tail.corrupt_at;
  if (!quiet || corrupt_at || dirty_end > off) {
    if (blocks.empty())
      std::printf("%s: no records (no block after the header)\n", path.c_str());
    else
      std::printf("%s: %zu blocks, seqs %llu..%llu\n", path.c_str(), blocks.size(), static_cast<ull>(h.base_seq),
                  static_cast<ull>(e - 1));
  }
  if (corrupt_at) {
    std::printf(
        "%s: CORRUPT at offset %llu (%s): a valid block at offset %llu was written after seq %llu was "
        "acknowledged\n",
        path.c_str(), static_cast<ull>(off), why, static_cast<ull>(corrupt_at), static_cast<ull>(e));
    res.verdict = kCorrupt;
  } else if (dirty_end > off) {
    std::printf("%s: torn tail at offset %llu (%s): %llu bytes up to offset %llu, %llu unacknowledged block(s)%s\n",
                path.c_str(), static_cast<ull>(off), why, static_cast<ull>(dirty_end - off),
                static_cast<ull>(dirty_end), static_cast<ull>(stale),
                last ? "; the sidecar zeroes it at its next start" : "; the next segment carries on");
    if (res.verdict == kOk && last) res.verdict = kTorn;
  }
  check_index(path, h.base_seq, e - 1, blocks);
  return res;
}

// The stream's site catalog (FORMAT.md 11.4), read as every reader reads it: a damaged entry
// leaves its log events undecodable, so it is corruption; a torn end is the sidecar's to cut.
Verdict check_catalog(const std::string& dir, bool quiet) {
  const std::string path = dir + "/" + kSiteCatalogName;
  std::ifstream f(path, std::ios::binary);
  if (!f) return kOk;  // no logger wrote to this stream
  const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  LogDecoder sites;  // its site check, as every reader's
  const detail::CatalogScan scan =
      detail::scan_catalog({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()},
                           [&](std::size_t, const FrameHeader& h, std::span<const std::byte> payload) {
                             return sites.add_site(h.seq, payload);
                           });
  if (!quiet || scan.damaged || scan.torn) std::printf("%s: %zu sites\n", path.c_str(), scan.sites);
  if (scan.damaged)
    std::printf(
        "%s: CORRUPT: %zu damaged entr%s, the first at offset %zu (%s): the log events of the sites they held "
        "cannot be decoded\n",
        path.c_str(), scan.damaged, scan.damaged > 1 ? "ies" : "y", scan.first_damage, scan.damage.c_str());
  if (scan.torn)
    std::printf("%s: torn tail at offset %zu (%zu bytes): the sidecar cuts it off at its next start\n", path.c_str(),
                scan.end, bytes.size() - scan.end);
  return scan.damaged ? kCorrupt : scan.torn ? kTorn : kOk;
}

Verdict check_stream_dir(const std::string& dir, bool quiet) {
  const auto bases = detail::list_segment_bases(dir);
  Verdict v = check_catalog(dir, quiet);
  std::uint64_t expect = 0, records = 0, lo = 0, hi = 0;
  for (std::size_t i = 0; i < bases.size(); ++i) {
    const std::string seg = dir + "/" + detail::segment_file_name(bases[i]);
    const SegmentResult r = check_segment(seg, expect, i + 1 == bases.size(), quiet);
    if (r.verdict == kCorrupt)
      v = kCorrupt;
    else if (r.verdict == kTorn && v == kOk)
      v = kTorn;
    if (r.next > r.first) {
      records += r.next - r.first;
      lo = lo ? lo : r.first;
      hi = r.next - 1;
    }
    expect = r.next;  // 0 after an unreadable segment: the next one is not compared
  }
  const std::string range = records ? ", seqs " + std::to_string(lo) + ".." + std::to_string(hi) : "";
  std::printf("%s: %zu segment(s), %llu records%s: %s\n", dir.c_str(), bases.size(), static_cast<ull>(records),
              range.c_str(),
              v == kOk     ? "OK"
              : v == kTorn ? "OK up to a torn tail"
                           : "CORRUPT");
  return v;
}

}  // namespace

int cmd_verify(const VerifyOptions& o) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(o.target, ec)) {
    std::fprintf(stderr, "aerologctl: %s: no such file or directory\n", o.target.c_str());
    return 1;
  }
  if (!fs::is_directory(o.target, ec)) {
    SegmentResult r = check_segment(o.target, 0, true, false);
    return r.verdict;
  }
  if (!detail::list_segment_bases(o.target).empty()) return check_stream_dir(o.target, o.quiet);
  // A WAL root: every stream directory in it.
  int worst = kOk, streams = 0;
  for (const auto& e : fs::directory_iterator(o.target, ec)) {
    if (!e.is_directory() || detail::list_segment_bases(e.path().string()).empty()) continue;
    ++streams;
    const Verdict v = check_stream_dir(e.path().string(), o.quiet);
    if (v == kCorrupt || (v == kTorn && worst == kOk)) worst = v;
  }
  if (!streams) {
    std::fprintf(stderr, "aerologctl: %s holds no .alog segments (neither a stream directory nor a WAL root)\n",
                 o.target.c_str());
    return 1;
  }
  return worst;
}

}  // namespace aerolog::ctl
