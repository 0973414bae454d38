// Survives a shared file truncated underneath a program that maps it (a ring, the control block,
// the clock page: their makers can shrink them at any time): touching the mapping past the new
// end raises SIGBUS. The handler maps anonymous zero pages over that file's whole mapping, flags
// it, and returns; the sidecar's stream sees the flag, throws away what it copied, and
// quarantines the ring; a reader sees zeros (no magic: not a ring any more).
#pragma once
#include <cstddef>

namespace aerolog::common::guard {

void install();  // the SIGBUS handler; once, at start
bool installed();
int add(void* base, std::size_t len);  // a slot to check with faulted(), or -1 if all 1024 are taken
void remove(int slot);
bool faulted(int slot);

}  // namespace aerolog::common::guard
