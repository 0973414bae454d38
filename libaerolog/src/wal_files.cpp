#include "wal_files.hpp"

#include <aerolog/proto/crc32c.hpp>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <dirent.h>
#include <unistd.h>

namespace aerolog::detail {

using namespace proto;

namespace {

std::string file_name(std::uint64_t base_seq, const char* suffix) {
  char b[48];
  std::snprintf(b, sizeof b, "%0*llu%s", kSegmentNameDigits, static_cast<unsigned long long>(base_seq), suffix);
  return b;
}

// The index CRC covers every byte of the file but the crc field itself: the header fields
// before it, then the entries.
std::uint32_t index_crc(const IndexHeader& h, const void* entries, std::size_t count) {
  const std::uint32_t c = crc32c_update(crc32c_begin(), &h, offsetof(IndexHeader, crc));
  return crc32c_end(crc32c_update(c, entries, count * sizeof(IndexEntry)));
}

}  // namespace

std::string segment_file_name(std::uint64_t base_seq) { return file_name(base_seq, kSegmentSuffix); }
std::string index_file_name(std::uint64_t base_seq) { return file_name(base_seq, kIndexSuffix); }

std::uint64_t segment_name_base(std::string_view name) {
  constexpr std::size_t kSuffixLen = sizeof kSegmentSuffix - 1;
  if (name.size() != kSegmentNameDigits + kSuffixLen || name.substr(kSegmentNameDigits) != kSegmentSuffix) return 0;
  const char* end = name.data() + kSegmentNameDigits;
  std::uint64_t base = 0;
  const auto [p, ec] = std::from_chars(name.data(), end, base);  // 20 nines overflow: not a segment name
  return ec == std::errc{} && p == end ? base : 0;
}

std::vector<std::uint64_t> list_segment_bases(const std::string& dir) {
  std::vector<std::uint64_t> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d))
    if (const std::uint64_t base = segment_name_base(e->d_name)) out.push_back(base);
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string encode_index(std::uint64_t base_seq, std::uint64_t last_seq, const std::vector<IndexEntry>& entries) {
  IndexHeader h{kIndexMagic, base_seq, last_seq, static_cast<std::uint32_t>(entries.size()), 0};
  h.crc = index_crc(h, entries.data(), entries.size());
  std::string bytes(reinterpret_cast<const char*>(&h), sizeof h);
  bytes.append(reinterpret_cast<const char*>(entries.data()), entries.size() * sizeof(IndexEntry));
  return bytes;
}

const char* decode_index(std::string_view b, std::uint64_t base_seq, IndexHeader& h, std::vector<IndexEntry>& out) {
  out.clear();
  if (b.size() < sizeof h) return "shorter than an index header";
  std::memcpy(&h, b.data(), sizeof h);
  if (h.magic != kIndexMagic) return "bad index magic";
  if (b.size() != sizeof h + std::uint64_t{h.count} * sizeof(IndexEntry)) return "index size does not match its count";
  if (index_crc(h, b.data() + sizeof h, h.count) != h.crc) return "index CRC mismatch";
  if (h.base_seq != base_seq) return "index base_seq does not match its file name";
  if (h.count == 0) return "index without entries";
  out.resize(h.count);
  std::memcpy(out.data(), b.data() + sizeof h, out.size() * sizeof(IndexEntry));
  // What a seek relies on: the first block first, then blocks ascending in seq and offset.
  for (std::size_t i = 0; i < out.size(); ++i) {
    const IndexEntry& e = out[i];
    const bool in_order = i ? e.first_seq > out[i - 1].first_seq && e.offset > out[i - 1].offset
                            : e.first_seq == base_seq && e.offset == kSegmentHeaderSize;
    if (!in_order || e.offset % kPage || e.first_seq > h.last_seq) {
      out.clear();
      return "index entries out of order";
    }
  }
  return nullptr;
}

const char* load_index(const std::string& dir, std::uint64_t base_seq, IndexHeader& head,
                       std::vector<IndexEntry>& out) {
  out.clear();
  std::ifstream f(dir + "/" + index_file_name(base_seq), std::ios::binary | std::ios::ate);
  if (!f) return "no index file";
  const std::streamoff size = f.tellg();
  // At most 2^24 entries: one per MiB of a 16 TiB segment.
  if (size < 0 || size > static_cast<std::streamoff>(sizeof(IndexHeader) + sizeof(IndexEntry) * (1u << 24)))
    return "index file too large";
  std::string bytes(static_cast<std::size_t>(size), '\0');
  if (!f.seekg(0) || !f.read(bytes.data(), size)) return "cannot read the index file";
  return decode_index(bytes, base_seq, head, out);
}

bool looks_like_stream_dir(const std::string& dir) { return ::access((dir + "/" + kSpareName).c_str(), F_OK) == 0; }

}  // namespace aerolog::detail
