#include "tests/support/private_bus.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>

#ifndef GATTWAY_PRIVATE_BUS_CONF
#error "GATTWAY_PRIVATE_BUS_CONF must name ble/sim/private-bus.conf"
#endif

namespace gattway::testing {

PrivateBus::PrivateBus() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // A test that crashes takes its bus with it: an orphaned daemon would hold ctest's output
    // pipe open until the test's timeout. (The fixtures fork from the test's main thread, whose
    // exit is what PDEATHSIG watches.)
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);  // the parent died before prctl
    ::dup2(fds[1], 3);  // dup2 clears O_CLOEXEC on the new descriptor
    ::execlp("dbus-daemon", "dbus-daemon", "--nofork", "--nopidfile", "--print-address=3",
             "--config-file=" GATTWAY_PRIVATE_BUS_CONF, static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  char buf[512];
  std::string line;
  ssize_t n;
  while (line.find('\n') == std::string::npos && (n = ::read(fds[0], buf, sizeof buf)) > 0) {
    line.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  if (line.empty()) throw std::runtime_error("dbus-daemon did not start (is dbus-daemon installed?)");
  address_ = line.substr(0, line.find('\n'));
}

PrivateBus::~PrivateBus() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
}

}  // namespace gattway::testing
