#include "model.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <set>

#include "log.hpp"
#include "model_io.hpp"

namespace cutfs {

namespace fs = std::filesystem;

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

}  // namespace cutfs
