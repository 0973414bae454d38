// aerologctl level: shows or sets the level of a running aerolog::Logger, which every one of its
// rings (<logger>.<thread>) keeps in its header (proto/ring.hpp RingLog); the logger reads it
// on every call.
#include "ctl.hpp"
#include "shm_view.hpp"

#include <aerolog/proto/names.hpp>
#include <aerolog/proto/records.hpp>
#include <aerolog/proto/ring.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace aerolog::ctl {

int cmd_level(const LevelOptions& o) {
  int set = -1;
  if (!o.level.empty()) {
    if (const auto l = proto::level_named(o.level)) set = static_cast<int>(*l);
    if (set < 0) {
      std::fprintf(stderr, "aerologctl: '%s' is not a level: use trace, debug, info, warn, error or critical\n",
                   o.level.c_str());
      return 2;
    }
  }
  // The logger's rings: aerolog.<logger>.<thread> files whose header says a logger uses them.
  const std::string prefix = std::string(proto::kRingPrefix) + o.logger + ".";
  std::vector<std::string> rings;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(o.shm_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0 && e.is_regular_file(ec)) rings.push_back(name);
  }
  std::sort(rings.begin(), rings.end());
  int found = 0;
  for (const std::string& name : rings) {
    try {
      Mapping m(o.shm_dir + "/" + name, proto::kRingHeaderSize, set >= 0);
      auto* h = reinterpret_cast<proto::RingHeader*>(m.mutable_data());
      if (h->id.magic.load() != proto::kRingMagic || h->log.log_magic.load() != proto::kLogRingMagic) continue;
      if (set >= 0) h->log.level.store(static_cast<std::uint32_t>(set), std::memory_order_relaxed);
      const std::uint32_t now = h->log.level.load(std::memory_order_relaxed);
      std::printf("%-40s %s\n", name.substr(std::strlen(proto::kRingPrefix)).c_str(),
                  proto::name_of(static_cast<proto::Level>(now)));
      ++found;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "aerologctl: %s\n", e.what());
      return 1;
    }
  }
  if (!found) {
    std::fprintf(stderr, "aerologctl: no ring of a logger '%s' in %s (its rings are aerolog.%s.<thread>)\n",
                 o.logger.c_str(), o.shm_dir.c_str(), o.logger.c_str());
    return 1;
  }
  return 0;
}

}  // namespace aerolog::ctl
