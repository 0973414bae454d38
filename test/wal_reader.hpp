// A hand-written .alog reader for the tests, decoding straight from proto/FORMAT.md
// (independent of the sidecar's and the library's own decoders).
#pragma once
#include <aerolog/proto/crc32c.hpp>
#include <aerolog/proto/segment.hpp>

#include "ring_consumer.hpp"

#include <algorithm>
#include <dirent.h>
#include <fstream>
#include <string>
#include <vector>

namespace testutil {

struct WalScan {
  std::vector<Record> records;
  std::vector<std::string> segments;
  std::string error;  // first inconsistency found
};

inline std::vector<std::string> segment_files(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n.size() == 25 && n.substr(20) == ".alog") out.push_back(n);
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

// Reads every segment of a stream directory in order; stops a segment at its first block
// without the magic or of an older generation (a recycled file's). Checks CRCs and seq continuity.
inline WalScan read_wal(const std::string& dir) {
  using namespace aerolog::proto;
  WalScan out;
  std::uint64_t expect = 0;
  for (const auto& name : segment_files(dir)) {
    out.segments.push_back(name);
    const std::string b = read_all(dir + "/" + name);
    if (b.size() < 4096) {
      out.error = name + ": short";
      return out;
    }
    SegmentHeader sh;
    std::memcpy(&sh, b.data(), sizeof sh);
    if (sh.magic != kSegmentMagic || sh.crc != crc32c(b.data(), 124)) {
      out.error = name + ": bad header";
      return out;
    }
    if (std::stoull(name.substr(0, 20)) != sh.base_seq) {
      out.error = name + ": name/base mismatch";
      return out;
    }
    if (expect && sh.base_seq != expect) {
      out.error = name + ": segment does not continue the seqs";
      return out;
    }
    for (std::size_t off = 4096; off + 64 <= b.size();) {
      BlockHeader h;
      std::memcpy(&h, b.data() + off, sizeof h);
      if (h.magic != kBlockMagic || h.generation < sh.generation) break;
      if (off + h.length > b.size() || h.generation != sh.generation ||
          crc32c(b.data() + off + 8, h.length - 8) != h.crc) {
        out.error = name + ": bad block at " + std::to_string(off);
        return out;
      }
      std::size_t p = off + 64;
      for (std::uint32_t i = 0; i < h.count; ++i) {
        Record r;
        std::uint32_t len;
        std::memcpy(&len, b.data() + p, 4);
        std::memcpy(&r.type, b.data() + p + 4, 2);
        std::memcpy(&r.flags, b.data() + p + 6, 2);
        std::memcpy(&r.seq, b.data() + p + 8, 8);
        std::memcpy(&r.ts, b.data() + p + 16, 8);
        r.payload.assign(b.begin() + static_cast<long>(p) + 24, b.begin() + static_cast<long>(p) + len);
        if (expect && r.seq != expect) {
          out.error = name + ": seq " + std::to_string(r.seq) + " where " + std::to_string(expect) + " was due";
          return out;
        }
        expect = r.seq + 1;
        out.records.push_back(std::move(r));
        p += (len + 7) & ~7u;
      }
      off += (h.length + 4095) & ~std::size_t{4095};
    }
  }
  return out;
}

}  // namespace testutil
