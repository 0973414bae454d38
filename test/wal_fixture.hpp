// A private shm + WAL directory pair, and a stream's WAL filled by the real sidecar, for the
// tests of the read tools (aerologctl, the Reader, alog.py).
#pragma once
#include <aerolog/producer.hpp>

#include <catch2/catch.hpp>

#include "proc_util.hpp"
#include "sidecar_process.hpp"

#include <chrono>
#include <csignal>
#include <string>

namespace testutil {

struct Wal {
  TempDir shm{"/dev/shm"};
  TempDir wal{"/tmp"};
  std::string ctl() const { return std::string(AEROLOGCTL_BIN) + " --shm-dir " + shm.path + " "; }
  std::string stream(const std::string& s) const { return wal.path + "/" + s; }
  // A stream's WAL holding seqs 1..n (payload_for), written by the real sidecar in 64 KiB
  // blocks, then the sidecar stopped.
  void fill(const std::string& s, std::uint64_t n) const {
    SidecarProcess sc(shm.path, wal.path, {"--max-block", "65536"});
    REQUIRE(wait_exit(spawn_publisher(shm.path, s, 1 << 20, n)) == 0);
    aerolog::ProducerOptions o;
    o.shm_dir = shm.path;
    o.capacity = 1 << 20;
    REQUIRE(aerolog::Producer::open(s, o).wait_durable(n, std::chrono::seconds(30)));
    sc.signal(SIGTERM);
    REQUIRE(sc.wait() == 0);
  }
};

}  // namespace testutil
