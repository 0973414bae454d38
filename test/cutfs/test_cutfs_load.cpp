// Tests of aerolog-cutfs under load: acknowledged writes and durable names while other threads
// write, rename and fsync, and a mixed workload whose image 1 must equal the backing dir.
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cutfs_test_util.hpp"

TEST_CASE("cutfs: writes acknowledged before a cut under load are all in image 0") {
  SKIP_WITHOUT_CUTFS();
  TempDir t;
  CutFs cut(t.backing(), t.mnt());
  constexpr int kThreads = 3, kBlocks = 256;
  for (int w = 0; w < kThreads; ++w)
    put(cut.mount() + "/w" + std::to_string(w), std::string(kBlocks * 4096, '\0'), true);
  fsync_path(cut.mount());
  std::atomic<bool> stop{false};
  std::vector<std::atomic<int>> acked(kThreads);
  std::vector<std::thread> writers;
  for (int w = 0; w < kThreads; ++w) {
    writers.emplace_back([&, w] {
      // No Catch2 macro in this thread (Catch2 is not thread-safe): failures show as acked counts.
      int fd = ::open((cut.mount() + "/w" + std::to_string(w)).c_str(), O_WRONLY | O_DIRECT | O_DSYNC | O_CLOEXEC);
      void* blk = nullptr;
      if (fd < 0 || ::posix_memalign(&blk, 4096, 4096) != 0) return;
      for (int i = 0; i < kBlocks && !stop; ++i) {
        std::memset(blk, 1 + i % 250, 4096);
        if (::pwrite(fd, blk, 4096, static_cast<off_t>(i) * 4096) != 4096) break;
        acked[w] = i + 1;
      }
      std::free(blk);
      ::close(fd);
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  int before[kThreads];
  for (int w = 0; w < kThreads; ++w) before[w] = acked[w];
  auto images = cut.cut(t.out(), 2, 1);
  stop = true;
  for (auto& th : writers) th.join();
  for (int w = 0; w < kThreads; ++w) {
    INFO("writer " << w << " acked " << before[w] << " before the cut, " << acked[w] << " in all");
    CHECK(before[w] > 0);
    auto got = read_file(images[0] + "/w" + std::to_string(w));
    REQUIRE(got);
    for (int i = 0; i < before[w]; ++i)
      REQUIRE(got->substr(static_cast<std::size_t>(i) * 4096, 4096) ==
              std::string(4096, static_cast<char>(1 + i % 250)));
    CHECK(acked[w] < kBlocks);  // the cut did catch the writer mid-way
  }
}

TEST_CASE("cutfs: names made durable while another thread renames and fsyncs are in image 0") {
  // One thread replaces a file by rename and fsyncs its directory in a tight loop (each fsync
  // makes ops durable and lets cutfs forget replaced inodes); the test thread meanwhile makes
  // directories and fsynced files and fsyncs their parents. Every one of them is durable, so
  // every one must be in image 0: a forgotten new inode would silently vanish from it.
  SKIP_WITHOUT_CUTFS();
  TempDir t;
  CutFs cut(t.backing(), t.mnt());
  const std::string churn = cut.mount() + "/churn";
  REQUIRE(::mkdir(churn.c_str(), 0755) == 0);
  fsync_path(cut.mount());
  std::atomic<bool> stop{false};
  std::thread renamer([&] {  // no Catch2 macro in this thread
    while (!stop) {
      int fd = ::open((churn + "/f.tmp").c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
      if (fd < 0) return;
      ::close(fd);
      if (::rename((churn + "/f.tmp").c_str(), (churn + "/f").c_str()) != 0) return;
      int d = ::open(churn.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (d < 0) return;
      ::fsync(d);
      ::close(d);
    }
  });
  constexpr int kDirs = 300;
  for (int i = 0; i < kDirs; ++i) {
    const std::string dir = cut.mount() + "/d" + std::to_string(i);
    REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
    fsync_path(cut.mount());
    put(dir + "/x", std::to_string(i), true);
    fsync_path(dir);
  }
  stop = true;
  renamer.join();
  auto images = cut.cut(t.out(), 2, 1);
  for (int i = 0; i < kDirs; ++i) {
    INFO("d" << i);
    REQUIRE(read_file(images[0] + "/d" + std::to_string(i) + "/x") == std::optional<std::string>(std::to_string(i)));
  }
}

namespace {
// name -> (type+mode, content or symlink target) for every entry under root.
std::map<std::string, std::pair<unsigned, std::string>> snapshot(const std::string& root) {
  std::map<std::string, std::pair<unsigned, std::string>> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    struct stat st {};
    REQUIRE(::lstat(it->path().c_str(), &st) == 0);
    std::string content;
    if (S_ISREG(st.st_mode)) content = *read_file(it->path());
    if (S_ISLNK(st.st_mode)) content = fs::read_symlink(it->path()).string();
    out[fs::relative(it->path(), root).string()] = {st.st_mode, content};
  }
  return out;
}
}  // namespace

TEST_CASE("cutfs: image 1 equals the backing dir after a mixed workload") {
  SKIP_WITHOUT_CUTFS();
  TempDir t;
  fs::create_directories(t.backing() + "/pre/sub");
  {
    std::ofstream(t.backing() + "/pre/sub/old") << "from before the mount";
    std::ofstream(t.backing() + "/pre/keep") << "kept";
  }
  CutFs cut(t.backing(), t.mnt(), 50);
  std::string m = cut.mount();
  std::mt19937 rng(42);
  REQUIRE(::mkdir((m + "/d").c_str(), 0700) == 0);
  for (int i = 0; i < 40; ++i) {
    std::string f = m + "/d/f" + std::to_string(rng() % 8);
    int fd = ::open(f.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600 + (i % 3) * 040);
    REQUIRE(fd >= 0);
    std::string data = pattern(1 + rng() % 20000, i);
    REQUIRE(::pwrite(fd, data.data(), data.size(), rng() % 30000) == static_cast<ssize_t>(data.size()));
    if (i % 5 == 0) REQUIRE(::ftruncate(fd, rng() % 10000) == 0);
    if (i % 7 == 0) REQUIRE(::fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 100, 5000) == 0);
    if (i % 4 == 0) REQUIRE(::fsync(fd) == 0);
    ::close(fd);
    if (i % 9 == 0) ::rename(f.c_str(), (m + "/d/r" + std::to_string(i)).c_str());
    if (i % 11 == 0) fsync_path(m + "/d");
  }
  REQUIRE(::rename((m + "/pre/sub").c_str(), (m + "/d/sub").c_str()) == 0);
  REQUIRE(::unlink((m + "/pre/keep").c_str()) == 0);
  REQUIRE(::symlink("d/sub/old", (m + "/ln").c_str()) == 0);
  REQUIRE(::link((m + "/d/sub/old").c_str(), (m + "/hard").c_str()) == 0);
  REQUIRE(::chmod((m + "/d").c_str(), 0751) == 0);
  auto images = cut.cut(t.out(), 3, 9);
  auto want = snapshot(t.backing());
  auto got = snapshot(images[1]);
  CHECK(got.size() == want.size());
  for (const auto& [name, v] : want) {
    INFO(name);
    REQUIRE(got.count(name));
    CHECK(got[name].first == v.first);
    CHECK(got[name].second == v.second);
  }
  auto base = snapshot(images[0]);  // the mount-time tree is durable from the start
  CHECK(base.count("pre/sub/old") + base.count("d/sub/old") == 1);
}
