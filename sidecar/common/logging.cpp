#include "logging.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

namespace aerolog::common {

std::shared_ptr<spdlog::logger> make_logger(const std::string& name, const std::string& log_file,
                                            const std::string& level) {
  const bool to_stderr = log_file.empty() || log_file == "-";
  auto log = to_stderr ? spdlog::stderr_logger_mt(name) : spdlog::basic_logger_mt(name, log_file);
  log->set_pattern(to_stderr && std::getenv("JOURNAL_STREAM") ? "<%l> %v" : "%Y-%m-%d %H:%M:%S.%e %l %v");
  log->set_level(spdlog::level::from_str(level));
  log->flush_on(spdlog::level::info);
  return log;
}

}  // namespace aerolog::common
