// File helpers that the model (model.cpp) and its images (model_image.cpp) share: errors with
// errno, an owned fd, a sparse copy, and applying one data op to a real file.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "model.hpp"

namespace cutfs {

[[noreturn]] inline void fail(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }

struct Fd {
  int fd;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

// Copies a file keeping its holes (SEEK_DATA/SEEK_HOLE), so 4 MiB preallocated segments that
// are mostly untouched stay cheap.
void copy_sparse(int in, int out);

// Applies one data op to fd. rng == nullptr: all of it. Otherwise a write keeps each sector
// (aligned to the file offset, `sector` bytes) with probability p, and a truncate or fallocate
// happens with probability p. Sectors are never torn inside: a disk writes them atomically.
void apply_data_op(int fd, const DataOp& op, Rng* rng, double p, unsigned sector);

}  // namespace cutfs
