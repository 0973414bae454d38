// The durability model of aerolog-cutfs: what a disk would hold after a power cut.
//
// Two kinds of state, kept apart on purpose:
//  * data belongs to inodes: each regular file has a durable content (a sparse file in the
//    private state dir) and a log of data ops (write, truncate, fallocate) that are not yet
//    durable, or are durable but sit after one that is not;
//  * names belong to directories: a durable tree (dir id -> name -> id) plus ONE global,
//    ordered list of namespace ops not yet durable.
// The FUSE layer reports each op here when it happens; a cut writes directory trees that
// combine the durable state with random parts of what is not yet durable.
//
// Image rules (k = image number, p = a per-image keep probability drawn from the seed):
//  * names: the durable tree plus a prefix of the pending namespace ops (k=0: none, k=1: all);
//  * each file named there: its durable content, then its log replayed in order: durable ops
//    whole; a pending write keeps each sector (512 or 4096 B, aligned to the file offset)
//    with probability p, so the file grows only as far as kept sectors reach; a pending
//    truncate or fallocate happens with probability p. Replaying in order means a kept or
//    durable write lands on top of whatever earlier op was dropped, as on a disk.
// Durability: see Model::fsyncdir for names; a file's data ops become durable with an
// fsync of that file (all of them) or, one write, with its O_DSYNC acknowledgement.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace cutfs {

using Id = std::uint64_t;  // our inode id; also the FUSE inode number; never reused
inline constexpr Id kRootId = 1;

enum class Kind : std::uint8_t { file, dir, symlink };

struct DataOp {
  enum class Type : std::uint8_t { write, truncate, fallocate } type;
  std::uint64_t seq = 0;  // unique per model, to find a write again when it is acknowledged
  off_t off = 0;          // write/fallocate offset; truncate: the new size
  off_t len = 0;          // fallocate length
  int mode = 0;           // fallocate mode
  std::string bytes;      // write payload
  bool durable = false;
};

struct Inode {
  Kind kind = Kind::file;
  mode_t mode = 0644;      // permission bits; a chmod counts as durable at once
  std::string target;      // symlink target
  std::deque<DataOp> log;  // data ops after the durable content, in order
};

// One namespace op. add: create/mknod/mkdir/symlink/link (name -> id in dir);
// remove: unlink/rmdir; rename: dir/name -> dir2/name2 (replacing any target).
struct NsOp {
  enum class Type : std::uint8_t { add, remove, rename } type;
  Id dir = 0, dir2 = 0;
  std::string name, name2;
  Id id = 0;           // add: the inode named
  bool mkdir = false;  // add of a new directory: it also touches the new directory itself
};

using Tree = std::unordered_map<Id, std::map<std::string, Id>>;  // dir id -> entries

class Rng;  // the per-image random source (model_image.cpp)

struct Stats {
  std::uint64_t writes = 0, dsync_writes = 0, fsyncs = 0, fsyncdirs = 0;
  std::uint64_t truncates = 0, fallocates = 0, ns_ops = 0;
};

class Model {
 public:
  // state_dir: private, empty directory for durable file contents.
  explicit Model(std::string state_dir);

  // Mount: everything in the backing directory is durable. Walks it, copies file contents
  // into the state dir and returns backing st_ino -> id for the FUSE layer's table.
  std::unordered_map<ino_t, Id> load_backing(const std::string& backing);

  Id new_id();  // for an inode created through the mount

  // Ops as they arrive. Each returns false (and changes nothing) once the power is off.
  // A new inode and the op that names it (op.id), in one step: a garbage collection between
  // the two (another thread's fsyncdir) would forget the inode, still unnamed, for good.
  bool create(Id id, Kind kind, mode_t mode, NsOp name, const std::string& target = {});
  bool queue_write(Id id, off_t off, const char* buf, std::size_t len, std::uint64_t* seq);
  bool queue_truncate(Id id, off_t size);
  bool queue_fallocate(Id id, int mode, off_t off, off_t len);
  bool set_mode(Id id, mode_t mode);
  bool queue_ns(NsOp op);

  // Durability points, called when the reply is about to be sent.
  bool write_acked_dsync(Id id, std::uint64_t seq);
  bool fsync(Id id);
  bool fsyncdir(Id dir);

  // The cut: from now on every op fails. Then write images (under the model lock).
  void power_off();
  bool powered() const;
  // Writes outdir/0 .. outdir/count-1; sector 0 = use `default_sector` (512, 4096, or 0 =
  // random per image). Returns an empty string or an error text.
  std::string write_images(const std::string& outdir, unsigned count, std::uint64_t seed, unsigned sector,
                           unsigned default_sector);

  std::string stats_line();

 private:
  std::string state_path(Id id) const;
  bool compact(Id id, Inode& ino);  // move the durable prefix of the log into the state file
  void collect_garbage();
  void write_file_image(Id id, const Inode& ino, const std::string& path, Rng& rng, unsigned k, double p,
                        unsigned sector);
  void write_tree_image(const Tree& tree, const std::string& root, Rng& rng, unsigned k, double p, unsigned sector);

  mutable std::mutex mu_;
  bool power_ = true;
  std::string state_dir_;
  Id next_id_ = kRootId + 1;
  std::uint64_t next_seq_ = 1;
  std::unordered_map<Id, Inode> inodes_;
  Tree durable_;               // names that survive a cut
  Tree live_;                  // names as the backing dir has them now
  std::vector<NsOp> pending_;  // namespace ops not yet durable, in order
  std::uint64_t bytes_pending_ = 0;
  Stats stats_;
};

// Applies one namespace op to a tree; ignores ops that do not fit (never happens for a
// prefix of the real op order applied to the durable tree).
void apply_ns(Tree& tree, const NsOp& op);

}  // namespace cutfs
