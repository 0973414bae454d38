// The C ABI of libaerolog_frames.so, the Python package's native part (frame_table.cpp;
// scripts/aerolog/frames.py calls it through ctypes, with these exact argument types).
#pragma once
#include <cstddef>
#include <cstdint>

#define AEROLOG_EXPORT extern "C" __attribute__((visibility("default")))

// The version of this ABI; frames.py refuses a library that answers another one.
inline constexpr int kFrameTableAbi = 1;
AEROLOG_EXPORT int aerolog_frames_abi();

// Checks the n blocks at offsets[0..n) of a segment (`size` bytes at `seg`, of `generation`):
// the first must start at seq `first`, each next one continue the one before; header, CRC32C
// (unless check_crc is 0) and frames, as aerolog::Reader checks them. For every frame of the
// good blocks, writes its offset in the segment, length, type and timestamp (as checked), in seq
// order, at most `cap` of them, and their number to *frames (entries past it may have been
// written by a block that then failed). Returns how many blocks were good: the first bad one
// (or one whose frames would pass `cap`) ends the run.
AEROLOG_EXPORT std::int64_t aerolog_frame_table(const std::byte* seg, std::uint64_t size, std::uint64_t generation,
                                                const std::int64_t* offsets, std::int64_t n, std::uint64_t first,
                                                int check_crc, std::int64_t* pos, std::uint32_t* length,
                                                std::uint16_t* type, std::uint64_t* timestamp, std::int64_t cap,
                                                std::int64_t* frames);

// Copies the first `item` bytes of each of n frames (frame i at seg + offsets[i]) one after
// another into `out`: one record type's structured array. The caller keeps each frame's
// offset + item within the frame (aerolog_frame_table's offsets, and lengths >= item).
AEROLOG_EXPORT void aerolog_gather(const std::byte* seg, const std::int64_t* offsets, std::int64_t n, std::int64_t item,
                                   std::byte* out);
