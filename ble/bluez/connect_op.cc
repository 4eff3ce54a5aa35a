#include "ble/bluez/connect_op.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "ble/bluez/discovery_sessions.h"
#include "ble/bluez/paths.h"
#include "ble/bluez/proxies/adapter1.h"
#include "ble/bluez/proxies/device1.h"
#include "ble/error.h"

namespace gattway::bluez {
namespace {

// Connected is read back this often while BlueZ says connected but the property is not yet true.
constexpr absl::Duration kReadBackInterval = absl::Milliseconds(100);
// How long a failed connect waits for its link to be reported down (connectFailed).
constexpr absl::Duration kSettleTime = absl::Seconds(3);
// Slack so that the attempt's own deadline fires before sd-bus's timeout of the same call.
constexpr absl::Duration kCallSlack = absl::Seconds(1);
constexpr absl::Duration kDisconnectTimeout = absl::Seconds(10);

bool hasBluezError(const absl::Status& s, absl::string_view name, absl::string_view message = {}) {
  if (err::metadata(s, err::kMetaBluezError) != name) return false;
  return message.empty() || err::metadata(s, err::kMetaBluezMessage) == message;
}

// BlueZ 5.66 answers every asynchronous ConnectDevice failure with the malformed error name
// "org.bluez.Failed" and no message (bluez-5.66-api.md, Adapter1): say what that means.
absl::Status explainConnectDeviceFailure(const absl::Status& s) {
  if (!hasBluezError(s, "org.bluez.Failed") ||
      !err::metadata(s, err::kMetaBluezMessage).value_or("").empty()) {
    return s;
  }
  absl::Status clear(s.code(), absl::StrCat(s.message(),
                                            " (BlueZ gives no reason for a failed ConnectDevice: "
                                            "the device did not answer, or the link failed)"));
  s.ForEachPayload([&clear](absl::string_view url, const absl::Cord& payload) {
    clear.SetPayload(url, payload);
  });
  return clear;
}

}  // namespace

ConnectOp::ConnectOp(OpRegistry& registry, BackendContext& context, std::string adapter,
                     Address address, AddressType type, StatusCallback done)
    : Op(registry, std::move(done)),
      context_(context),
      adapter_(std::move(adapter)),
      address_(address),
      type_(type),
      devicePath_(devicePath(adapter_, address_)) {}

ConnectOp::~ConnectOp() {
  if (targetAdded_) context_.discovery().removeTarget(adapter_, address_);
}

const DeviceNode* ConnectOp::device() const { return context_.mirror().device(adapter_, address_); }

absl::Duration ConnectOp::callTimeout() const { return remaining() + kCallSlack; }

void ConnectOp::start(absl::Duration timeout) {
  armDeadline(timeout, absl::StrCat("connect ", address_.toString()));
  const DeviceNode* d = device();
  if (d != nullptr && d->info.connected) return finishLater(absl::OkStatus());
  if (d != nullptr) return connectExisting();
  if (context_.connectDeviceMissing(adapter_)) return lookForDevice();
  connectDevice();
}

void ConnectOp::connectDevice() {
  step_ = Step::kConnectDevice;
  connectSent_ = true;
  call_ = Adapter1Proxy(context_.calls(), adapterPath(adapter_))
              .connectDevice(address_, type_, callTimeout(),
                             [this](absl::StatusOr<std::string> path) {
                               if (path.ok()) {
                                 context_.noteLinkOpened(adapter_, address_);
                                 return confirmConnected();
                               }
                               const absl::Status& s = path.status();
                               if (hasBluezError(s, "org.freedesktop.DBus.Error.UnknownMethod")) {
                                 // bluetoothd without -E: no ConnectDevice.
                                 connectSent_ = false;
                                 context_.setConnectDeviceMissing(adapter_);
                                 return lookForDevice();
                               }
                               if (hasBluezError(s, "org.bluez.Error.AlreadyExists")) {
                                 return connectExisting();  // the object appeared meanwhile
                               }
                               connectFailed(explainConnectDeviceFailure(s));
                             });
}

void ConnectOp::lookForDevice() {
  if (device() != nullptr) return connectExisting();
  step_ = Step::kLookingForDevice;
  targetAdded_ = true;
  context_.discovery().addTarget(
      adapter_, address_, [&ops = registry(), id = id()](absl::Status status) {
        // Discovery outlives operations: act only if this one is still there.
        auto* self = static_cast<ConnectOp*>(ops.find(id));
        if (self == nullptr || status.ok()) return;
        self->targetAdded_ = false;
        self->finish(std::move(status));
      });
}

void ConnectOp::connectExisting() {
  if (targetAdded_) {
    targetAdded_ = false;
    context_.discovery().removeTarget(adapter_, address_);
  }
  step_ = Step::kConnecting;
  connectSent_ = true;
  call_ = Device1Proxy(context_.calls(), devicePath_)
              .connect(callTimeout(), [this](absl::Status status) {
                if (!status.ok()) return connectFailed(status);
                context_.noteLinkOpened(adapter_, address_);
                confirmConnected();
              });
}

void ConnectOp::confirmConnected() {
  step_ = Step::kConfirming;
  const DeviceNode* d = device();
  if (d != nullptr && d->info.connected) return succeed();
  readBack();
}

void ConnectOp::readBack() {
  call_ = Device1Proxy(context_.calls(), devicePath_)
              .readConnected(callTimeout(), [this](absl::StatusOr<bool> connected) {
                if (!connected.ok()) return finish(connected.status());
                if (*connected) {
                  // BlueZ never signalled it (BLUEZ-VM.md): tell everyone now. The listener may
                  // drop this operation meanwhile.
                  OpRegistry& ops = registry();
                  const std::uint64_t self = id();
                  context_.applyDeviceProperties(adapter_, address_,
                                                 {{"Connected", PropertyValue(true)}});
                  if (ops.find(self) == nullptr) return;
                  return succeed();
                }
                wait_ = executor().runAfter(kReadBackInterval, [this] { readBack(); });
              });
}

void ConnectOp::connectFailed(absl::Status status) {
  if (err::reasonOf(status) == err::Reason::kTimeout) {
    // sd-bus (or the bus daemon) gave up on the call, not BlueZ: its connect may still run.
    abandon();
    return finish(std::move(status));
  }
  connectSent_ = false;  // BlueZ answered: nothing of ours is pending
  // A link that came up and failed at once (abort-by-local; ConnectDevice says only
  // "org.bluez.Failed") may still be going down, and so may any link BlueZ reported up before the
  // error: report once it is down (bounded), so that a retry does not take the stale
  // Connected=true for its own link.
  const DeviceNode* d = device();
  const bool stillUp = d != nullptr && d->info.connected;
  if (!stillUp && !hasBluezError(status, "org.bluez.Error.Failed", "le-connection-abort-by-local") &&
      !hasBluezError(status, "org.bluez.Failed")) {
    return finish(std::move(status));
  }
  step_ = Step::kSettling;
  abortStatus_ = std::move(status);
  wait_ = executor().runAfter(std::min(kSettleTime, remaining()),
                              [this] { finish(std::move(abortStatus_)); });
  if (stillUp) return;  // onDeviceEvent sees it go
  call_ = Device1Proxy(context_.calls(), devicePath_)
              .readConnected(callTimeout(), [this](absl::StatusOr<bool> connected) {
                if (!connected.ok() || !*connected) finish(std::move(abortStatus_));
              });
}

void ConnectOp::succeed() {
  connectSent_ = false;
  finish(absl::OkStatus());
}

void ConnectOp::onDeviceEvent(const MirrorEvent& event) {
  if (event.adapter != adapter_ || event.address != address_) return;
  using K = MirrorEvent::Kind;
  const DeviceNode* d = device();
  switch (step_) {
    case Step::kLookingForDevice:
      if (event.kind == K::kDeviceChanged && d != nullptr) connectExisting();
      return;
    case Step::kConfirming:
      if (d != nullptr && d->info.connected) succeed();
      return;
    case Step::kSettling:
      if (event.kind == K::kDeviceRemoved || (d != nullptr && !d->info.connected)) {
        finish(std::move(abortStatus_));
      }
      return;
    case Step::kConnectDevice:
    case Step::kConnecting:
      return;  // the method's reply decides
  }
}

void ConnectOp::cancelByDisconnect() {
  if (connectSent_) return;
  finish(err::make(absl::StatusCode::kCancelled, err::Reason::kDisconnected,
                   absl::StrCat("connect ", address_.toString(), ": cancelled by a disconnect"),
                   {{err::kMetaAddress, address_.toString()}}));
}

void ConnectOp::abandon() {
  if (!connectSent_) return;
  // Disconnect cancels a pending Connect in BlueZ and closes a link that came up meanwhile.
  Device1Proxy(context_.calls(), devicePath_)
      .disconnect(kDisconnectTimeout, [](absl::Status) {})
      .release();
}

}  // namespace gattway::bluez
