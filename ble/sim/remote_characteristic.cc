#include "ble/sim/remote_characteristic.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <poll.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ble/sim/context.h"
#include "ble/sim/device.h"
#include "ble/sim/errors.h"
#include "ble/sim/gatt_client.h"

namespace gattway::sim {
namespace {

enum CharProp { kUuid, kService, kValue, kNotifying, kFlags, kWriteAcquired, kNotifyAcquired, kMtu };
enum CharMethod { kReadValue, kWriteValue, kAcquireWrite, kAcquireNotify, kStartNotify, kStopNotify };

const dbus::InterfaceSpec& characteristicSpec() {
  static const dbus::InterfaceSpec s{
      "org.bluez.GattCharacteristic1",
      {{"ReadValue", {{"options", "a{sv}"}}, {{"value", "ay"}}},
       {"WriteValue", {{"value", "ay"}, {"options", "a{sv}"}}, {}},
       {"AcquireWrite", {{"options", "a{sv}"}}, {{"fd", "h"}, {"mtu", "q"}}},
       {"AcquireNotify", {{"options", "a{sv}"}}, {{"fd", "h"}, {"mtu", "q"}}},
       {"StartNotify", {}, {}},
       {"StopNotify", {}, {}}},
      {{"UUID", "s"},
       {"Service", "o"},
       {"Value", "ay"},
       {"Notifying", "b"},
       {"Flags", "as"},
       {"WriteAcquired", "b"},
       {"NotifyAcquired", "b"},
       {"MTU", "q"}},
      {}};
  return s;
}

constexpr std::uint8_t kPropWriteWithoutResponse = 0x04;
constexpr std::uint8_t kPropWrite = 0x08;
constexpr std::uint8_t kPropNotify = 0x10;
constexpr std::uint8_t kPropIndicate = 0x20;

void fail(dbus::Call& call, const dbus::Error& e) { call.error(e.name, e.message); }


// ATT round trips for a long read of `size` bytes at `mtu` (Read, then Read Blob per MTU-1).
std::int64_t readRounds(std::size_t size, std::uint16_t mtu) {
  const std::size_t per = mtu > 1 ? mtu - 1u : 1u;
  return static_cast<std::int64_t>(1 + size / per);
}

}  // namespace

std::vector<std::string> remoteFlags(const Peripheral::Characteristic& c) {
  static const char* kNames[] = {"broadcast", "read", "write-without-response", "write",
                                 "notify", "indicate", "authenticated-signed-writes",
                                 "extended-properties"};
  std::vector<std::string> out;
  for (int bit = 0; bit < 8; ++bit) {
    if ((c.properties & (1u << bit)) != 0) out.emplace_back(kNames[bit]);
  }
  for (const char* ext : {"reliable-write", "writable-auxiliaries"}) {
    if (c.has(ext)) out.emplace_back(ext);
  }
  return out;
}

bool readOffsetOption(dbus::Call& call, std::uint16_t& offset) {
  dbus::Value options;
  if (call.args().value(options) && parseGattOptions(options, offset, nullptr)) return true;
  call.error(bluez::kInvalidArguments, bluez::kMsgInvalidArguments);
  return false;
}

bool parseGattOptions(const dbus::Value& options, std::uint16_t& offset,
                      std::optional<std::string>* type) {
  const auto* entries = options.asDict();
  if (entries == nullptr) return false;
  for (const auto& [k, v] : *entries) {
    const std::string* key = k.asString();
    const dbus::Value* content = v.variantContent();
    if (key == nullptr || content == nullptr) return false;
    if (absl::EqualsIgnoreCase(*key, "offset")) {
      auto o = content->asInt("q");
      if (!o) return false;
      offset = static_cast<std::uint16_t>(*o);
    }
    if (type != nullptr && absl::EqualsIgnoreCase(*key, "type")) {
      if (content->signature != "s") return false;
      *type = *content->asString();
    }
  }
  return true;
}

// --- GattCharacteristic1 ------------------------------------------------------------------------

RemoteCharacteristic::RemoteCharacteristic(GattClient& client, const Peripheral::Characteristic& c,
                                           std::string servicePath)
    : dbus::Interface(characteristicSpec()),
      client_(client),
      handle_(c.declHandle),
      valueHandle_(c.valueHandle),
      uuid_(c.uuid),
      properties_(c.properties),
      flags_(remoteFlags(c)),
      servicePath_(std::move(servicePath)) {
  nameLost_ = client_.context().bus.onNameLost([this](const std::string& name) { endSession(name); });
}

RemoteCharacteristic::~RemoteCharacteristic() {
  *alive_ = false;
  stopStream();
  client_.context().bus.removeNameLost(nameLost_);
}

Peripheral::Characteristic* RemoteCharacteristic::peer() const {
  Peripheral* p = client_.device().peripheral();
  return p == nullptr ? nullptr : p->characteristic(handle_);
}

bool RemoteCharacteristic::has(int property) const {
  switch (property) {
    case kValue: return value_.has_value();
    case kNotifying: return (properties_ & (kPropNotify | kPropIndicate)) != 0;
    case kWriteAcquired: return (properties_ & kPropWriteWithoutResponse) != 0;
    case kNotifyAcquired: return (properties_ & kPropNotify) != 0;
    case kMtu: return client_.connected();
    default: return true;
  }
}

void RemoteCharacteristic::get(int property, dbus::Writer& w) const {
  switch (property) {
    case kUuid: w.s(uuid_.toLongString()); break;
    case kService: w.o(servicePath_); break;
    case kValue: w.bytes(value_ ? *value_ : Bytes{}); break;
    case kNotifying: w.b(notifying_); break;
    case kFlags: w.strings(flags_); break;
    case kWriteAcquired: w.b(writeSocket_ != nullptr); break;
    case kNotifyAcquired: w.b(notifySocket_ != nullptr); break;
    case kMtu: w.q(client_.mtu()); break;
  }
}

void RemoteCharacteristic::invoke(int method, dbus::Call call) {
  switch (method) {
    case kReadValue: return readValue(std::move(call));
    case kWriteValue: return writeValue(std::move(call));
    case kAcquireWrite: return acquireWrite(std::move(call));
    case kAcquireNotify: return acquireNotify(std::move(call));
    case kStartNotify: return startNotify(std::move(call));
    case kStopNotify: return stopNotify(std::move(call));
  }
}

void RemoteCharacteristic::readValue(dbus::Call call) {
  if (!client_.connected()) return call.error(bluez::kFailed, "Not connected");
  std::uint16_t offset = 0;
  if (!readOffsetOption(call, offset)) return;
  if (read_) {
    // A read with the same offset joins the one in flight; another offset must wait its turn.
    if (read_->offset != offset) return call.error(bluez::kInProgress, bluez::kMsgInProgress);
    read_->calls.push_back(std::move(call));
    return;
  }
  Context& ctx = client_.context();
  read_.emplace();
  read_->offset = offset;
  read_->calls.push_back(std::move(call));
  Peripheral::Characteristic* c = peer();
  const std::size_t size = c != nullptr ? c->model->read(ctx.loop.now()).size() : 0;
  absl::Duration latency = ctx.options.attLatency * readRounds(size > offset ? size - offset : 0, client_.mtu());
  const auto fault = ctx.faults.takeGatt(client_.device().address(), handle_);
  if (fault) latency += fault->delay;
  read_->timer = ctx.loop.runAfter(latency, [this, fault] {
    if (auto e = bluez::faultError(fault)) {
      auto calls = std::move(read_->calls);
      read_.reset();
      for (auto& waiting : calls) fail(waiting, *e);
      return;
    }
    finishRead();
  });
}

void RemoteCharacteristic::finishRead() {
  Context& ctx = client_.context();
  ++ctx.stats.gattOperations;
  const std::uint16_t offset = read_->offset;
  auto calls = std::move(read_->calls);
  read_.reset();
  Peripheral* p = client_.device().peripheral();
  Peripheral::Characteristic* c = peer();
  if (p == nullptr || c == nullptr) {
    for (auto& call : calls) fail(call, bluez::errorForAtt(0x01));  // Invalid Handle
    return;
  }
  if (AttBridge* bridge = p->bridge()) {
    // A hosted application answers, later.
    bridge->read(valueHandle_, offset,
                 [this, alive = alive_, offset, calls = std::move(calls)](std::uint8_t att, Bytes v) mutable {
                   if (*alive) answerRead(calls, offset, att, v);
                 });
    return;
  }
  const Peripheral::ReadResult r = p->read(*c, ctx.loop.now());
  std::uint8_t att = r.att;
  if (att == 0 && offset > r.value.size()) att = 0x07;  // Invalid Offset
  answerRead(calls, offset, att,
             att == 0 ? Bytes(r.value.begin() + offset, r.value.end()) : Bytes{});
}

void RemoteCharacteristic::answerRead(std::vector<dbus::Call>& calls, std::uint16_t offset,
                                      std::uint8_t att, const Bytes& fromOffset) {
  if (att != 0) {
    for (auto& call : calls) fail(call, bluez::errorForAtt(att));
    return;
  }
  // The cache keeps what was before the offset, then the bytes read (gatt-client.c chrc_read_cb).
  Bytes cache = offset == 0 || !value_ ? Bytes{} : *value_;
  cache.resize(offset);
  cache.insert(cache.end(), fromOffset.begin(), fromOffset.end());
  value_ = std::move(cache);
  changed(kValue, /*flush=*/true);  // Value goes out before the reply
  for (auto& call : calls) call.reply([&](dbus::Writer& w) { w.bytes(fromOffset); });
}

void RemoteCharacteristic::writeValue(dbus::Call call) {
  if (!client_.connected()) return call.error(bluez::kFailed, "Not connected");
  if (writeSocket_ != nullptr) return call.error(bluez::kNotPermitted, "Write acquired");
  if (writeCall_) return call.error(bluez::kInProgress, bluez::kMsgInProgress);
  dbus::Reader args = call.args();
  Bytes data;
  dbus::Value options;
  std::uint16_t offset = 0;
  std::optional<std::string> type;
  if (!args.bytes(data) || !args.value(options) || !parseGattOptions(options, offset, &type)) {
    return call.error(bluez::kInvalidArguments, bluez::kMsgInvalidArguments);
  }
  Context& ctx = client_.context();
  Peripheral* p = client_.device().peripheral();
  Peripheral::Characteristic* c = peer();
  const std::uint16_t mtu = client_.mtu();
  auto is = [&](const char* t) { return type && absl::EqualsIgnoreCase(*type, t); };
  const bool reliableExt = c != nullptr && c->has("reliable-write");
  // 5.66's order: reliable long write, then Write Request (long if it does not fit), then Write
  // Command. An explicit type skips the flag checks.
  std::int64_t rounds = 0;
  if ((!type && reliableExt) || is("reliable")) {
    rounds = 2 + static_cast<std::int64_t>(data.size() / (mtu > 5 ? mtu - 5u : 1u));
  } else if ((!type && (properties_ & kPropWrite)) || is("request")) {
    rounds = data.size() <= mtu - 3u && offset == 0
                 ? 1
                 : 2 + static_cast<std::int64_t>(data.size() / (mtu > 5 ? mtu - 5u : 1u));
  } else if ((type && !is("command")) || offset != 0 ||
             (!type && !(properties_ & kPropWriteWithoutResponse))) {
    return call.error(bluez::kNotSupported, bluez::kMsgNotSupported);
  } else {
    // Write Command: success means queued; the peer's answer is never known.
    if (data.size() > mtu - 3u) return call.error(bluez::kFailed, "Failed to initiate write");
    if (p != nullptr && p->bridge() != nullptr) {
      p->bridge()->write(valueHandle_, data, /*command=*/true, [](std::uint8_t) {});
    } else if (p != nullptr && c != nullptr) {
      p->write(*c, data, 0, true, ctx.loop.now());
    }
    ++ctx.stats.gattOperations;
    return call.reply();
  }
  writeCall_ = std::move(call);
  absl::Duration latency = ctx.options.attLatency * rounds;
  const auto fault = ctx.faults.takeGatt(client_.device().address(), handle_);
  if (fault) latency += fault->delay;
  writeTimer_ = ctx.loop.runAfter(latency, [this, fault, data, offset] {
    Context& cx = client_.context();
    ++cx.stats.gattOperations;
    if (auto e = bluez::faultError(fault)) return fail(writeCall_, *e);
    Peripheral* peripheral = client_.device().peripheral();
    Peripheral::Characteristic* ch = peer();
    if (peripheral == nullptr || ch == nullptr) return fail(writeCall_, bluez::errorForAtt(0x01));
    if (AttBridge* bridge = peripheral->bridge()) {
      // A hosted application answers, later; it takes whole values only.
      if (offset != 0) return fail(writeCall_, bluez::errorForAtt(0x06));
      return bridge->write(valueHandle_, data, /*command=*/false, [this, alive = alive_](std::uint8_t att) {
        if (!*alive) return;
        if (att != 0) return fail(writeCall_, bluez::errorForAtt(att));
        writeCall_.reply();
      });
    }
    const std::uint8_t att = peripheral->write(*ch, data, offset, false, cx.loop.now());
    if (att != 0) return fail(writeCall_, bluez::errorForAtt(att));
    writeCall_.reply();
  });
}

void RemoteCharacteristic::acquireWrite(dbus::Call call) {
  if (!client_.connected()) return call.error(bluez::kFailed, "Not connected");
  if (writeSocket_ != nullptr) return call.error(bluez::kNotPermitted, "Write acquired");
  if (!(properties_ & kPropWriteWithoutResponse)) {
    return call.error(bluez::kNotSupported, bluez::kMsgNotSupported);
  }
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0) {
    return call.error(bluez::kFailed, std::strerror(errno));
  }
  Context& ctx = client_.context();
  // Each packet the client writes is one Write Command.
  writeSocket_ = std::make_unique<FdWatch>(ctx.loop, fds[0], POLLIN, [this](short revents) {
    if ((revents & POLLIN) != 0) {
      std::uint8_t buf[1024];
      for (;;) {
        const ssize_t n = ::recv(writeSocket_->fd(), buf, sizeof buf, 0);
        if (n <= 0) break;
        Peripheral* p = client_.device().peripheral();
        Peripheral::Characteristic* c = peer();
        if (p != nullptr && p->bridge() != nullptr) {
          p->bridge()->write(valueHandle_, Bytes(buf, buf + n), /*command=*/true, [](std::uint8_t) {});
        } else if (p != nullptr && c != nullptr) {
          p->write(*c, Bytes(buf, buf + n), 0, true, client_.context().loop.now());
        }
      }
    }
    if ((revents & (POLLHUP | POLLERR)) != 0) releaseWriteSocket();
  });
  const std::uint16_t mtu = client_.mtu();
  call.reply([&](dbus::Writer& w) { w.h(fds[1]).q(mtu); });
  ::close(fds[1]);
  changed(kWriteAcquired);
}

void RemoteCharacteristic::releaseWriteSocket() {
  if (writeSocket_ == nullptr) return;
  writeSocket_.reset();
  changed(kWriteAcquired);
}

void RemoteCharacteristic::acquireNotify(dbus::Call call) {
  if (!client_.connected()) return call.error(bluez::kFailed, "Not connected");
  if (notifySocket_ != nullptr) return call.error(bluez::kNotPermitted, "Notify acquired");
  // 5.66 needs the notify property (indicate-only characteristics: NotSupported).
  if (!(properties_ & kPropNotify)) return call.error(bluez::kNotSupported, bluez::kMsgNotSupported);
  if (!sessions_.empty()) return call.error(bluez::kInProgress, bluez::kMsgInProgress);
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0) {
    return call.error(bluez::kFailed, std::strerror(errno));
  }
  Context& ctx = client_.context();
  notifySocket_ = std::make_unique<FdWatch>(ctx.loop, fds[0], 0, [this](short revents) {
    if ((revents & (POLLHUP | POLLERR)) != 0) releaseNotifySocket();
  });
  const int theirs = fds[1];
  // Closed once the reply took its copy, or when the link fails first (then 5.66 never answers).
  std::shared_ptr<void> closeTheirs(nullptr, [theirs](void*) { ::close(theirs); });
  // The reply comes once the CCC is written.
  cccTimer_ = ctx.loop.runAfter(ctx.options.attLatency,
                                [this, theirs, closeTheirs, c = std::move(call)]() mutable {
    writeCcc(true);
    const std::uint16_t mtu = client_.mtu();
    c.reply([&](dbus::Writer& w) { w.h(theirs).q(mtu); });
    closeTheirs.reset();
    changed(kNotifyAcquired);
    setNotifying(true);
    startStream();
  });
}

void RemoteCharacteristic::releaseNotifySocket() {
  if (notifySocket_ == nullptr) return;
  notifySocket_.reset();
  changed(kNotifyAcquired);
  if (sessions_.empty()) {
    stopStream();
    if (client_.connected()) writeCcc(false);
    setNotifying(false);
  }
}

void RemoteCharacteristic::startNotify(dbus::Call call) {
  if (client_.device().disconnecting()) return call.error(bluez::kNotConnected, bluez::kMsgNotConnected);
  if (notifySocket_ != nullptr) return call.error(bluez::kNotPermitted, "Notify acquired");
  if (!(properties_ & (kPropNotify | kPropIndicate))) {
    return call.error(bluez::kNotSupported, bluez::kMsgNotSupported);
  }
  const std::string owner = call.sender();
  for (const auto& s : sessions_) {
    if (s.owner != owner) continue;
    if (s.registered) return call.reply();
    return call.error(bluez::kInProgress, bluez::kMsgInProgress);
  }
  sessions_.push_back(Session{owner, false});
  // Not connected: success at once; the session registers on the next connection.
  if (!client_.connected()) return call.reply();
  Context& ctx = client_.context();
  if (notifying_ && !cccTimer_.held()) {
    sessions_.back().registered = true;  // the CCC is already on
    return call.reply();
  }
  cccWaiters_.push_back(std::move(call));
  if (cccTimer_.held()) return;
  // The CCC write is a GATT request like the others: it meets the device's queued faults. On an
  // error BlueZ answers the waiting StartNotify calls with it (the ATT mapping of reads and
  // writes) and keeps none of their sessions.
  const auto fault = ctx.faults.takeGatt(client_.device().address(), handle_);
  const absl::Duration latency = ctx.options.attLatency + (fault ? fault->delay : absl::ZeroDuration());
  cccTimer_ = ctx.loop.runAfter(latency, [this, fault] {
    cccTimer_ = Timer();
    if (auto e = bluez::faultError(fault)) {
      std::erase_if(sessions_, [](const Session& s) { return !s.registered; });
      auto waiters = std::move(cccWaiters_);
      cccWaiters_.clear();
      for (auto& w : waiters) fail(w, *e);
      return;
    }
    writeCcc(true);
    for (auto& s : sessions_) s.registered = true;
    setNotifying(true);
    startStream();
    auto waiters = std::move(cccWaiters_);
    cccWaiters_.clear();
    for (auto& w : waiters) w.reply();
  });
}

void RemoteCharacteristic::stopNotify(dbus::Call call) {
  if (notifySocket_ != nullptr) {
    // Anyone's StopNotify ends an acquired notification.
    releaseNotifySocket();
    return call.reply();
  }
  const std::string owner = call.sender();
  const auto it = std::find_if(sessions_.begin(), sessions_.end(),
                               [&](const Session& s) { return s.owner == owner; });
  if (it == sessions_.end()) return call.error(bluez::kFailed, "No notify session started");
  endSession(owner);
  call.reply();
}

void RemoteCharacteristic::endSession(const std::string& owner) {
  const auto before = sessions_.size();
  std::erase_if(sessions_, [&](const Session& s) { return s.owner == owner; });
  if (sessions_.size() == before || !sessions_.empty()) return;
  // The last session: the CCC is cleared and Notifying goes false.
  stopStream();
  cccTimer_.cancel();
  for (auto& w : cccWaiters_) w.error(bluez::kFailed, "Operation failed");
  cccWaiters_.clear();
  if (client_.connected()) writeCcc(false);
  setNotifying(false);
}

void RemoteCharacteristic::writeCcc(bool enable) {
  Peripheral* p = client_.device().peripheral();
  Peripheral::Characteristic* c = peer();
  if (p == nullptr || c == nullptr) return;
  const Peripheral::Descriptor* ccc = c->cccDescriptor();
  if (ccc == nullptr) return;
  std::uint8_t bits = 0;
  if (enable) bits = (c->properties & kPropNotify) ? 0x01 : 0x02;
  if (p->bridge() != nullptr) return p->bridge()->setCcc(valueHandle_, bits);
  p->write(*p->descriptor(ccc->handle), *c, Bytes{bits, 0}, 0);
}

void RemoteCharacteristic::setNotifying(bool on) {
  if (notifying_ == on) return;
  notifying_ = on;
  changed(kNotifying);
}

void RemoteCharacteristic::startStream() {
  if (streamJob_ != 0) return;
  Peripheral::Characteristic* c = peer();
  if (c == nullptr) return;
  Context& ctx = client_.context();
  // The rate is read on every tick, so SetRates changes running streams too.
  auto interval = [&ctx, c] { return ctx.options.notificationInterval.value_or(c->notifyInterval); };
  if (interval() <= absl::ZeroDuration()) return;  // it notifies only when its value is pushed
  streamJob_ = ctx.ticker.add(interval(), [this, interval]() -> std::optional<absl::Duration> {
    Peripheral* p = client_.device().peripheral();
    Peripheral::Characteristic* ch = peer();
    if (p == nullptr || ch == nullptr || ch->ccc == 0 || interval() <= absl::ZeroDuration()) {
      streamJob_ = 0;
      return std::nullopt;
    }
    deliver(p->notification(*ch, client_.context().loop.now()));
    return interval();
  });
}

void RemoteCharacteristic::stopStream() {
  if (streamJob_ != 0) client_.context().ticker.remove(streamJob_);
  streamJob_ = 0;
}

void RemoteCharacteristic::deliver(const Bytes& raw) {
  Context& ctx = client_.context();
  const std::size_t max = client_.mtu() > 3 ? client_.mtu() - 3u : 0u;
  const Bytes value = raw.size() > max ? Bytes(raw.begin(), raw.begin() + static_cast<long>(max)) : raw;
  if (ctx.backedUp()) {
    ++ctx.stats.notificationsShed;
    return;
  }
  if (notifySocket_ != nullptr) {
    // One packet per notification; Value is not updated for acquired notifications.
    if (::send(notifySocket_->fd(), value.data(), value.size(), MSG_NOSIGNAL) < 0) {
      ++ctx.stats.notificationsShed;
    } else {
      ++ctx.stats.notifications;
    }
    return;
  }
  // One Value signal per registered session, flushed at once, even for an unchanged value.
  for (const auto& s : sessions_) {
    if (!s.registered) continue;
    value_ = value;
    changed(kValue, /*flush=*/true);
    ++ctx.stats.notifications;
  }
}

void RemoteCharacteristic::linkUp() {
  Context& ctx = client_.context();
  changed(kMtu);
  if (sessions_.empty()) return;
  // Every session registers again on the new link (the CCC is written once).
  cccTimer_ = ctx.loop.runAfter(ctx.options.attLatency, [this] {
    cccTimer_ = Timer();
    writeCcc(true);
    for (auto& s : sessions_) s.registered = true;
    setNotifying(true);
    startStream();
  });
}

void RemoteCharacteristic::mtuChanged() { changed(kMtu); }

void RemoteCharacteristic::linkDown() {
  stopStream();
  cccTimer_.cancel();
  for (auto& w : cccWaiters_) w.error(bluez::kFailed, "Operation failed");
  cccWaiters_.clear();
  // Requests in flight end without an ATT code: Failed "Operation failed".
  if (read_) {
    auto calls = std::move(read_->calls);
    read_.reset();
    for (auto& c : calls) fail(c, bluez::errorForAtt(0));
  }
  writeTimer_.cancel();
  if (writeCall_) fail(writeCall_, bluez::errorForAtt(0));
  // Sessions stay (and Notifying with them) until the next connection registers them again.
  for (auto& s : sessions_) s.registered = false;
  if (notifySocket_ != nullptr) {
    ::shutdown(notifySocket_->fd(), SHUT_RDWR);
    notifySocket_.reset();
    changed(kNotifyAcquired);
    if (sessions_.empty()) setNotifying(false);
  }
  if (writeSocket_ != nullptr) {
    ::shutdown(writeSocket_->fd(), SHUT_RDWR);
    releaseWriteSocket();
  }
  changed(kMtu);  // gone: sent as invalidated
}

}  // namespace gattway::sim
