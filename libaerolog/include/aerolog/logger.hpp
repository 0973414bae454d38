// Deferred-format logging: AEROLOG_INFO(log, "fill {} @ {}", qty, px) checks the format string at
// compile time ({fmt}), and at run time only checks the level, copies the call site's id and the
// raw arguments into this thread's ring, and commits. Formatting happens when the WAL is read
// (aerologctl cat, aerolog::LogDecoder, alog.py). Record layouts: proto/FORMAT.md, "Log records".
//
//   auto log = aerolog::Logger::open("strategy");        // once; share it between threads
//   log.preallocate();                                    // optional: this thread's ring now
//   AEROLOG_INFO(log, "fill {} @ {}", qty, aerolog::Price{px});
//
// Each thread logs into its own ring, stream "<logger>.t<N>" (or "<logger>.<name>" after
// Logger::set_thread_name), made on its first call, logged or filtered out (or by preallocate()).
// A call below the level does nothing (one relaxed load of the level word in the ring header, which
// `aerologctl level` changes from outside); its arguments are not evaluated. A call whose ring
// is full is dropped and counted (FullPolicy::drop), and readers see a proto::Dropped record
// where the gap is. Nothing is lost when the process dies after a call returned: the record is
// in shared memory and the sidecar drains it. After fork() the child logs into new rings.
#pragma once
#include <aerolog/producer.hpp>
#include <aerolog/proto/log.hpp>

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

namespace aerolog {

using proto::Level;

// A fixed-point price (value * proto::kPriceScale, as in the standard records), logged exactly
// and rendered like a double: AEROLOG_INFO(log, "px {:.2f}", aerolog::Price{trade.price}).
struct Price {
  std::int64_t value;
};

struct LoggerOptions {
  ProducerOptions ring = small_rings();  // each thread's ring: 4 MiB, drop when full
  Level level = Level::info;             // until `aerologctl level` or set_level() changes it
  static ProducerOptions small_rings() {
    ProducerOptions o;
    o.capacity = 4u << 20;
    return o;
  }
};

class Logger;

namespace detail {

template <class T>
using bare_t = std::remove_cvref_t<T>;

template <class T>
inline constexpr bool kIsText = std::is_convertible_v<const T&, std::string_view> && !std::is_same_v<T, std::nullptr_t>;

template <class U>
inline constexpr bool kWideChar = std::is_same_v<U, wchar_t> || std::is_same_v<U, char8_t> ||
                                  std::is_same_v<U, char16_t> || std::is_same_v<U, char32_t>;

// How an argument of type T is stored (proto::ArgType), or ArgType{} (0, no type) if it cannot be.
template <class T>
consteval proto::ArgType stored_as() {
  using U = bare_t<T>;
  using proto::ArgType;
  if constexpr (std::is_same_v<U, bool>) {
    return ArgType::boolean;
  } else if constexpr (std::is_same_v<U, char>) {
    return ArgType::character;
  } else if constexpr (kWideChar<U>) {
    return ArgType{};
  } else if constexpr (std::is_enum_v<U>) {
    return stored_as<std::underlying_type_t<U>>();
  } else if constexpr (std::is_integral_v<U> && std::is_signed_v<U>) {
    constexpr ArgType by_size[] = {ArgType::i8, ArgType::i16, ArgType::i32, ArgType::i64};
    return by_size[sizeof(U) == 1 ? 0 : sizeof(U) == 2 ? 1 : sizeof(U) == 4 ? 2 : 3];
  } else if constexpr (std::is_integral_v<U>) {
    constexpr ArgType by_size[] = {ArgType::u8, ArgType::u16, ArgType::u32, ArgType::u64};
    return by_size[sizeof(U) == 1 ? 0 : sizeof(U) == 2 ? 1 : sizeof(U) == 4 ? 2 : 3];
  } else if constexpr (std::is_same_v<U, float>) {
    return ArgType::f32;
  } else if constexpr (std::is_same_v<U, double>) {
    return ArgType::f64;
  } else if constexpr (std::is_same_v<U, Price>) {
    return ArgType::price;
  } else if constexpr (kIsText<U>) {
    return ArgType::string;
  } else {
    return ArgType{};
  }
}

template <class T>
inline constexpr bool kLoggable = stored_as<T>() != proto::ArgType{};

// How an argument of type T is stored; anything else does not compile, with a message that says
// what to do instead.
template <class T>
consteval proto::ArgType arg_type() {
  using U = bare_t<T>;
  static_assert(!kWideChar<U>, "AEROLOG_*: wide characters cannot be logged: log them as integers");
  static_assert(kLoggable<U> || kWideChar<U>,
                "AEROLOG_*: this argument type cannot be logged. Integers, float, double, bool, char, enums, "
                "const char*, std::string_view, std::string and aerolog::Price can: log the fields of a struct, "
                "cast a pointer to std::uintptr_t, or format the value into a std::string first");
  return stored_as<U>();
}

// What {fmt} checks the format string against: what the reader will format. A type that cannot
// be logged stands as an int here, so that arg_type's static_assert is the one error reported.
template <class T>
struct fmt_arg {
  using type = std::conditional_t<kLoggable<T>, T, int>;
};
template <class T>
requires std::is_enum_v<T>
struct fmt_arg<T> {
  using type = std::underlying_type_t<T>;
};
template <class T>
requires(kIsText<T> && !std::is_same_v<T, char>) struct fmt_arg<T> {
  using type = std::string_view;
};
template <class T>
using fmt_arg_t = typename fmt_arg<bare_t<T>>::type;

// Short strings are the common case: measured inline, without a call to strlen.
inline std::size_t text_length(const char* s) noexcept {
  if (__builtin_constant_p(__builtin_strlen(s))) return __builtin_strlen(s);  // a literal: known now
  for (std::size_t i = 0; i < 32; ++i)
    if (!s[i]) return i;
  return 32 + std::strlen(s + 32);
}
// Copies n bytes without a call for n <= 32: two overlapping moves of a fixed size (never
// reading or writing outside [0, n)).
inline void copy_text(std::byte* d, const char* s, std::size_t n) noexcept {
  auto two = [&](auto word) {
    std::memcpy(&word, s, sizeof word);
    std::memcpy(d, &word, sizeof word);
    std::memcpy(&word, s + n - sizeof word, sizeof word);
    std::memcpy(d + n - sizeof word, &word, sizeof word);
  };
  struct W16 {
    std::uint64_t a, b;
  };
  if (n >= 8 && n <= 16)
    two(std::uint64_t{});
  else if (n >= 4 && n < 8)
    two(std::uint32_t{});
  else if (n > 16 && n <= 32)
    two(W16{});
  else if (n > 0 && n < 4) {
    d[0] = std::byte(s[0]);
    d[n / 2] = std::byte(s[n / 2]);
    d[n - 1] = std::byte(s[n - 1]);
  } else if (n > 32)
    std::memcpy(d, s, n);
}

// An argument as it is encoded: strings as string_view, the rest by value.
template <class T>
auto prepare(const T& v) noexcept {
  if constexpr (std::is_array_v<T>)  // a literal's length is known at compile time
    return std::string_view(v);
  else if constexpr (std::is_convertible_v<const T&, const char*>)
    return std::string_view(static_cast<const char*>(v), text_length(v));
  else if constexpr (arg_type<T>() == proto::ArgType::string)
    return std::string_view(v);
  else
    return v;
}
template <class T>
std::uint32_t encoded_size(const T& v) noexcept {
  if constexpr (std::is_same_v<T, std::string_view>)
    return 4 + static_cast<std::uint32_t>(v.size());
  else
    return proto::arg_size(arg_type<T>());
}
template <class T>
std::byte* encode(std::byte* at, const T& v) noexcept {
  if constexpr (std::is_same_v<T, std::string_view>) {
    const auto n = static_cast<std::uint32_t>(v.size());
    std::memcpy(at, &n, 4);
    copy_text(at + 4, v.data(), n);
    return at + 4 + n;
  } else if constexpr (std::is_same_v<T, bool>) {
    *at = std::byte{v};
    return at + 1;
  } else if constexpr (std::is_same_v<T, Price>) {
    std::memcpy(at, &v.value, 8);
    return at + 8;
  } else {
    std::memcpy(at, &v, sizeof v);
    return at + sizeof v;
  }
}

// One call site: static, constant-initialized by the macro. `id` is given at first use (from 1,
// process-wide); its LogSite record goes into a ring before the first event there that uses it.
struct Site {
  Level level;
  std::uint32_t line;
  const char* file;
  const char* function;
  std::atomic<std::uint32_t> id{0};
  constexpr Site(Level l, const char* f, std::uint32_t n, const char* fn) : level(l), line(n), file(f), function(fn) {}
};

struct LoggerShared;

// A thread's ring of one logger. Used by that thread only.
class ThreadLog {
 public:
  bool enabled(Level l) const noexcept {
    return static_cast<std::uint32_t>(l) >= level_->load(std::memory_order_relaxed);
  }

  template <class... A>
  void log(Site& site, fmt::format_string<fmt_arg_t<A>...> format, const A&... args) noexcept {
    static_assert(sizeof...(A) <= proto::kMaxLogArgs, "AEROLOG_*: at most 32 arguments");
    static constexpr proto::ArgType kTypes[] = {arg_type<A>()..., proto::ArgType{}};
    std::uint32_t id = site.id.load(std::memory_order_relaxed);
    if (id >= defined_.size() || !defined_[id]) [[unlikely]] {
      const fmt::string_view f = format;
      id = define(site, {f.data(), f.size()}, kTypes, sizeof...(A));
      if (!id) return;
    }
    const auto prepared = std::make_tuple(prepare(args)...);
    std::uint32_t size = sizeof(proto::LogEventHeader);
    std::apply([&](const auto&... p) { ((size += encoded_size(p)), ...); }, prepared);
    producer_.publish_with(proto::kTypeLogEvent, size, [&](std::byte* at) {
      std::memcpy(at, &id, sizeof id);
      at += sizeof id;
      std::apply([&](const auto&... p) { ((at = encode(at, p)), ...); }, prepared);
    });
  }

  Producer& producer() noexcept { return producer_; }
  LoggerShared& owner() noexcept { return *owner_; }

 private:
  friend class aerolog::Logger;
  friend struct LoggerShared;
  ThreadLog(Producer p, std::shared_ptr<LoggerShared> owner);
  // Publishes the site's LogSite record into this ring (giving the site its id on first use).
  // Returns the id, or 0 if the ring had no room (the call is dropped).
  std::uint32_t define(Site& site, std::string_view format, const proto::ArgType* types, std::size_t n) noexcept;

  Producer producer_;
  const proto::u32a* level_;
  std::vector<std::uint8_t> defined_;  // by site id: its LogSite is in this ring
  std::shared_ptr<LoggerShared> owner_;
};

inline constexpr std::size_t kMaxLoggers = 64;  // Logger::open()s per process
// This thread's ring of each logger (by Logger slot); trivially destructible, so reading it is a
// plain TLS load. The rings are closed at thread exit by an object the slow path registers.
inline thread_local ThreadLog* tls_logs[kMaxLoggers] = {};

}  // namespace detail

class Logger {
 public:
  // Throws aerolog::Error for a bad name (the stream rules, at most 52 bytes) or when
  // the process has opened 64 loggers.
  static Logger open(std::string_view name, const LoggerOptions& options = {});

  // This thread's ring if a call at `level` is to be logged, else nullptr (what the macros use).
  detail::ThreadLog* thread_if(Level level) noexcept {
    detail::ThreadLog* t = detail::tls_logs[slot_];
    if (t) [[likely]]
      return t->enabled(level) ? t : nullptr;
    return attach_if(level);
  }
  // Makes this thread's ring now, so that its first call costs what the others do. Throws
  // aerolog::Error if the ring cannot be made (a call would drop, and report it once on stderr).
  void preallocate();
  // Names the rings this thread makes from now on "<logger>.<name>" instead of "<logger>.t<N>".
  static void set_thread_name(std::string_view name);

  // Every line this process logged through this logger before the call, from any thread (one
  // that has exited too), durable: true once the sidecar says so, false on timeout (no sidecar,
  // or a ring it refuses: `aerologctl status` says why). flush() first asks the sidecar to write
  // now, which matters only under --batch-delay-us; wait_durable() only waits. Neither slows
  // the threads that go on logging, and either may be called from any thread.
  bool flush(std::chrono::nanoseconds timeout);
  bool wait_durable(std::chrono::nanoseconds timeout);

  // The level of every ring of this logger in this process, and of the ones it makes later.
  void set_level(Level level);
  Level level() const noexcept;
  const std::string& name() const noexcept;

 private:
  Logger(std::size_t slot, std::shared_ptr<detail::LoggerShared> s) : slot_(slot), shared_(std::move(s)) {}
  detail::ThreadLog* attach_if(Level level) noexcept;
  std::size_t slot_;
  std::shared_ptr<detail::LoggerShared> shared_;
};

}  // namespace aerolog

// A Price renders as its value as a double (so "{:.2f}" works); the record keeps it exact.
template <>
struct fmt::formatter<aerolog::Price> : fmt::formatter<double> {
  template <class Ctx>
  auto format(aerolog::Price p, Ctx& ctx) const {
    return fmt::formatter<double>::format(static_cast<double>(p.value) / aerolog::proto::kPriceScale, ctx);
  }
};

#define AEROLOG_LOG(logger, level, ...)                                                \
  do {                                                                                 \
    static ::aerolog::detail::Site aerolog_site_{level, __FILE__, __LINE__, __func__}; \
    if (::aerolog::detail::ThreadLog* aerolog_t_ = (logger).thread_if(level))          \
      aerolog_t_->log(aerolog_site_, __VA_ARGS__);                                     \
  } while (0)
#define AEROLOG_TRACE(logger, ...) AEROLOG_LOG(logger, ::aerolog::Level::trace, __VA_ARGS__)
#define AEROLOG_DEBUG(logger, ...) AEROLOG_LOG(logger, ::aerolog::Level::debug, __VA_ARGS__)
#define AEROLOG_INFO(logger, ...) AEROLOG_LOG(logger, ::aerolog::Level::info, __VA_ARGS__)
#define AEROLOG_WARN(logger, ...) AEROLOG_LOG(logger, ::aerolog::Level::warn, __VA_ARGS__)
#define AEROLOG_ERROR(logger, ...) AEROLOG_LOG(logger, ::aerolog::Level::error, __VA_ARGS__)
#define AEROLOG_CRITICAL(logger, ...) AEROLOG_LOG(logger, ::aerolog::Level::critical, __VA_ARGS__)
