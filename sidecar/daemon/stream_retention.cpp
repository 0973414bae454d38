// Retention: deleting a stream's oldest sealed segments by size and age, held for aerolog-ship's
// sinks up to a hard cap. The active segment is never deleted; the directory is fsynced after.
// When the stream needs a spare, the first segment to go becomes it instead (recycled: its
// extents are written already, so nothing has to be zeroed).
#include "stream.hpp"

#include "clock.hpp"
#include "files.hpp"
#include "ship_checkpoint.hpp"
#include "wal_files.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

#include <sys/stat.h>
#include <unistd.h>

namespace aerolog::sidecar {

using namespace common;  // files, clocks, errno errors

// Oldest sealed segments go when the stream is over its size or age limit, but not while a
// sink of aerolog-ship still needs them (its checkpoint is below the segment's last seq), unless
// the hard cap is exceeded: then the unshipped range is deleted anyway, logged and counted.
bool Stream::apply_retention() {
  if (!opt_.retention_bytes && !opt_.retention_age_s && !opt_.retention_cap_bytes) return false;
  // A segment a roll left is still being named or sealed: it and everything after it stay.
  const std::uint64_t keep_from = sealing_ ? sealing_->seg.base_seq : prev_.fd >= 0 ? prev_.base_seq : ~0ull;
  // Recycle only into a free spare slot: no spare made or being made, and (named_) the spare's
  // name is not the unnamed segment of a roll.
  bool recycle = named_ && spare_->state.load() == Spare::none;
  auto bases = detail::list_segment_bases(dir_);
  if (bases.size() < 2) return false;  // the newest segment (the active one) is never removed
  std::uint64_t total = 0;
  struct File {
    std::uint64_t base, last_seq;
    struct stat st;
  };
  std::vector<File> files;
  for (std::size_t i = 0; i + 1 < bases.size() && bases[i] < keep_from; ++i) {
    File f{bases[i], bases[i + 1] - 1, {}};
    if (::stat((dir_ + "/" + detail::segment_file_name(f.base)).c_str(), &f.st) == 0) {
      files.push_back(f);
      total += static_cast<std::uint64_t>(f.st.st_size);
    }
  }
  if (seg_.fd >= 0) total += seg_.size;
  const auto wall_s = static_cast<std::uint64_t>(wall_ns() / 1'000'000'000ull);
  const auto shipped = opt_.ship_state_dir.empty() ? std::nullopt : common::shipped_by_all(opt_.ship_state_dir, name_);
  bool removed = false, recycled = false;
  for (const File& f : files) {
    const bool too_big = opt_.retention_bytes && total > opt_.retention_bytes;
    const bool too_old =
        opt_.retention_age_s && wall_s - static_cast<std::uint64_t>(f.st.st_mtime) > opt_.retention_age_s;
    const bool capped = opt_.retention_cap_bytes && total > opt_.retention_cap_bytes;
    if (!too_big && !too_old && !capped) break;
    const std::string name = detail::segment_file_name(f.base);
    const bool unshipped = shipped && *shipped < f.last_seq;
    if (unshipped && !capped) {
      if (held_base_ != f.base)
        log_->info("stream {}: retention keeps segment {}: aerolog-ship has shipped only up to seq {} to every sink",
                   name_, name, *shipped);
      held_base_ = f.base;
      break;
    }
    // The index first: a crash in between leaves a segment without an index (read by scanning),
    // never an index without its segment. A deletion is logged once done; a recycling once handed
    // to the preparer thread, which renames it moments later.
    const std::string index = dir_ + "/" + detail::index_file_name(f.base);
    const char* done = "removed";
    if (recycle && static_cast<std::uint64_t>(f.st.st_size) == next_segment_size()) {
      preparer_.recycle(spare_, dir_ + "/" + name, index, spare_path_, next_segment_size());  // the same order there
      recycle = false;
      recycled = true;
      done = "recycles (as the next spare)";
    } else if ((::unlink(index.c_str()) != 0 && errno != ENOENT) || ::unlink((dir_ + "/" + name).c_str()) != 0) {
      log_->error("stream {}: retention cannot delete segment {}: {}", name_, name, std::strerror(errno));
      break;
    } else {
      removed = true;
    }
    if (unshipped) {
      const std::uint64_t from = std::max(f.base, *shipped + 1);
      unshipped_deleted_ += f.last_seq - from + 1;
      log_->warn(
          "stream {}: retention cap ({} bytes) deleted segment {} with seqs {}..{} not yet shipped to every "
          "sink ({} records deleted unshipped so far)",
          name_, opt_.retention_cap_bytes, name, from, f.last_seq, unshipped_deleted_);
    }
    total -= static_cast<std::uint64_t>(f.st.st_size);
    log_->info("stream {}: retention {} segment {} ({})", name_, done, name, capped ? "cap" : too_big ? "size" : "age");
  }
  if (!removed) return recycled;
  try {
    fsync_dir(dir_);
  } catch (const std::exception& e) {  // the deletions may not be durable; nothing depends on them
    log_->error("stream {}: retention: {}", name_, e.what());
  }
  return recycled;
}

}  // namespace aerolog::sidecar
