// Standard trading records: fixed little-endian layouts, publishable as publish(const T&).
// Each carries its type id as T::kType. Prices are fixed point: value * kPriceScale.
// Byte layout: proto/FORMAT.md, "Standard records".
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace aerolog::proto {

inline constexpr std::int64_t kPriceScale = 100'000'000;  // 1e-8 units
inline constexpr std::size_t kSymbolSize = 16;            // ASCII, NUL padded

enum class Side : std::uint8_t { unknown = 0, buy = 1, sell = 2 };

enum RecordType : std::uint16_t {
  kTypeText = 1,
  kTypeTrade = 2,
  kTypeOrder = 3,
  kTypeQuote = 4,
  kTypeMarketData = 5,
  kTypeRisk = 6,
  kTypeLogSite = 7,   // log.hpp
  kTypeLogEvent = 8,  // log.hpp
  kTypeDropped = 9,
};

struct Trade {
  static constexpr std::uint16_t kType = kTypeTrade;
  char symbol[kSymbolSize];
  std::int64_t price;
  std::int64_t qty;
  std::uint64_t trade_id;
  std::uint64_t order_id;  // resting order hit, 0 if unknown
  std::uint64_t exch_ts;   // exchange time, ns since the epoch
  Side aggressor;          // side of the incoming order
  std::uint8_t reserved[7];
};

enum class OrderAction : std::uint8_t { new_order = 1, cancel = 2, replace = 3, fill = 4, partial_cancel = 5 };

struct Order {
  static constexpr std::uint16_t kType = kTypeOrder;
  char symbol[kSymbolSize];
  std::uint64_t order_id;
  std::uint64_t orig_order_id;  // replace: the order replaced; else 0
  std::int64_t price;
  std::int64_t qty;         // new/replace: order qty; cancel/fill: qty cancelled/filled
  std::int64_t leaves_qty;  // remaining after this event, -1 if unknown
  std::uint64_t exch_ts;
  OrderAction action;
  Side side;
  std::uint8_t reserved[6];
};

struct Quote {
  static constexpr std::uint16_t kType = kTypeQuote;
  char symbol[kSymbolSize];
  std::int64_t bid_price;
  std::int64_t bid_qty;
  std::int64_t ask_price;
  std::int64_t ask_qty;
  std::uint64_t exch_ts;
  std::uint64_t reserved;
};

enum class BookEvent : std::uint8_t { add = 1, modify = 2, remove = 3, execute = 4, clear = 5, halt = 6 };

struct MarketData {
  static constexpr std::uint16_t kType = kTypeMarketData;
  char symbol[kSymbolSize];
  std::uint64_t order_id;
  std::int64_t price;
  std::int64_t qty;
  std::uint64_t exch_ts;
  BookEvent event;
  Side side;
  std::uint16_t level;  // book level if known, else 0
  std::uint32_t reserved;
  std::uint64_t reserved2;
};

enum class RiskVerdict : std::uint8_t { pass = 0, warn = 1, breach = 2 };

struct Risk {
  static constexpr std::uint16_t kType = kTypeRisk;
  char account[kSymbolSize];
  char symbol[kSymbolSize];
  std::int64_t position;
  std::int64_t exposure;  // notional, price units
  std::int64_t limit;
  std::int64_t pnl;  // price units
  std::uint32_t check_id;
  RiskVerdict verdict;
  std::uint8_t reserved[3];
};

enum class Level : std::uint8_t { trace = 0, debug = 1, info = 2, warn = 3, error = 4, critical = 5 };

// Text is variable length: this header, then UTF-8 bytes up to the end of the payload.
struct TextHeader {
  static constexpr std::uint16_t kType = kTypeText;
  Level level;
  std::uint8_t reserved[7];
};

// Written by a producer before the first record that got into the ring after records were
// dropped because it was full: how many were dropped since the previous marker, and when the first was.
struct Dropped {
  static constexpr std::uint16_t kType = kTypeDropped;
  std::uint64_t count;
  std::uint64_t first_ns;  // when the first of them was dropped (ns since the epoch)
};

static_assert(sizeof(Trade) == 64 && offsetof(Trade, price) == 16 && offsetof(Trade, aggressor) == 56);
static_assert(offsetof(Trade, trade_id) == 32 && offsetof(Trade, exch_ts) == 48);
static_assert(sizeof(Order) == 72 && offsetof(Order, order_id) == 16 && offsetof(Order, action) == 64);
static_assert(offsetof(Order, leaves_qty) == 48 && offsetof(Order, side) == 65);
static_assert(sizeof(Quote) == 64 && offsetof(Quote, ask_price) == 32 && offsetof(Quote, exch_ts) == 48);
static_assert(sizeof(MarketData) == 64 && offsetof(MarketData, event) == 48);
static_assert(offsetof(MarketData, level) == 50 && offsetof(MarketData, price) == 24);
static_assert(sizeof(Risk) == 72 && offsetof(Risk, position) == 32 && offsetof(Risk, check_id) == 64);
static_assert(sizeof(TextHeader) == 8 && sizeof(Dropped) == 16);
static_assert(std::is_trivially_copyable_v<Trade> && std::is_trivially_copyable_v<Order> &&
              std::is_trivially_copyable_v<Quote> && std::is_trivially_copyable_v<MarketData> &&
              std::is_trivially_copyable_v<Risk>);

}  // namespace aerolog::proto
