// Shared by the aerolog-cutfs tests (test_cutfs.cpp, test_cutfs_load.cpp): the skip macro, a
// temp dir per test, and small file helpers that check with Catch2.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "cutfs_client.hpp"

namespace fs = std::filesystem;
using testutil::CutFs;

namespace {

#define SKIP_WITHOUT_CUTFS()                                    \
  do {                                                          \
    std::string why_ = CutFs::unavailable_reason();             \
    if (!why_.empty()) {                                        \
      WARN("SKIPPED: aerolog-cutfs cannot run here: " << why_); \
      return;                                                   \
    }                                                           \
  } while (0)

// /tmp/cutfs-test.XXXXXX with backing/, mnt/ and out/ paths; removed at the end. Declare it
// before the CutFs so the mount is gone first.
struct TempDir {
  std::string root;
  TempDir() {
    std::string t = "/tmp/cutfs-test.XXXXXX";
    REQUIRE(::mkdtemp(t.data()) != nullptr);
    root = t;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  std::string backing() const { return root + "/backing"; }
  std::string mnt() const { return root + "/mnt"; }
  std::string out() const { return root + "/out"; }
};

inline std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// "" when path holds exactly `want`, else a short description (Catch would print whole MiBs).
inline std::string mismatch(const std::string& path, const std::string& want) {
  auto got = read_file(path);
  if (!got) return path + ": missing";
  if (got->size() != want.size())
    return path + ": size " + std::to_string(got->size()) + ", want " + std::to_string(want.size());
  auto diff = std::mismatch(got->begin(), got->end(), want.begin()).first - got->begin();
  if (diff != static_cast<std::ptrdiff_t>(want.size())) return path + ": differs at byte " + std::to_string(diff);
  return {};
}

inline bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

inline std::string pattern(std::size_t n, unsigned salt) {  // no zero bytes, differs per salt
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(0x80 | ((i * 7 + salt) % 127));
  return s;
}

inline void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  REQUIRE(::fsync(fd) == 0);
  ::close(fd);
}

// Creates (or truncates) path with data; fsync of the file if asked. Never syncs the dir.
inline void put(const std::string& path, const std::string& data, bool sync) {
  int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::pwrite(fd, data.data(), data.size(), 0) == static_cast<ssize_t>(data.size()));
  if (sync) REQUIRE(::fsync(fd) == 0);
  ::close(fd);
}

// A 4 KiB-aligned buffer for O_DIRECT.
struct Aligned {
  char* p = nullptr;
  explicit Aligned(const std::string& s) {
    REQUIRE(::posix_memalign(reinterpret_cast<void**>(&p), 4096, s.size()) == 0);
    std::memcpy(p, s.data(), s.size());
  }
  ~Aligned() { std::free(p); }
};

}  // namespace
