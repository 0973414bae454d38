// aerolog-cutfs: flags, the mount, the control socket and a clean unmount.
//
// Threads: the main thread runs fuse_session_loop_mt (libfuse blocks signals in its workers,
// so SIGTERM lands here and wakes the loop); one control thread serves the Unix socket.
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>

#include "fs.hpp"
#include "log.hpp"
#include "model.hpp"

namespace {

constexpr const char* kHelp =
    R"(usage: aerolog-cutfs --backing DIR --mount MNT --control SOCK [options]

A FUSE filesystem for tests that passes I/O through to DIR and, on command, "cuts the power":
it writes directory trees holding states a disk could hold after a power cut.

Model: writes, truncates and fallocates are durable after fsync/fdatasync of the file, or, for
one write, when it carries O_DSYNC/O_SYNC (open flags or RWF_DSYNC) and is acknowledged.
create/mkdir/link/symlink/unlink/rmdir/rename form one ordered list; fsync of a directory
makes durable the ops that touch it (change its entries), and only those (strict POSIX). A cut image is the durable
state plus a random subset of the sectors of each pending write, random pending truncates and
fallocates, and a random prefix of the pending namespace ops. Image 0 keeps nothing pending,
image 1 everything. Everything in DIR at mount is durable. After a cut every op fails (EIO).

options:
  --backing DIR        backing directory (must exist)
  --mount MNT          mount point (must exist)
  --control SOCK       Unix stream socket for commands (created; replaced if stale)
  --max-delay-us N     delay each reply by a random 0..N microseconds (default 300)
  --seed S             seed for the reply delays (default 1)
  --sectors 512|4096|mixed   sector size for torn writes (default mixed: per image)
  --state DIR          private dir for durable contents (default: a new dir in $TMPDIR)
  --log FILE           debug log (each write's dsync source, fsyncs, namespace ops, cuts)

control commands (one line each, one reply line each):
  cut OUTDIR COUNT SEED [512|4096]   power off, write OUTDIR/0..COUNT-1 -> "ok COUNT"
  stats                              counters and what is pending
  quit                               unmount and exit 0 (so does SIGTERM)
)";

std::atomic<bool> g_stop{false};
std::atomic<bool> g_loop_done{false};
fuse_session* g_se = nullptr;

void on_signal(int sig) {
  if (sig != SIGUSR1) g_stop = true;
  if (g_se) fuse_session_exit(g_se);  // sets a flag; the interrupted sem_wait sees it
}

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "aerolog-cutfs: %s (see --help)\n", msg.c_str());
  std::exit(2);
}

struct Flags {
  std::string backing, mount, control, log, state;
  unsigned max_delay_us = 300;
  std::uint64_t seed = 1;
  unsigned sectors = 0;  // 0 = mixed
};

std::uint64_t parse_num(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || *end || errno || v[0] == '-') usage_error(flag + ": not a number: " + v);
  return n;
}

Flags parse_flags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kHelp, stdout);
      std::exit(0);
    }
    if (a.rfind("--", 0) != 0) usage_error("unexpected argument " + a);
    if (i + 1 >= argc) usage_error("missing value for " + a);
    std::string v = argv[++i];
    if (a == "--backing")
      f.backing = v;
    else if (a == "--mount")
      f.mount = v;
    else if (a == "--control")
      f.control = v;
    else if (a == "--log")
      f.log = v;
    else if (a == "--state")
      f.state = v;
    else if (a == "--max-delay-us")
      f.max_delay_us = static_cast<unsigned>(parse_num(a, v));
    else if (a == "--seed")
      f.seed = parse_num(a, v);
    else if (a == "--sectors") {
      if (v == "512")
        f.sectors = 512;
      else if (v == "4096")
        f.sectors = 4096;
      else if (v == "mixed")
        f.sectors = 0;
      else
        usage_error("--sectors must be 512, 4096 or mixed");
    } else
      usage_error("unknown flag " + a);
  }
  if (f.backing.empty() || f.mount.empty() || f.control.empty())
    usage_error("--backing, --mount and --control are required");
  struct stat st {};
  if (::stat(f.backing.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    usage_error("--backing " + f.backing + " is not a directory");
  if (::stat(f.mount.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    usage_error("--mount " + f.mount + " is not a directory");
  if (f.control.size() >= sizeof(sockaddr_un::sun_path)) usage_error("--control path too long");
  return f;
}

int listen_on(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ::unlink(path.c_str());
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 8) != 0) {
    std::fprintf(stderr, "aerolog-cutfs: control socket %s: %s\n", path.c_str(), std::strerror(errno));
    std::exit(1);
  }
  return fd;
}

std::string run_command(const std::string& line, cutfs::Fs& fs, cutfs::Model& model, const Flags& flags) {
  std::istringstream in(line);
  std::string cmd;
  in >> cmd;
  if (cmd == "stats") return model.stats_line();
  if (cmd == "quit") {
    g_stop = true;
    return "ok";
  }
  if (cmd == "cut") {
    std::string outdir;
    unsigned count = 0;
    std::uint64_t seed = 0;
    unsigned sector = 0;
    if (!(in >> outdir >> count >> seed)) return "error usage: cut OUTDIR COUNT SEED [SECTOR]";
    if (!(in >> sector)) sector = 0;
    if (sector != 0 && sector != 512 && sector != 4096) return "error sector must be 512|4096";
    if (count < 2) return "error COUNT must be at least 2";
    cutfs::logf("cut %s count=%u seed=%llu sector=%u; %s", outdir.c_str(), count, static_cast<unsigned long long>(seed),
                sector, model.stats_line().c_str());
    fs.power_off();
    std::string err = model.write_images(outdir, count, seed, sector, flags.sectors);
    if (!err.empty()) return "error " + err;
    return "ok " + std::to_string(count);
  }
  return "error unknown command: " + cmd;
}

void serve_client(int fd, cutfs::Fs& fs, cutfs::Model& model, const Flags& flags) {
  std::string buf;
  char chunk[4096];
  while (!g_stop) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buf.append(chunk, static_cast<std::size_t>(n));
    for (std::size_t nl; (nl = buf.find('\n')) != std::string::npos;) {
      std::string reply = run_command(buf.substr(0, nl), fs, model, flags) + "\n";
      buf.erase(0, nl + 1);
      if (::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL) < 0) return;
    }
  }
}

// Serves the socket; once stopping, keeps waking the main thread until its loop returns
// (a signal that lands just before the loop's sem_wait would otherwise be lost).
void control_loop(int listen_fd, cutfs::Fs& fs, cutfs::Model& model, const Flags& flags) {
  while (!g_loop_done) {
    if (g_stop) {
      if (g_se) fuse_session_exit(g_se);
      ::kill(::getpid(), SIGUSR1);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    pollfd p{listen_fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    int c = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    serve_client(c, fs, model, flags);
    ::close(c);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags = parse_flags(argc, argv);
  if (!flags.log.empty() && !cutfs::log_open(flags.log.c_str()))
    usage_error("--log " + flags.log + ": " + std::strerror(errno));
  ::umask(0);  // the kernel already applied the caller's umask to create/mkdir modes

  bool own_state = flags.state.empty();
  if (own_state) {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/aerolog-cutfs-state.XXXXXX";
    if (!::mkdtemp(tmpl.data())) {
      std::fprintf(stderr, "aerolog-cutfs: mkdtemp %s: %s\n", tmpl.c_str(), std::strerror(errno));
      return 1;
    }
    flags.state = tmpl;
  } else if (::mkdir(flags.state.c_str(), 0700) != 0) {
    usage_error("--state " + flags.state + " must not exist yet");
  }

  int rc = 0;
  {
    cutfs::Model model(flags.state);
    std::unique_ptr<cutfs::Fs> fs;
    try {
      fs = std::make_unique<cutfs::Fs>(flags.backing, model, flags.max_delay_us, flags.seed);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "aerolog-cutfs: loading %s: %s\n", flags.backing.c_str(), e.what());
      std::filesystem::remove_all(flags.state);
      return 1;
    }

    fuse_args args = FUSE_ARGS_INIT(0, nullptr);
    fuse_opt_add_arg(&args, "aerolog-cutfs");
    fuse_opt_add_arg(&args, "-o");
    fuse_opt_add_arg(&args, "fsname=aerolog-cutfs,subtype=cutfs");
    const auto& ops = cutfs::Fs::ops();
    g_se = fuse_session_new(&args, &ops, sizeof ops, fs.get());
    fuse_opt_free_args(&args);
    if (!g_se || fuse_session_mount(g_se, flags.mount.c_str()) != 0) {
      std::fprintf(stderr, "aerolog-cutfs: cannot mount on %s\n", flags.mount.c_str());
      if (g_se) fuse_session_destroy(g_se);
      std::filesystem::remove_all(flags.state);
      return 1;
    }

    struct sigaction sa {};
    sa.sa_handler = on_signal;  // no SA_RESTART: the loop's sem_wait must return
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGTERM, SIGINT, SIGUSR1, SIGHUP}) ::sigaction(sig, &sa, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    int listen_fd = listen_on(flags.control);
    // The control thread must not take the signals: block them while creating it.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    std::thread control(control_loop, listen_fd, std::ref(*fs), std::ref(model), std::cref(flags));
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    cutfs::logf("mounted %s on %s, state %s", flags.backing.c_str(), flags.mount.c_str(), flags.state.c_str());

    // The reply delays are short sleeps: 1 us timer slack (inherited by the workers) keeps
    // them near what was drawn instead of +50 us each.
    ::prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    fuse_loop_config* cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(cfg, 16);
    fuse_loop_cfg_set_idle_threads(cfg, 8);
    if (!g_stop) rc = fuse_session_loop_mt(g_se, cfg);
    fuse_loop_cfg_destroy(cfg);
    g_loop_done = true;
    control.join();
    ::close(listen_fd);
    ::unlink(flags.control.c_str());
    fuse_session_unmount(g_se);
    fuse_session_destroy(g_se);
    g_se = nullptr;
    cutfs::logf("unmounted, loop rc=%d", rc);
  }
  if (own_state) std::filesystem::remove_all(flags.state);
  return g_stop ? 0 : (rc ? 1 : 0);
}
