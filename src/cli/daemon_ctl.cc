// kumo daemon start|status|stop: kumod as a supervised background process with a pid file, for
// machines where systemd is not PID 1 (where it is, the installer writes a unit instead and these
// commands defer to systemctl).
//
// start forks a supervisor (kumo daemon supervise, detached with setsid) that runs kumod, restarts
// it with backoff if it dies, and forwards SIGTERM. DATA_DIR/kumod.pid holds the supervisor's pid.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <climits>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "daemon/data_dir.h"

namespace kumo::cli {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using nlohmann::json;

std::string PidFile(const Globals& g) { return g.data_dir + "/kumod.pid"; }
std::string LogFile(const Globals& g) { return g.data_dir + "/kumod.log"; }

std::string SelfDir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string path(buf, size_t(n));
  return path.substr(0, path.rfind('/'));
}

pid_t ReadPid(const Globals& g) {
  std::ifstream in(PidFile(g));
  pid_t pid = 0;
  in >> pid;
  if (pid > 0 && kill(pid, 0) == 0) return pid;
  return 0;
}

// GET /healthz with a 2 s deadline on each step. tcp_stream's timeouts apply to asynchronous
// operations only, so the exchange is asynchronous: a listener that accepts but never answers (a
// stopped kumod, another program on the port) must not hang `daemon start` or `daemon status`.
bool Healthy(const std::string& host, const std::string& port) {
  asio::io_context ioc;
  asio::ip::tcp::resolver resolver(ioc);
  beast::error_code ec;
  auto endpoints = resolver.resolve(host, port, ec);
  if (ec) return false;
  beast::tcp_stream stream(ioc);
  http::request<http::empty_body> req{http::verb::get, "/healthz", 11};
  req.set(http::field::host, host);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  bool ok = false;
  stream.expires_after(std::chrono::seconds(2));
  stream.async_connect(endpoints, [&](beast::error_code ec, const auto&) {
    if (ec) return;
    stream.expires_after(std::chrono::seconds(2));
    http::async_write(stream, req, [&](beast::error_code ec, size_t) {
      if (ec) return;
      stream.expires_after(std::chrono::seconds(2));
      http::async_read(stream, buffer, res,
                       [&](beast::error_code ec, size_t) { ok = !ec && res.result_int() == 200; });
    });
  });
  ioc.run();
  return ok;
}

std::pair<std::string, std::string> SplitListen(const std::string& listen) {
  size_t colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return {host, listen.substr(colon + 1)};
}

volatile sig_atomic_t g_stop = 0;
void OnStop(int) { g_stop = 1; }

// Runs kumod until told to stop, restarting it after crashes with exponential backoff.
int Supervise(const Globals& g, const std::vector<std::string>& kumod_args) {
  {
    std::ofstream pid(PidFile(g), std::ios::trunc);
    pid << getpid() << "\n";
  }
  struct sigaction sa = {};
  sa.sa_handler = OnStop;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::string kumod = SelfDir() + "/kumod";
  int backoff_s = 1;
  while (!g_stop) {
    auto started = std::chrono::steady_clock::now();
    pid_t child = fork();
    if (child == 0) {
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(kumod.c_str()));
      for (const auto& a : kumod_args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(kumod.c_str(), argv.data());
      _exit(127);
    }
    // Polling rather than a blocking waitpid: a SIGTERM that lands between a check of g_stop and
    // the blocking call would otherwise never be forwarded.
    int status = 0;
    bool forwarded = false;
    for (;;) {
      pid_t r = waitpid(child, &status, WNOHANG);
      if (r == child || (r < 0 && errno != EINTR)) break;
      if (g_stop && !forwarded) {
        kill(child, SIGTERM);
        forwarded = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (g_stop) break;
    std::cerr << "kumo supervisor: kumod exited (status " << status << "), restarting in "
              << backoff_s << "s" << std::endl;
    if (std::chrono::steady_clock::now() - started > std::chrono::seconds(60)) backoff_s = 1;
    for (int i = 0; i < backoff_s * 10 && !g_stop; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    backoff_s = std::min(backoff_s * 2, 30);
  }
  unlink(PidFile(g).c_str());
  return 0;
}

// SIGTERM to the supervisor (which forwards it to kumod), then wait for it to go.
bool StopSupervisor(const Globals& g, int timeout_s) {
  pid_t pid = ReadPid(g);
  if (!pid) return true;
  kill(pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (kill(pid, 0) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return kill(pid, 0) != 0;
}

bool WaitHealthy(const std::string& host, const std::string& port, int timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (Healthy(host, port)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

bool SystemdManaged() {
  return access("/run/systemd/system", F_OK) == 0 &&
         access("/etc/systemd/system/kumod.service", F_OK) == 0;
}

}  // namespace

void AddDaemonCommands(CLI::App& app, Globals& g) {
  auto* d = app.add_subcommand("daemon", "Run kumod in the background");
  d->require_subcommand(1);
  static std::string listen = "127.0.0.1:8787";
  static std::vector<std::string> regions;
  static int wait_s = 30;

  auto kumod_args = [&g] {
    std::vector<std::string> args = {"--data-dir", g.data_dir, "--listen", listen};
    for (const auto& r : regions) {
      args.push_back("--region");
      args.push_back(r);
    }
    return args;
  };

  auto* start = d->add_subcommand("start", "Start kumod (supervised) and wait until it serves");
  start->add_option("--listen", listen, "HOST:PORT");
  start->add_option("--region", regions, "Region (repeatable; first is home)");
  start->add_option("--wait", wait_s, "Seconds to wait for the endpoint");
  start->callback([&g, kumod_args] {
    if (SystemdManaged()) {
      Fail("kumod runs under systemd here: use systemctl start kumod");
    }
    if (auto st = daemon::MakeDirs(g.data_dir); !st.ok()) Fail(std::string(st.message()));
    auto [host, port] = SplitListen(listen);
    auto report = [&] {
      std::cout << json{{"Status", "running"},
                        {"Endpoint", "http://" + listen},
                        {"Pid", ReadPid(g)},
                        {"Log", LogFile(g)}}
                       .dump()
                << std::endl;
    };
    if (ReadPid(g)) {
      // Already supervised: running only if it also answers.
      if (WaitHealthy(host, port, wait_s)) return report();
      Fail("kumod is supervised (pid file " + PidFile(g) + ") but not answering on " + listen +
           "; see " + LogFile(g));
    }
    pid_t child = fork();
    if (child < 0) Fail("fork failed");
    if (child == 0) {
      setsid();
      int log = open(LogFile(g).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (log >= 0) {
        dup2(log, 1);
        dup2(log, 2);
      }
      if (null >= 0) dup2(null, 0);
      // The supervisor must not leave a zombie of the parent's session behind: fork again.
      if (fork() != 0) _exit(0);
      _exit(Supervise(g, kumod_args()));
    }
    waitpid(child, nullptr, 0);
    if (WaitHealthy(host, port, wait_s)) return report();
    // Leave nothing behind that would keep restarting a daemon that cannot start.
    StopSupervisor(g, 30);
    Fail("kumod did not start serving within " + std::to_string(wait_s) + "s; see " + LogFile(g));
  });

  auto* supervise =
      d->add_subcommand("supervise", "(internal) run kumod in the foreground, restarting it");
  supervise->add_option("--listen", listen, "HOST:PORT");
  supervise->add_option("--region", regions, "Region (repeatable)");
  supervise->group("");
  supervise->callback([&g, kumod_args] { std::exit(Supervise(g, kumod_args())); });

  d->add_subcommand("status", "Is kumod running and serving?")->callback([&g] {
    if (SystemdManaged()) std::exit(system("systemctl --no-pager status kumod") == 0 ? 0 : 3);
    pid_t pid = ReadPid(g);
    std::ifstream in(daemon::DataDir::RuntimeInfo(g.data_dir));
    json info = json::parse(in, nullptr, false);
    std::string endpoint = info.is_object() ? info.value("endpoint", "") : "";
    bool healthy = false;
    if (!endpoint.empty()) {
      auto [host, port] = SplitListen(endpoint.substr(endpoint.find("//") + 2));
      healthy = Healthy(host, port);
    }
    std::cout << json{{"Status", pid && healthy ? "running" : (pid ? "starting" : "stopped")},
                      {"Pid", pid},
                      {"Endpoint", endpoint}}
                     .dump()
              << std::endl;
    std::exit(pid && healthy ? 0 : 3);
  });

  d->add_subcommand("stop", "Stop kumod and its supervisor")->callback([&g] {
    if (SystemdManaged()) std::exit(system("systemctl stop kumod") == 0 ? 0 : 1);
    pid_t pid = ReadPid(g);
    if (!StopSupervisor(g, 30)) Fail("kumod supervisor " + std::to_string(pid) + " did not stop");
    std::cout << json{{"Status", "stopped"}}.dump() << std::endl;
  });
}

}  // namespace kumo::cli
