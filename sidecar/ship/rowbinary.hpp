// ClickHouse's RowBinary input format, the few types aerolog-ship writes: a String is a LEB128
// length and the bytes, an Array its LEB128 size and the elements, numbers (and Enum8, DateTime)
// little-endian at their width.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace aerolog::ship::rowbinary {

inline void put_varint(std::string& s, std::uint64_t v) {
  while (v >= 0x80) {
    s.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  s.push_back(static_cast<char>(v));
}
inline void put_string(std::string& s, const void* p, std::size_t n) {
  put_varint(s, n);
  s.append(static_cast<const char*>(p), n);
}
inline void put_string(std::string& s, const std::string& v) { put_string(s, v.data(), v.size()); }
template <class T>
void put_le(std::string& s, T v) {  // x86-64: host order is little-endian, as RowBinary wants
  s.append(reinterpret_cast<const char*>(&v), sizeof v);
}

}  // namespace aerolog::ship::rowbinary
