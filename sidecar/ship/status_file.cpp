// The shipper's live view for aerologctl status (common/ship_status.hpp): lag per stream, and a
// state that says why a stream is stuck.
#include "shipper.hpp"

#include "ship_status.hpp"

#include <algorithm>

namespace aerolog::ship {

void Shipper::write_status(std::uint64_t wall) {
  ShipStatus st{sink_->name(), connected_, error_, failures_, wall, {}};
  for (const auto& s : streams_) {
    const std::uint64_t top = std::max(s->hwm, s->seen);
    const std::uint64_t lag = top > s->acked ? top - s->acked : 0;
    const double per_record = s->shipped ? double(s->shipped_bytes) / double(s->shipped) : 0;
    st.streams[s->name] = {
        s->acked,
        top,
        lag,
        static_cast<std::uint64_t>(double(lag) * per_record),
        lag && s->acked_ts && wall > s->acked_ts ? double(wall - s->acked_ts) / 1e9 : 0.0,
        s->shipped,
        s->ckpt.skipped + s->ckpt_skipped,
        s->broken             ? "refused: unreadable checkpoint"
        : !s->refused.empty() ? "refused: " + s->refused
        : !connected_         ? "waiting"
        : s->caught_up        ? "caught up"
                              : "shipping",
    };
  }
  if (!write_ship_status(o_.state_dir, st)) log_->debug("{}: cannot write the status file", sink_->name());
}

}  // namespace aerolog::ship
