// Tests of aerolog-cutfs: each mounts its own instance on fresh dirs under /tmp, does I/O
// through the mount, cuts the power and checks the images against the durability model.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "cutfs_test_util.hpp"

#ifdef CUTFS_HAVE_URING
#include <liburing.h>
#endif

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
