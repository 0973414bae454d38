#include "logging.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "safe_file.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <unistd.h>

namespace aerolog::common {

namespace {

// The log file is this user's, mode 0640 (group members may read it, nobody else may write
// it), and no symlink, FIFO or hard link: checked before spdlog opens it for appending.
void own_log_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0640);
  if (fd < 0) throw std::runtime_error(path + ": " + std::strerror(errno));
  struct stat st;
  std::string why;
  if (::fstat(fd, &st) != 0)
    why = std::strerror(errno);
  else if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
    why = "not a regular file with one link";
  else if (std::string m = detail::check_owner_mode(st, ::geteuid(), 0); !m.empty())
    why = m;
  else if ((st.st_mode & 0137) && ::fchmod(fd, 0640) != 0)
    why = std::string("cannot chmod 0640: ") + std::strerror(errno);
  ::close(fd);
  if (!why.empty()) throw std::runtime_error("log file " + path + ": " + why);
}

}  // namespace

std::shared_ptr<spdlog::logger> make_logger(const std::string& name, const std::string& log_file,
                                            const std::string& level) {
  const bool to_stderr = log_file.empty() || log_file == "-";
  if (!to_stderr) own_log_file(log_file);
  auto log = to_stderr ? spdlog::stderr_logger_mt(name) : spdlog::basic_logger_mt(name, log_file);
  log->set_pattern(to_stderr && std::getenv("JOURNAL_STREAM") ? "<%l> %v" : "%Y-%m-%d %H:%M:%S.%e %l %v");
  log->set_level(spdlog::level::from_str(level));
  log->flush_on(spdlog::level::info);
  return log;
}

}  // namespace aerolog::common
