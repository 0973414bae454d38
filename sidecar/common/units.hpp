// Values as a person writes them, the same on the command line and in a config file: sizes with
// a suffix (64M), durations with a unit (500ms, 2m), one of a few names in any case (JSON), and
// the nearest valid name for a misspelt one.
#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace aerolog::common {

// Bytes: a whole number, optionally with K, M, G or T (powers of 1024; KiB, MB and the like too).
CLI::Validator size_value();
// A whole number of `unit` ("us", "ms" or "s"), or any number with ns, us, ms, s, m, h or d that
// is a whole number of `unit`: for the seconds of --retire-grace, "2m" is 120.
CLI::Validator duration_value(const std::string& unit);
// One of `names`, in any case; the value becomes the name as written here. The error lists
// them (and says which one was probably meant).
CLI::Validator one_of(std::vector<std::string> names);
// The candidate closest to `word` (edit distance, at most 2 and less than half its length), or "".
std::string nearest(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace aerolog::common
