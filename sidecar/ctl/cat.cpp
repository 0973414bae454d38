// aerologctl cat: decodes a WAL (file, stream directory or stream name) as text, CSV or JSON.
#include "ctl.hpp"
#include "ring_file.hpp"
#include "shm_view.hpp"

#include <aerolog/reader.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

namespace aerolog::ctl {

namespace {
volatile std::sig_atomic_t g_stop = 0;

// The exit status once reading is over: 1, with the reason, if it stopped short at damage (a
// torn tail at the end of the log is not: recovery would zero it and serve the records before).
int finish(const Reader& r) {
  const std::string damage = r.damage();
  if (damage.empty()) return 0;
  std::fprintf(stderr, "aerologctl: %s; the records before it were printed (aerologctl verify names every problem)\n",
               damage.c_str());
  return 1;
}
}  // namespace

int cmd_cat(const CatOptions& o) {
  std::uint64_t from_ns = 0, to_ns = ~std::uint64_t{0};
  if (!o.from_time.empty() && !parse_time(o.from_time, from_ns)) {
    std::fprintf(stderr, "aerologctl: --from-time '%s': want ns since the epoch or YYYY-MM-DDTHH:MM:SS[.fff]Z\n",
                 o.from_time.c_str());
    return 2;
  }
  if (!o.to_time.empty() && !parse_time(o.to_time, to_ns)) {
    std::fprintf(stderr, "aerologctl: --to-time '%s': want ns since the epoch or YYYY-MM-DDTHH:MM:SS[.fff]Z\n",
                 o.to_time.c_str());
    return 2;
  }
  // A path, or else a stream name under the WAL root.
  std::string path = o.target;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    std::string wal = o.wal_dir;
    if (wal.empty()) {
      SidecarInfo sc = read_sidecar(o.shm_dir);
      wal = sc.cb ? std::string(sc.cb->wal_dir, strnlen(sc.cb->wal_dir, sizeof sc.cb->wal_dir)) : "/var/lib/aerolog";
    }
    path = wal + "/" + o.target;
    if (o.target.find('/') != std::string::npos || !std::filesystem::is_directory(path, ec)) {
      std::fprintf(stderr, "aerologctl: '%s' is neither a file, a directory, nor a stream in %s\n", o.target.c_str(),
                   wal.c_str());
      return 1;
    }
  }
  std::optional<Reader> reader;
  try {
    reader.emplace(Reader::open(path));
  } catch (const Error& e) {
    std::fprintf(stderr, "aerologctl: %s\n", e.what());
    return 1;
  }
  if (o.from_seq)
    reader->seek_seq(o.from_seq);
  else if (from_ns)
    reader->seek_time(from_ns);
  // Following a live stream: only what the ring says is durable.
  std::unique_ptr<Mapping> ring;
  const std::string stream = std::filesystem::path(path).filename().string();
  if (o.follow) {
    std::signal(SIGINT, [](int) { g_stop = 1; });
    try {
      ring = std::make_unique<Mapping>(detail::ring_path(o.shm_dir, stream), proto::kRingHeaderSize, false);
    } catch (const std::exception&) {
    }
  }
  RecordFormatter formatter(o.format, stream);
  try {
    formatter.decoder().load_catalog(
        std::filesystem::is_directory(path, ec) ? path : std::filesystem::path(path).parent_path().string());
  } catch (const Error& e) {
    std::fprintf(stderr, "aerologctl: %s\n", e.what());
    return 1;
  }
  if (o.format == Format::csv) std::printf("%s\n", kCsvHeader);
  for (;;) {
    if (ring) reader->set_limit(reinterpret_cast<const proto::RingHeader*>(ring->data())->durable.durable_seq.load());
    while (const Record* r = reader->next()) {
      if (r->seq > o.to_seq) return 0;
      if (r->seq < o.from_seq || r->timestamp < from_ns || r->timestamp > to_ns) {
        if (r->type == proto::kTypeLogSite) formatter.decoder().decode(*r);  // for the events that follow
        continue;
      }
      const std::string line = formatter.format(*r);
      if (line.empty()) continue;
      std::fputs(line.c_str(), stdout);
      std::fputc('\n', stdout);
    }
    std::fflush(stdout);
    if (!o.follow || g_stop) return finish(*reader);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace aerolog::ctl
