// org.bluez.GattDescriptor1 of a remote device (src/gatt-client.c, 5.66): reads with offset
// (same-offset reads joined), one write at a time, the CCC refused (StartNotify owns it).
// Loop thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ble/event_loop.h"
#include "ble/sim/dbus/interface.h"
#include "ble/sim/peripheral.h"

namespace gattway::sim {

class GattClient;

class RemoteDescriptor final : public dbus::Interface {
 public:
  RemoteDescriptor(GattClient& client, const Peripheral::Descriptor& d, std::uint16_t owner,
                   std::string characteristicPath);
  ~RemoteDescriptor() override;
  std::uint16_t handle() const { return handle_; }
  void linkDown();

  bool has(int property) const override;
  void get(int property, dbus::Writer& out) const override;
  void invoke(int method, dbus::Call call) override;

 private:
  void readValue(dbus::Call call);
  void writeValue(dbus::Call call);

  GattClient& client_;
  std::uint16_t handle_, owner_;
  Uuid uuid_;
  std::string characteristicPath_;
  std::optional<Bytes> value_;
  std::optional<std::uint16_t> readOffset_;
  std::vector<dbus::Call> readCalls_;
  dbus::Call writeCall_;
  Timer readTimer_, writeTimer_;
};

}  // namespace gattway::sim
