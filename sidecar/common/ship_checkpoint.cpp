#include "ship_checkpoint.hpp"

#include "files.hpp"
#include "sys_error.hpp"

#include <aerolog/proto/ship.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace aerolog::common {

namespace fs = std::filesystem;

std::string checkpoint_path(const std::string& state_dir, const std::string& sink, const std::string& stream) {
  return state_dir + "/" + sink + "/" + stream + proto::kCheckpointSuffix;
}

std::string format_checkpoint(const Checkpoint& c) {
  std::ostringstream o;
  o << proto::kCheckpointMagic << "\nseq " << c.seq << "\nts_ns " << c.ts_ns << "\nskipped " << c.skipped << "\nresend";
  for (const SeqRange& r : c.resend) o << ' ' << r.first << '-' << r.last;
  o << "\nend\n";
  return o.str();
}

std::string parse_checkpoint(const std::string& text, Checkpoint& out) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line != proto::kCheckpointMagic) return "not an aerolog-ship checkpoint";
  Checkpoint c;
  bool end = false;
  auto number = [](std::istringstream& s, std::uint64_t& v) { return static_cast<bool>(s >> v); };
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string key;
    ls >> key;
    if (key == "seq" || key == "ts_ns" || key == "skipped") {
      if (!number(ls, key == "seq" ? c.seq : key == "ts_ns" ? c.ts_ns : c.skipped))
        return "bad value for '" + key + "'";
    } else if (key == "resend") {
      std::string r;
      while (ls >> r) {
        SeqRange s;
        char dash = 0;
        std::istringstream rs(r);
        if (!(rs >> s.first >> dash >> s.last) || dash != '-' || s.first == 0 || s.last < s.first)
          return "bad resend range '" + r + "'";
        c.resend.push_back(s);
      }
    } else if (key == "end") {
      end = true;
    } else if (!key.empty()) {
      return "unknown key '" + key + "'";
    }
  }
  if (!end) return "truncated (no 'end' line)";
  out = std::move(c);
  return {};
}

std::optional<Checkpoint> read_checkpoint(const std::string& path) {
  std::ifstream f(path);
  if (!f) {
    if (errno == ENOENT) return std::nullopt;
    throw_errno("read " + path);
  }
  std::stringstream ss;
  ss << f.rdbuf();
  Checkpoint c;
  if (const std::string why = parse_checkpoint(ss.str(), c); !why.empty()) throw std::runtime_error(path + ": " + why);
  return c;
}

void write_checkpoint(const std::string& state_dir, const std::string& sink, const std::string& stream,
                      const Checkpoint& c) {
  const std::string dir = state_dir + "/" + sink;
  make_dirs_durably(dir);
  write_file_durably(dir, stream + proto::kCheckpointSuffix, format_checkpoint(c));
}

std::vector<std::string> list_sinks(const std::string& state_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(state_dir, ec))
    if (e.is_directory(ec) && e.path().filename().string()[0] != '.') out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::uint64_t> shipped_by_all(const std::string& state_dir, const std::string& stream) {
  std::optional<std::uint64_t> low;
  for (const std::string& sink : list_sinks(state_dir)) {
    std::uint64_t seq = 0;
    try {
      if (auto c = read_checkpoint(checkpoint_path(state_dir, sink, stream))) seq = c->seq;
    } catch (const std::exception&) {  // unreadable or not a checkpoint: nothing counts as shipped
      seq = 0;
    }
    low = low ? std::min(*low, seq) : seq;
  }
  return low;
}

}  // namespace aerolog::common
