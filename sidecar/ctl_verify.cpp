// aerologctl verify: every block's CRC, seq continuity within and across segments, torn tails
// and corruption with their offsets. The same rules as the sidecar's recovery (FORMAT.md 8).
#include "ctl.hpp"
#include "shm_view.hpp"

#include "block_check.hpp"
#include "wal_files.hpp"

#include <aerolog/proto/crc32c.hpp>
#include <aerolog/proto/frame.hpp>

#include <cstdio>
#include <cstring>
#include <filesystem>

namespace aerolog::ctl {

using namespace proto;

namespace {

enum Verdict { kOk = 0, kCorrupt = 1, kTorn = 3 };

struct SegmentResult {
  Verdict verdict = kOk;
  std::uint64_t blocks = 0, first = 0, next = 0;  // next: the seq after the last good record
};

SegmentResult check_segment(const std::string& path, std::uint64_t expect, bool last, bool quiet) {
  SegmentResult res;
  std::unique_ptr<Mapping> m;
  try {
    m = std::make_unique<Mapping>(path, kSegmentHeaderSize, false);
  } catch (const std::exception& e) {
    std::printf("%s: CORRUPT: %s\n", path.c_str(), e.what());
    res.verdict = kCorrupt;
    return res;
  }
  SegmentHeader h;
  std::memcpy(&h, m->data(), sizeof h);
  if (h.magic != kSegmentMagic || h.version != kSegmentVersion || h.crc != crc32c(&h, offsetof(SegmentHeader, crc))) {
    std::printf("%s: CORRUPT: bad segment header (magic, version or CRC)\n", path.c_str());
    res.verdict = kCorrupt;
    return res;
  }
  if (expect && h.base_seq != expect) {
    std::printf("%s: CORRUPT: starts at seq %llu but the previous segment ends at %llu (missing seqs)\n", path.c_str(),
                static_cast<unsigned long long>(h.base_seq), static_cast<unsigned long long>(expect - 1));
    res.verdict = kCorrupt;
  }
  res.first = h.base_seq;
  std::uint64_t off = kSegmentHeaderSize, e = h.base_seq;
  const char* why = nullptr;
  BlockHeader b;
  while (!(why = detail::check_block(m->data(), m->size(), off, h.generation, e, b))) {
    ++res.blocks;
    e = b.last_seq + 1;
    off += align_up(b.length, kPage);
  }
  res.next = e;
  // What lies after the last good block: zeros (clean end), a torn tail, or corruption.
  const detail::TailScan tail = detail::scan_tail(m->data(), m->size(), off, h.generation, e);
  const std::uint64_t dirty_end = tail.dirty_end, stale = tail.stale, corrupt_at = tail.corrupt_at;
  if (!quiet || corrupt_at || dirty_end > off)
    std::printf("%s: %llu blocks, seqs %llu..%llu\n", path.c_str(), static_cast<unsigned long long>(res.blocks),
                static_cast<unsigned long long>(h.base_seq), static_cast<unsigned long long>(e - 1));
  if (corrupt_at) {
    std::printf("%s: CORRUPT at offset %llu (%s): a valid block at offset %llu was written after seq %llu was "
                "acknowledged\n", path.c_str(), static_cast<unsigned long long>(off), why,
                static_cast<unsigned long long>(corrupt_at), static_cast<unsigned long long>(e));
    res.verdict = kCorrupt;
  } else if (dirty_end > off) {
    std::printf("%s: torn tail at offset %llu (%s): %llu bytes up to offset %llu, %llu unacknowledged block(s)%s\n",
                path.c_str(), static_cast<unsigned long long>(off), why, static_cast<unsigned long long>(dirty_end - off),
                static_cast<unsigned long long>(dirty_end), static_cast<unsigned long long>(stale),
                last ? "; the sidecar zeroes it at its next start" : "; the next segment carries on");
    if (res.verdict == kOk && last) res.verdict = kTorn;
  }
  return res;
}

Verdict check_stream_dir(const std::string& dir, bool quiet) {
  const auto bases = detail::list_segment_bases(dir);
  Verdict v = kOk;
  std::uint64_t expect = 0, records = 0;
  for (std::size_t i = 0; i < bases.size(); ++i) {
    SegmentResult r = check_segment(dir + "/" + detail::segment_file_name(bases[i]), expect, i + 1 == bases.size(), quiet);
    if (r.verdict == kCorrupt) v = kCorrupt;
    else if (r.verdict == kTorn && v == kOk) v = kTorn;
    records += r.next - r.first;
    expect = r.next;
  }
  std::printf("%s: %zu segment(s), %llu records%s: %s\n", dir.c_str(), bases.size(),
              static_cast<unsigned long long>(records),
              bases.empty() ? "" : (", seqs " + std::to_string(bases.front()) + ".." + std::to_string(expect - 1)).c_str(),
              v == kOk ? "OK" : v == kTorn ? "OK up to a torn tail" : "CORRUPT");
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
