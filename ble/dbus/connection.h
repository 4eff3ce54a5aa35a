// A D-Bus connection driven by the gateway's EventLoop: sd-bus's fd is polled by the loop, and
// every message is processed on the loop thread (so signals are emitted and read there too, as
// sdbus-c++ 1.2 needs; see DBUS-PERF.md).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "ble/event_loop.h"
#include "sdbus-c++/IConnection.h"

namespace gattway::dbus {

// Opens a client connection to the bus at `address` ("unix:path=/run/dbus/system_bus_socket").
// Empty: the system bus, honouring DBUS_SYSTEM_BUS_ADDRESS as every D-Bus client does.
absl::StatusOr<std::unique_ptr<sdbus::IConnection>> openBus(const std::string& address);

class LoopConnection final : public PollSource {
 public:
  // Registers with `loop`. From here on, touch `connection` on the loop thread only.
  LoopConnection(EventLoop& loop, std::unique_ptr<sdbus::IConnection> connection);
  // Loop thread (or after the loop stopped).
  ~LoopConnection() override;
  LoopConnection(const LoopConnection&) = delete;
  LoopConnection& operator=(const LoopConnection&) = delete;

  sdbus::IConnection& get() { return *connection_; }
  EventLoop& loop() { return loop_; }

  Interest interest() override;
  bool dispatch(short revents) override;

 private:
  EventLoop& loop_;
  std::unique_ptr<sdbus::IConnection> connection_;
};

}  // namespace gattway::dbus
