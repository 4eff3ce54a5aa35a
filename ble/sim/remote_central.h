// A simulated remote central (a phone, say) that connects to an adapter's hosted application and
// uses it over ATT: long reads (Read + Read Blob), writes with and without response (long ones as
// prepared writes), CCC subscriptions, and a count of what it receives. It shows up as a Device1
// on the adapter, as a real central does. Loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "ble/address.h"
#include "ble/sim/fleet.h"

namespace gattway::sim {

class Adapter;
class Device;
struct HostedCharacteristic;

class RemoteCentral {
 public:
  RemoteCentral(Adapter& adapter, std::string id, const Address& address, std::uint16_t mtu);
  ~RemoteCentral();
  RemoteCentral(const RemoteCentral&) = delete;
  RemoteCentral& operator=(const RemoteCentral&) = delete;

  const std::string& id() const { return id_; }
  Adapter& adapter() const { return adapter_; }
  std::uint16_t mtu() const { return mtu_; }

  // Needs a connectable advertisement registered on the adapter (FAILED_PRECONDITION otherwise).
  absl::Status connect();
  void disconnect();
  bool connected() const { return connected_; }

  // `attribute`: a UUID ("2A37", 128-bit) or a handle ("0x0017"). Callbacks get 0 or an ATT code.
  using ReadDone = absl::AnyInvocable<void(std::uint8_t att, Bytes value)>;
  using WriteDone = absl::AnyInvocable<void(std::uint8_t att)>;
  void read(const std::string& attribute, std::uint16_t offset, ReadDone done);
  void write(const std::string& attribute, Bytes value, bool withResponse, WriteDone done);
  // Writes the CCC (notifications, or indications with `indicate`); 0 or an ATT code.
  std::uint8_t subscribe(const std::string& attribute, bool indicate);
  std::uint8_t unsubscribe(const std::string& attribute);

  struct Received {
    std::uint64_t count = 0;
    std::uint64_t confirmed = 0;  // indications among them, each confirmed
    Bytes last;
  };
  Received received(const std::string& attribute);
  // From the GattManager: a value the application notified.
  void onNotification(const HostedCharacteristic& c, const Bytes& value);
  // Also told about every notification or indication received (by the hosted characteristic's
  // value handle): the hosted air passes them on to the central adapter's Device.
  using NotificationSink = std::function<void(std::uint16_t valueHandle, const Bytes& value)>;
  void setNotificationSink(NotificationSink sink) { sink_ = std::move(sink); }

 private:
  void readFrom(std::uint16_t handle, std::uint16_t offset, Bytes sofar, ReadDone done);
  void writeChunks(std::uint16_t handle, std::shared_ptr<Bytes> value, std::size_t at, WriteDone done);
  std::string devicePath() const;

  Adapter& adapter_;
  std::string id_;
  Address address_;
  std::uint16_t mtu_;
  bool connected_ = false;
  Device* device_ = nullptr;
  std::map<std::uint16_t, bool> subscribed_;  // value handle → indicate
  std::map<std::uint16_t, Received> received_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  NotificationSink sink_;
};

}  // namespace gattway::sim
