// The daemons' spdlog logger: to a file, or to stderr, where under systemd (JOURNAL_STREAM set)
// lines carry a <level> prefix and no time (journald adds it).
#pragma once
#include <spdlog/logger.h>

#include <memory>
#include <string>

namespace aerolog::common {

// log_file: a path, or "" / "-" for stderr. level: spdlog's names (trace ... critical, off).
// Throws spdlog::spdlog_ex if the file cannot be opened.
std::shared_ptr<spdlog::logger> make_logger(const std::string& name, const std::string& log_file,
                                            const std::string& level);

}  // namespace aerolog::common
