// Survives a ring file truncated underneath the sidecar: touching its mapping past the new end
// raises SIGBUS. The handler maps anonymous zero pages over that ring's whole mapping, flags it,
// and returns; the stream sees the flag, throws away what it copied, and quarantines the ring.
#pragma once
#include <cstddef>

namespace aerolog::sidecar::guard {

void install();                        // the SIGBUS handler; once, at start
int add(void* base, std::size_t len);  // a slot to check with faulted(), or -1 if full
void remove(int slot);
bool faulted(int slot);

}  // namespace aerolog::sidecar::guard
