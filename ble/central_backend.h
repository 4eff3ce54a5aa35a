// The seam between the central domain (ble/central: scan hub, sessions, GATT, batches) and the
// platform. ble/bluez implements it over BlueZ's D-Bus API; tests use an in-process fake
// (tests/support/fake_central_backend.h). Mock only this seam; use fakes for behaviour.
//
// What implementers owe:
// - Threads: every method is called on the executor's loop thread, and every callback and
//   listener call runs on that thread too. Nothing blocks: D-Bus calls are asynchronous.
// - Callbacks run exactly once, unless the Operation handle returned for the call is destroyed
//   first; after that they never run (the pending D-Bus call is cancelled).
// - Callbacks run on a later loop turn, never before the call that takes them returns (also for
//   errors known at once, such as an unknown adapter): callers keep the returned Operation and
//   rely on it being theirs until the callback runs. Destroying an Operation whose callback has
//   already run does nothing.
// - Deadlines: a `timeout` bounds the whole operation; when it passes the callback gets
//   DEADLINE_EXCEEDED (reason TIMEOUT) and the underlying call is cancelled.
// - Errors follow ble/error.h: BlueZ errors through err::fromBluez, so codes are decided in one
//   place. A call made while BlueZ is down fails with UNAVAILABLE (BLUEZ_UNAVAILABLE); one for an
//   unknown adapter with NOT_FOUND (ADAPTER_NOT_FOUND).
// - Real BlueZ quirks (BLUEZ-VM.md) are absorbed here, not above: a Connected=true that is never
//   signalled, ServicesResolved before the GATT objects exist, waiting for the disconnect after
//   le-connection-abort-by-local before reporting it.
// - Other BlueZ clients share the adapter: discovery may already be on, devices may be connected
//   by someone else. The backend reports what BlueZ reports.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "ble/address.h"
#include "ble/uuid.h"

namespace gattway {

// GATT characteristic property bits (Core spec Vol 3, Part G, 3.3.1.1).
namespace gatt_property {
inline constexpr std::uint8_t kBroadcast = 0x01;
inline constexpr std::uint8_t kRead = 0x02;
inline constexpr std::uint8_t kWriteWithoutResponse = 0x04;
inline constexpr std::uint8_t kWrite = 0x08;
inline constexpr std::uint8_t kNotify = 0x10;
inline constexpr std::uint8_t kIndicate = 0x20;
inline constexpr std::uint8_t kAuthenticatedSignedWrites = 0x40;
inline constexpr std::uint8_t kExtendedProperties = 0x80;
}  // namespace gatt_property

struct AdapterInfo {
  std::string name;  // "hci0"
  Address address;
  AddressType addressType = AddressType::kPublic;
  std::string alias;
  bool powered = false;
  bool discovering = false;  // for anyone, not only the gateway
  std::vector<Uuid> uuids;
  // LEAdvertisingManager1, when the adapter has it.
  std::uint32_t advertisingInstancesActive = 0;
  std::uint32_t advertisingInstancesSupported = 0;
};

// What BlueZ reports of a device's advertising (Device1 properties).
struct AdvertisementData {
  std::string name;  // Device1.Name; empty when not advertised (Alias is not a name)
  std::vector<Uuid> serviceUuids;
  std::map<std::uint16_t, std::vector<std::uint8_t>> manufacturerData;
  std::map<Uuid, std::vector<std::uint8_t>> serviceData;
  std::optional<std::int16_t> txPower;
  std::optional<std::uint16_t> appearance;
  std::optional<std::uint8_t> flags;                           // AdvertisingFlags (experimental)
  std::map<std::uint8_t, std::vector<std::uint8_t>> adStructures;  // AdvertisingData (experimental)

  bool operator==(const AdvertisementData&) const = default;
};

struct DeviceInfo {
  std::string adapter;
  Address address;
  AddressType addressType = AddressType::kPublic;
  std::string alias;
  std::optional<std::int16_t> rssi;  // absent once BlueZ drops it (discovery stopped)
  AdvertisementData advertisement;
  bool connected = false;
  bool servicesResolved = false;
  bool paired = false;
  bool trusted = false;
  bool blocked = false;
};

// Which parts of a DeviceInfo a change touched.
namespace device_change {
inline constexpr std::uint32_t kAdded = 1u << 0;          // the object appeared
inline constexpr std::uint32_t kRssi = 1u << 1;           // an advertisement was heard
inline constexpr std::uint32_t kAdvertisement = 1u << 2;  // advertised data changed
inline constexpr std::uint32_t kConnected = 1u << 3;
inline constexpr std::uint32_t kServicesResolved = 1u << 4;
inline constexpr std::uint32_t kOther = 1u << 5;          // alias, paired, trusted, ...
}  // namespace device_change

struct GattDescriptorInfo {
  std::uint16_t handle = 0;
  Uuid uuid;
};

struct GattCharacteristicInfo {
  std::uint16_t handle = 0;  // BlueZ: the number in "charXXXX" (the declaration handle)
  Uuid uuid;
  std::uint8_t properties = 0;     // gatt_property bits, derived from BlueZ's Flags
  std::vector<std::string> flags;  // BlueZ's flag names, as reported
  bool notifying = false;
  std::vector<GattDescriptorInfo> descriptors;  // ordered by handle
};

struct GattServiceInfo {
  std::uint16_t handle = 0;
  Uuid uuid;
  bool primary = true;
  std::vector<GattCharacteristicInfo> characteristics;  // ordered by handle
};

// SetDiscoveryFilter's parameters the gateway uses (adapter-api.txt).
struct DiscoveryFilter {
  std::vector<Uuid> uuids;            // empty: no UUID filter
  std::optional<std::int16_t> rssi;   // lowest RSSI reported
  bool duplicateData = true;          // report every advertisement, not only changes
  std::string pattern;                // address or name prefix; empty: none
  bool operator==(const DiscoveryFilter&) const = default;
};

enum class WriteType { kRequest, kCommand, kReliable };
enum class NotifyMethod { kStartNotify, kAcquireNotify };

// A pending asynchronous call. Destroying (or reset()ting) it cancels the call: its callback will
// not run. Move-only; loop thread only.
class Operation {
 public:
  Operation() = default;
  explicit Operation(absl::AnyInvocable<void()> cancel) : cancel_(std::move(cancel)) {}
  Operation(Operation&&) = default;
  Operation& operator=(Operation&& other) noexcept {
    if (this != &other) {
      reset();
      cancel_ = std::move(other.cancel_);
    }
    return *this;
  }
  ~Operation() { reset(); }
  void reset() {
    if (cancel_) {
      auto cancel = std::move(cancel_);
      cancel_ = nullptr;
      cancel();
    }
  }
  // Forget the call without cancelling it (its callback will run).
  void release() { cancel_ = nullptr; }

 private:
  absl::AnyInvocable<void()> cancel_;
};

template <typename T>
using Callback = absl::AnyInvocable<void(T)>;
using StatusCallback = absl::AnyInvocable<void(absl::Status)>;

// Told about everything BlueZ reports. All on the loop thread.
class CentralBackendListener {
 public:
  virtual ~CentralBackendListener() = default;
  // org.bluez appeared (or the backend started with it present) and the mirror is in sync with
  // BlueZ's object tree as it was then (one GetManagedObjects): every adapter and device in it has
  // been reported through the calls below just before this. That is not every adapter there will
  // be: a bluetoothd that just started takes its bus name before it exports its adapters, so after
  // a restart the tree may still lack some or all of them. They, and adapters plugged in later,
  // arrive afterwards through onAdapterChanged.
  virtual void onBackendUp() = 0;
  // org.bluez left the bus (bluetoothd stopped or restarted). Every adapter and device is gone;
  // pending operations fail with UNAVAILABLE.
  virtual void onBackendDown() = 0;
  virtual void onAdapterChanged(const AdapterInfo& adapter) = 0;  // added or changed
  virtual void onAdapterRemoved(const std::string& adapter) = 0;
  // `changes` is a device_change mask. Called for every advertisement report BlueZ signals.
  virtual void onDeviceChanged(const DeviceInfo& device, std::uint32_t changes) = 0;
  virtual void onDeviceRemoved(const std::string& adapter, const Address& address) = 0;
  // A value a characteristic notified or indicated (after startNotify).
  virtual void onNotification(const std::string& adapter, const Address& address,
                              std::uint16_t characteristicHandle,
                              absl::Span<const std::uint8_t> value) = 0;
};

class CentralBackend {
 public:
  virtual ~CentralBackend() = default;

  // Starts watching BlueZ. The listener must outlive the backend's use of it.
  virtual void start(CentralBackendListener* listener) = 0;
  // Releases every BlueZ resource the gateway holds (discovery sessions, notify sessions, links it
  // opened) and stops reporting.
  virtual void stop() = 0;

  // --- the mirror (valid until the next listener call) ---
  virtual bool bluezUp() const = 0;
  virtual std::vector<AdapterInfo> adapters() const = 0;
  virtual const DeviceInfo* device(const std::string& adapter, const Address& address) const = 0;
  virtual std::vector<const DeviceInfo*> devices(const std::string& adapter) const = 0;

  // --- adapters and discovery ---
  virtual Operation setPowered(const std::string& adapter, bool powered,
                               StatusCallback done) = 0;
  // Sets the gateway's discovery filter and starts its discovery session on the adapter (or only
  // updates the filter when the session is already on). Devices BlueZ already knows are
  // re-reported through onDeviceChanged when discovery starts.
  virtual Operation startDiscovery(const std::string& adapter, const DiscoveryFilter& filter,
                                   StatusCallback done) = 0;
  // Ends the gateway's discovery session (other clients' sessions are theirs).
  virtual Operation stopDiscovery(const std::string& adapter, StatusCallback done) = 0;

  // --- links ---
  // Opens an LE link. Works for a device BlueZ has not seen (ConnectDevice where offered, else a
  // short targeted discovery). Succeeds once BlueZ reports Connected=true (read back when no
  // signal came). Errors: ABORTED (IN_PROGRESS) when another connect runs on the adapter;
  // UNAVAILABLE with the BlueZ error otherwise; DEADLINE_EXCEEDED.
  virtual Operation connect(const std::string& adapter, const Address& address,
                            AddressType addressType, absl::Duration timeout,
                            StatusCallback done) = 0;
  // Closes a link or cancels a pending connect. OK also when it was not connected.
  virtual Operation disconnect(const std::string& adapter, const Address& address,
                               StatusCallback done) = 0;
  // Waits until BlueZ has resolved the device's services and its GATT objects are mirrored, then
  // returns the tree, ordered by handle.
  virtual Operation resolveServices(const std::string& adapter, const Address& address,
                                    absl::Duration timeout,
                                    Callback<absl::StatusOr<std::vector<GattServiceInfo>>> done) = 0;
  // The ATT MTU of the link, when BlueZ reports one (GattCharacteristic1.MTU).
  virtual std::optional<std::uint16_t> mtu(const std::string& adapter,
                                           const Address& address) const = 0;

  // --- GATT, by handle (a characteristic's or a descriptor's) ---
  virtual Operation read(const std::string& adapter, const Address& address, std::uint16_t handle,
                         std::uint16_t offset, absl::Duration timeout,
                         Callback<absl::StatusOr<std::vector<std::uint8_t>>> done) = 0;
  virtual Operation write(const std::string& adapter, const Address& address, std::uint16_t handle,
                          std::vector<std::uint8_t> value, WriteType type, std::uint16_t offset,
                          absl::Duration timeout, StatusCallback done) = 0;
  // Enables notifications/indications; values then arrive through onNotification. One session per
  // characteristic: the domain shares it between its streams.
  virtual Operation startNotify(const std::string& adapter, const Address& address,
                                std::uint16_t characteristicHandle, NotifyMethod method,
                                absl::Duration timeout, StatusCallback done) = 0;
  virtual Operation stopNotify(const std::string& adapter, const Address& address,
                               std::uint16_t characteristicHandle, StatusCallback done) = 0;
};

}  // namespace gattway
