// Failpoints: named places where a test can make the sidecar crash (SIGKILL itself) or see an
// I/O error, armed by the environment:  AEROLOG_FAILPOINTS="after_hwm_store=3,write_eio=1"
// (name=N: fire on the Nth time the point is reached; name=N:K passes K, e.g. torn_write=2:3
// writes 3 sectors of the 2nd block, then dies). Compiled in only with -DAEROLOG_FAILPOINTS=ON
// (the test build); in a release build every point is an empty statement.
#pragma once

namespace aerolog::sidecar::fp {

#ifdef AEROLOG_FAILPOINTS
void init();                 // reads AEROLOG_FAILPOINTS once
bool hit(const char* name);  // true once, on the armed hit
int arg(const char* name);   // K of name=N:K (0 if none)
[[noreturn]] void crash(const char* name);
#else
inline void init() {}
inline bool hit(const char*) { return false; }
inline int arg(const char*) { return 0; }
[[noreturn]] inline void crash(const char*) { __builtin_trap(); }  // unreachable: hit() is false
#endif

}  // namespace aerolog::sidecar::fp

// Dies here (SIGKILL: no cleanup, like a power cut for the process) when armed.
#define AEROLOG_CRASH_POINT(name)                                               \
  do {                                                                          \
    if (::aerolog::sidecar::fp::hit(name)) ::aerolog::sidecar::fp::crash(name); \
  } while (0)
