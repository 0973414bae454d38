// What aerolog-ship needs from a destination. A sink encodes records into batches, sends them
// (synchronously or with a bounded number in flight) and reports acknowledgements in the order
// it sent them. Any failure is a SinkError: the shipper then drops the connection, backs off,
// reconnects and re-sends every unacknowledged batch with the same bounds.
#pragma once
#include <aerolog/reader.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace aerolog::ship {

struct SinkError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Batch {
  std::uint32_t stream = 0;  // index into the shipper's stream table
  std::uint64_t first = 0, last = 0, first_ts = 0, last_ts = 0;
  std::uint32_t count = 0;
  std::uint64_t bytes = 0;  // frame bytes of the records (header + payload)
  std::string body;         // encoded by the sink
  std::string log_rows;     // ClickHouse: the rows of the log table (FORMAT.md 10.2), sent with the body
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual const char* name() const = 0;
  virtual void connect() = 0;     // throws SinkError
  virtual void disconnect() = 0;  // drops everything in flight
  // Tells the sink a stream's name; called once per stream before anything else about it.
  virtual void add_stream(std::uint32_t id, const std::string& stream) = 0;
  // The seq to resume after: the sink's own record of what it holds for the stream (NATS: the
  // last message on the stream's subject), reconciled with the checkpoint. Throws SinkError.
  virtual std::uint64_t resume_after(std::uint32_t id, std::uint64_t checkpoint) = 0;

  // Batch shaping: a batch is full at this many records or body bytes (a bigger record goes
  // alone); a partial batch is sent once it is linger_ns old.
  virtual std::uint32_t max_records() const = 0;
  virtual std::uint64_t max_bytes() const = 0;
  // What the sink cannot take in one batch body at all (NATS: the server's max_payload); a
  // record that does not fit alone stops its stream on this sink.
  virtual std::uint64_t max_message_bytes() const = 0;
  virtual std::uint64_t linger_ns() const = 0;
  virtual void begin(Batch& b) = 0;  // starts an empty body
  virtual void append(Batch& b, const Record& r) = 0;
  virtual void finish(Batch& b) = 0;

  virtual bool can_send() const = 0;  // room for one more batch in flight
  virtual void send(Batch&& b) = 0;   // throws SinkError
  // Batches acknowledged since the last call, in send order. Throws SinkError if any failed.
  virtual void collect(std::vector<Batch>& acked) = 0;
  virtual std::size_t in_flight() const = 0;
};

}  // namespace aerolog::ship
