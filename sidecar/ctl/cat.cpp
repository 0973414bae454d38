// aerologctl cat and tail: decode a WAL (a file, a stream directory, a stream name, or a
// logger's name: all its thread streams merged by timestamp) as text, CSV or JSON.
#include "ctl.hpp"
#include "ring_file.hpp"
#include "shm_view.hpp"

#include <aerolog/proto/log.hpp>
#include <aerolog/reader.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

namespace aerolog::ctl {

namespace fs = std::filesystem;

namespace {

// One stream being read, and its next record (kept until it is printed).
struct Source {
  std::string stream, dir;
  std::optional<Reader> reader;
  std::unique_ptr<Mapping> ring;  // when following: the ring says what is durable
  std::unique_ptr<RecordFormatter> formatter;
  const Record* head = nullptr;

  const proto::RingHeader* header() const { return reinterpret_cast<const proto::RingHeader*>(ring->data()); }
  // Nothing more can come before what is already out: every record the producer published is
  // durable and read (or there is no producer). Records it publishes later are stamped later.
  bool quiet() const {
    if (!ring) return true;
    const auto* h = header();
    return h->producer.last_seq.load() <= h->durable.durable_seq.load();
  }
};

// The exit status once reading is over: 1, with the reason, if a stream stopped short at damage
// (a torn tail at the end of the log is not: recovery would zero it and serve the records before).
int finish(const std::vector<Source>& sources) {
  int rc = 0;
  for (const Source& s : sources) {
    const std::string damage = s.reader->damage();
    if (damage.empty()) continue;
    std::fprintf(stderr, "aerologctl: %s; the records before it were printed (aerologctl verify names every problem)\n",
                 damage.c_str());
    rc = 1;
  }
  return rc;
}

// The streams `target` names: a file or directory; else a stream in the WAL root; else a
// logger's streams there (<target>.<thread>). Empty, with the reason printed, if none.
std::vector<Source> resolve(const CatOptions& o) {
  std::vector<Source> out;
  std::error_code ec;
  auto add = [&](const fs::path& stream_dir, const std::string& path) {  // path: the directory or one file in it
    Source s;
    s.stream = stream_dir.filename().string();
    s.dir = path;
    out.push_back(std::move(s));
  };
  if (fs::exists(o.target, ec)) {
    const fs::path p = fs::absolute(o.target, ec);
    add(fs::is_directory(p, ec) ? p : p.parent_path(), o.target);
    return out;
  }
  const std::string wal = o.wal_dir;
  if (o.target.find('/') == std::string::npos) {
    if (fs::is_directory(wal + "/" + o.target, ec)) {
      add(wal + "/" + o.target, wal + "/" + o.target);
      return out;
    }
    for (const auto& e : fs::directory_iterator(wal, ec))
      if (e.is_directory(ec) && e.path().filename().string().rfind(o.target + ".", 0) == 0)
        add(e.path(), e.path().string());
    std::sort(out.begin(), out.end(), [](const Source& a, const Source& b) { return a.stream < b.stream; });
  }
  if (out.empty())
    std::fprintf(stderr, "aerologctl: '%s' is neither a file, a directory, a stream nor a logger in %s\n",
                 o.target.c_str(), wal.c_str());
  return out;
}

// tail -n N: each stream starts at its last N records that print (LogSite records do not),
// found by a pass that formats nothing.
void seek_to_last(Source& s, std::size_t n) {
  std::deque<std::uint64_t> last;
  while (const Record* r = s.reader->next()) {
    if (r->type == proto::kTypeLogSite) continue;
    last.push_back(r->seq);
    if (last.size() > n) last.pop_front();
  }
  if (!last.empty()) s.reader->seek_seq(last.front());
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
  std::vector<Source> sources = resolve(o);
  if (sources.empty()) return 1;
  const bool merged = sources.size() > 1;
  if (merged && (o.from_seq || o.to_seq != ~std::uint64_t{0})) {
    std::fprintf(stderr, "aerologctl: --from-seq and --to-seq need one stream ('%s' is %zu streams: use the times)\n",
                 o.target.c_str(), sources.size());
    return 2;
  }
  if (o.follow) catch_interrupt();
  for (Source& s : sources) {
    try {
      s.reader.emplace(Reader::open(s.dir));
      s.formatter = std::make_unique<RecordFormatter>(o.format, s.stream);
      std::error_code ec;
      s.formatter->decoder().load_catalog(fs::is_directory(s.dir, ec) ? s.dir : fs::path(s.dir).parent_path().string());
    } catch (const Error& e) {
      std::fprintf(stderr, "aerologctl: %s\n", e.what());
      return 1;
    }
    if (o.tail)
      seek_to_last(s, o.tail);
    else if (o.from_seq)
      s.reader->seek_seq(o.from_seq);
    else if (from_ns)
      s.reader->seek_time(from_ns);
    if (o.follow) {
      try {  // following a live stream: only what its ring says is durable
        s.ring = std::make_unique<Mapping>(detail::ring_path(o.shm_dir, s.stream), proto::kRingHeaderSize, false);
      } catch (const std::exception&) {
      }
    }
  }
  if (o.format == Format::csv) std::printf("%s\n", kCsvHeader);
  // tail: the last N lines of what is there now (a merge may have up to N from each stream).
  std::deque<std::string> held;
  bool holding = o.tail > 0;
  for (;;) {
    for (Source& s : sources) {
      if (s.ring) s.reader->set_limit(s.header()->durable.durable_seq.load());
      while (!s.head && (s.head = s.reader->next())) {
        const Record* r = s.head;
        if (r->seq > o.to_seq) break;
        if (r->seq < o.from_seq || r->timestamp < from_ns || r->timestamp > to_ns) {
          if (r->type == proto::kTypeLogSite) s.formatter->decoder().decode(*r);  // for the events that follow
          s.head = nullptr;
        }
      }
    }
    // The earliest record; following a merge, only once no other stream can still bring an
    // earlier one.
    Source* next = nullptr;
    for (Source& s : sources)
      if (s.head && (!next || s.head->timestamp < next->head->timestamp)) next = &s;
    if (next && next->head->seq <= o.to_seq &&
        (!o.follow || !merged ||
         std::all_of(sources.begin(), sources.end(), [](const Source& s) { return s.head || s.quiet(); }))) {
      const std::string& line = next->formatter->format(*next->head);
      next->head = nullptr;
      if (line.empty()) continue;
      if (holding) {
        held.push_back(line);
        if (held.size() > o.tail) held.pop_front();
      } else {
        std::fputs(line.c_str(), stdout);
        std::fputc('\n', stdout);
      }
      continue;
    }
    for (const std::string& line : held) std::printf("%s\n", line.c_str());
    held.clear();
    holding = false;
    std::fflush(stdout);
    const bool past_end = next && next->head->seq > o.to_seq;
    if (!o.follow || interrupted() || past_end) return past_end ? 0 : finish(sources);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace aerolog::ctl
