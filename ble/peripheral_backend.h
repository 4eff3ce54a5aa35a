// The seam between the peripheral domain (ble/peripheral: hosted database, advertiser, captured
// writes, read handlers) and the platform. ble/bluez implements it over BlueZ's D-Bus API
// (GattManager1 + an exported application, LEAdvertisingManager1 + exported advertisements);
// tests use an in-process fake (tests/support/fake_peripheral_backend.h). Mock only this seam.
//
// What implementers owe:
// - Threads: every method is called on the executor's loop thread, and every callback and
//   listener call runs on that thread too. Nothing blocks: D-Bus calls are asynchronous (a
//   blocking RegisterApplication from the process that owns the objects deadlocks).
// - Callbacks run exactly once, unless the Operation handle returned for the call is destroyed
//   first; after that they never run (the pending D-Bus call is cancelled). They run on a later
//   turn of the loop, never inside the call; destroying an Operation from inside its own
//   callback is allowed.
// - Every ATT request reaches the listener with an AttResponder; the implementation sends the
//   answer when the domain calls it, however late (BlueZ waits up to its D-Bus timeout, ~25 s).
//   A responder that outlives the backend's connection does nothing.
// - Errors follow ble/error.h: BlueZ errors through err::fromBluez. A call made while BlueZ is
//   down fails with UNAVAILABLE (BLUEZ_UNAVAILABLE); one for an unknown adapter with NOT_FOUND
//   (ADAPTER_NOT_FOUND); no free advertising instance is RESOURCE_EXHAUSTED
//   (NO_ADVERTISING_INSTANCE).
// - BlueZ coming and going is reported (onBackendUp/onBackendDown). Registrations do not
//   survive a bluetoothd restart: after onBackendDown the implementation forgets them (keeping
//   its exported objects or not), and the domain registers again after onBackendUp.
// - Centrals: every Device1 connected to an adapter is reported through onCentralConnected
//   (those already connected when BlueZ comes up too, before onBackendUp). BlueZ 5.66 does not
//   tell a link the gateway opened as a central from one a remote central opened: both are
//   reported; the domain keeps those on the hosting adapter.
// - BlueZ 5.66 does not say which central enables notifications (StartNotify has no arguments),
//   only that one did; StopNotify comes when the last one stops.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "ble/address.h"
#include "ble/central_backend.h"  // Operation, Callback, StatusCallback, gatt_property
#include "ble/uuid.h"

namespace gattway {

// Identifies one hosted attribute (a characteristic or a descriptor) within one registration.
// Chosen by the domain, unique within an ApplicationSpec.
using AttributeId = std::uint32_t;

// Security an attribute requires before a central may read or write it (BlueZ's encrypt-*,
// encrypt-authenticated-*, secure-* flags; gatt-api.txt).
enum class AttributeSecurity : std::uint8_t { kNone, kEncrypted, kAuthenticated, kSecure };

struct HostedDescriptorSpec {
  AttributeId id = 0;
  Uuid uuid;
  bool read = false;
  bool write = false;
  AttributeSecurity readSecurity = AttributeSecurity::kNone;
  AttributeSecurity writeSecurity = AttributeSecurity::kNone;
};

struct HostedCharacteristicSpec {
  AttributeId id = 0;
  Uuid uuid;
  std::uint8_t properties = 0;  // gatt_property: kRead, kWrite, kWriteWithoutResponse, kNotify, kIndicate
  AttributeSecurity readSecurity = AttributeSecurity::kNone;
  AttributeSecurity writeSecurity = AttributeSecurity::kNone;
  std::vector<HostedDescriptorSpec> descriptors;  // never the CCC (2902): BlueZ adds it
};

struct HostedServiceSpec {
  Uuid uuid;
  bool primary = true;
  std::vector<HostedCharacteristicSpec> characteristics;
};

struct ApplicationSpec {
  std::vector<HostedServiceSpec> services;
};

// Where each attribute was exported (D-Bus object paths, for people).
using ExportedPaths = std::map<AttributeId, std::string>;

enum class Discoverability : std::uint8_t { kGeneral, kLimited, kNone };

// One advertisement (BlueZ's LEAdvertisement1 properties; advertising-api.txt).
struct AdvertisementSpec {
  std::string id;  // the domain's name for it
  bool connectable = true;
  std::string localName;  // empty: none
  std::vector<Uuid> serviceUuids;
  std::vector<Uuid> solicitUuids;
  std::optional<std::uint16_t> appearance;
  std::vector<std::pair<std::uint16_t, std::vector<std::uint8_t>>> manufacturerData;
  std::vector<std::pair<Uuid, std::vector<std::uint8_t>>> serviceData;
  Discoverability discoverability = Discoverability::kGeneral;  // kNone for broadcast
  std::optional<absl::Duration> timeout;  // BlueZ stops it (and calls Release) after this
  std::optional<absl::Duration> minInterval, maxInterval;
  std::optional<std::int16_t> txPower;
  bool includeTxPower = false;
};

struct PeripheralAdapterInfo {
  std::string name;  // "hci1"
  Address address;
  bool powered = false;
  bool gattManager = false;         // org.bluez.GattManager1 present
  bool advertisingManager = false;  // org.bluez.LEAdvertisingManager1 present
  std::uint32_t advertisingInstancesFree = 0;  // SupportedInstances (free slots, not the total)
  std::vector<std::string> supportedIncludes;  // SupportedIncludes: "tx-power", "appearance", ...
  // bluetoothd runs with experimental features (LEAdvertisingManager1.SupportedFeatures exists):
  // only then does 5.66 apply MinInterval, MaxInterval and TxPower.
  bool experimental = false;
};

// One ATT request from a central, as BlueZ forwards it (ReadValue/WriteValue options).
struct AttRequest {
  AttributeId attribute = 0;
  std::string adapter;  // "hci1"
  Address central;
  std::uint16_t offset = 0;
  std::optional<std::uint16_t> mtu;
  std::string link;  // "LE" / "BR/EDR"; empty when BlueZ did not say
};

// Answers one ATT request exactly once. Move-only; loop thread only. Destroyed unanswered, it
// answers ATT 0x0E (Unlikely Error) so that no central is left waiting.
class AttResponder {
 public:
  // `reply(attError, value)`: attError 0 is success.
  using Reply = absl::AnyInvocable<void(std::uint8_t attError, std::vector<std::uint8_t> value)>;
  AttResponder() = default;
  explicit AttResponder(Reply reply) : reply_(std::move(reply)) {}
  AttResponder(AttResponder&&) = default;
  AttResponder& operator=(AttResponder&& other) noexcept {
    if (this != &other) {
      if (reply_) fail(0x0E);
      reply_ = std::move(other.reply_);
      other.reply_ = nullptr;
    }
    return *this;
  }
  ~AttResponder() {
    if (reply_) fail(0x0E);
  }

  void succeed(std::vector<std::uint8_t> value = {}) { send(0, std::move(value)); }
  void fail(std::uint8_t attError) { send(attError == 0 ? 0x0E : attError, {}); }
  bool pending() const { return static_cast<bool>(reply_); }

 private:
  void send(std::uint8_t code, std::vector<std::uint8_t> value) {
    if (!reply_) return;
    auto reply = std::move(reply_);
    reply_ = nullptr;
    reply(code, std::move(value));
  }
  Reply reply_;
};

// Told about what BlueZ and the centrals do. All on the loop thread.
class PeripheralBackendListener {
 public:
  virtual ~PeripheralBackendListener() = default;
  // org.bluez is on the bus and the adapters are known. Register the database and the
  // advertisements (again, after a restart) from here.
  virtual void onBackendUp() = 0;
  // org.bluez left the bus: every registration is gone, every central disconnected.
  virtual void onBackendDown() = 0;
  virtual void onAdapterChanged(const PeripheralAdapterInfo& adapter) = 0;  // added or changed
  virtual void onAdapterRemoved(const std::string& adapter) = 0;

  // A central reads an attribute: answer with the value from `request.offset` on, or an ATT error.
  virtual void onRead(const AttRequest& request, AttResponder responder) = 0;
  // A central writes an attribute. `responseExpected` is false when BlueZ does not wait for the
  // answer (5.66: any characteristic that allows write-without-response), so an error cannot
  // reach the central.
  virtual void onWrite(const AttRequest& request, std::vector<std::uint8_t> value,
                       bool responseExpected, AttResponder responder) = 0;
  // A central enabled notifications or indications (StartNotify), or the last one stopped them.
  virtual void onNotifyStarted(AttributeId characteristic) = 0;
  virtual void onNotifyStopped(AttributeId characteristic) = 0;
  // A central confirmed an indication (Confirm).
  virtual void onIndicationConfirmed(AttributeId characteristic) = 0;

  virtual void onCentralConnected(const std::string& adapter, const Address& central) = 0;
  virtual void onCentralDisconnected(const std::string& adapter, const Address& central) = 0;

  // BlueZ released an advertisement by itself (its Timeout passed, or the adapter went away).
  virtual void onAdvertisementReleased(const std::string& id) = 0;
};

class PeripheralBackend {
 public:
  virtual ~PeripheralBackend() = default;

  // Starts watching BlueZ. The listener must outlive the backend's use of it.
  virtual void start(PeripheralBackendListener* listener) = 0;
  // Unregisters the application and every advertisement (best effort, without waiting), removes
  // the exported objects and stops reporting. Pending requests are answered with 0x0E.
  virtual void stop() = 0;

  // --- the mirror ---
  virtual bool bluezUp() const = 0;
  virtual std::vector<PeripheralAdapterInfo> adapters() const = 0;  // ordered by name
  virtual std::vector<Address> connectedCentrals(const std::string& adapter) const = 0;

  // --- the hosted application (one at a time) ---
  // Exports `spec` and registers it with the adapter's GattManager1. Fails with
  // FAILED_PRECONDITION when one is registered already (unregister it first).
  virtual Operation registerApplication(const std::string& adapter, const ApplicationSpec& spec,
                                        Callback<absl::StatusOr<ExportedPaths>> done) = 0;
  // Unregisters it and removes the exported objects. OK when none is registered.
  virtual Operation unregisterApplication(StatusCallback done) = 0;
  // Sends a characteristic's new value to the subscribed centrals (PropertiesChanged of Value:
  // BlueZ notifies or indicates, as each central's CCC asks).
  virtual absl::Status sendValue(AttributeId characteristic,
                                 absl::Span<const std::uint8_t> value) = 0;

  // --- advertisements ---
  // Exports an LEAdvertisement1 for `spec` and registers it on the adapter.
  virtual Operation registerAdvertisement(const std::string& adapter, const AdvertisementSpec& spec,
                                          StatusCallback done) = 0;
  // Unregisters it and removes the exported object. OK when BlueZ no longer has it.
  virtual Operation unregisterAdvertisement(const std::string& id, StatusCallback done) = 0;
};

}  // namespace gattway
