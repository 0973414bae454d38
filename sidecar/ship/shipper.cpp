// The shipper's loop for one sink: connect, feed every stream (cursor.cpp), collect the sink's
// acknowledgements, write checkpoints and the status file (status_file.cpp); on a sink failure
// back off (100 ms doubling to --max-backoff-ms), reconnect and re-send everything
// unacknowledged with the same bounds.
#include "shipper.hpp"

#include "clock.hpp"
#include "shm_view.hpp"

#include <algorithm>
#include <cstdio>
#include <thread>

namespace aerolog::ship {

Shipper::Shipper(const Options& o, std::unique_ptr<Sink> sink, std::shared_ptr<spdlog::logger> log)
    : o_(o), sink_(std::move(sink)), log_(std::move(log)) {}

Shipper::~Shipper() = default;

// Everything in flight has an unknown fate: it becomes the head of the re-send list, kept on
// disk so that a crash during the outage does not lose the bounds.
void Shipper::fail(const std::string& why) {
  sink_->disconnect();
  connected_ = false;
  ++failures_;
  backoff_ms_ = backoff_ms_ ? std::min(backoff_ms_ * 2, o_.max_backoff_ms) : 100;
  retry_at_ = mono_ns() + backoff_ms_ * 1'000'000;
  if (why != error_ || backoff_ms_ >= o_.max_backoff_ms)
    log_->warn("{}: {}; retrying in {} ms (the WAL keeps everything meanwhile)", sink_->name(), why, backoff_ms_);
  error_ = why;
  for (auto& sp : streams_) {
    Stream& s = *sp;
    std::deque<SeqRange> again;
    for (const Sent& e : s.sent)
      if (e.in_flight) again.push_back({e.first, e.last});
    again.insert(again.end(), s.resend.begin(), s.resend.end());  // not re-sent yet: they come later
    s.resend = std::move(again);
    s.sent.clear();
    s.building.reset();
    s.held.reset();
    s.ready = false;
    save(s, true);
  }
}

// Publish-to-acknowledged latency of the oldest record of each batch (timestamps are the
// producer's clock: the same box).
std::string Shipper::lag_summary() const {
  if (lags_.empty()) return "no batches";
  std::vector<std::uint64_t> v = lags_;
  std::sort(v.begin(), v.end());
  auto ms = [&](double q) { return double(v[static_cast<std::size_t>(q * double(v.size() - 1))]) / 1e6; };
  char buf[160];
  std::snprintf(buf, sizeof buf, "p50 %.1f ms, p99 %.1f ms, max %.1f ms over %zu batches", ms(0.5), ms(0.99), ms(1.0),
                v.size());
  return buf;
}

// Nothing left to do: every stream caught up, or stuck (refused or an unreadable checkpoint)
// with nothing of it in flight.
bool Shipper::idle() const {
  if (!connected_) return false;
  for (const auto& s : streams_) {
    if (s->broken || !s->reader) continue;
    if (!s->sent.empty() || (s->building && s->building->count)) return false;
    if (s->refused.empty() && (!s->ready || !s->caught_up || !s->resend.empty())) return false;
  }
  return true;
}

bool Shipper::complete() const {
  for (const auto& s : streams_)
    if (s->broken || !s->refused.empty()) return false;
  return idle();
}

bool Shipper::run(const std::atomic<bool>& stop) {
  std::uint64_t last_progress = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    const std::uint64_t now = mono_ns();
    if (now >= next_scan_) {
      scan();
      next_scan_ = now + o_.scan_interval_ms * 1'000'000;
    }
    if (now >= next_status_) {
      write_status(wall_ns());
      next_status_ = now + 1'000'000'000;
      if (o_.once && now - last_progress >= 1'000'000'000) {
        std::uint64_t total = 0;
        for (const auto& s : streams_) total += s->shipped;
        if (last_progress) log_->info("{}: {} records shipped so far", sink_->name(), total);
        last_progress = now;
      }
    }
    if (!connected_) {
      if (now < retry_at_) {
        std::this_thread::sleep_for(
            std::chrono::milliseconds(std::min<std::uint64_t>(50, (retry_at_ - now) / 1'000'000 + 1)));
        continue;
      }
      try {
        sink_->connect();
        connected_ = true;
        if (failures_)
          log_->info("{}: connected again", sink_->name());
        else
          log_->info("{}: connected", sink_->name());
        error_.clear();
        backoff_ms_ = 0;
        for (auto& s : streams_) s->ready = false;
      } catch (const SinkError& e) {
        fail(e.what());
        if (o_.once) return false;
        continue;
      }
    }
    bool work = false;
    try {
      for (auto& s : streams_)
        if (!s->ready) resume(*s);
      for (auto& s : streams_) work |= fill(*s, now);
      std::vector<Batch> acked;
      sink_->collect(acked);
      for (const Batch& b : acked) on_acked(b);
      work |= !acked.empty();
    } catch (const SinkError& e) {
      fail(e.what());
      if (o_.once) return false;
      continue;
    }
    for (auto& s : streams_) save(*s, false);
    if (o_.once && idle()) break;
    if (!work) std::this_thread::sleep_for(std::chrono::microseconds(sink_->in_flight() ? 100 : 1000));
  }
  // Stopping: wait a little for what is in flight, so the checkpoints end up where the sink is.
  const std::uint64_t give_up = mono_ns() + 5'000'000'000ull;
  while (connected_ && sink_->in_flight() && mono_ns() < give_up) {
    std::vector<Batch> acked;
    try {
      sink_->collect(acked);
      for (const Batch& b : acked) on_acked(b);
    } catch (const SinkError&) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (auto& s : streams_) save(*s, true);
  write_status(wall_ns());
  std::uint64_t total = 0;
  for (const auto& s : streams_) total += s->shipped;
  log_->info("{}: {} records shipped; record age when acknowledged: {}", sink_->name(), total, lag_summary());
  return complete();
}

}  // namespace aerolog::ship
