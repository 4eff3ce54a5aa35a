// An in-process, behavioural fake of ble/central_backend.h: adapters, devices in radio range that
// advertise when told to, links, GATT reads/writes/notifications, with injectable errors, delays
// and hangs, and link drops. It keeps the seam's promises: callbacks on a later loop turn, once,
// never after their Operation is destroyed; timeouts end an operation with DEADLINE_EXCEEDED.
//
// Not thread-safe: use it on the executor's loop thread (in gRPC tests, through the gateway's
// runOnLoop). The fake's controls are in fake_central_backend.cc, the operations it serves in
// fake_central_backend_ops.cc.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "ble/central_backend.h"
#include "ble/executor.h"

namespace gattway::testing {

// A device the fake radio can hear and connect to.
struct FakeDevice {
  std::string adapter = "hci0";
  Address address;
  AddressType addressType = AddressType::kPublic;
  AdvertisementData advertisement;
  std::vector<GattServiceInfo> services;
  std::map<std::uint16_t, std::vector<std::uint8_t>> values;  // by attribute handle
  std::uint16_t mtu = 247;
  bool inRange = true;  // a connect to a device out of range fails like BlueZ's does
};

// A small GATT tree for tests: Heart Rate (180D) with Measurement 2A37 (notify, handle 0x0010,
// CCCD 0x0012), Body Sensor Location 2A38 (read, 0x0013), Control Point 2A39 (write, 0x0015);
// Battery (180F) with Level 2A19 (read|notify, 0x0020, CCCD 0x0022); a custom service with a
// write-without-response characteristic (0x0031) and an indicate-only one (0x0033); and a second
// service holding another 2A19 (0x0041) to make that UUID ambiguous.
std::vector<GattServiceInfo> sampleServices();
std::map<std::uint16_t, std::vector<std::uint8_t>> sampleValues();
FakeDevice sampleDevice(const std::string& address, const std::string& name = "HRM-1");

class FakeCentralBackend final : public CentralBackend {
 public:
  enum class Op {
    kSetPowered, kStartDiscovery, kStopDiscovery, kConnect, kDisconnect, kResolve, kRead, kWrite,
    kStartNotify, kStopNotify, kCount
  };
  struct Write {
    Address address;
    std::uint16_t handle;
    std::vector<std::uint8_t> value;
    WriteType type;
    std::uint16_t offset;
  };

  explicit FakeCentralBackend(Executor& executor);
  ~FakeCentralBackend() override;

  // --- setup ---
  void addAdapter(const std::string& name, bool powered = true);
  void addDevice(FakeDevice device);  // in range; BlueZ learns of it when it advertises
  FakeDevice& radioDevice(const Address& address);

  // --- the radio and BlueZ ---
  // The device sends an advertisement (optionally with new data). Reported when someone
  // discovers on its adapter and the gateway's discovery filter lets it through.
  void advertise(const Address& address, std::int16_t rssi,
                 std::optional<AdvertisementData> data = std::nullopt);
  // The link drops (peer gone, supervision timeout): pending operations fail.
  void dropLink(const Address& address);
  // The device notifies; delivered when notifications are on. Returns whether it was delivered.
  bool notify(const Address& address, std::uint16_t handle, std::vector<std::uint8_t> value);
  void otherClientDiscovering(const std::string& adapter, bool on);
  void setAdapterPowered(const std::string& adapter, bool powered);  // e.g. rfkill
  // A wedged controller, until the adapter is powered off: discovery that starts but never turns
  // Discovering on nor reports anything; connects that all fail with InProgress. Powering off
  // (setPowered or setAdapterPowered) cures both.
  void wedgeDiscovery(const std::string& adapter, bool wedged = true);
  void wedgeConnects(const std::string& adapter, bool wedged = true);
  void goDown();  // bluetoothd stops
  void comeUp();  // and comes back

  // --- faults ---
  void setDelay(Op op, absl::Duration delay);
  void failNext(Op op, absl::Status status, int times = 1);
  void hangNext(Op op, int times = 1);  // never answers; its timeout (if any) still applies

  // --- inspection ---
  int calls(Op op) const { return calls_[static_cast<std::size_t>(op)]; }
  bool gatewayDiscovering(const std::string& adapter) const;
  DiscoveryFilter discoveryFilter(const std::string& adapter) const;
  bool notifying(const Address& address, std::uint16_t handle) const;
  bool connected(const Address& address) const;
  const std::vector<Write>& writes() const { return writes_; }
  std::size_t pendingOperations() const { return pending_.size(); }
  bool stopped() const { return stopped_; }

  // --- CentralBackend ---
  void start(CentralBackendListener* listener) override;
  void stop() override;
  bool bluezUp() const override { return up_; }
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

 private:
  struct Pending {
    Op op;
    std::optional<Address> device;  // fails when this device's link drops
    Timer when;
    Timer deadline;
    absl::AnyInvocable<void()> succeed;            // decides the outcome when it completes
    absl::AnyInvocable<void(absl::Status)> fail;
  };
  struct Adapter {
    AdapterInfo info;
    bool gatewayDiscovering = false;
    bool otherDiscovering = false;
    bool discoveryWedged = false;
    bool connectsWedged = false;
    DiscoveryFilter filter;
  };

  Operation schedule(Op op, std::optional<Address> device, absl::Duration timeout,
                     absl::AnyInvocable<void()> succeed, absl::AnyInvocable<void(absl::Status)> fail);
  void complete(std::uint64_t id, std::optional<absl::Status> failure);
  void failPendingFor(const Address& address, const absl::Status& status);
  void failAllPending(const absl::Status& status);
  // BlueZ's answer to an operation on a link that is not up.
  static absl::Status notConnected(absl::string_view what);
  DeviceInfo& known(const FakeDevice& d, bool* added);
  void linkDown(const Address& address);
  Adapter* adapter(const std::string& name);
  absl::Status checkAdapter(const std::string& name, absl::string_view what) const;

  Executor& executor_;
  CentralBackendListener* listener_ = nullptr;
  bool up_ = true;
  bool started_ = false;
  bool stopped_ = false;
  Timer startTimer_;
  std::map<std::string, Adapter> adapters_;
  std::map<Address, FakeDevice> radio_;
  std::map<std::pair<std::string, Address>, DeviceInfo> known_;  // BlueZ's device objects
  std::set<std::pair<Address, std::uint16_t>> notifying_;
  std::map<std::uint64_t, Pending> pending_;
  std::uint64_t nextId_ = 1;
  std::array<absl::Duration, static_cast<std::size_t>(Op::kCount)> delays_{};
  std::array<std::deque<std::optional<absl::Status>>, static_cast<std::size_t>(Op::kCount)>
      injected_;  // nullopt entries: hang
  std::array<int, static_cast<std::size_t>(Op::kCount)> calls_{};
  std::vector<Write> writes_;
};

}  // namespace gattway::testing
