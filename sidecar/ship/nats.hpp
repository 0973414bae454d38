// Sink `nats`: JetStream through the NATS C client. Each batch is one message on
// <subject>.<host>.<stream> with Nats-Msg-Id <host>/<stream>/<first_seq>, published
// asynchronously with at most --nats-in-flight awaiting their ack. The client's own reconnect is
// off: on any failure the shipper drops the connection and re-sends every unacknowledged batch,
// in order and with the same bounds, so the server's duplicate window drops what it already has.
#pragma once
#include "options.hpp"
#include "sink.hpp"

#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

struct __natsConnection;
struct __jsCtx;

namespace aerolog::ship {

class NatsSink final : public Sink {
 public:
  explicit NatsSink(const Options& o);
  ~NatsSink() override;
  const char* name() const override { return "nats"; }
  void connect() override;
  void disconnect() override;
  void add_stream(std::uint32_t id, const std::string& stream) override;
  std::uint64_t resume_after(std::uint32_t id, std::uint64_t checkpoint) override;
  std::uint32_t max_records() const override { return 1u << 20; }
  std::uint64_t max_bytes() const override { return max_bytes_; }
  std::uint64_t max_message_bytes() const override { return max_message_bytes_; }
  std::uint64_t linger_ns() const override { return o_.nats_linger_ms * 1'000'000; }
  void begin(Batch& b) override;
  void append(Batch& b, const Record& r) override;
  void finish(Batch& b) override;
  bool can_send() const override;
  void send(Batch&& b) override;
  void collect(std::vector<Batch>& acked) override;
  std::size_t in_flight() const override;

  // Called by the client library's thread for every publish result.
  void on_ack(const char* msg_id, bool ok, const std::string& error);

 private:
  struct Pending {
    Batch batch;  // body released once published
    std::string id;
    enum class Ack : std::uint8_t { waiting, acked, failed } ack = Ack::waiting;
    std::string error;
  };
  const Options& o_;
  __natsConnection* nc_ = nullptr;
  __jsCtx* js_ = nullptr;
  std::uint64_t max_bytes_, max_message_bytes_;
  std::vector<std::string> subjects_, ids_;  // by stream id; ids_ is the "<host>/<stream>/" prefix
  mutable std::mutex mu_;
  std::deque<Pending> pending_;  // send order
};

std::string nats_subject_token(std::string s);  // '.', '*', '>' and blanks become '_'
// A stream name as one subject token: '.' becomes '~', which no stream name has, so every stream
// has a subject of its own and <subject>.<host>.* matches all of a host's streams.
std::string nats_stream_token(std::string stream);

}  // namespace aerolog::ship
