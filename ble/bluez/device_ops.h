// Operations on a device's link and services that wait on BlueZ's signals as well as its replies.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ble/address.h"
#include "ble/bluez/backend_context.h"
#include "ble/bluez/pending_ops.h"

namespace gattway::bluez {

// Device1.Disconnect, then Connected=false. BlueZ replies once the link is gone (after ~2 s of
// grace) and signals Connected=false just after the reply (bluez-5.66-api.md §7.4); the operation
// waits a moment for that signal (then reads Connected back) so that the mirror agrees when it
// reports. OK when the device was not connected.
class DisconnectOp final : public Op<absl::Status> {
 public:
  DisconnectOp(OpRegistry& registry, BackendContext& context, std::string adapter,
               Address address, StatusCallback done);
  void start();
  void onDeviceEvent(const MirrorEvent& event) override;

 private:
  bool stillConnected() const;
  void readBack();

  BackendContext& context_;
  const std::string adapter_;
  const Address address_;
  bool waitingForSignal_ = false;
  PendingCall call_;
  Timer wait_;
};

// Waits for ServicesResolved=true, then asks BlueZ once more because real BlueZ can signal
// ServicesResolved before the InterfacesAdded of the GATT objects (BLUEZ-VM.md): a Get of
// Connected (BlueZ flushes its signals before the reply), and GetManagedObjects below the device
// only when the mirror still has no services for it. Returns the service tree from the mirror.
class ResolveServicesOp final : public Op<absl::StatusOr<std::vector<GattServiceInfo>>> {
 public:
  ResolveServicesOp(OpRegistry& registry, BackendContext& context, std::string adapter,
                    Address address, Callback<absl::StatusOr<std::vector<GattServiceInfo>>> done);
  void start(absl::Duration timeout);
  void onDeviceEvent(const MirrorEvent& event) override;

 private:
  void refresh();
  void fetchObjects();

  BackendContext& context_;
  const std::string adapter_;
  const Address address_;
  bool refreshing_ = false;
  PendingCall call_;
};

}  // namespace gattway::bluez
