// aerolog-replay: publishes a LOBSTER message file into a stream as Order / Trade records.
#include "cli.hpp"
#include "units.hpp"
#include "clock.hpp"
#include "record_format.hpp"

#include <aerolog/producer.hpp>

#include <CLI/CLI.hpp>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <cstring>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <algorithm>
#include <thread>

#include <unistd.h>

namespace {

using namespace aerolog;
using namespace aerolog::common;
namespace p = aerolog::proto;

struct Counts {
  std::uint64_t lines = 0, orders = 0, trades = 0, halts = 0, malformed = 0, dropped = 0;
};

// LOBSTER message line: time (s after midnight), type 1-7, order id, size, price x10000, direction.
struct LobsterMessage {
  double time;
  int type;
  std::uint64_t order_id;
  std::int64_t size, price;
  int direction;
};

template <class T>
bool field(std::string_view& rest, T& out) {
  auto comma = rest.find(',');
  std::string_view f = rest.substr(0, comma);
  rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  auto [ptr, ec] = std::from_chars(f.data(), f.data() + f.size(), out);
  return ec == std::errc() && ptr == f.data() + f.size();
}

bool parse_lobster(std::string_view line, LobsterMessage& m) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return field(line, m.time) && field(line, m.type) && field(line, m.order_id) && field(line, m.size) &&
         field(line, m.price) && field(line, m.direction) && line.empty() && m.type >= 1 && m.type <= 7 &&
         (m.direction == 1 || m.direction == -1) && m.time >= 0 && m.time < 86400 && m.size >= 0;
}

// Generic trades CSV: ts,symbol,price,qty,side. ts: ns since the epoch, or seconds with a
// fraction, or ISO 8601 UTC (2012-06-21T13:30:00.5Z); price: decimal; side: buy/sell/b/s/1/-1/empty.
struct TradeLine {
  std::uint64_t ts;
  std::string symbol;
  std::int64_t price;
  std::int64_t qty;
  aerolog::proto::Side side;
};

bool parse_price(std::string_view f, std::int64_t& out) {
  bool neg = !f.empty() && f[0] == '-';
  if (neg) f.remove_prefix(1);
  const auto dot = f.find('.');
  std::string_view ip = f.substr(0, dot), fp = dot == std::string_view::npos ? std::string_view{} : f.substr(dot + 1);
  if (ip.empty() || fp.size() > 8) return false;
  std::int64_t i = 0, frac = 0;
  if (std::from_chars(ip.data(), ip.data() + ip.size(), i).ptr != ip.data() + ip.size()) return false;
  if (!fp.empty() && std::from_chars(fp.data(), fp.data() + fp.size(), frac).ptr != fp.data() + fp.size()) return false;
  for (std::size_t k = fp.size(); k < 8; ++k) frac *= 10;
  if (i > 90'000'000'000ll) return false;
  out = (i * aerolog::proto::kPriceScale + frac) * (neg ? -1 : 1);
  return true;
}

// ns since the epoch or ISO 8601 UTC (as aerologctl's --from-time), or seconds with a fraction.
bool parse_ts(std::string_view f, std::uint64_t& ns) {
  if (!f.empty() && f.find('.') != std::string_view::npos &&
      f.find_first_not_of("0123456789.") == std::string_view::npos) {
    double sec;
    if (std::from_chars(f.data(), f.data() + f.size(), sec).ptr != f.data() + f.size()) return false;
    ns = static_cast<std::uint64_t>(sec * 1e9 + 0.5);
    return true;
  }
  return aerolog::common::parse_time(std::string(f), ns);
}

bool parse_trade(std::string_view line, TradeLine& t) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::string_view f[5];
  for (int i = 0; i < 5; ++i) {
    const auto c = line.find(',');
    if ((c == std::string_view::npos) != (i == 4)) return false;
    f[i] = line.substr(0, c);
    line = c == std::string_view::npos ? std::string_view{} : line.substr(c + 1);
  }
  if (!parse_ts(f[0], t.ts) || f[1].empty() || f[1].size() > aerolog::proto::kSymbolSize || !parse_price(f[2], t.price))
    return false;
  if (std::from_chars(f[3].data(), f[3].data() + f[3].size(), t.qty).ptr != f[3].data() + f[3].size()) return false;
  t.symbol = f[1];
  const std::string_view sd = f[4];
  if (sd == "buy" || sd == "b" || sd == "B" || sd == "1")
    t.side = aerolog::proto::Side::buy;
  else if (sd == "sell" || sd == "s" || sd == "S" || sd == "-1")
    t.side = aerolog::proto::Side::sell;
  else if (sd.empty())
    t.side = aerolog::proto::Side::unknown;
  else
    return false;
  return true;
}

// Sleeps (or spins, when close) until `due` on CLOCK_MONOTONIC.
void wait_until_ns(std::uint64_t due) {
  for (;;) {
    const std::uint64_t n = aerolog::common::mono_ns();
    if (n >= due) return;
    if (due - n > 200'000) {
      timespec nap{0, static_cast<long>(std::min<std::uint64_t>(due - n - 100'000, 100'000'000))};
      nanosleep(&nap, nullptr);
    }
  }
}

// Midnight America/New_York of YYYY-MM-DD, as ns since the epoch (LOBSTER times are local).
std::uint64_t midnight_ny_ns(const std::string& date) {
  std::tm tm{};
  if (!strptime(date.c_str(), "%Y-%m-%d", &tm)) return 0;
  setenv("TZ", "America/New_York", 1);
  tzset();
  tm.tm_isdst = -1;
  std::time_t t = std::mktime(&tm);
  return t < 0 ? 0 : static_cast<std::uint64_t>(t) * 1'000'000'000ull;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "aerolog-replay: replays a market-data CSV into an AeroLog stream, at full speed or at the\n"
      "recorded pace.\n"
      "  lobster: a LOBSTER message file (time, type 1-7, order id, size, price x10000, direction),\n"
      "           like the AAPL sample in shared/data. Events 1-3 (submit, partial cancel, delete)\n"
      "           become Order records, 4-6 (executions, cross) Trade records, 7 a MarketData halt.\n"
      "  trades:  ts,symbol,price,qty,side (ts in ns, in seconds, or ISO 8601 UTC; a header line\n"
      "           is allowed) as Trade records."};
  std::string file, stream = "md-feed", symbol, date, shm_dir = proto::kDefaultShmDir, format = "auto";
  std::uint64_t capacity = p::kRingDefaultCapacity;
  double speed = 0;
  bool spin = true, progress = true;
  app.add_option("file", file, "the CSV file")->required()->check(CLI::ExistingFile);
  app.add_option("--format", format, "lobster, trades, or auto (by the first line)")
      ->transform(aerolog::common::one_of({"auto", "lobster", "trades"}))
      ->capture_default_str();
  app.add_option("-s,--stream", stream, "stream to publish into")->capture_default_str();
  app.add_option("--speed", speed, "0: as fast as possible; 1: the recorded pace; N: N times faster")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--symbol", symbol, "lobster: symbol (default: from the file name, SYM_YYYY-MM-DD_...)");
  app.add_option("--date", date,
                 "lobster: trading day YYYY-MM-DD, times are New York time (default: from the file name)");
  aerolog::common::add_shm_dir(app, shm_dir, "directory of the rings");
  app.add_option("--capacity", capacity, "ring capacity in bytes, a power of two (64M, 1G)")
      ->transform(aerolog::common::size_value())
      ->capture_default_str();
  app.add_flag("!--drop", spin, "drop records when the ring is full (default: wait for the sidecar to free space)");
  app.add_flag("!--no-progress", progress, "no progress bar (it only shows on a terminal anyway)");
  app.footer(
      "Exit status: 0 all lines published; 1 cannot open the file or the stream; 2 bad usage;\n"
      "3 done, but some lines were malformed (reported with their line numbers) or dropped.");
  if (auto rc = aerolog::common::parse_cli(app, argc, argv, "aerolog-replay")) return *rc;

  std::ifstream in(file);
  if (!in) {
    std::fprintf(stderr, "aerolog-replay: cannot read %s: %s\n", file.c_str(), std::strerror(errno));
    return 1;
  }
  const std::string base = file.substr(file.find_last_of('/') + 1);
  std::string first_line;
  std::getline(in, first_line);
  in.clear();
  in.seekg(0);
  if (format == "auto") {
    LobsterMessage probe;
    format = (first_line.rfind("ts,", 0) == 0 || std::count(first_line.begin(), first_line.end(), ',') == 4) ? "trades"
             : parse_lobster(first_line, probe)                                                              ? "lobster"
                                                                                                             : "";
    if (format.empty()) {
      std::fprintf(stderr, "aerolog-replay: %s: cannot tell the format from its first line; pass --format\n",
                   file.c_str());
      return 2;
    }
  }
  std::uint64_t day_ns = 0;
  if (format == "lobster") {
    std::smatch m;
    if (std::regex_search(base, m, std::regex(R"(^([A-Za-z.]+)_(\d{4}-\d{2}-\d{2})_)"))) {
      if (symbol.empty()) symbol = m[1];
      if (date.empty()) date = m[2];
    }
    if (symbol.empty() || date.empty()) {
      std::fprintf(stderr, "aerolog-replay: cannot tell symbol/date from '%s': pass --symbol and --date\n",
                   base.c_str());
      return 2;
    }
    if (!(day_ns = midnight_ny_ns(date))) {
      std::fprintf(stderr, "aerolog-replay: bad --date '%s' (want YYYY-MM-DD)\n", date.c_str());
      return 2;
    }
  }

  ProducerOptions o;
  o.shm_dir = shm_dir;
  o.capacity = capacity;
  o.on_full = spin ? FullPolicy::spin : FullPolicy::drop;
  std::optional<Producer> prod;
  try {
    prod.emplace(Producer::open(stream, o));
  } catch (const Error& e) {
    std::fprintf(stderr, "aerolog-replay: %s\n", e.what());
    return 1;
  }

  Counts c;
  std::string line;
  char sym[p::kSymbolSize] = {};
  std::memcpy(sym, symbol.data(), std::min(symbol.size(), sizeof sym));
  const bool bar = progress && isatty(STDERR_FILENO);
  in.seekg(0, std::ios::end);
  const double total_bytes = std::max<double>(1, static_cast<double>(in.tellg()));
  in.seekg(0);
  std::uint64_t trade_id = 0, first_seq = 0, first_ts = 0, wall0 = 0;
  auto pace = [&](std::uint64_t ts) {
    if (speed <= 0) return;
    if (!wall0) {
      wall0 = aerolog::common::mono_ns();
      first_ts = ts;
    }
    if (ts > first_ts) wait_until_ns(wall0 + static_cast<std::uint64_t>(double(ts - first_ts) / speed));
  };
  auto malformed = [&](const std::string& l) {
    if (++c.malformed <= 10)
      std::fprintf(stderr, "%s%s:%llu: malformed line skipped: %.80s\n", bar ? "\r\033[K" : "", file.c_str(),
                   static_cast<unsigned long long>(c.lines), l.c_str());
  };
  while (std::getline(in, line)) {
    ++c.lines;
    Result r;
    if (format == "trades") {
      TradeLine tl;
      if (!parse_trade(line, tl)) {
        if (c.lines != 1 || line.rfind("ts,", 0) != 0) malformed(line);  // a header line is fine
        continue;
      }
      pace(tl.ts);
      p::Trade t{};
      std::memcpy(t.symbol, tl.symbol.data(), tl.symbol.size());
      t.price = tl.price;
      t.qty = tl.qty;
      t.trade_id = ++trade_id;
      t.exch_ts = tl.ts;
      t.aggressor = tl.side;
      r = prod->publish(t);
      c.trades += r.status == Status::ok;
    } else {
      LobsterMessage msg;
      if (!parse_lobster(line, msg)) {
        malformed(line);
        continue;
      }
      const std::uint64_t ts = day_ns + static_cast<std::uint64_t>(msg.time * 1e9 + 0.5);
      pace(ts);
      const std::int64_t price = msg.price * (p::kPriceScale / 10'000);
      const p::Side side = msg.direction == 1 ? p::Side::buy : p::Side::sell;
      if (msg.type <= 3) {
        p::Order ord{};
        std::memcpy(ord.symbol, sym, sizeof sym);
        ord.order_id = msg.order_id;
        ord.price = price;
        ord.qty = msg.size;
        ord.leaves_qty = -1;
        ord.exch_ts = ts;
        ord.action = msg.type == 1   ? p::OrderAction::new_order
                     : msg.type == 2 ? p::OrderAction::partial_cancel
                                     : p::OrderAction::cancel;
        ord.side = side;
        r = prod->publish(ord);
        c.orders += r.status == Status::ok;
      } else if (msg.type <= 6) {
        p::Trade t{};
        std::memcpy(t.symbol, sym, sizeof sym);
        t.price = price;
        t.qty = msg.size;
        t.trade_id = ++trade_id;
        t.order_id = msg.order_id;
        t.exch_ts = ts;
        // The message's direction is the resting order's side: the aggressor is the other side.
        t.aggressor = msg.type == 6 ? p::Side::unknown : (side == p::Side::buy ? p::Side::sell : p::Side::buy);
        r = prod->publish(t);
        c.trades += r.status == Status::ok;
      } else {
        p::MarketData md{};
        std::memcpy(md.symbol, sym, sizeof sym);
        md.exch_ts = ts;
        md.event = p::BookEvent::halt;
        r = prod->publish(md);
        c.halts += r.status == Status::ok;
      }
    }
    if (!r)
      ++c.dropped;
    else if (!first_seq)
      first_seq = r.seq;
    if (bar && c.lines % 4096 == 0) {
      const double frac = std::min(1.0, static_cast<double>(in.tellg()) / total_bytes);
      const int filled = static_cast<int>(frac * 40);
      std::fprintf(stderr, "\r[%s%s] %5.1f%% %llu lines", std::string(filled, '#').c_str(),
                   std::string(40 - filled, '.').c_str(), 100 * frac, static_cast<unsigned long long>(c.lines));
    }
  }
  if (bar) std::fprintf(stderr, "\r\033[K");
  if (c.malformed > 10)
    std::fprintf(stderr, "... and %llu more malformed lines\n", static_cast<unsigned long long>(c.malformed - 10));
  std::printf(
      "replayed %s (%s) into stream '%s': %llu lines, %llu orders, %llu trades, %llu halts, %llu malformed, "
      "%llu dropped; seqs %llu..%llu\n",
      base.c_str(), format.c_str(), stream.c_str(), static_cast<unsigned long long>(c.lines),
      static_cast<unsigned long long>(c.orders), static_cast<unsigned long long>(c.trades),
      static_cast<unsigned long long>(c.halts), static_cast<unsigned long long>(c.malformed),
      static_cast<unsigned long long>(c.dropped), static_cast<unsigned long long>(first_seq),
      static_cast<unsigned long long>(prod->last_seq()));
  return c.malformed || c.dropped ? 3 : 0;
}
