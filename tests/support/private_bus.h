// A private dbus-daemon for tests (ble/sim/private-bus.conf), stopped on destruction.
#pragma once

#include <sys/types.h>

#include <string>

namespace gattway::testing {

class PrivateBus {
 public:
  PrivateBus();
  ~PrivateBus();
  PrivateBus(const PrivateBus&) = delete;
  PrivateBus& operator=(const PrivateBus&) = delete;

  // "unix:path=/tmp/dbus-XXXX,guid=..."
  const std::string& address() const { return address_; }

 private:
  pid_t pid_ = -1;
  std::string address_;
};

}  // namespace gattway::testing
