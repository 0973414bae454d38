#include "segment.hpp"

#include "block_check.hpp"
#include "failpoint.hpp"
#include "clock.hpp"
#include "files.hpp"
#include "sys_error.hpp"
#include "segment_check.hpp"
#include "wal_files.hpp"

#include <aerolog/proto/crc32c.hpp>
#include <aerolog/proto/frame.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <system_error>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace aerolog::sidecar {

using namespace common;  // files, clocks, errno errors

using namespace proto;
using detail::index_file_name;
using detail::segment_file_name;

void SegmentFile::note_block(const BlockHeader& h, std::uint64_t offset) {
  if (index.empty() || offset - indexed_to >= kIndexEvery) {
    index.push_back({h.first_seq, offset, h.first_ts});
    indexed_to = offset;
  }
  last_seq = h.last_seq;
  last_ts = h.last_ts;
}

Fd create_spare(const std::string& path, std::uint64_t size) {
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0640));
  if (!fd) throw_errno("create " + path);
  if (int err = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(size)); err)
    throw std::system_error(err, std::generic_category(), "preallocate " + path);
  AEROLOG_CRASH_POINT("spare_made");
  if (::fdatasync(fd.get()) != 0) throw_errno("fdatasync " + path);
  return fd;
}

SegmentFile open_spare(const std::string& spare, const std::string& path, std::uint64_t base_seq,
                       std::uint64_t generation) {
  SegmentFile s;
  s.path = path;
  s.base_seq = base_seq;
  s.generation = generation;
  s.last_seq = base_seq - 1;
  s.write_off = kSegmentHeaderSize;
  Fd fd(::open(spare.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC));
  if (!fd) throw_errno("open " + spare);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw_errno("stat " + spare);
  s.size = static_cast<std::uint64_t>(st.st_size);
  s.fd = fd.release();
  return s;
}

void fill_segment_header(std::byte* page, const std::string& stream, const SegmentFile& seg) {
  std::memset(page, 0, kPage);
  auto* h = reinterpret_cast<SegmentHeader*>(page);
  h->magic = kSegmentMagic;
  h->version = kSegmentVersion;
  h->header_size = kSegmentHeaderSize;
  h->base_seq = seg.base_seq;
  h->generation = seg.generation;
  h->segment_size = seg.size;
  h->created_ns = wall_ns();
  std::memcpy(h->stream, stream.data(), std::min(stream.size(), sizeof h->stream));
  h->crc = crc32c(h, offsetof(SegmentHeader, crc));
}

std::string seal(const std::string& dir, SegmentFile& seg) {
  if (seg.fd >= 0) ::close(seg.fd);
  seg.fd = -1;
  if (seg.index.empty()) return {};
  const std::string bytes = detail::encode_index(seg.base_seq, seg.last_seq, seg.index);
  const std::string path = dir + "/" + index_file_name(seg.base_seq),
                    tmp = dir + "/." + index_file_name(seg.base_seq) + ".tmp";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
  if (!fd || ::write(fd.get(), bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size()) ||
      ::rename(tmp.c_str(), path.c_str()) != 0)
    return "index " + path + ": " + std::strerror(errno);
  return {};
}

Recovery recover_last_segment(const std::string& dir, const std::string& stream, std::uint64_t acked) {
  AEROLOG_CRASH_POINT("recovery_start");
  Recovery r;
  ::unlink((dir + "/" + kSpareName).c_str());  // a half-made spare is simply made again
  fsync_dir(dir);
  const auto bases = detail::list_segment_bases(dir);
  if (bases.empty()) return r;
  r.empty = false;
  SegmentFile& s = r.last;
  s.base_seq = bases.back();
  s.path = dir + "/" + segment_file_name(s.base_seq);
  Fd fd(::open(s.path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) throw_errno("open " + s.path);
  if (::fsync(fd.get()) != 0) throw_errno("fsync " + s.path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw_errno("stat " + s.path);
  s.size = static_cast<std::uint64_t>(st.st_size);
  auto refuse = [&](const std::string& why) {
    r.refused = true;
    r.error = why + " (" + s.path + ")";
    return r;
  };
  SegmentHeader h{};
  if (const std::string why = detail::check_segment_header(fd.get(), {s.base_seq, stream}, h); !why.empty())
    return refuse(why);
  s.generation = h.generation;
  s.last_seq = s.base_seq - 1;

  // Walk the valid, contiguous blocks (the same checks as every reader: block_check).
  void* m = ::mmap(nullptr, s.size, PROT_READ, MAP_SHARED, fd.get(), 0);
  if (m == MAP_FAILED) throw_errno("map " + s.path);
  const auto* seg = static_cast<const std::byte*>(m);
  std::uint64_t off = kSegmentHeaderSize, expected = s.base_seq;
  const char* why = nullptr;
  BlockHeader bh;
  while (!(why = detail::check_block(seg, s.size, off, s.generation, expected, bh))) {
    s.note_block(bh, off);
    expected = bh.last_seq + 1;
    off += align_up(bh.length, kPage);
  }
  s.write_off = off;
  // Past the last good block: only zeros, torn pages, or blocks that were in flight with it.
  const detail::TailScan tail = detail::scan_tail(seg, s.size, off, s.generation, expected);
  ::munmap(m, s.size);
  // Everything known acknowledged must be in the valid prefix: a damaged block, or zeros, where
  // an acknowledged seq belongs is lost or damaged data, never a torn tail to zero.
  if (acked >= expected && !tail.corrupt_at) {
    const std::string damage = tail.dirty_end > off ? ", then a damaged block at offset " + std::to_string(off) + " (" +
                                                          (why ? why : "?") + ")"
                                                    : "";
    return refuse("seq " + std::to_string(acked) +
                  " was acknowledged (the ring's durable_seq) but the WAL ends at seq " + std::to_string(expected - 1) +
                  damage + "; the bytes are kept, the stream is not served");
  }
  if (off < s.size) {
    const std::uint64_t dirty_end = tail.dirty_end, stale = tail.stale;
    if (tail.corrupt_at)
      return refuse("mid-log corruption: block at offset " + std::to_string(off) + " is bad (" + why +
                    ") but the block at offset " + std::to_string(tail.corrupt_at) + " (seqs " +
                    std::to_string(tail.corrupt.first_seq) + ".." + std::to_string(tail.corrupt.last_seq) +
                    ") was written after seq " + std::to_string(expected) +
                    " was acknowledged; the bytes are kept, the stream is not served");
    if (dirty_end > off) {
      AEROLOG_CRASH_POINT("recovery_before_zero");
      AlignedBuffer zeros(kPage);
      for (std::uint64_t p = off; p < dirty_end; p += kPage) {
        if (::pwrite(fd.get(), zeros.data(), kPage, static_cast<off_t>(p)) != kPage)
          throw_errno("zero torn tail of " + s.path);
        if (p == off) AEROLOG_CRASH_POINT("recovery_mid_zero");
      }
      if (::fdatasync(fd.get()) != 0) throw_errno("fdatasync " + s.path);
      r.note = "torn tail at offset " + std::to_string(off) + " of " + s.path + " (" + why + "): zeroed " +
               std::to_string(dirty_end - off) + " bytes, " + std::to_string(stale) +
               " unacknowledged later block(s); recovered through seq " + std::to_string(expected - 1);
    }
  }
  fd.reset();
  s.fd = ::open(s.path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
  if (s.fd < 0) throw_errno("open " + s.path);
  return r;
}

}  // namespace aerolog::sidecar
