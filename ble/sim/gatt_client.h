// BlueZ as GATT client of a remote device: GattService1, GattCharacteristic1 and GattDescriptor1
// under the Device1 object, with 5.66's paths, properties, errors and notification semantics
// (bluez-5.66-api.md §3, §7.5; src/gatt-client.c). Objects appear after the first service
// discovery and stay across disconnects. Loop thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ble/sim/dbus/interface.h"
#include "ble/sim/peripheral.h"

namespace gattway::sim {

class Device;
class RemoteCharacteristic;
class RemoteDescriptor;
struct Context;

class RemoteService final : public dbus::Interface {
 public:
  RemoteService(Device& device, const Peripheral::Service& service);
  ~RemoteService() override;
  std::uint16_t handle() const { return handle_; }
  void get(int property, dbus::Writer& out) const override;
  void invoke(int, dbus::Call) override {}

 private:
  Device& device_;
  std::uint16_t handle_;
  Uuid uuid_;
  bool primary_;
};

class GattClient {
 public:
  explicit GattClient(Device& device);
  ~GattClient();
  GattClient(const GattClient&) = delete;
  GattClient& operator=(const GattClient&) = delete;

  Device& device() const { return device_; }
  Context& context() const;
  // Whether the objects exist (first discovery done), and whether they match `p`'s database.
  bool exported() const { return !services_.empty() || exportedEmpty_; }
  bool matches(Peripheral& p) const;
  std::size_t attributeCount(Peripheral& p) const;

  // InterfacesAdded for every service, characteristic and descriptor (not GAP), parents first.
  void exportObjects();
  void removeObjects();

  // The link: MTU appears, notify sessions register again (CCC written).
  void linkUp(std::uint16_t mtu);
  // Pending operations fail, MTU disappears, acquired sockets are shut down.
  void linkDown();
  bool connected() const { return connected_; }
  std::uint16_t mtu() const { return mtu_; }

  // A notification or indication from the peripheral for its characteristic at `valueHandle`.
  void notification(std::uint16_t valueHandle, const Bytes& value);

 private:
  Device& device_;
  bool connected_ = false;
  bool exportedEmpty_ = false;
  std::uint16_t mtu_ = 23;
  std::vector<std::unique_ptr<RemoteService>> services_;
  std::vector<std::unique_ptr<RemoteCharacteristic>> characteristics_;
  std::vector<std::unique_ptr<RemoteDescriptor>> descriptors_;
  std::vector<std::pair<std::uint16_t, Uuid>> layout_;
};

}  // namespace gattway::sim
