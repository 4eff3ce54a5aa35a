#include "ble/sim/remote_descriptor.h"

#include "ble/sim/context.h"
#include "ble/sim/device.h"
#include "ble/sim/errors.h"
#include "ble/sim/gatt_client.h"
#include "ble/sim/remote_characteristic.h"

namespace gattway::sim {
namespace {

enum DescProp { kDescUuid, kDescCharacteristic, kDescValue };
enum DescMethod { kDescReadValue, kDescWriteValue };

const dbus::InterfaceSpec& descriptorSpec() {
  static const dbus::InterfaceSpec s{
      "org.bluez.GattDescriptor1",
      {{"ReadValue", {{"options", "a{sv}"}}, {{"value", "ay"}}},
       {"WriteValue", {{"value", "ay"}, {"options", "a{sv}"}}, {}}},
      {{"UUID", "s"}, {"Characteristic", "o"}, {"Value", "ay"}},
      {}};
  return s;
}

void failCall(dbus::Call& call, const dbus::Error& e) { call.error(e.name, e.message); }

}  // namespace

RemoteDescriptor::RemoteDescriptor(GattClient& client, const Peripheral::Descriptor& d,
                                   std::uint16_t owner, std::string characteristicPath)
    : dbus::Interface(descriptorSpec()),
      client_(client),
      handle_(d.handle),
      owner_(owner),
      uuid_(d.uuid),
      characteristicPath_(std::move(characteristicPath)) {}

RemoteDescriptor::~RemoteDescriptor() = default;

bool RemoteDescriptor::has(int property) const {
  return property != kDescValue || value_.has_value();
}

void RemoteDescriptor::get(int property, dbus::Writer& w) const {
  switch (property) {
    case kDescUuid: w.s(uuid_.toLongString()); break;
    case kDescCharacteristic: w.o(characteristicPath_); break;
    case kDescValue: w.bytes(value_ ? *value_ : Bytes{}); break;
  }
}

void RemoteDescriptor::invoke(int method, dbus::Call call) {
  if (method == kDescReadValue) return readValue(std::move(call));
  if (method == kDescWriteValue) return writeValue(std::move(call));
}

void RemoteDescriptor::readValue(dbus::Call call) {
  if (!client_.connected()) return call.error(bluez::kFailed, "Not connected");
  std::uint16_t offset = 0;
  if (!readOffsetOption(call, offset)) return;
  if (readOffset_) {
    if (*readOffset_ != offset) return call.error(bluez::kInProgress, bluez::kMsgInProgress);
    readCalls_.push_back(std::move(call));
    return;
  }
  readOffset_ = offset;
  readCalls_.push_back(std::move(call));
  Context& ctx = client_.context();
  absl::Duration latency = ctx.options.attLatency;
  const auto fault = ctx.faults.takeGatt(client_.device().address(), handle_);
  if (fault) latency += fault->delay;
  readTimer_ = ctx.loop.runAfter(latency, [this, fault] {
    const std::uint16_t off = *readOffset_;
    readOffset_.reset();
    auto calls = std::move(readCalls_);
    readCalls_.clear();
    ++client_.context().stats.gattOperations;
    dbus::Error e;
    Bytes value;
    Peripheral* p = client_.device().peripheral();
    Peripheral::Characteristic* owner = nullptr;
    Peripheral::Descriptor* d = p != nullptr ? p->descriptor(handle_, &owner) : nullptr;
    if (auto fe = bluez::faultError(fault)) {
      e = *fe;
    } else if (d == nullptr) {
      e = bluez::errorForAtt(0x01);
    } else {
      const auto r = p->read(*d, *owner);
      if (r.att != 0) e = bluez::errorForAtt(r.att);
      else if (off > r.value.size()) e = bluez::errorForAtt(0x07);
      else value = Bytes(r.value.begin() + off, r.value.end());
    }
    if (!e.empty()) {
      for (auto& c : calls) c.error(e.name, e.message);
      return;
    }
    value_ = value;
    changed(kDescValue);
    for (auto& c : calls) c.reply([&](dbus::Writer& w) { w.bytes(value); });
  });
}

void RemoteDescriptor::writeValue(dbus::Call call) {
  if (!client_.connected()) return call.error(bluez::kFailed, "Not connected");
  dbus::Reader args = call.args();
  Bytes data;
  dbus::Value options;
  std::uint16_t offset = 0;
  std::optional<std::string> type;  // accepted and ignored (bleak sends "command")
  if (!args.bytes(data) || !args.value(options) || !parseGattOptions(options, offset, &type)) {
    return call.error(bluez::kInvalidArguments, bluez::kMsgInvalidArguments);
  }
  // The CCC belongs to StartNotify/StopNotify.
  if (uuid_ == Uuid::fromShort(0x2902)) return call.error(bluez::kNotPermitted, "Write not permitted");
  if (writeCall_) return call.error(bluez::kInProgress, bluez::kMsgInProgress);
  writeCall_ = std::move(call);
  Context& ctx = client_.context();
  absl::Duration latency = ctx.options.attLatency;
  const auto fault = ctx.faults.takeGatt(client_.device().address(), handle_);
  if (fault) latency += fault->delay;
  writeTimer_ = ctx.loop.runAfter(latency, [this, fault, data, offset] {
    ++client_.context().stats.gattOperations;
    if (auto e = bluez::faultError(fault)) return failCall(writeCall_, *e);
    Peripheral* p = client_.device().peripheral();
    Peripheral::Characteristic* owner = nullptr;
    Peripheral::Descriptor* d = p != nullptr ? p->descriptor(handle_, &owner) : nullptr;
    if (d == nullptr) return failCall(writeCall_, bluez::errorForAtt(0x01));
    const std::uint8_t att = p->write(*d, *owner, data, offset);
    if (att != 0) return failCall(writeCall_, bluez::errorForAtt(att));
    writeCall_.reply();
  });
}

void RemoteDescriptor::linkDown() {
  readTimer_.cancel();
  writeTimer_.cancel();
  readOffset_.reset();
  auto calls = std::move(readCalls_);
  readCalls_.clear();
  for (auto& c : calls) failCall(c, bluez::errorForAtt(0));
  if (writeCall_) failCall(writeCall_, bluez::errorForAtt(0));
}

}  // namespace gattway::sim
