#include "cmd/gattwayd/simulate.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "ble/error.h"
#include "ble/log.h"
#include "ble/sim/embedded.h"

namespace gattway::cmd {
namespace {

absl::Status failure(absl::string_view message) {
  return err::make(err::Reason::kBluezUnavailable, message);
}

// Forks and execs `argv`. The child dies with us (PR_SET_PDEATHSIG), keeps our stderr, and gets
// `fd3` (if any) as descriptor 3.
pid_t spawn(const std::vector<std::string>& argv, int fd3) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  // Child: only async-signal-safe calls until exec.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) ::_exit(1);  // the parent died before prctl
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);  // start the child with no signal blocked
  const int devnull = ::open("/dev/null", O_RDWR);
  if (devnull >= 0) {
    ::dup2(devnull, 0);
    ::dup2(devnull, 1);
  }
  if (fd3 >= 0) ::dup2(fd3, 3);  // dup2 clears close-on-exec on the copy
  ::execvp(args[0], args.data());
  ::_exit(127);
}

// Reads one line from `fd` within `timeout`.
std::string readLine(int fd, std::chrono::milliseconds timeout) {
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[256];
  while (line.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, static_cast<std::size_t>(n));
  }
  const auto nl = line.find('\n');
  return nl == std::string::npos ? std::string() : line.substr(0, nl);
}

bool nameHasOwner(const std::string& address, const char* name) {
  sd_bus* bus = nullptr;
  int r = sd_bus_new(&bus);
  if (r >= 0) r = sd_bus_set_address(bus, address.c_str());
  if (r >= 0) r = sd_bus_set_bus_client(bus, 1);
  if (r >= 0) r = sd_bus_start(bus);
  int has = 0;
  if (r >= 0) {
    sd_bus_message* reply = nullptr;
    sd_bus_error error = SD_BUS_ERROR_NULL;
    r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                           "NameHasOwner", &error, &reply, "s", name);
    if (r >= 0) sd_bus_message_read(reply, "b", &has);
    sd_bus_message_unref(reply);
    sd_bus_error_free(&error);
  }
  sd_bus_flush_close_unref(bus);
  return has != 0;
}

bool exited(pid_t pid) {
  int status = 0;
  return pid > 0 && ::waitpid(pid, &status, WNOHANG) == pid;
}

}  // namespace

std::string simulatorBinary() {
  char self[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    std::string dir(self);
    dir = dir.substr(0, dir.rfind('/'));
    const std::string beside = absl::StrCat(dir, "/gattway-sim");
    if (::access(beside.c_str(), X_OK) == 0) return beside;
  }
  return "gattway-sim";  // found through PATH by execvp
}

absl::StatusOr<std::unique_ptr<SimulatedBluez>> SimulatedBluez::start(const SimulateOptions& options) {
  std::unique_ptr<SimulatedBluez> s(new SimulatedBluez());
  char dir[] = "/tmp/gattway-simulate-XXXXXX";
  if (::mkdtemp(dir) == nullptr) return failure(absl::StrCat("mkdtemp: ", std::strerror(errno)));
  s->dir_ = dir;
  const std::string conf = absl::StrCat(s->dir_, "/private-bus.conf");
  {
    std::ofstream out(conf);
    out << sim::embedded::kPrivateBusConfig;
    if (!out) return failure(absl::StrCat("cannot write ", conf));
  }

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return failure("pipe2 failed");
  s->busPid_ = spawn({"dbus-daemon", "--nofork", "--nopidfile", "--print-address=3",
                      absl::StrCat("--config-file=", conf)},
                     fds[1]);
  ::close(fds[1]);
  s->busAddress_ = readLine(fds[0], std::chrono::seconds(10));
  ::close(fds[0]);
  // The daemon has read its configuration by the time it prints its address: nothing is left on
  // disk, even if gattwayd is killed later.
  std::remove(conf.c_str());
  ::rmdir(s->dir_.c_str());
  s->dir_.clear();
  if (s->busPid_ < 0 || s->busAddress_.empty()) {
    return failure("dbus-daemon did not start (is dbus-daemon installed?)");
  }
  log::info("simulate.bus_started", {{"address", s->busAddress_}, {"pid", s->busPid_}});

  std::vector<std::string> argv = {simulatorBinary(), absl::StrCat("--bus_address=", s->busAddress_)};
  if (!options.fleetFile.empty()) argv.push_back(absl::StrCat("--fleet=", options.fleetFile));
  argv.insert(argv.end(), options.simArgs.begin(), options.simArgs.end());
  s->simPid_ = spawn(argv, -1);
  if (s->simPid_ < 0) return failure("cannot start gattway-sim");

  // Ready when the simulated bluetoothd owns org.bluez (the gateway copes with adapters that
  // appear a moment later, as with a real bluetoothd starting).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (!nameHasOwner(s->busAddress_, "org.bluez")) {
    if (auto gone = s->exitedChild()) return failure(absl::StrCat(*gone, " exited during start-up"));
    if (std::chrono::steady_clock::now() > deadline) return failure("gattway-sim did not take org.bluez");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  log::info("simulate.ready", {{"simulator_pid", s->simPid_}, {"bus", s->busAddress_}});
  return s;
}

std::optional<std::string> SimulatedBluez::exitedChild() {
  if (exited(simPid_)) {
    simPid_ = -1;
    return "gattway-sim";
  }
  if (exited(busPid_)) {
    busPid_ = -1;
    return "dbus-daemon";
  }
  return std::nullopt;
}

void SimulatedBluez::stopChild(pid_t& pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 300; ++i) {  // 3 s of grace
    if (exited(pid)) {
      pid = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  pid = -1;
}

SimulatedBluez::~SimulatedBluez() {
  stopChild(simPid_);
  stopChild(busPid_);
  if (!dir_.empty()) {
    std::remove(absl::StrCat(dir_, "/private-bus.conf").c_str());
    ::rmdir(dir_.c_str());
  }
  log::info("simulate.stopped", {});
}

}  // namespace gattway::cmd
