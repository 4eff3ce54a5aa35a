// One LE connect attempt (CentralBackend::connect), with what real BlueZ does absorbed here
// (BLUEZ-VM.md, bluez-5.66-api.md §2, §7.4, §8):
//   - a device BlueZ has not seen: Adapter1.ConnectDevice where the adapter offers it (it is
//     experimental in 5.66), else a short targeted discovery until the device object appears;
//   - Device1.Connect replies when the ATT channel is up, and the Connected=true signal may never
//     come: it succeeds once Connected=true is known, read back with Properties.Get if need be;
//   - a second connect to the same device is "Failed: Operation already in progress", which the
//     error table reports as IN_PROGRESS;
//   - after "le-connection-abort-by-local" it waits (briefly) for Connected=false before reporting,
//     so that a retry does not run into the link still being torn down.
// The timeout bounds the whole attempt. Abandoned (deadline passed, or the caller let go) after a
// connect was sent, it sends Device1.Disconnect, which cancels a pending connect in BlueZ, so no
// link is left open that nobody asked for.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ble/address.h"
#include "ble/bluez/backend_context.h"
#include "ble/bluez/call_limiter.h"
#include "ble/bluez/pending_ops.h"

namespace gattway::bluez {

class ConnectOp final : public Op<absl::Status> {
 public:
  ConnectOp(OpRegistry& registry, BackendContext& context, std::string adapter, Address address,
            AddressType type, StatusCallback done);
  ~ConnectOp() override;

  // Starts the attempt; `timeout` bounds all of it.
  void start(absl::Duration timeout);
  const std::string& adapter() const { return adapter_; }
  const Address& address() const { return address_; }

  // disconnect() was called for the device. An attempt that has not sent its connect yet ends
  // with CANCELLED; one whose connect is pending hears BlueZ's answer (the Disconnect cancels it).
  void cancelByDisconnect();

  void abandon() override;
  void onDeviceEvent(const MirrorEvent& event) override;

 private:
  enum class Step {
    kConnectDevice,    // Adapter1.ConnectDevice in flight
    kLookingForDevice, // targeted discovery until the Device1 object appears
    kConnecting,       // Device1.Connect in flight
    kConfirming,       // Connected read back, or waiting for it to turn true
    kSettling,         // after abort-by-local: waiting for Connected=false
  };

  void connectDevice();
  void lookForDevice();
  void connectExisting();
  void confirmConnected();
  void readBack();
  void connectFailed(absl::Status status);
  void succeed();
  // The time a call or wait may take: what is left, a little more so our deadline fires first.
  absl::Duration callTimeout() const;
  const DeviceNode* device() const;

  BackendContext& context_;
  const std::string adapter_;
  const Address address_;
  const AddressType type_;
  const std::string devicePath_;
  Step step_ = Step::kConnecting;
  bool connectSent_ = false;   // a link may be opening: abandoning must close it
  bool targetAdded_ = false;
  absl::Status abortStatus_;   // kSettling: what is reported once Connected=false
  PendingCall call_;
  Timer wait_;
};

}  // namespace gattway::bluez
