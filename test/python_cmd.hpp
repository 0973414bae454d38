// Command lines that run Debian's python3 on the aerolog package in scripts/, with its frames
// found by libaerolog_frames.so (as the .deb installs it) or by numpy (the package without it).
// The sanitizer builds have no libaerolog_frames.so (a sanitized library cannot be loaded into
// python3): AEROLOG_FRAMES_LIB is "" there, and numpy is the one engine.
#pragma once
#include <string>
#include <vector>

namespace testutil {

inline bool have_native_frames() { return std::string(AEROLOG_FRAMES_LIB).size() > 0; }

// "native" (when built) and "numpy": the engines a Python check runs with.
inline std::vector<std::string> frame_engines() {
  if (have_native_frames()) return {"native", "numpy"};
  return {"numpy"};
}

inline std::string python(const std::string& engine = frame_engines().front()) {
  const std::string lib = engine == "native" ? AEROLOG_FRAMES_LIB : "";
  return "PYTHONPATH=" AEROLOG_SCRIPTS " AEROLOG_FRAMES_LIB=" + lib + " /usr/bin/python3 ";
}

}  // namespace testutil
