#include "model.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>
#include <stdexcept>

#include "log.hpp"

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

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }

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

// Applies one data op to fd. rng == nullptr: all of it. Otherwise a write keeps each sector
// (aligned to the file offset, `sector` bytes) with probability p, and a truncate or fallocate
// happens with probability p. Sectors are never torn inside: a disk writes them atomically.
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

// Copies a file keeping its holes (SEEK_DATA/SEEK_HOLE), so 4 MiB preallocated segments that
// are mostly untouched stay cheap.
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

struct Fd {
  int fd;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

}  // namespace

void apply_ns(Tree& tree, const NsOp& op) {
  switch (op.type) {
    case NsOp::Type::add:
      tree[op.dir][op.name] = op.id;
      if (op.mkdir) tree[op.id];  // an empty directory
      break;
    case NsOp::Type::remove:
      tree[op.dir].erase(op.name);
      break;
    case NsOp::Type::rename: {
      auto& from = tree[op.dir];
      auto it = from.find(op.name);
      if (it == from.end()) break;
      Id id = it->second;
      auto& to = tree[op.dir2];
      // rename(2) between two links of one inode does nothing: both names stay.
      if (auto t = to.find(op.name2); t != to.end() && t->second == id) break;
      from.erase(it);
      to[op.name2] = id;  // replaces the target, as rename(2) does
      break;
    }
  }
}

Model::Model(std::string state_dir) : state_dir_(std::move(state_dir)) {}

std::string Model::state_path(Id id) const { return state_dir_ + "/" + std::to_string(id); }

std::unordered_map<ino_t, Id> Model::load_backing(const std::string& backing) {
  std::lock_guard lock(mu_);
  std::unordered_map<ino_t, Id> by_ino;
  struct stat st {};
  if (::lstat(backing.c_str(), &st) != 0) fail(backing);
  by_ino[st.st_ino] = kRootId;
  inodes_[kRootId] = Inode{Kind::dir, st.st_mode & 07777, {}, {}};
  durable_[kRootId];

  // Depth first; hard links get one id (by st_ino) and their content is copied once.
  auto walk = [&](auto&& self, const std::string& path, Id dir) -> void {
    for (const auto& entry : fs::directory_iterator(path)) {
      std::string child = entry.path().string();
      if (::lstat(child.c_str(), &st) != 0) fail(child);
      Kind kind;
      if (S_ISREG(st.st_mode))
        kind = Kind::file;
      else if (S_ISDIR(st.st_mode))
        kind = Kind::dir;
      else if (S_ISLNK(st.st_mode))
        kind = Kind::symlink;
      else
        continue;  // fifos, sockets, devices: not modelled
      auto [it, fresh] = by_ino.try_emplace(st.st_ino, 0);
      if (fresh) {
        it->second = next_id_++;
        Inode& ino = inodes_[it->second];
        ino.kind = kind;
        ino.mode = st.st_mode & 07777;
        if (kind == Kind::file) {
          Fd in(::open(child.c_str(), O_RDONLY | O_CLOEXEC));
          Fd out(::open(state_path(it->second).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
          if (in.fd < 0 || out.fd < 0) fail("copy " + child);
          copy_sparse(in.fd, out.fd);
        } else if (kind == Kind::symlink) {
          std::error_code ec;
          ino.target = fs::read_symlink(child, ec).string();
        }
      }
      durable_[dir][entry.path().filename().string()] = it->second;
      if (fresh && kind == Kind::dir) {
        durable_[it->second];
        self(self, child, it->second);
      }
    }
  };
  walk(walk, backing, kRootId);
  live_ = durable_;
  logf("loaded %zu inodes from %s", inodes_.size(), backing.c_str());
  return by_ino;
}

Id Model::new_id() {
  std::lock_guard lock(mu_);
  return next_id_++;
}

bool Model::create(Id id, Kind kind, mode_t mode, NsOp name, const std::string& target) {
  std::lock_guard lock(mu_);
  if (!power_) return false;
  inodes_[id] = Inode{kind, mode & 07777, target, {}};
  apply_ns(live_, name);
  pending_.push_back(std::move(name));
  stats_.ns_ops++;
  return true;
}

bool Model::queue_write(Id id, off_t off, const char* buf, std::size_t len, std::uint64_t* seq) {
  std::lock_guard lock(mu_);
  if (!power_) return false;
  *seq = next_seq_++;
  stats_.writes++;
  auto it = inodes_.find(id);
  if (it == inodes_.end()) return true;  // an unlinked, forgotten file: no name can show it
  DataOp op{DataOp::Type::write, *seq, off, 0, 0, std::string(buf, len), false};
  it->second.log.push_back(std::move(op));
  bytes_pending_ += len;
  return true;
}

bool Model::queue_truncate(Id id, off_t size) {
  std::lock_guard lock(mu_);
  if (!power_) return false;
  stats_.truncates++;
  auto it = inodes_.find(id);
  if (it != inodes_.end()) it->second.log.push_back(DataOp{DataOp::Type::truncate, next_seq_++, size, 0, 0, {}, false});
  return true;
}

bool Model::queue_fallocate(Id id, int mode, off_t off, off_t len) {
  std::lock_guard lock(mu_);
  if (!power_) return false;
  stats_.fallocates++;
  auto it = inodes_.find(id);
  if (it != inodes_.end())
    it->second.log.push_back(DataOp{DataOp::Type::fallocate, next_seq_++, off, len, mode, {}, false});
  return true;
}

bool Model::set_mode(Id id, mode_t mode) {
  std::lock_guard lock(mu_);
  if (!power_) return false;
  if (auto it = inodes_.find(id); it != inodes_.end()) it->second.mode = mode & 07777;
  return true;
}

bool Model::queue_ns(NsOp op) {
  std::lock_guard lock(mu_);
  if (!power_) return false;
  apply_ns(live_, op);
  pending_.push_back(std::move(op));
  stats_.ns_ops++;
  return true;
}

// The durable prefix of the log goes into the state file; what follows the first op that is
// not durable stays in the log, durable or not, so images replay it in order (a durable
// write after a dropped one must still land on top).
bool Model::compact(Id id, Inode& ino) {
  if (ino.log.empty() || !ino.log.front().durable) return true;
  try {
    Fd fd(::open(state_path(id).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (fd.fd < 0) fail("open state file");
    while (!ino.log.empty() && ino.log.front().durable) {
      apply_data_op(fd.fd, ino.log.front(), nullptr, 1.0, 512);
      bytes_pending_ -= ino.log.front().bytes.size();
      ino.log.pop_front();
    }
  } catch (const std::exception& e) {
    logf("compact %llu: %s", static_cast<unsigned long long>(id), e.what());
    return false;
  }
  return true;
}

bool Model::write_acked_dsync(Id id, std::uint64_t seq) {
  std::lock_guard lock(mu_);
  if (!power_) return false;
  stats_.dsync_writes++;
  auto it = inodes_.find(id);
  if (it == inodes_.end()) return true;
  for (auto& op : it->second.log)
    if (op.seq == seq) op.durable = true;  // absent: an fsync already made it durable
  return compact(id, it->second);
}

bool Model::fsync(Id id) {
  std::lock_guard lock(mu_);
  if (!power_) return false;
  stats_.fsyncs++;
  auto it = inodes_.find(id);
  if (it == inodes_.end()) return true;
  for (auto& op : it->second.log) op.durable = true;
  return compact(id, it->second);
}

// Namespace durability, strict POSIX: fsyncdir(D) makes durable exactly the pending namespace
// ops that touch D (the directory whose entries they change; rename: either parent), in list
// order; the others stay pending. A journalling filesystem would commit everything before them
// too, which hides a missing fsync of a parent directory: this model does not. A mkdir is made
// durable by an fsync of its parent, not of the new directory itself, so a file in a directory
// whose own entry never became durable is lost with that directory in every image. Fsync of a
// file makes no name durable.
bool Model::fsyncdir(Id dir) {
  std::lock_guard lock(mu_);
  if (!power_) return false;
  stats_.fsyncdirs++;
  std::vector<NsOp> still;
  for (NsOp& op : pending_) {
    const bool touches = op.dir == dir || (op.type == NsOp::Type::rename && op.dir2 == dir);
    if (touches)
      apply_ns(durable_, op);
    else
      still.push_back(std::move(op));
  }
  const bool changed = still.size() != pending_.size();
  pending_ = std::move(still);
  if (changed) collect_garbage();
  return true;
}

// Forget inodes no tree names and no pending op can name again (deleted segments), so a long
// run does not keep every deleted file's content.
void Model::collect_garbage() {
  std::set<Id> used{kRootId};
  for (const Tree* t : {&durable_, &live_})
    for (const auto& [dir, entries] : *t)
      for (const auto& [name, id] : entries) used.insert(id);
  for (const auto& op : pending_) used.insert(op.id);
  for (auto it = inodes_.begin(); it != inodes_.end();) {
    if (used.count(it->first)) {
      ++it;
      continue;
    }
    ::unlink(state_path(it->first).c_str());
    for (const auto& op : it->second.log) bytes_pending_ -= op.bytes.size();
    durable_.erase(it->first);
    live_.erase(it->first);
    it = inodes_.erase(it);
  }
}

void Model::power_off() {
  std::lock_guard lock(mu_);
  power_ = false;
}

bool Model::powered() const {
  std::lock_guard lock(mu_);
  return power_;
}

std::string Model::stats_line() {
  std::lock_guard lock(mu_);
  std::size_t data_pending = 0;
  for (const auto& [id, ino] : inodes_)
    for (const auto& op : ino.log) data_pending += !op.durable;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "writes=%llu dsync_writes=%llu fsyncs=%llu fsyncdirs=%llu truncates=%llu "
                "fallocates=%llu ns_ops=%llu ns_pending=%zu data_pending=%zu bytes_pending=%llu "
                "power=%s",
                static_cast<unsigned long long>(stats_.writes), static_cast<unsigned long long>(stats_.dsync_writes),
                static_cast<unsigned long long>(stats_.fsyncs), static_cast<unsigned long long>(stats_.fsyncdirs),
                static_cast<unsigned long long>(stats_.truncates), static_cast<unsigned long long>(stats_.fallocates),
                static_cast<unsigned long long>(stats_.ns_ops), pending_.size(), data_pending,
                static_cast<unsigned long long>(bytes_pending_), power_ ? "on" : "off");
  return buf;
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
