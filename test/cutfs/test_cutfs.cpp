// Tests of aerolog-cutfs: each mounts its own instance on fresh dirs under /tmp, does I/O
// through the mount, cuts the power and checks the images against the durability model.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cutfs_client.hpp"

#ifdef CUTFS_HAVE_URING
#include <liburing.h>
#endif

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

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// "" when path holds exactly `want`, else a short description (Catch would print whole MiBs).
std::string mismatch(const std::string& path, const std::string& want) {
  auto got = read_file(path);
  if (!got) return path + ": missing";
  if (got->size() != want.size())
    return path + ": size " + std::to_string(got->size()) + ", want " + std::to_string(want.size());
  auto diff = std::mismatch(got->begin(), got->end(), want.begin()).first - got->begin();
  if (diff != static_cast<std::ptrdiff_t>(want.size())) return path + ": differs at byte " + std::to_string(diff);
  return {};
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string pattern(std::size_t n, unsigned salt) {  // no zero bytes, differs per salt
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(0x80 | ((i * 7 + salt) % 127));
  return s;
}

void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  REQUIRE(::fsync(fd) == 0);
  ::close(fd);
}

// Creates (or truncates) path with data; fsync of the file if asked. Never syncs the dir.
void put(const std::string& path, const std::string& data, bool sync) {
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

TEST_CASE("cutfs: a file fsynced and its dir fsynced is in every image") {
  SKIP_WITHOUT_CUTFS();
  TempDir t;
  CutFs cut(t.backing(), t.mnt());
  std::string data = pattern(10000, 1);
  put(cut.mount() + "/a.dat", data, true);
  fsync_path(cut.mount());
  put(cut.mount() + "/pending.dat", pattern(5000, 2), false);  // so the images differ
  auto images = cut.cut(t.out(), 8, 7);
  REQUIRE(images.size() == 8);
  for (const auto& img : images) {
    INFO(img);
    CHECK(mismatch(img + "/a.dat", data) == "");
  }
  CHECK_FALSE(exists(images[0] + "/pending.dat"));
  CHECK(mismatch(images[1] + "/pending.dat", pattern(5000, 2)) == "");
}

TEST_CASE("cutfs: a write without fsync is torn at sector granularity") {
  SKIP_WITHOUT_CUTFS();
  for (unsigned sector : {512u, 4096u}) {
    INFO("sector " << sector);
    TempDir t;
    CutFs cut(t.backing(), t.mnt(), 300, 1, std::to_string(sector));
    const std::size_t size = 64 * 1024;
    std::string old(size, '\0'), fresh = pattern(size, 3);
    std::string path = cut.mount() + "/f";
    put(path, old, true);
    fsync_path(cut.mount());
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    // Unaligned start, so the first and last sectors are partly old by nature.
    REQUIRE(::pwrite(fd, fresh.data() + 100, size - 200, 100) == static_cast<ssize_t>(size - 200));
    ::close(fd);
    std::string full = old;
    full.replace(100, size - 200, fresh.substr(100, size - 200));
    std::string stats = cut.stats();
    INFO(stats);
    CHECK(stats.find("bytes_pending=" + std::to_string(size - 200)) != std::string::npos);

    auto images = cut.cut(t.out(), 22, 11);
    CHECK(mismatch(images[0] + "/f", old) == "");
    CHECK(mismatch(images[1] + "/f", full) == "");
    int torn = 0;
    for (std::size_t i = 2; i < images.size(); ++i) {
      auto got = read_file(images[i] + "/f");
      REQUIRE(got);
      REQUIRE(got->size() == size);
      std::size_t kept = 0, sectors = size / sector;
      for (std::size_t s = 0; s < sectors; ++s) {
        std::string_view g(got->data() + s * sector, sector);
        bool is_old = g == std::string_view(old.data() + s * sector, sector);
        bool is_new = g == std::string_view(full.data() + s * sector, sector);
        INFO("image " << i << " sector " << s);
        REQUIRE((is_old || is_new));  // a sector is never torn inside
        kept += is_new && !is_old;
      }
      torn += kept > 0 && kept < sectors;
    }
    CHECK(torn > 0);
  }
}

TEST_CASE("cutfs: O_DIRECT O_DSYNC writes are durable without fsync") {
  SKIP_WITHOUT_CUTFS();
  TempDir t;
  CutFs cut(t.backing(), t.mnt());
  std::string path = cut.mount() + "/seg";
  put(path, "", true);
  fsync_path(cut.mount());
  Aligned a(pattern(8192, 4)), b(pattern(4096, 5));
  int fd = ::open(path.c_str(), O_WRONLY | O_DIRECT | O_DSYNC | O_CLOEXEC);
  REQUIRE(fd >= 0);
  REQUIRE(::pwrite(fd, a.p, 8192, 0) == 8192);
  ::close(fd);
  fd = ::open(path.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);  // no dsync: not durable
  REQUIRE(fd >= 0);
  REQUIRE(::pwrite(fd, b.p, 4096, 8192) == 4096);
  ::close(fd);
  auto images = cut.cut(t.out(), 2, 1);
  CHECK(mismatch(images[0] + "/seg", pattern(8192, 4)) == "");
  CHECK(mismatch(images[1] + "/seg", pattern(8192, 4) + pattern(4096, 5)) == "");
}

#ifdef CUTFS_HAVE_URING
TEST_CASE("cutfs: io_uring RWF_DSYNC and linked fdatasync writes are durable") {
  SKIP_WITHOUT_CUTFS();
  TempDir t;
  CutFs cut(t.backing(), t.mnt());
  std::string path = cut.mount() + "/seg";
  put(path, std::string(3 * 4096, '\0'), true);
  fsync_path(cut.mount());
  int fd = ::open(path.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
  REQUIRE(fd >= 0);
  io_uring ring;
  REQUIRE(io_uring_queue_init(8, &ring, 0) == 0);
  Aligned a(pattern(4096, 6)), b(pattern(4096, 7)), c(pattern(4096, 8));
  auto run = [&](int expect) {
    REQUIRE(io_uring_submit(&ring) == expect);
    for (int i = 0; i < expect; ++i) {
      io_uring_cqe* cqe = nullptr;
      REQUIRE(io_uring_wait_cqe(&ring, &cqe) == 0);
      CHECK(cqe->res >= 0);
      io_uring_cqe_seen(&ring, cqe);
    }
  };
  // The RWF_DSYNC write comes last: a later fsync would make it durable anyway.
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);  // 1: write linked to fdatasync
  io_uring_prep_write(sqe, fd, b.p, 4096, 0);
  sqe->flags |= IOSQE_IO_LINK;
  sqe = io_uring_get_sqe(&ring);
  io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
  run(2);
  sqe = io_uring_get_sqe(&ring);  // 2: neither
  io_uring_prep_write(sqe, fd, c.p, 4096, 4096);
  run(1);
  sqe = io_uring_get_sqe(&ring);  // 3: RWF_DSYNC, as the sidecar writes blocks
  io_uring_prep_write(sqe, fd, a.p, 4096, 8192);
  sqe->rw_flags = RWF_DSYNC;
  run(1);
  io_uring_queue_exit(&ring);
  ::close(fd);
  std::string stats = cut.stats();
  INFO(stats);
  CHECK(stats.find("dsync_writes=1 ") != std::string::npos);
  auto images = cut.cut(t.out(), 2, 1);
  std::string zeros(4096, '\0');
  CHECK(mismatch(images[0] + "/seg", pattern(4096, 7) + zeros + pattern(4096, 6)) == "");
  CHECK(mismatch(images[1] + "/seg", pattern(4096, 7) + pattern(4096, 8) + pattern(4096, 6)) == "");
}
#endif

TEST_CASE("cutfs: a new name needs an fsync of its directory") {
  SKIP_WITHOUT_CUTFS();
  TempDir t;
  CutFs cut(t.backing(), t.mnt());
  std::string m = cut.mount();
  REQUIRE(::mkdir((m + "/named").c_str(), 0755) == 0);
  REQUIRE(::mkdir((m + "/unnamed").c_str(), 0750) == 0);
  fsync_path(m);
  // fsyncdir makes durable the ops on that directory only.
  put(m + "/named/b", pattern(3000, 9), true);
  fsync_path(m + "/named");
  put(m + "/unnamed/a", pattern(5000, 10), true);  // data durable, name not
  auto images = cut.cut(t.out(), 12, 3);
  CHECK(mismatch(images[0] + "/named/b", pattern(3000, 9)) == "");
  CHECK_FALSE(exists(images[0] + "/unnamed/a"));
  CHECK(fs::status(images[0] + "/unnamed").permissions() == fs::perms(0750));
  CHECK(mismatch(images[1] + "/unnamed/a", pattern(5000, 10)) == "");
  for (const auto& img : images) {  // wherever the name made it, all the data is there
    INFO(img);
    if (exists(img + "/unnamed/a")) CHECK(mismatch(img + "/unnamed/a", pattern(5000, 10)) == "");
  }
}

TEST_CASE("cutfs: a directory whose parent was never fsynced is lost with everything in it") {
  SKIP_WITHOUT_CUTFS();
  TempDir t;
  CutFs cut(t.backing(), t.mnt());
  std::string m = cut.mount();
  REQUIRE(::mkdir((m + "/orphan").c_str(), 0755) == 0);  // its parent is never fsynced
  put(m + "/orphan/a", pattern(4000, 11), true);
  fsync_path(m + "/orphan");  // makes the file's name durable inside it, not the directory's own name
  auto images = cut.cut(t.out(), 6, 5);
  CHECK_FALSE(exists(images[0] + "/orphan"));
  CHECK(mismatch(images[1] + "/orphan/a", pattern(4000, 11)) == "");
  for (const auto& img : images)
    if (exists(img + "/orphan")) CHECK(mismatch(img + "/orphan/a", pattern(4000, 11)) == "");
}

TEST_CASE("cutfs: rename over a file is atomic and needs a dir fsync") {
  SKIP_WITHOUT_CUTFS();
  TempDir t;
  CutFs cut(t.backing(), t.mnt());
  std::string m = cut.mount();
  for (const char* d : {"/synced", "/unsynced"}) {
    REQUIRE(::mkdir((m + d).c_str(), 0755) == 0);
    put(m + d + "/cur", "OLD contents", true);
    put(m + d + "/cur.tmp", "NEW contents, longer", true);
  }
  fsync_path(m);
  fsync_path(m + "/synced");
  fsync_path(m + "/unsynced");
  REQUIRE(::rename((m + "/synced/cur.tmp").c_str(), (m + "/synced/cur").c_str()) == 0);
  fsync_path(m + "/synced");
  REQUIRE(::rename((m + "/unsynced/cur.tmp").c_str(), (m + "/unsynced/cur").c_str()) == 0);
  auto images = cut.cut(t.out(), 10, 5);
  for (std::size_t i = 0; i < images.size(); ++i) {
    INFO("image " << i);
    const std::string& img = images[i];
    CHECK(mismatch(img + "/synced/cur", "NEW contents, longer") == "");
    CHECK_FALSE(exists(img + "/synced/cur.tmp"));
    auto cur = read_file(img + "/unsynced/cur");
    bool renamed = cur == "NEW contents, longer";
    if (i == 0) CHECK(cur == "OLD contents");
    if (i == 1) CHECK(renamed);
    if (!renamed) CHECK(cur == "OLD contents");
    CHECK(exists(img + "/unsynced/cur.tmp") == !renamed);
  }
}

TEST_CASE("cutfs: unlink without a dir fsync can be undone by a cut") {
  SKIP_WITHOUT_CUTFS();
  TempDir t;
  CutFs cut(t.backing(), t.mnt());
  put(cut.mount() + "/gone", "still here", true);
  fsync_path(cut.mount());
  REQUIRE(::unlink((cut.mount() + "/gone").c_str()) == 0);
  CHECK_FALSE(exists(cut.mount() + "/gone"));
  auto images = cut.cut(t.out(), 2, 1);
  CHECK(mismatch(images[0] + "/gone", "still here") == "");
  CHECK_FALSE(exists(images[1] + "/gone"));
}

TEST_CASE("cutfs: mmap of an O_DIRECT file, posix_fallocate and OFD locks work") {
  SKIP_WITHOUT_CUTFS();
  TempDir t;
  CutFs cut(t.backing(), t.mnt());
  std::string path = cut.mount() + "/seg";
  int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_DIRECT | O_CLOEXEC, 0640);
  REQUIRE(fd >= 0);
  REQUIRE(::posix_fallocate(fd, 0, 1 << 20) == 0);
  struct stat st {};
  REQUIRE(::fstat(fd, &st) == 0);
  CHECK(st.st_size == (1 << 20));
  Aligned a(pattern(4096, 12));
  REQUIRE(::pwrite(fd, a.p, 4096, 8192) == 4096);
  REQUIRE(::fdatasync(fd) == 0);
  void* map = ::mmap(nullptr, 1 << 20, PROT_READ, MAP_SHARED, fd, 0);
  REQUIRE(map != MAP_FAILED);
  CHECK(std::memcmp(static_cast<char*>(map) + 8192, a.p, 4096) == 0);
  CHECK(static_cast<char*>(map)[0] == 0);
  ::munmap(map, 1 << 20);

  struct flock lk {};
  lk.l_type = F_WRLCK;
  lk.l_whence = SEEK_SET;
  CHECK(::fcntl(fd, F_OFD_SETLK, &lk) == 0);
  int other = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  REQUIRE(other >= 0);
  struct flock lk2 {};
  lk2.l_type = F_WRLCK;
  lk2.l_whence = SEEK_SET;
  CHECK(::fcntl(other, F_OFD_SETLK, &lk2) == -1);  // held by the first description
  CHECK((errno == EAGAIN || errno == EACCES));
  ::close(other);
  ::close(fd);
  fsync_path(cut.mount());
  auto images = cut.cut(t.out(), 2, 1);
  std::string expect(1 << 20, '\0');
  expect.replace(8192, 4096, pattern(4096, 12));
  CHECK(mismatch(images[0] + "/seg", expect) == "");
  CHECK(fs::status(images[0] + "/seg").permissions() == fs::perms(0640));
}

TEST_CASE("cutfs: after a cut every operation fails with EIO") {
  SKIP_WITHOUT_CUTFS();
  TempDir t;
  CutFs cut(t.backing(), t.mnt());
  int fd = ::open((cut.mount() + "/f").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  cut.cut(t.out(), 2, 1);
  errno = 0;
  CHECK(::pwrite(fd, "x", 1, 0) == -1);
  CHECK(errno == EIO);
  CHECK(::fsync(fd) == -1);
  ::close(fd);
  errno = 0;
  CHECK(::open((cut.mount() + "/g").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644) == -1);
  CHECK(errno == EIO);
}

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
