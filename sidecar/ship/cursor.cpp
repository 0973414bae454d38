// The shipper's side of each stream: finding streams (scan), how far it may read (limit: the
// ring's durable seq), the reader cursor (seek, resume after a restart or a failure with the same
// batch bounds), cutting batches (fill), and moving the checkpoint over the contiguous prefix of
// acknowledged batches (on_acked, advance, save).
#include "shipper.hpp"

#include "clock.hpp"
#include "files.hpp"
#include "shm_view.hpp"
#include "wal_files.hpp"

#include <aerolog/proto/frame.hpp>
#include <aerolog/proto/ring.hpp>

#include <algorithm>
#include <filesystem>
#include <map>

#include <unistd.h>

namespace aerolog::ship {

namespace fs = std::filesystem;

// New stream directories in --wal-dir, and each stream's ring (for its durable HWM): only a ring
// the sidecar would serve, its own or the stream's owner's (FORMAT.md 4.5, 9.1); another user's
// durable seq is not believed.
void Shipper::scan() {
  std::map<std::string, std::unique_ptr<common::Mapping>> rings;
  try {
    for (common::RingInfo& r : common::read_rings(o_.shm_dir)) {
      if (!r.h) continue;
      const uid_t uid = r.map->stat().st_uid;
      if (uid == ::geteuid() || uid == common::stream_owner(o_.wal_dir + "/" + r.stream))
        rings[r.stream] = std::move(r.map);
    }
  } catch (const std::exception&) {
    // no shm dir: every stream is read as far as its WAL goes (see limit())
  }
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(o_.wal_dir, ec)) {
    const std::string n = e.path().filename().string();
    if (e.is_directory(ec) && proto::valid_stream_name(n.data(), n.size()) &&
        detail::looks_like_stream_dir(e.path().string()))
      names.push_back(n);
  }
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) {
    auto known = std::find_if(streams_.begin(), streams_.end(), [&](const auto& s) { return s->name == n; });
    if (known != streams_.end()) continue;
    auto s = std::make_unique<Stream>();
    s->id = static_cast<std::uint32_t>(streams_.size());
    s->name = n;
    s->dir = o_.wal_dir + "/" + n;
    try {
      if (auto c = read_checkpoint(checkpoint_path(o_.state_dir, sink_->name(), n))) s->ckpt = *c;
    } catch (const std::exception& e) {
      log_->error("{}: stream {}: {}; not shipping it (move the file away to ship from the start)", sink_->name(), n,
                  e.what());
      s->broken = true;
    }
    s->acked = s->ckpt.seq;
    s->acked_ts = s->ckpt.ts_ns;
    s->resend.assign(s->ckpt.resend.begin(), s->ckpt.resend.end());
    sink_->add_stream(s->id, n);
    if (!s->broken)
      log_->info("{}: stream {}: shipping after seq {}{}", sink_->name(), n, s->acked,
                 s->resend.empty() ? "" : " (re-sending " + std::to_string(s->resend.size()) + " batches first)");
    streams_.push_back(std::move(s));
  }
  for (auto& s : streams_) {
    auto r = rings.find(s->name);
    s->ring = r == rings.end() ? nullptr : std::move(r->second);
  }
}

// Records up to the ring's durable seq. Without a ring (the box rebooted, shm is gone) the WAL
// holds only what recovery kept, so it is read as far as it goes.
std::uint64_t Shipper::limit(Stream& s) {
  std::uint64_t lim = kNoLimit;
  if (s.ring) {
    const auto* h = reinterpret_cast<const proto::RingHeader*>(s.ring->data());
    lim = h->durable.durable_seq.load(std::memory_order_acquire);
    s.hwm = lim;
  } else {
    s.hwm = s.seen;
  }
  if (o_.once) {
    if (!s.once_limit) s.once_limit = lim;
    lim = std::min(lim, s.once_limit);
  }
  return lim;
}

void Shipper::seek(Stream& s, std::uint64_t seq) {
  s.held.reset();
  s.next = seq;
  s.caught_up = false;
  s.reader->seek_seq(seq);
}

// After a (re)connect: ask the sink how far it got, then re-send the batches of unknown fate
// first, with their old bounds, and carry on after the furthest point.
void Shipper::resume(Stream& s) {
  if (s.broken) return;
  if (!s.reader) {
    try {
      s.reader.emplace(Reader::open(s.dir));
    } catch (const std::exception&) {
      return;  // no segment yet
    }
  }
  const std::uint64_t at = sink_->resume_after(s.id, s.acked);
  if (at < s.acked) {
    log_->warn(
        "{}: stream {}: the sink holds records only up to seq {}, the checkpoint says {}: shipping again from {}",
        sink_->name(), s.name, at, s.acked, at + 1);
    s.resend.clear();
    s.acked = at;
  }
  s.sent.clear();
  s.building.reset();
  s.resume_to = at;
  if (s.resend.empty()) {
    if (at > s.acked) log_->info("{}: stream {}: the sink already holds up to seq {}", sink_->name(), s.name, at);
    s.acked = at;
    seek(s, at + 1);
  } else {
    seek(s, s.resend.front().first);
  }
  s.ready = true;
}

void Shipper::advance(Stream& s) {
  while (!s.sent.empty() && !s.sent.front().in_flight) {
    s.acked = std::max(s.acked, s.sent.front().last);
    s.sent.pop_front();
  }
}

bool Shipper::fill(Stream& s, std::uint64_t now) {
  if (!s.ready || s.broken) return false;
  s.reader->set_limit(limit(s));
  bool sent_any = false;
  while (sink_->can_send()) {
    const bool resending = !s.resend.empty();
    const std::uint64_t target = resending ? s.resend.front().last : kNoLimit;
    if (!s.building) {
      s.building.emplace();
      s.building->stream = s.id;
      sink_->begin(*s.building);
      s.building_since = now;
    }
    Batch& b = *s.building;
    bool full = false;
    for (;;) {
      if (b.count && b.last == target) {
        full = true;
        break;
      }
      if (!resending && (b.count >= sink_->max_records() || b.body.size() >= sink_->max_bytes())) {
        full = true;
        break;
      }
      const Record* r = s.held ? &*s.held : s.reader->next();
      if (!r) break;
      const Record rec = *r;  // the payload stays in the mapping until the next next()
      s.held.reset();
      if (rec.seq < s.next) continue;
      if (rec.seq > s.next) {  // a retention cap deleted these before they were shipped
        if (b.count) {
          s.held = rec;
          full = true;
          break;
        }
        log_->warn("{}: stream {}: seqs {}..{} were deleted by the retention cap before they were shipped; skipped",
                   sink_->name(), s.name, s.next, rec.seq - 1);
        s.ckpt_skipped += rec.seq - s.next;
        s.sent.push_back({s.next, rec.seq - 1, 0, false});
        s.next = rec.seq;
      }
      // The body bytes the record adds: exact for NATS, near enough for ClickHouse's RowBinary.
      const std::uint64_t size = proto::align_up(proto::kFrameHeaderSize + rec.payload.size(), proto::kFrameAlign);
      if (b.count && !resending && b.body.size() + size > sink_->max_bytes()) {  // starts the next batch
        s.held = rec;
        full = true;
        break;
      }
      if (!b.count) {
        if (b.body.size() + size > sink_->max_message_bytes()) {  // cannot go even alone: the stream waits here
          if (s.refused.empty())
            log_->error(
                "{}: stream {}: record seq {} ({} bytes) does not fit in one message (the server takes {} "
                "bytes of records); this stream stops here on this sink and the WAL keeps the rest. Raise "
                "the server's limit (nats-server: max_payload) and restart aerolog-ship",
                sink_->name(), s.name, rec.seq, size, sink_->max_message_bytes());
          s.refused = "record seq " + std::to_string(rec.seq) + " is too big for this sink";
          s.held = rec;
          break;
        }
        if (!s.refused.empty())
          log_->info("{}: stream {}: record seq {} fits now; shipping", sink_->name(), s.name, rec.seq);
        s.refused.clear();
        b.first = rec.seq;
        b.first_ts = rec.timestamp;
      }
      sink_->append(b, rec);
      b.last = rec.seq;
      b.last_ts = rec.timestamp;
      b.bytes += proto::kFrameHeaderSize + rec.payload.size();
      ++b.count;
      s.next = rec.seq + 1;
      s.seen = std::max(s.seen, rec.seq);
    }
    if (!b.count) {
      s.caught_up = !resending && !s.held;
      advance(s);
      return sent_any;
    }
    s.caught_up = false;
    if (!full && now - s.building_since < sink_->linger_ns() && !o_.once) return sent_any;
    sink_->finish(b);
    s.sent.push_back({b.first, b.last, b.last_ts, true});
    if (resending) {
      s.resend.pop_front();
      if (s.resend.empty() && s.resume_to > b.last) {  // the sink had more than the re-sent batches
        s.sent.push_back({b.last + 1, s.resume_to, 0, false});
        seek(s, s.resume_to + 1);
      }
    }
    Batch out = std::move(b);
    s.building.reset();
    sink_->send(std::move(out));
    sent_any = true;
  }
  return sent_any;
}

void Shipper::on_acked(const Batch& b) {
  Stream& s = *streams_.at(b.stream);
  if (s.sent.empty() || !s.sent.front().in_flight || s.sent.front().first != b.first)
    throw SinkError("acknowledgement out of order for stream " + s.name + " seq " + std::to_string(b.first));
  s.acked = b.last;
  s.acked_ts = b.last_ts;
  s.shipped += b.count;
  s.shipped_bytes += b.bytes;
  s.sent.pop_front();
  const std::uint64_t wall = wall_ns();
  if (b.first_ts && b.first_ts < wall) {
    constexpr std::size_t kKeep = 1 << 20;
    if (lags_.size() < kKeep)
      lags_.push_back(wall - b.first_ts);
    else
      lags_[lag_samples_ % kKeep] = wall - b.first_ts;
    ++lag_samples_;
  }
  advance(s);
}

void Shipper::save(Stream& s, bool force) {
  if (s.broken) return;
  Checkpoint c{s.acked, s.acked_ts, s.ckpt.skipped + s.ckpt_skipped, {s.resend.begin(), s.resend.end()}};
  if (c == s.ckpt) return;
  const std::uint64_t now = mono_ns();
  if (!force && now - s.last_ckpt_ns < o_.checkpoint_interval_ms * 1'000'000) return;
  try {
    write_checkpoint(o_.state_dir, sink_->name(), s.name, c);
    s.ckpt = c;
    s.ckpt_skipped = 0;
    s.last_ckpt_ns = now;
  } catch (const std::exception& e) {
    log_->error("{}: stream {}: checkpoint not written: {}", sink_->name(), s.name, e.what());
    s.last_ckpt_ns = now;  // retry at the next interval
  }
}

}  // namespace aerolog::ship
