#include "wal_files.hpp"

#include <aerolog/proto/crc32c.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
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

}  // namespace

std::string segment_file_name(std::uint64_t base_seq) { return file_name(base_seq, kSegmentSuffix); }
std::string index_file_name(std::uint64_t base_seq) { return file_name(base_seq, kIndexSuffix); }

std::vector<std::uint64_t> list_segment_bases(const std::string& dir) {
  std::vector<std::uint64_t> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    constexpr std::size_t kSuffixLen = sizeof kSegmentSuffix - 1;
    if (n.size() != kSegmentNameDigits + kSuffixLen || n.compare(kSegmentNameDigits, kSuffixLen, kSegmentSuffix) != 0)
      continue;
    if (!std::all_of(n.begin(), n.begin() + kSegmentNameDigits, [](unsigned char c) { return std::isdigit(c); })) continue;
    out.push_back(std::stoull(n.substr(0, kSegmentNameDigits)));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<IndexEntry> read_index(const std::string& dir, std::uint64_t base_seq) {
  if (dir.empty()) return {};
  std::ifstream f(dir + "/" + index_file_name(base_seq), std::ios::binary);
  IndexHeader h{};
  if (!f.read(reinterpret_cast<char*>(&h), sizeof h) || h.magic != kIndexMagic || h.base_seq != base_seq ||
      h.count > (1u << 24))
    return {};
  std::vector<IndexEntry> e(h.count);
  if (!f.read(reinterpret_cast<char*>(e.data()), static_cast<std::streamsize>(e.size() * sizeof(IndexEntry))) ||
      crc32c(e.data(), e.size() * sizeof(IndexEntry)) != h.crc)
    return {};
  return e;
}

bool looks_like_stream_dir(const std::string& dir) {
  return ::access((dir + "/" + kSpareName).c_str(), F_OK) == 0;
}

}  // namespace aerolog::detail
