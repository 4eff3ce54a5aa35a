// org.bluez.GattCharacteristic1 of a remote device (src/gatt-client.c, 5.66):
// long reads with offset (concurrent reads with the same offset joined), one write at a time with
// 5.66's choice of procedure, StartNotify sessions per bus client, AcquireNotify/AcquireWrite over
// SOCK_SEQPACKET sockets. Loop thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ble/event_loop.h"
#include "ble/sim/dbus/bus.h"
#include "ble/sim/dbus/interface.h"
#include "ble/sim/fd_watch.h"
#include "ble/sim/peripheral.h"

namespace gattway::sim {

class GattClient;

class RemoteCharacteristic final : public dbus::Interface {
 public:
  RemoteCharacteristic(GattClient& client, const Peripheral::Characteristic& c,
                       std::string servicePath);
  ~RemoteCharacteristic() override;

  std::uint16_t handle() const { return handle_; }
  std::uint16_t valueHandle() const { return valueHandle_; }

  void linkUp();
  void linkDown();
  void mtuChanged();
  // One notification or indication from the peer.
  void deliver(const Bytes& value);

  bool has(int property) const override;
  void get(int property, dbus::Writer& out) const override;
  void invoke(int method, dbus::Call call) override;

 private:
  struct Session {
    std::string owner;       // the client's unique bus name
    bool registered = false;  // registered on a live link (CCC written)
  };
  struct PendingRead {
    std::uint16_t offset = 0;
    std::vector<dbus::Call> calls;
    Timer timer;
  };

  void readValue(dbus::Call call);
  void writeValue(dbus::Call call);
  void acquireWrite(dbus::Call call);
  void acquireNotify(dbus::Call call);
  void startNotify(dbus::Call call);
  void stopNotify(dbus::Call call);
  void endSession(const std::string& owner);
  void finishRead();
  // Answers the reads waiting on one offset: the bytes from `offset` on, or the ATT error.
  void answerRead(std::vector<dbus::Call>& calls, std::uint16_t offset, std::uint8_t att,
                  const Bytes& fromOffset);
  Peripheral::Characteristic* peer() const;
  // Writes the CCC on the peer (notify preferred over indicate), or clears it.
  void writeCcc(bool enable);
  void setNotifying(bool on);
  void startStream();
  void stopStream();
  void releaseNotifySocket();
  void releaseWriteSocket();

  GattClient& client_;
  std::uint16_t handle_, valueHandle_;
  Uuid uuid_;
  std::uint8_t properties_;
  std::vector<std::string> flags_;
  std::string servicePath_;
  std::optional<Bytes> value_;
  bool notifying_ = false;
  std::vector<Session> sessions_;
  std::optional<PendingRead> read_;
  dbus::Call writeCall_;
  Timer writeTimer_, cccTimer_;
  std::vector<dbus::Call> cccWaiters_;
  std::unique_ptr<FdWatch> notifySocket_, writeSocket_;
  std::uint64_t streamJob_ = 0;
  dbus::Bus::NameLostToken nameLost_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for a bridge's late answers
};


// BlueZ's Flags for a remote characteristic: its declaration's properties (never the encrypt-*
// or authorize permissions, which are the server's business).
std::vector<std::string> remoteFlags(const Peripheral::Characteristic& c);

// Parses ReadValue/WriteValue options as gatt-client.c parse_options: case-insensitive "offset"
// (q) and "type" (s). False: InvalidArguments.
bool parseGattOptions(const dbus::Value& options, std::uint16_t& offset, std::optional<std::string>* type);
// ReadValue's options: the offset; false after answering InvalidArguments.
bool readOffsetOption(dbus::Call& call, std::uint16_t& offset);

}  // namespace gattway::sim
