// Blocks on disk for the sidecar: reading and checking one at an offset of a segment file.
#pragma once
#include "fs.hpp"

#include <aerolog/proto/segment.hpp>

#include <string>

namespace aerolog::sidecar {

class BlockReader {
 public:
  BlockReader(int fd, std::uint64_t file_size, std::uint64_t generation)
      : fd_(fd), size_(file_size), generation_(generation), buf_(2u << 20) {}
  // Reads and fully checks the block at `off`; expected_first 0 accepts any first seq.
  // Returns an empty string and fills `out`, or what is wrong.
  std::string read(std::uint64_t off, std::uint64_t expected_first, proto::BlockHeader& out);

 private:
  int fd_;
  std::uint64_t size_, generation_;
  AlignedBuffer buf_;
};

}  // namespace aerolog::sidecar
