// The gateway's GATT application as BlueZ reads it (gatt-api.txt, "GATT Manager hierarchy"): an
// ObjectManager at the root and one object per service (GattService1), characteristic
// (GattCharacteristic1) and descriptor (GattDescriptor1). BlueZ's calls on them reach the
// listener; each ReadValue/WriteValue call is kept and answered when the domain answers.
// Loop thread only.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "ble/peripheral_backend.h"
#include "sdbus-c++/IConnection.h"
#include "sdbus-c++/IObject.h"

namespace gattway::bluez {

// BlueZ's flag strings for a characteristic / descriptor (gatt-api.txt, "Flags").
std::vector<std::string> characteristicFlags(const HostedCharacteristicSpec& spec);
std::vector<std::string> descriptorFlags(const HostedDescriptorSpec& spec);

// How an ATT error code travels back to BlueZ from an application (5.66,
// src/gatt-database.c dbus_error_to_att_ecode): the D-Bus error name and message to reply with.
// Codes BlueZ 5.66 has no name for are sent as org.bluez.Error.Failed "0xNN"; BlueZ passes
// 0x80..0x9F on and turns the others into 0x0E (Unlikely Error).
struct BluezErrorReply {
  std::string name;
  std::string message;
};
BluezErrorReply attErrorReply(std::uint8_t attError, bool write);

// "/org/bluez/hci1/dev_AA_BB_CC_DD_EE_FF" → ("hci1", AA:BB:CC:DD:EE:FF). False for other paths
// (deeper ones too).
bool parseDevicePath(absl::string_view path, std::string& adapter, Address& address);
// "/org/bluez/hci1" → "hci1"; empty for other paths.
std::string adapterOfPath(absl::string_view path);

class HostedApplication {
 public:
  // Exports `spec` at `root` on `bus`. `alive` expires when the backend goes: answers that come
  // later are dropped.
  static absl::StatusOr<std::unique_ptr<HostedApplication>> exportOn(
      sdbus::IConnection& bus, const std::string& root, const std::string& adapter,
      const ApplicationSpec& spec, PeripheralBackendListener* listener, std::weak_ptr<void> alive);
  ~HostedApplication();
  HostedApplication(const HostedApplication&) = delete;
  HostedApplication& operator=(const HostedApplication&) = delete;

  const std::string& root() const { return root_; }
  const ExportedPaths& paths() const { return paths_; }
  // PropertiesChanged(Value) on the characteristic: BlueZ notifies or indicates its subscribers.
  absl::Status emitValue(AttributeId characteristic, absl::Span<const std::uint8_t> value);

 private:
  HostedApplication(sdbus::IConnection& bus, std::string root, std::string adapter,
                    PeripheralBackendListener* listener, std::weak_ptr<void> alive);
  void build(const ApplicationSpec& spec);
  void addAttributeMethods(sdbus::IObject& object, const std::string& interface, AttributeId id,
                           bool characteristic);
  void onReadValue(AttributeId id, sdbus::MethodCall call);
  void onWriteValue(AttributeId id, sdbus::MethodCall call);
  // Parses the options dict at the message's position. False: malformed (already answered).
  bool parseOptions(sdbus::MethodCall& call, AttributeId id, AttRequest& out,
                    bool* prepareAuthorize = nullptr);
  AttResponder responder(sdbus::MethodCall call, bool write, bool withValue);

  sdbus::IConnection& bus_;
  std::string root_;
  std::string adapter_;
  PeripheralBackendListener* listener_;
  std::weak_ptr<void> alive_;
  // Expires with this application, whose objects own what a call's reply refers to (sdbus-c++
  // keeps the method's interface and member strings in the object): a read or write answered
  // after the application was replaced (bluetoothd restarted meanwhile) is dropped, not sent.
  std::shared_ptr<void> exported_ = std::make_shared<int>(0);
  std::unique_ptr<sdbus::IObject> rootObject_;
  std::vector<std::unique_ptr<sdbus::IObject>> objects_;
  std::map<AttributeId, sdbus::IObject*> characteristics_;
  ExportedPaths paths_;
};

}  // namespace gattway::bluez
