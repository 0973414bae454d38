// The FUSE side of aerolog-cutfs: low-level ops that pass everything through to the backing
// directory and report each op to the Model, which alone decides what survives a cut.
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "model.hpp"

namespace cutfs {

class Fs {
 public:
  // Opens the backing root and loads it into the model as durable.
  Fs(const std::string& backing, Model& model, unsigned max_delay_us, std::uint64_t seed);
  ~Fs();

  static const fuse_lowlevel_ops& ops();

  // The cut: every op from now on fails with EIO; waits (bounded) for handlers in flight.
  void power_off();

  // Used by the handlers (fs*.cpp); public so they can stay plain functions.
  struct Node {
    int fd = -1;  // O_PATH fd of the backing file: survives renames of it and its parents
    std::uint64_t nlookup = 0;
  };
  Model& model;
  int root_fd = -1;
  unsigned max_delay_us;
  std::uint64_t seed;
  std::atomic<bool> off{false};
  std::atomic<int> inflight{0};
  std::mutex mu;                             // guards nodes and by_backing
  std::unordered_map<Id, Node> nodes;        // inodes the kernel knows
  std::unordered_map<ino_t, Id> by_backing;  // backing st_ino -> our id, also forgotten ones
};

}  // namespace cutfs
