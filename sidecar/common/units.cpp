#include "units.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>
#include <utility>

namespace aerolog::common {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// "64M" -> {64, "m"}; false if it is not digits followed by letters (spaces between allowed).
bool split_number(const std::string& v, std::uint64_t& n, std::string& suffix) {
  std::size_t i = 0;
  n = 0;
  while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) {
    const std::uint64_t d = static_cast<std::uint64_t>(v[i] - '0');
    if (n > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return false;
    n = n * 10 + d;
    ++i;
  }
  if (i == 0) return false;
  while (i < v.size() && v[i] == ' ') ++i;
  suffix = lower(v.substr(i));
  return std::all_of(suffix.begin(), suffix.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); });
}

bool times(std::uint64_t n, std::uint64_t f, std::uint64_t& out) {
  if (f && n > std::numeric_limits<std::uint64_t>::max() / f) return false;
  out = n * f;
  return true;
}

}  // namespace

CLI::Validator size_value() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        std::uint64_t n = 0, bytes = 0;
        std::string s;
        const std::pair<const char*, std::uint64_t> units[] = {{"", 1},
                                                               {"b", 1},
                                                               {"k", 1ull << 10},
                                                               {"kb", 1ull << 10},
                                                               {"kib", 1ull << 10},
                                                               {"m", 1ull << 20},
                                                               {"mb", 1ull << 20},
                                                               {"mib", 1ull << 20},
                                                               {"g", 1ull << 30},
                                                               {"gb", 1ull << 30},
                                                               {"gib", 1ull << 30},
                                                               {"t", 1ull << 40},
                                                               {"tb", 1ull << 40},
                                                               {"tib", 1ull << 40}};
        if (split_number(v, n, s))
          for (const auto& [name, f] : units)
            if (s == name && times(n, f, bytes)) {
              v = std::to_string(bytes);
              return {};
            }
        return "'" + v + "' is not a size: a whole number of bytes, or with K, M, G or T (1024s), e.g. 64M";
      },
      "SIZE");
}

CLI::Validator duration_value(const std::string& unit) {
  const std::uint64_t unit_ns = unit == "us" ? 1'000 : unit == "ms" ? 1'000'000 : 1'000'000'000;
  return CLI::Validator(
      [unit, unit_ns](std::string& v) -> std::string {
        std::uint64_t n = 0, ns = 0;
        std::string s;
        const std::pair<const char*, std::uint64_t> units[] = {{"ns", 1},
                                                               {"us", 1'000},
                                                               {"ms", 1'000'000},
                                                               {"s", 1'000'000'000},
                                                               {"m", 60'000'000'000},
                                                               {"h", 3'600'000'000'000},
                                                               {"d", 86'400'000'000'000}};
        if (split_number(v, n, s)) {
          if (s.empty()) return {};  // in the option's own unit
          for (const auto& [name, f] : units)
            if (s == name && times(n, f, ns)) {
              if (ns % unit_ns != 0) return "'" + v + "' is not a whole number of " + unit;
              v = std::to_string(ns / unit_ns);
              return {};
            }
        }
        return "'" + v + "' is not a duration: a whole number of " + unit +
               ", or with ns, us, ms, s, m, h or d (e.g. 500ms)";
      },
      "DURATION");
}

CLI::Validator one_of(std::vector<std::string> names) {
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : "|") + n;
  return CLI::Validator(
      [names](std::string& v) -> std::string {
        for (const auto& n : names)
          if (lower(v) == n) {
            v = n;
            return {};
          }
        std::string all;
        for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
        const std::string guess = nearest(lower(v), names);
        return "'" + v + "' is not one of " + all + (guess.empty() ? "" : " (did you mean " + guess + "?)");
      },
      list);
}

std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = 3;
  for (const auto& c : candidates) {  // Levenshtein distance, one row at a time
    std::vector<std::size_t> row(c.size() + 1);
    for (std::size_t j = 0; j <= c.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= word.size(); ++i) {
      std::size_t diag = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= c.size(); ++j) {
        const std::size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (word[i - 1] == c[j - 1] ? 0 : 1)});
        diag = up;
      }
    }
    if (row[c.size()] < best_d && 2 * row[c.size()] < std::max(word.size(), c.size())) {
      best_d = row[c.size()];
      best = c;
    }
  }
  return best;
}

}  // namespace aerolog::common
