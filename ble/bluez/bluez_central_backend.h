// CentralBackend over BlueZ 5.66's D-Bus API (ble/central_backend.h says what it owes).
//
// Construction, on the loop thread (or before the loop runs), nothing sent until start(listener):
//   auto backend = BluezCentralBackend::open(loop, busAddress, metrics);  // its own connection
//                                           // busAddress "": the system bus (DBUS_SYSTEM_BUS_ADDRESS)
//   BluezCentralBackend backend(connection, metrics);  // on a LoopConnection the caller keeps
// Destroy it on the loop thread (before the connection, when the caller keeps that).
//
// Parts, each in its own file:
//   BluezWatcher       owner of org.bluez, the snapshot, the three signal streams → ObjectMirror
//   CallLimiter        every BlueZ call, at most 64 in flight (the bus allows 128 per connection)
//   DiscoverySessions  one discovery session per adapter, restarted after power cycles and restarts
//   ConnectOp, DisconnectOp, ResolveServicesOp, QueuedGattOp: the operations, in an OpRegistry
//   NotifySessions     StartNotify / AcquireNotify sessions, one per characteristic
//
// Behaviour worth knowing above the seam:
//   - startDiscovery re-reports every device BlueZ already knows on the adapter (device_change::
//     kAdvertisement) once BlueZ has started our session; the domain filters them like any report.
//   - The discovery session wanted by the domain is started again by the backend after an adapter
//     power cycle and after bluetoothd restarts (onBackendUp); the domain need not ask again.
//   - GATT reads and writes are queued per attribute (BlueZ allows one write at a time on each).
//   - A Value signal for a characteristic with a StartNotify session is a notification, whoever
//     caused it: BlueZ also emits one after a ReadValue, and once per session of every other client.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ble/bluez/backend_context.h"
#include "ble/bluez/bluez_watcher.h"
#include "ble/bluez/call_limiter.h"
#include "ble/bluez/discovery_sessions.h"
#include "ble/bluez/gatt_ops.h"
#include "ble/bluez/notify_sessions.h"
#include "ble/bluez/object_mirror.h"
#include "ble/bluez/pending_ops.h"
#include "ble/central_backend.h"
#include "ble/dbus/connection.h"
#include "ble/metrics.h"

namespace gattway {

class BluezCentralBackend final : public CentralBackend,
                                  private bluez::BackendContext,
                                  private bluez::BluezWatcher::Observer {
 public:
  // `connection` and `metrics` must outlive the backend. `maxCallsInFlight` bounds BlueZ calls
  // on the connection (the system bus refuses more than 128 pending replies per connection).
  BluezCentralBackend(dbus::LoopConnection& connection, Metrics& metrics,
                      std::size_t maxCallsInFlight = bluez::CallLimiter::kDefaultLimit);
  // Opens a connection to the bus at `busAddress` ("" : the system bus) driven by `loop`, and a
  // backend that owns it. UNAVAILABLE (BLUEZ_UNAVAILABLE) when the bus cannot be reached.
  static absl::StatusOr<std::unique_ptr<BluezCentralBackend>> open(EventLoop& loop,
                                                                   const std::string& busAddress,
                                                                   Metrics& metrics);
  ~BluezCentralBackend() override;
  BluezCentralBackend(const BluezCentralBackend&) = delete;
  BluezCentralBackend& operator=(const BluezCentralBackend&) = delete;

  void start(CentralBackendListener* listener) override;
  void stop() override;

  bool bluezUp() const override;
  std::vector<AdapterInfo> adapters() const override;
  const DeviceInfo* device(const std::string& adapter, const Address& address) const override;
  std::vector<const DeviceInfo*> devices(const std::string& adapter) const override;

  Operation setPowered(const std::string& adapter, bool powered, StatusCallback done) override;
  Operation startDiscovery(const std::string& adapter, const DiscoveryFilter& filter,
                           StatusCallback done) override;
  Operation stopDiscovery(const std::string& adapter, StatusCallback done) override;

  Operation connect(const std::string& adapter, const Address& address, AddressType addressType,
                    absl::Duration timeout, StatusCallback done) override;
  Operation disconnect(const std::string& adapter, const Address& address,
                       StatusCallback done) override;
  Operation resolveServices(const std::string& adapter, const Address& address,
                            absl::Duration timeout,
                            Callback<absl::StatusOr<std::vector<GattServiceInfo>>> done) override;
  std::optional<std::uint16_t> mtu(const std::string& adapter,
                                   const Address& address) const override;

  Operation read(const std::string& adapter, const Address& address, std::uint16_t handle,
                 std::uint16_t offset, absl::Duration timeout,
                 Callback<absl::StatusOr<std::vector<std::uint8_t>>> done) override;
  Operation write(const std::string& adapter, const Address& address, std::uint16_t handle,
                  std::vector<std::uint8_t> value, WriteType type, std::uint16_t offset,
                  absl::Duration timeout, StatusCallback done) override;
  Operation startNotify(const std::string& adapter, const Address& address,
                        std::uint16_t characteristicHandle, NotifyMethod method,
                        absl::Duration timeout, StatusCallback done) override;
  Operation stopNotify(const std::string& adapter, const Address& address,
                       std::uint16_t characteristicHandle, StatusCallback done) override;

  // For tests and benchmarks.
  const bluez::CallLimiter& callLimiter() const { return calls_; }
  std::size_t pendingOperations() const { return ops_.size(); }
  bool discoveryRunning(const std::string& adapter) const { return discovery_.running(adapter); }

 private:
  bluez::BackendContext& context() { return *this; }

  // BackendContext.
  EventLoop& loop() override { return connection_.loop(); }
  bluez::CallLimiter& calls() override { return calls_; }
  const bluez::ObjectMirror& mirror() const override { return mirror_; }
  bluez::DiscoverySessions& discovery() override { return discovery_; }
  CentralBackendListener* listener() override { return listener_; }
  bool up() const override { return watcher_.up(); }
  void applyDeviceProperties(absl::string_view adapter, const Address& address,
                             const bluez::PropertyMap& properties) override;
  void syncDevice(absl::string_view adapter, const Address& address,
                  const std::vector<bluez::ManagedObject>& objects) override;
  bool connectDeviceMissing(absl::string_view adapter) const override;
  void setConnectDeviceMissing(absl::string_view adapter) override;
  void noteLinkOpened(absl::string_view adapter, const Address& address) override;

  // BluezWatcher::Observer.
  void bluezAppeared() override;
  void bluezVanished() override;
  void mirrorChanged(const bluez::MirrorEvents& events) override;
  bool characteristicValue(absl::string_view path,
                           absl::Span<const std::uint8_t> value) override;

  // Re-reports the adapter's devices once our discovery session started.
  void reportKnownDevices(const std::string& adapter);
  // The status a call must fail with before anything is sent, if any: BlueZ down, no such
  // adapter, no such device (when `address` is given).
  std::optional<absl::Status> precheck(const std::string& adapter,
                                       const Address* address = nullptr) const;
  template <typename Result>
  Operation failLater(absl::Status status, Callback<Result> done);

  BluezCentralBackend(std::unique_ptr<dbus::LoopConnection> connection, Metrics& metrics);

  std::unique_ptr<dbus::LoopConnection> ownedConnection_;  // open(): destroyed last
  dbus::LoopConnection& connection_;
  CentralBackendListener* listener_ = nullptr;
  // Declared in dependency order: destroyed in reverse, operations first.
  bluez::CallLimiter calls_;
  bluez::ObjectMirror mirror_;
  bluez::DiscoverySessions discovery_;
  bluez::NotifySessions notify_;
  bluez::AttributeQueues attributeQueues_;
  bluez::BluezWatcher watcher_;
  bluez::OpRegistry ops_;
  std::set<std::string, std::less<>> noConnectDevice_;
  std::set<std::pair<std::string, Address>> openedLinks_;
};

}  // namespace gattway
