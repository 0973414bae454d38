#include <aerolog/reader.hpp>

#include "block_check.hpp"
#include "segment_check.hpp"
#include "wal_files.hpp"

#include <aerolog/proto/frame.hpp>
#include <aerolog/proto/segment.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace aerolog {

using namespace proto;

struct Reader::Impl {
  std::string path;  // what open() was given
  std::string dir;   // stream directory ("" in single-file mode)
  std::vector<std::uint64_t> bases;
  std::size_t seg = 0;  // index into bases
  const std::byte* map = nullptr;
  std::size_t len = 0;
  std::uint64_t generation = 0;
  std::uint64_t off = 0;  // next block
  const std::byte* frame = nullptr;
  std::uint32_t frames_left = 0;
  std::uint64_t block_off = 0;  // the block `frame` is in: its offset and end
  const std::byte* block_end = nullptr;
  std::uint64_t expect = 0;  // next seq (0: whatever comes first)
  std::uint64_t skip_seq = 0, skip_ts = 0;
  Record rec{};
  std::string error;  // why the last open_segment() failed, "" if it did not
  Errc error_code = Errc::corrupt;

  ~Impl() { unmap(); }
  void unmap() {
    if (map) ::munmap(const_cast<std::byte*>(map), len);
    map = nullptr;
    frames_left = 0;
  }
  std::string seg_path(std::size_t i) const {
    return dir.empty() ? path : dir + "/" + detail::segment_file_name(bases[i]);
  }
  void refresh() {
    if (!dir.empty()) bases = detail::list_segment_bases(dir);
  }
  // Opens segment i and checks its header (the check every reader shares); the fd, or -1 with
  // `error` set. A file deleted meanwhile (retention) leaves `error` empty.
  int open_checked(std::size_t i, SegmentHeader& h) {
    const std::string p = seg_path(i);
    error.clear();
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno != ENOENT) error = p + ": " + std::strerror(errno), error_code = Errc::system;
      return -1;
    }
    if (std::string why = detail::check_segment_header(fd, detail::identity_from_path(p), h); !why.empty()) {
      ::close(fd);
      error = p + ": " + why, error_code = Errc::corrupt;
      return -1;
    }
    return fd;
  }
  // Maps segment i after checking its header; false if it cannot be read (`error` says why).
  bool open_segment(std::size_t i) {
    unmap();
    if (i >= bases.size()) return false;
    SegmentHeader h;
    const int fd = open_checked(i, h);
    if (fd < 0) return false;
    struct stat st;
    const auto size = ::fstat(fd, &st) == 0 ? static_cast<std::size_t>(st.st_size) : 0;
    void* m = size ? ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
    ::close(fd);
    if (m == MAP_FAILED) {
      error = seg_path(i) + ": cannot map: " + std::strerror(errno), error_code = Errc::system;
      return false;
    }
    map = static_cast<const std::byte*>(m);
    len = size;
    if (dir.empty()) bases = {h.base_seq};
    seg = i;
    generation = h.generation;
    off = kSegmentHeaderSize;
    if (!expect) expect = h.base_seq;
    return true;
  }
  bool header_at(std::uint64_t at, std::uint64_t first, BlockHeader& h) const {
    return at < len && !detail::check_block_header(map + at, len - at, generation, first, h);
  }
  // Moves to the next segment if it continues the seqs.
  bool next_segment() {
    if (seg + 1 >= bases.size()) refresh();
    for (std::size_t i = seg + 1; i < bases.size(); ++i)
      if (bases[i] == expect || !expect) return open_segment(i);
    return false;
  }
  // Positions `off` at the first block of the open segment that reaches `key` (a seq, or with
  // by_time a timestamp), using the segment's index when there is one.
  bool position(std::uint64_t key, bool by_time) {
    std::uint64_t at = kSegmentHeaderSize, first = bases[seg];
    IndexHeader ih;
    std::vector<IndexEntry> index;  // left empty when there is no valid index: scan from the start
    if (!dir.empty()) detail::load_index(dir, bases[seg], ih, index);
    // By time, an entry strictly before `key`: the block before it may end with records of the
    // time it starts with.
    for (const IndexEntry& e : index)
      if (by_time ? e.first_ts < key : e.first_seq <= key) at = e.offset, first = e.first_seq;
    BlockHeader h;
    // An entry whose block is not there (an index that passed its checks but is wrong) is not
    // followed: the segment is scanned from its first block (FORMAT.md 4.3).
    if (at != kSegmentHeaderSize && !header_at(at, first, h)) at = kSegmentHeaderSize, first = bases[seg];
    while (header_at(at, first, h) && (by_time ? h.last_ts : h.last_seq) < key) {
      at += align_up(h.length, kPage);
      first = h.last_seq + 1;
    }
    off = at;
    expect = first;
    return header_at(at, first, h);
  }
};

Reader::Reader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Reader::Reader(Reader&&) noexcept = default;
Reader& Reader::operator=(Reader&&) noexcept = default;
Reader::~Reader() = default;

Reader Reader::open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw Error(Errc::invalid_argument, path + ": " + std::strerror(errno));
  Impl& m = *impl;
  auto fail = [&] {
    return Error(m.error_code, m.error.empty() ? path + ": deleted while opening; try again" : m.error);
  };
  if (S_ISDIR(st.st_mode)) {
    m.dir = path;
    m.refresh();
    if (m.bases.empty() && !detail::looks_like_stream_dir(path))
      throw Error(Errc::invalid_argument, path + ": not a stream directory (no .alog segments)");
    if (!m.bases.empty() && !m.open_segment(0)) throw fail();
    // Every other header too: a segment that recovery would refuse is an error here, not a
    // silent stop in the middle of the log.
    for (std::size_t i = 1; i < m.bases.size(); ++i) {
      SegmentHeader h;
      const int fd = m.open_checked(i, h);
      if (fd >= 0)
        ::close(fd);
      else if (!m.error.empty())
        throw fail();
    }
  } else {
    m.bases = {0};
    if (!m.open_segment(0)) throw fail();
  }
  return Reader(std::move(impl));
}

std::uint64_t Reader::first_seq() const { return impl_->bases.empty() ? 0 : impl_->bases.front(); }
const std::string& Reader::path() const { return impl_->path; }

bool Reader::seek_seq(std::uint64_t seq) {
  Impl& m = *impl_;
  m.refresh();
  if (m.bases.empty()) return false;
  auto it = std::upper_bound(m.bases.begin(), m.bases.end(), seq);
  const std::size_t i = it == m.bases.begin() ? 0 : static_cast<std::size_t>(it - m.bases.begin()) - 1;
  m.expect = 0;
  if (!m.open_segment(i)) return false;
  m.skip_seq = seq;
  m.skip_ts = 0;
  return m.position(std::max(seq, m.bases[i]), false);
}

bool Reader::seek_time(std::uint64_t ns) {
  Impl& m = *impl_;
  m.refresh();
  // The last segment whose first block starts before ns (timestamps grow with seqs; the segment
  // before one that starts at ns may end with records of ns).
  std::size_t pick = 0;
  for (std::size_t lo = 0, hi = m.bases.size(); lo < hi;) {
    const std::size_t mid = (lo + hi) / 2;
    m.expect = 0;
    BlockHeader h;
    if (m.open_segment(mid) && m.header_at(kSegmentHeaderSize, m.bases[mid], h) && h.first_ts < ns) {
      pick = mid;
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  m.expect = 0;
  if (!m.open_segment(pick)) return false;
  m.skip_seq = 0;
  m.skip_ts = ns;
  if (m.position(ns, true)) return true;
  // The segment before the one that starts at (or after) ns: the first record at or after ns
  // is the next segment's first.
  BlockHeader h;
  return m.next_segment() && m.header_at(m.off, m.expect, h);
}

const Record* Reader::next() {
  Impl& m = *impl_;
  for (;;) {
    if (m.expect > limit_) return nullptr;  // caught up with the limit: no file to look at
    if (m.frames_left) {
      // Checked with its block, but the mapping may have changed since (retention recycling a
      // segment this reader still maps): a frame that no longer passes the same check is not
      // followed out of the block; its block is checked again, and fails, where the log now stops.
      const auto room = static_cast<std::uint64_t>(m.block_end - m.frame);
      FrameHeader f{};
      if (room >= kFrameHeaderSize) std::memcpy(&f, m.frame, sizeof f);
      if (room < kFrameHeaderSize || detail::check_frame(f, m.expect, room)) {
        m.frames_left = 0;
        m.off = m.block_off;
        continue;
      }
      if (f.seq > limit_) return nullptr;
      m.rec = {f.seq, f.timestamp, f.type, f.flags,
               std::span<const std::byte>(m.frame + kFrameHeaderSize, f.length - kFrameHeaderSize)};
      m.frame += frame_stride(f.length);
      --m.frames_left;
      m.expect = f.seq + 1;
      if (f.seq < m.skip_seq || f.timestamp < m.skip_ts) continue;
      m.skip_seq = m.skip_ts = 0;
      return &m.rec;
    }
    if (!m.map) {
      m.refresh();
      if (m.bases.empty() || !m.open_segment(m.seg)) return nullptr;
    }
    BlockHeader h;
    if (!detail::check_block(m.map, m.len, m.off, m.generation, m.expect, h)) {
      m.frame = m.map + m.off + kBlockHeaderSize;
      m.frames_left = h.count;
      m.block_off = m.off;
      m.block_end = m.map + m.off + h.length;
      m.expect = h.first_seq;
      m.off += align_up(h.length, kPage);
      ++blocks_;
      continue;
    }
    // End of this segment's log (not written yet, or a torn tail): go on where the seqs do.
    if (!m.next_segment()) return nullptr;
  }
}

std::string Reader::damage() const {
  const Impl& m = *impl_;
  if (!m.error.empty()) return m.error;
  if (!m.map || m.frames_left || m.expect > limit_) return {};
  BlockHeader h;
  const char* why = detail::check_block(m.map, m.len, m.off, m.generation, m.expect, h);
  if (!why) return {};  // a good block: next() has more to read
  const std::string at = m.seg_path(m.seg) + ": the log stops after seq " + std::to_string(m.expect - 1) + " (offset " +
                         std::to_string(m.off) + ": " + why + ")";
  // A later segment that does not carry on from here: the seqs in between are missing.
  if (m.seg + 1 < m.bases.size())
    return at + " but the next segment, " + m.seg_path(m.seg + 1) + ", starts at seq " +
           std::to_string(m.bases[m.seg + 1]) + ": records are missing";
  // The last segment: the rule recovery applies (FORMAT.md 8) tells a torn tail from corruption.
  const detail::TailScan t = detail::scan_tail(m.map, m.len, m.off, m.generation, m.expect);
  if (!t.corrupt_at) return {};
  return at + " but the block at offset " + std::to_string(t.corrupt_at) + " (seqs " +
         std::to_string(t.corrupt.first_seq) + ".." + std::to_string(t.corrupt.last_seq) + ") was written after seq " +
         std::to_string(m.expect) + " was acknowledged: mid-log corruption (the sidecar refuses this stream)";
}

void ConsumerSet::add(std::string name, Callback cb, std::uint16_t type_filter) {
  consumers_.push_back({std::move(name), std::move(cb), type_filter, {}});
}

std::uint64_t ConsumerSet::poll(Reader& reader) {
  std::uint64_t n = 0;
  while (const Record* r = reader.next()) {
    ++n;
    for (Entry& c : consumers_) {
      if (c.type && c.type != r->type) continue;
      c.cb(*r);
      ++c.counters.records;
      c.counters.bytes += r->payload.size();
      c.counters.last_seq = r->seq;
    }
  }
  return n;
}

const ConsumerSet::Counters& ConsumerSet::counters(const std::string& name) const {
  for (const Entry& c : consumers_)
    if (c.name == name) return c.counters;
  throw Error(Errc::invalid_argument, "no consumer named " + name);
}

}  // namespace aerolog
