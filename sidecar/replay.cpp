// aerolog-replay: publishes a LOBSTER message file into a stream as Order / Trade records.
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
#include <thread>

#include <unistd.h>

namespace {

using namespace aerolog;
namespace p = aerolog::proto;

struct Counts {
  std::uint64_t lines = 0, orders = 0, trades = 0, halts = 0, malformed = 0, dropped = 0;
};

// LOBSTER message line: time (s after midnight), type 1-7, order id, size, price x10000, direction.
struct Msg {
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

bool parse(std::string_view line, Msg& m) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return field(line, m.time) && field(line, m.type) && field(line, m.order_id) && field(line, m.size) &&
         field(line, m.price) && field(line, m.direction) && line.empty() && m.type >= 1 && m.type <= 7 &&
         (m.direction == 1 || m.direction == -1) && m.time >= 0 && m.time < 86400 && m.size >= 0;
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
  CLI::App app{"Replay a LOBSTER message file (the AAPL sample in shared/data) into an AeroLog stream.\n"
               "Events 1 (submit), 2 (partial cancel), 3 (delete) become Order records; 4, 5, 6\n"
               "(executions, cross) become Trade records; 7 (halt) a MarketData halt event."};
  std::string file, stream = "md-feed", symbol, date, shm_dir = "/dev/shm";
  std::uint64_t capacity = p::kRingDefaultCapacity;
  bool spin = true;
  app.add_option("file", file, "LOBSTER message CSV")->required()->check(CLI::ExistingFile);
  app.add_option("-s,--stream", stream, "stream to publish into")->capture_default_str();
  app.add_option("--symbol", symbol, "symbol (default: from a LOBSTER file name, SYM_YYYY-MM-DD_...)");
  app.add_option("--date", date, "trading day YYYY-MM-DD (default: from the file name)");
  app.add_option("--shm-dir", shm_dir, "directory of the rings")->capture_default_str();
  app.add_option("--capacity", capacity, "ring capacity in bytes, power of two")->capture_default_str();
  app.add_flag("!--drop", spin, "drop records when the ring is full (default: wait for the sidecar to free space)");
  app.footer("Exit status: 0 all lines published; 1 cannot open the file or the stream; 2 bad usage;\n"
             "3 done, but some lines were malformed (reported with line numbers) or dropped.");
  CLI11_PARSE(app, argc, argv);

  const std::string base = file.substr(file.find_last_of('/') + 1);
  std::smatch m;
  if (std::regex_search(base, m, std::regex(R"(^([A-Za-z.]+)_(\d{4}-\d{2}-\d{2})_)"))) {
    if (symbol.empty()) symbol = m[1];
    if (date.empty()) date = m[2];
  }
  if (symbol.empty() || date.empty()) {
    std::fprintf(stderr, "aerolog-replay: cannot tell symbol/date from '%s': pass --symbol and --date\n", base.c_str());
    return 2;
  }
  const std::uint64_t day_ns = midnight_ny_ns(date);
  if (!day_ns) {
    std::fprintf(stderr, "aerolog-replay: bad --date '%s' (want YYYY-MM-DD)\n", date.c_str());
    return 2;
  }
  std::ifstream in(file);
  if (!in) {
    std::fprintf(stderr, "aerolog-replay: cannot read %s: %s\n", file.c_str(), std::strerror(errno));
    return 1;
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
  const bool tty = isatty(STDERR_FILENO);
  std::uint64_t trade_id = 0, first_seq = 0;
  while (std::getline(in, line)) {
    ++c.lines;
    Msg msg;
    if (!parse(line, msg)) {
      if (++c.malformed <= 10) std::fprintf(stderr, "%s:%llu: malformed line skipped: %.80s\n", file.c_str(),
                                            static_cast<unsigned long long>(c.lines), line.c_str());
      continue;
    }
    const std::uint64_t ts = day_ns + static_cast<std::uint64_t>(msg.time * 1e9 + 0.5);
    const std::int64_t price = msg.price * (p::kPriceScale / 10'000);
    const p::Side side = msg.direction == 1 ? p::Side::buy : p::Side::sell;
    Result r;
    if (msg.type <= 3) {
      p::Order ord{};
      std::memcpy(ord.symbol, sym, sizeof sym);
      ord.order_id = msg.order_id;
      ord.price = price;
      ord.qty = msg.size;
      ord.leaves_qty = -1;
      ord.exch_ts = ts;
      ord.action = msg.type == 1 ? p::OrderAction::new_order
                   : msg.type == 2 ? p::OrderAction::partial_cancel : p::OrderAction::cancel;
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
    if (!r) ++c.dropped;
    else if (!first_seq) first_seq = r.seq;
    if (tty && c.lines % 10'000 == 0) std::fprintf(stderr, "\rreplayed %llu lines", static_cast<unsigned long long>(c.lines));
  }
  if (tty) std::fprintf(stderr, "\r");
  if (c.malformed > 10) std::fprintf(stderr, "... and %llu more malformed lines\n", static_cast<unsigned long long>(c.malformed - 10));
  std::printf("replayed %s into stream '%s': %llu lines, %llu orders, %llu trades, %llu halts, %llu malformed, "
              "%llu dropped; seqs %llu..%llu\n",
              base.c_str(), stream.c_str(), static_cast<unsigned long long>(c.lines),
              static_cast<unsigned long long>(c.orders), static_cast<unsigned long long>(c.trades),
              static_cast<unsigned long long>(c.halts), static_cast<unsigned long long>(c.malformed),
              static_cast<unsigned long long>(c.dropped), static_cast<unsigned long long>(first_seq),
              static_cast<unsigned long long>(prod->last_seq()));
  return c.malformed || c.dropped ? 3 : 0;
}
