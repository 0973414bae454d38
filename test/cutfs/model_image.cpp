// Writing the images of aerolog-cutfs after a cut: the per-image random source, replaying data
// ops onto real files (torn per sector), and the trees of files, links and dirs.
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <random>
#include <set>
#include <stdexcept>

#include "log.hpp"
#include "model.hpp"
#include "model_io.hpp"

namespace cutfs {

namespace fs = std::filesystem;

class Rng {
 public:
  Rng(std::uint64_t seed, std::uint64_t image) {
    std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                      static_cast<std::uint32_t>(image)};
    gen_.seed(seq);
  }
  double uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(gen_); }
  bool chance(double p) { return uniform() < p; }
  std::uint64_t upto(std::uint64_t n) {  // 0..n inclusive
    return std::uniform_int_distribution<std::uint64_t>(0, n)(gen_);
  }

 private:
  std::mt19937_64 gen_;
};

namespace {

void pwrite_all(int fd, const char* p, std::size_t n, off_t off) {
  while (n > 0) {
    ssize_t r = ::pwrite(fd, p, n, off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) fail("pwrite");
    p += r;
    n -= static_cast<std::size_t>(r);
    off += r;
  }
}

void write_zeros(int fd, off_t off, off_t len) {
  static const std::string zeros(1 << 16, '\0');
  while (len > 0) {
    auto n = static_cast<std::size_t>(std::min<off_t>(len, static_cast<off_t>(zeros.size())));
    pwrite_all(fd, zeros.data(), n, off);
    off += static_cast<off_t>(n);
    len -= static_cast<off_t>(n);
  }
}

off_t file_size(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail("fstat");
  return st.st_size;
}

// fallocate, or the same visible result by hand where the target filesystem lacks a mode
// (images may land on a filesystem without ZERO_RANGE, e.g. tmpfs).
void apply_fallocate(int fd, int mode, off_t off, off_t len) {
  if (::fallocate(fd, mode, off, len) == 0) return;
  if (errno != EOPNOTSUPP) fail("fallocate");
  off_t size = file_size(fd);
  bool keep = mode & FALLOC_FL_KEEP_SIZE;
  off_t end = keep ? std::min(off + len, size) : off + len;
  if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
    if (end > off) write_zeros(fd, off, end - off);
  } else if (!keep && end > size && ::ftruncate(fd, end) != 0) {
    fail("ftruncate");
  }
}

}  // namespace

void apply_data_op(int fd, const DataOp& op, Rng* rng, double p, unsigned sector) {
  switch (op.type) {
    case DataOp::Type::write: {
      off_t end = op.off + static_cast<off_t>(op.bytes.size());
      if (!rng) {
        pwrite_all(fd, op.bytes.data(), op.bytes.size(), op.off);
        break;
      }
      for (off_t s = op.off; s < end;) {
        off_t e = std::min(end, (s / sector + 1) * static_cast<off_t>(sector));
        if (rng->chance(p)) pwrite_all(fd, op.bytes.data() + (s - op.off), static_cast<std::size_t>(e - s), s);
        s = e;
      }
      break;
    }
    case DataOp::Type::truncate:
      if ((!rng || rng->chance(p)) && ::ftruncate(fd, op.off) != 0) fail("ftruncate");
      break;
    case DataOp::Type::fallocate:
      if (!rng || rng->chance(p)) apply_fallocate(fd, op.mode, op.off, op.len);
      break;
  }
}

void copy_sparse(int in, int out) {
  off_t size = file_size(in);
  std::string buf(1 << 20, '\0');
  off_t data = 0;
  while (data < size) {
    data = ::lseek(in, data, SEEK_DATA);
    if (data < 0) break;  // ENXIO: no data after here
    off_t hole = ::lseek(in, data, SEEK_HOLE);
    if (hole < 0) fail("lseek");
    while (data < hole) {
      auto n = static_cast<std::size_t>(std::min<off_t>(hole - data, 1 << 20));
      ssize_t r = ::pread(in, buf.data(), n, data);
      if (r <= 0) fail("pread");
      pwrite_all(out, buf.data(), static_cast<std::size_t>(r), data);
      data += r;
    }
  }
  if (::ftruncate(out, size) != 0) fail("ftruncate");
}

// Image k of a file: the durable content, then its log replayed in order: durable ops whole,
// the others all (k == 1), none (k == 0), or per sector / per op with probability p.
void Model::write_file_image(Id id, const Inode& ino, const std::string& path, Rng& rng, unsigned k, double p,
                             unsigned sector) {
  Fd out(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (out.fd < 0) fail("create " + path);
  Fd in(::open(state_path(id).c_str(), O_RDONLY | O_CLOEXEC));
  if (in.fd >= 0) copy_sparse(in.fd, out.fd);  // none: never durable, so empty
  for (const auto& op : ino.log) {
    if (op.durable || k == 1)
      apply_data_op(out.fd, op, nullptr, 1.0, sector);
    else if (k != 0)
      apply_data_op(out.fd, op, &rng, p, sector);
  }
  if (::fchmod(out.fd, ino.mode) != 0) fail("fchmod " + path);
}

void Model::write_tree_image(const Tree& tree, const std::string& root, Rng& rng, unsigned k, double p,
                             unsigned sector) {
  std::unordered_map<Id, std::string> first_path;  // hard links: write once, link the rest
  std::set<Id> dirs_seen;
  auto walk = [&](auto&& self, Id dir, const std::string& path) -> void {
    if (::mkdir(path.c_str(), 0700) != 0) fail("mkdir " + path);
    auto entries = tree.find(dir);
    if (entries != tree.end()) {
      for (const auto& [name, id] : entries->second) {
        auto it = inodes_.find(id);
        if (it == inodes_.end()) continue;
        std::string child = path + "/" + name;
        const Inode& ino = it->second;
        if (ino.kind == Kind::dir) {
          if (dirs_seen.insert(id).second) self(self, id, child);
        } else if (ino.kind == Kind::symlink) {
          if (::symlink(ino.target.c_str(), child.c_str()) != 0) fail("symlink " + child);
        } else if (auto f = first_path.find(id); f != first_path.end()) {
          if (::link(f->second.c_str(), child.c_str()) != 0) fail("link " + child);
        } else {
          write_file_image(id, ino, child, rng, k, p, sector);
          first_path[id] = child;
        }
      }
    }
    // Mode last, so a read-only directory can still be filled.
    if (auto it = inodes_.find(dir); it != inodes_.end())
      if (::chmod(path.c_str(), it->second.mode) != 0) fail("chmod " + path);
  };
  dirs_seen.insert(kRootId);
  walk(walk, kRootId, root);
}

std::string Model::write_images(const std::string& outdir, unsigned count, std::uint64_t seed, unsigned sector,
                                unsigned default_sector) {
  std::lock_guard lock(mu_);
  if (count < 2) return "count must be at least 2";
  try {
    fs::create_directories(outdir);
    for (unsigned k = 0; k < count; ++k) {
      Rng rng(seed, k);
      unsigned sec = sector ? sector : default_sector;
      if (!sec) sec = rng.chance(0.5) ? 512 : 4096;
      double p = k == 0 ? 0.0 : k == 1 ? 1.0 : rng.uniform();
      std::size_t prefix = k == 0 ? 0 : k == 1 ? pending_.size() : rng.upto(pending_.size());
      Tree tree = durable_;
      for (std::size_t i = 0; i < prefix; ++i) apply_ns(tree, pending_[i]);
      write_tree_image(tree, outdir + "/" + std::to_string(k), rng, k, p, sec);
      logf("image %u: sector=%u p=%.3f ns_prefix=%zu/%zu", k, sec, p, prefix, pending_.size());
    }
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

}  // namespace cutfs
