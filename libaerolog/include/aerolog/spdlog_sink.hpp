// An spdlog sink that publishes every line into an AeroLog ring, so an existing spdlog logger
// gains crash-safe, durable output with one line:
//
//   logger->sinks().push_back(std::make_shared<aerolog::spdlog_sink_mt>("app"));  // at start-up
//   SPDLOG_LOGGER_INFO(logger, "fill {} @ {} {}", qty, px, symbol);
//
// Each line becomes one Text record (proto/FORMAT.md 7.1) of stream "app": its level is the
// call's (spdlog's levels map one to one; `off` becomes critical), its text is spdlog's formatted
// message (msg.payload) preceded by "<file base name>:<line> " when the call carries its source
// location (the SPDLOG_LOGGER_* macros do; logger->info() does not). spdlog's pattern is not
// applied: the record already has a timestamp and a level, and the sidecar's WAL is rendered by
// `aerologctl cat`. The timestamp is the producer's clock when the line enters the ring (the
// clock every AeroLog stream shares), not spdlog's msg.time: that one is taken before the sink's
// mutex, so with several threads it would not follow the seq order. A text longer than the
// ring's max_payload() is cut there, at a UTF-8 character boundary.
//
// Cost: unlike AEROLOG_INFO, which copies the raw arguments and leaves the formatting to the
// reader, spdlog formats the message on the calling thread before any sink sees it; this sink
// then takes its mutex (spdlog_sink_mt), reads the clock and copies the text into the ring
// (no system call, no allocation). All threads of a logger share the one ring and its mutex:
// give a busy thread a logger of its own or use aerolog::Logger (a ring per thread).
//
// Safety: a line is in shared memory when the call returns, so a crash of the process loses none
// of it; the sidecar makes it durable. A full ring never blocks and never throws (with the default
// FullPolicy::drop): the line is dropped and counted (stats().dropped), and readers see a Dropped
// record where the gap is. logger->flush() asks the sidecar to write and sync now without
// waiting; wait_durable() waits. The constructor opens the ring and throws aerolog::Error as
// Producer::open does.
//
// Header-only: libaerolog does not link spdlog; a program that includes this links spdlog
// itself (CMake: spdlog::spdlog; pkg-config: spdlog).
#pragma once
#include <aerolog/producer.hpp>

#include <spdlog/details/log_msg.h>
#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace aerolog {

template <class Mutex>
class spdlog_sink final : public spdlog::sinks::base_sink<Mutex> {
 public:
  // Opens (or re-attaches to) the ring of `stream`; throws aerolog::Error like Producer::open.
  explicit spdlog_sink(std::string_view stream, const ProducerOptions& options = {})
      : producer_(Producer::open(stream, options)) {}

  const std::string& stream() const noexcept { return producer_.stream(); }
  // The seq of the last line published (0 if none yet), and the ring's counters.
  std::uint64_t last_seq() {
    std::lock_guard<Mutex> lock(this->mutex_);
    return producer_.last_seq();
  }
  ProducerStats stats() {
    std::lock_guard<Mutex> lock(this->mutex_);
    return producer_.stats();
  }
  // True once every line published before the call is durable (in the sidecar's WAL and
  // synced); false on timeout. Loggers are not held up while it waits.
  bool wait_durable(std::chrono::nanoseconds timeout) {
    const std::uint64_t seq = last_seq();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::chrono::microseconds nap{20};
    while (producer_.durable_seq() < seq) {  // an atomic load in the ring header: no lock needed
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(nap);
      nap = std::min(nap * 2, std::chrono::microseconds{1000});
    }
    return true;
  }

  static constexpr proto::Level level_of(spdlog::level::level_enum l) noexcept {
    switch (l) {
      case spdlog::level::trace:
        return proto::Level::trace;
      case spdlog::level::debug:
        return proto::Level::debug;
      case spdlog::level::info:
        return proto::Level::info;
      case spdlog::level::warn:
        return proto::Level::warn;
      case spdlog::level::err:
        return proto::Level::error;
      default:  // critical, and `off` if a caller logs at it
        return proto::Level::critical;
    }
  }

 protected:
  // Called by base_sink with its mutex held.
  void sink_it_(const spdlog::details::log_msg& msg) override {
    char where[256];  // "<file base name>:<line> "
    std::size_t where_len = 0;
    if (!msg.source.empty() && msg.source.filename) {
      std::string_view file = msg.source.filename;
      file = file.substr(file.rfind('/') + 1).substr(0, sizeof where - 16);  // npos + 1 == 0
      std::memcpy(where, file.data(), file.size());
      where_len = file.size();
      where[where_len++] = ':';
      where_len = static_cast<std::size_t>(
          std::to_chars(where + where_len, where + sizeof where - 1, msg.source.line).ptr - where);
      where[where_len++] = ' ';
    }
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    // The text's length, cut to what one record holds (never inside a UTF-8 character).
    const std::size_t room = producer_.max_payload() - sizeof(proto::TextHeader);
    std::size_t n = where_len + payload.size();
    if (n > room) {
      n = room;
      while (n > where_len && (static_cast<unsigned char>(payload[n - where_len]) & 0xC0) == 0x80) --n;
    }
    const auto len = static_cast<std::uint32_t>(sizeof(proto::TextHeader) + n);
    const Claim c = producer_.claim(proto::TextHeader::kType, len);
    if (!c) return;  // full: the producer counted a drop (FullPolicy::drop)
    proto::TextHeader th{};
    th.level = level_of(msg.level);
    std::memcpy(c.data, &th, sizeof th);
    const std::size_t w = std::min(where_len, n);
    std::memcpy(c.data + sizeof th, where, w);
    if (n > w) std::memcpy(c.data + sizeof th + w, payload.data(), n - w);
    producer_.commit();
  }

  // Asks the sidecar to write and sync now (it matters only with a batching delay); no wait.
  void flush_() override { producer_.request_flush(); }

 private:
  Producer producer_;
};

using spdlog_sink_mt = spdlog_sink<std::mutex>;
using spdlog_sink_st = spdlog_sink<spdlog::details::null_mutex>;

}  // namespace aerolog
