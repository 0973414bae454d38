// CRC32C (Castagnoli, iSCSI): reflected polynomial 0x82F63B78, init 0xFFFFFFFF, final XOR
// 0xFFFFFFFF. Check value: crc32c("123456789") == 0xE3069283. Computed by ISA-L.
#pragma once
#include <cstddef>
#include <cstdint>
#include <isa-l/crc.h>

namespace aerolog::proto {

// Running form: start with crc32c_begin(), feed crc32c_update(), finish with crc32c_end().
constexpr std::uint32_t crc32c_begin() { return 0xFFFFFFFFu; }
inline std::uint32_t crc32c_update(std::uint32_t state, const void* p, std::size_t n) {
  auto* b = static_cast<unsigned char*>(const_cast<void*>(p));
  while (n > 0) {  // ISA-L takes an int length
    int chunk = n > (1u << 30) ? (1 << 30) : static_cast<int>(n);
    state = crc32_iscsi(b, chunk, state);
    b += chunk;
    n -= static_cast<std::size_t>(chunk);
  }
  return state;
}
constexpr std::uint32_t crc32c_end(std::uint32_t state) { return ~state; }

inline std::uint32_t crc32c(const void* p, std::size_t n) { return crc32c_end(crc32c_update(crc32c_begin(), p, n)); }

}  // namespace aerolog::proto
