// Real clickhouse-server and nats-server child processes for sink integration tests.
// Link with -lcurl -lnats.
#pragma once
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace aerolog::test {
namespace detail {

inline sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

inline bool tcp_connects(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_in a = loopback(port);
  const bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
  if (fd >= 0) ::close(fd);
  return ok;
}

inline std::size_t file_size(const std::string& path) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<std::size_t>(n);
}

// The last `max` bytes of `path` after `from` (logs are appended to across restarts: `from`
// skips the earlier runs).
inline std::string file_tail(const std::string& path, std::size_t max, std::size_t from = 0) {
  std::ifstream f(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  s.erase(0, std::min(from, s.size()));
  return s.size() > max ? s.substr(s.size() - max) : s;
}

// A server process we own: never outlives this object. (proc_util.hpp's spawn helpers run test
// code in the child or exec the publisher only, hence this one.)
class Child {
 public:
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { kill9(); }

  // fork + exec, stdout/stderr appended to `log`. Everything is prepared before the fork: the
  // child only makes syscalls (another thread may hold the malloc lock at fork time).
  void start(const std::vector<std::string>& args, const std::string& log) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (in < 0 || out < 0) throw std::runtime_error("open " + log + ": " + std::strerror(errno));
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      sigset_t none;  // the sanitizer runtimes block signals around fork: do not pass that on
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::signal(SIGPIPE, SIG_DFL);  // an ignored signal would stay ignored across exec
      ::signal(SIGTERM, SIG_DFL);
      // No leftover server even when the test binary is killed. Tied to the forking thread:
      // start servers from the test's main thread.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(126);
      ::dup2(in, 0);
      ::dup2(out, 1);
      ::dup2(out, 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(in);
    ::close(out);
    if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  // An exited but unreaped child is not running either (WNOWAIT: reaping is kill9()'s job).
  bool running() const {
    siginfo_t si{};
    return pid_ > 0 && ::waitid(P_PID, pid_, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == 0;
  }
  void kill9() {  // also reaps a child that exited by itself
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  int wait() {  // exit status, or 128 + signal
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  void stop() {
    if (pid_ > 0) ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (running() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    kill9();
  }

 private:
  pid_t pid_ = -1;
};

inline std::size_t curl_append(char* p, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
}

// One HTTP request, a POST when `post` is set: the status code and the body in `out`, or -1 and
// the curl error in `out`.
inline long http(const std::string& url, const std::string* post, long timeout_ms, std::string& out) {
  static const bool init = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;  // not thread-safe: once
  (void)init;
  std::unique_ptr<CURL, void (*)(CURL*)> c(curl_easy_init(), curl_easy_cleanup);
  if (!c) throw std::runtime_error("curl_easy_init failed");
  out.clear();
  curl_easy_setopt(c.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(c.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c.get(), CURLOPT_PROXY, "");  // never via an http_proxy from the environment
  curl_easy_setopt(c.get(), CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, curl_append);
  curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &out);
  if (post) {
    curl_easy_setopt(c.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(post->size()));
    curl_easy_setopt(c.get(), CURLOPT_POSTFIELDS, post->data());
  }
  long code = -1;
  if (const CURLcode rc = curl_easy_perform(c.get()); rc != CURLE_OK)
    out = curl_easy_strerror(rc);
  else
    curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &code);
  return code;
}

}  // namespace detail

// A free TCP port on 127.0.0.1 (bind port 0, read it back, close).
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a = detail::loopback(0);
  socklen_t len = sizeof a;
  const bool ok = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), len) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  const int err = errno;
  if (fd >= 0) ::close(fd);
  if (!ok) throw std::runtime_error(std::string("free_port: ") + std::strerror(err));
  return ntohs(a.sin_port);
}

class ClickHouseServer {
 public:
  // Writes <dir>/config.xml and <dir>/users.xml; ports are fixed here so a restart keeps url().
  explicit ClickHouseServer(std::string dir) : dir_(std::move(dir)), http_port_(free_port()) {
    do tcp_port_ = free_port();
    while (tcp_port_ == http_port_);
    for (const char* sub : {"/data", "/tmp", "/log"}) std::filesystem::create_directories(dir_ + sub);
    std::ofstream(dir_ + "/config.xml")
        << "<yandex>\n  <logger><level>warning</level><log>" << dir_ << "/log/server.log</log><errorlog>" << dir_
        << "/log/err.log</errorlog><console>0</console></logger>\n  <listen_host>127.0.0.1</listen_host>\n"
        << "  <http_port>" << http_port_ << "</http_port>\n  <tcp_port>" << tcp_port_ << "</tcp_port>\n"
        << "  <path>" << dir_ << "/data/</path>\n  <tmp_path>" << dir_ << "/tmp/</tmp_path>\n"
        << "  <users_config>users.xml</users_config>\n  <default_profile>default</default_profile>\n"
        << "  <default_database>default</default_database>\n  <mark_cache_size>104857600</mark_cache_size>\n"
        << "</yandex>\n";
    std::ofstream(dir_ + "/users.xml")
        << "<yandex>\n  <profiles><default></default></profiles>\n  <users><default><password></password>"
        << "<networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota>"
        << "</default></users>\n  <quotas><default></default></quotas>\n</yandex>\n";
  }

  // Spawns the server and waits until it answers SELECT 1 over HTTP.
  void start() {
    if (proc_.running()) return;
    err_from_ = detail::file_size(dir_ + "/log/err.log");
    out_from_ = detail::file_size(dir_ + "/log/stdout.log");
    proc_.start({"/usr/sbin/clickhouse-server", "--config-file=" + dir_ + "/config.xml"}, dir_ + "/log/stdout.log");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (std::string body; std::chrono::steady_clock::now() < deadline;) {
      if (!proc_.running()) fail("exited during start-up");
      if (detail::http(url() + "/?query=SELECT%201", nullptr, 1000, body) == 200 && body == "1\n") return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    fail("did not answer within 60 s");
  }
  void kill9() { proc_.kill9(); }
  void stop() { proc_.stop(); }
  bool running() const { return proc_.running(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(http_port_); }

  // One SQL statement as the POST body; returns the response body.
  std::string query(const std::string& sql) const {
    std::string body;
    const long code = detail::http(url() + "/", &sql, 60000, body);
    if (code != 200) throw std::runtime_error("clickhouse: HTTP " + std::to_string(code) + ": " + body);
    return body;
  }

 private:
  // Errors go to err.log once the logger is up; config problems before that only reach stdout.log.
  [[noreturn]] void fail(const std::string& why) {
    proc_.kill9();
    throw std::runtime_error("clickhouse-server " + why + "\n--- err.log:\n" +
                             detail::file_tail(dir_ + "/log/err.log", 4000, err_from_) + "\n--- stdout.log:\n" +
                             detail::file_tail(dir_ + "/log/stdout.log", 2000, out_from_));
  }

  std::string dir_;
  int http_port_, tcp_port_ = 0;
  std::size_t err_from_ = 0, out_from_ = 0;
  detail::Child proc_;
};

class NatsServer {
 public:
  explicit NatsServer(std::string dir) : dir_(std::move(dir)), port_(free_port()) {
    std::filesystem::create_directories(dir_ + "/js");
  }

  // The largest message the server takes (its default is 1 MiB); applies from the next start().
  void set_max_payload(std::uint64_t bytes) { std::ofstream(dir_ + "/nats.conf") << "max_payload: " << bytes << "\n"; }

  // Spawns the server (same port every time); ready once the port accepts and this run's part of
  // the log says so.
  void start() {
    if (proc_.running()) return;
    const std::string log = dir_ + "/nats.log";
    const std::size_t from = detail::file_size(log);
    std::vector<std::string> args = {"/usr/sbin/nats-server", "-js", "-sd", dir_ + "/js", "-a", "127.0.0.1", "-p",
                                     std::to_string(port_)};
    if (std::filesystem::exists(dir_ + "/nats.conf")) args.insert(args.end(), {"-c", dir_ + "/nats.conf"});
    proc_.start(args, log);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (proc_.running() && std::chrono::steady_clock::now() < deadline) {
      const bool ready = detail::file_tail(log, SIZE_MAX, from).find("Server is ready") != std::string::npos;
      if (ready && detail::tcp_connects(port_)) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const std::string why = proc_.running() ? "not ready within 20 s" : "exited during start-up";
    proc_.kill9();
    throw std::runtime_error("nats-server " + why + ":\n" + detail::file_tail(log, 4000, from));
  }
  void kill9() { proc_.kill9(); }
  void stop() { proc_.stop(); }
  bool running() const { return proc_.running(); }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

 private:
  std::string dir_;
  int port_;
  detail::Child proc_;
};

struct NatsMessage {
  std::uint64_t stream_seq;
  std::string subject, msg_id, data;
};

// Every message of a JetStream stream, in stream order, by direct get per sequence.
// A missing stream reads as empty.
inline std::vector<NatsMessage> nats_read_stream(const std::string& url, const std::string& stream) {
  auto check = [](natsStatus s, const char* what) {
    if (s != NATS_OK)
      throw std::runtime_error(std::string("nats: ") + what + ": " + natsStatus_GetText(s) + " " +
                               (nats_GetLastError(nullptr) ? nats_GetLastError(nullptr) : ""));
  };
  struct Handles {  // the *_Destroy functions accept NULL
    natsConnection* nc = nullptr;
    jsCtx* js = nullptr;
    jsStreamInfo* si = nullptr;
    ~Handles() {
      jsStreamInfo_Destroy(si);
      jsCtx_Destroy(js);
      natsConnection_Destroy(nc);
    }
  } h;
  check(natsConnection_ConnectTo(&h.nc, url.c_str()), "connect");
  check(natsConnection_JetStream(&h.js, h.nc, nullptr), "jetstream");
  natsStatus s = js_GetStreamInfo(&h.si, h.js, stream.c_str(), nullptr, nullptr);
  if (s == NATS_NOT_FOUND) return {};
  check(s, "stream info");
  std::vector<NatsMessage> out;
  // An empty stream reports FirstSeq 0 (new) or LastSeq + 1 (purged).
  for (std::uint64_t seq = std::max<std::uint64_t>(h.si->State.FirstSeq, 1); seq <= h.si->State.LastSeq; ++seq) {
    natsMsg* raw = nullptr;
    s = js_GetMsg(&raw, h.js, stream.c_str(), seq, nullptr, nullptr);
    if (s == NATS_NOT_FOUND) continue;  // deleted
    check(s, "get msg");
    std::unique_ptr<natsMsg, void (*)(natsMsg*)> m(raw, natsMsg_Destroy);
    const char* id = nullptr;
    if (natsMsgHeader_Get(m.get(), "Nats-Msg-Id", &id) != NATS_OK) id = "";
    const char* data = natsMsg_GetData(m.get());
    out.push_back({seq, natsMsg_GetSubject(m.get()), id,
                   data ? std::string(data, static_cast<std::size_t>(natsMsg_GetDataLength(m.get()))) : ""});
  }
  return out;
}

}  // namespace aerolog::test
