// PeripheralBackend over BlueZ's D-Bus API: exports the hosted application and advertisements on
// the gateway's connection and registers them with GattManager1 / LEAdvertisingManager1,
// asynchronously. Watches org.bluez itself: NameOwnerChanged for bluetoothd coming and going (the
// domain re-registers after onBackendUp), and one match rule on org.bluez's signals for adapters
// (Powered, advertising instances) and Device1 Connected. Loop thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ble/bluez/advertisement.h"
#include "ble/bluez/hosted_application.h"
#include "ble/dbus/connection.h"
#include "ble/peripheral_backend.h"
#include "sdbus-c++/IProxy.h"

namespace gattway::bluez {

class BluezPeripheralBackend final : public PeripheralBackend {
 public:
  // Where the gateway exports its objects.
  static constexpr const char* kObjectRoot = "/io/gattway/peripheral";

  explicit BluezPeripheralBackend(dbus::LoopConnection& connection);
  ~BluezPeripheralBackend() override;

  void start(PeripheralBackendListener* listener) override;
  void stop() override;
  bool bluezUp() const override { return up_; }
  std::vector<PeripheralAdapterInfo> adapters() const override;
  std::vector<Address> connectedCentrals(const std::string& adapter) const override;
  Operation registerApplication(const std::string& adapter, const ApplicationSpec& spec,
                                Callback<absl::StatusOr<ExportedPaths>> done) override;
  Operation unregisterApplication(StatusCallback done) override;
  absl::Status sendValue(AttributeId characteristic, absl::Span<const std::uint8_t> value) override;
  Operation registerAdvertisement(const std::string& adapter, const AdvertisementSpec& spec,
                                  StatusCallback done) override;
  Operation unregisterAdvertisement(const std::string& id, StatusCallback done) override;

 private:
  using ReplyHandler = absl::AnyInvocable<void(sdbus::MethodReply* reply, const sdbus::Error* error)>;
  struct Device {
    std::string adapter;
    Address address;
    bool connected = false;
  };
  struct Advert {
    std::string adapter;
    std::unique_ptr<ExportedAdvertisement> object;
    bool registered = false;
  };

  // An async call to org.bluez; the returned Operation cancels it.
  Operation call(const std::string& path, const char* interface, const char* method,
                 absl::AnyInvocable<void(sdbus::MethodCall&)> build, absl::Duration timeout,
                 ReplyHandler onReply);
  void post(absl::AnyInvocable<void()> task);
  void sync();
  void goDown();
  void onBluezSignal(sdbus::Message& message);
  void parseInterfaces(const std::string& path, sdbus::Message& message, bool initial);
  void parseProperties(const std::string& path, const std::string& interface,
                       sdbus::Message& message, bool added);
  void interfacesRemoved(const std::string& path, const std::vector<std::string>& interfaces);
  void setConnected(const std::string& path, Device& device, bool connected);
  absl::Status unavailable() const;

  dbus::LoopConnection& connection_;
  sdbus::IConnection& bus_;
  PeripheralBackendListener* listener_ = nullptr;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  bool up_ = false;
  bool syncing_ = false;
  std::optional<sdbus::Slot> nameWatch_, signals_;

  std::map<std::uint64_t, std::unique_ptr<sdbus::IProxy>> calls_;
  std::vector<std::unique_ptr<sdbus::IProxy>> graveyard_;  // finished calls, freed next turn
  std::uint64_t nextCall_ = 1;
  Operation syncOp_;

  std::map<std::string, PeripheralAdapterInfo> adapters_;
  std::map<std::string, Device> devices_;  // by object path

  std::unique_ptr<HostedApplication> app_;
  std::string appAdapter_;
  bool appRegistered_ = false;
  std::uint64_t generation_ = 0;  // of the application: a BlueZ restart starts a new one
  std::uint64_t advertCounter_ = 0;
  std::map<std::string, Advert> adverts_;  // by the domain's id
};

}  // namespace gattway::bluez
