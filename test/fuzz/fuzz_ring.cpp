// libFuzzer: the frame checks over hostile ring bytes and positions (what the sidecar and a
// re-attaching producer do with shared memory another process wrote).
#include "ring_scan.hpp"

#include <cstdint>
#include <cstring>
#include <vector>

static volatile unsigned g_sink;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 16 + 64) return 0;
  std::uint64_t from, len;
  std::memcpy(&from, data, 8);
  std::memcpy(&len, data + 8, 8);
  data += 16;
  size -= 16;
  std::size_t cap = 64;
  while (cap * 2 <= size && cap < (1u << 20)) cap *= 2;
  std::vector<std::byte> ring(cap);  // exactly the ring: ASan flags any read outside
  std::memcpy(ring.data(), data, cap);
  const aerolog::detail::RingView view{ring.data(), cap, static_cast<std::uint32_t>(cap / 4)};
  from &= ~std::uint64_t{7};
  const std::uint64_t to = from + (len % (2 * cap));
  aerolog::detail::RingScan scan = aerolog::detail::scan_ring(view, from, to);
  aerolog::detail::FrameAt f;
  for (std::uint64_t pos = from, n = 0; pos < to && n < 100000; ++n) {
    if (aerolog::detail::check_frame(view, pos, to, f)) break;
    if (!f.pad)  // touch every byte it hands out
      for (std::uint32_t i = 0; i < f.header.length - 24; ++i)
        g_sink = g_sink + std::to_integer<unsigned>(f.payload[i]);
    pos += f.stride;
  }
  (void)scan;
  return 0;
}
