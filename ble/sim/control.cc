#include "ble/sim/control.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ble/log.h"
#include "ble/sim/hosted_app.h"
#include "ble/sim/simulator.h"

namespace gattway::sim {
namespace {

enum Method {
  kAddDevices, kRemoveDevice, kSetRssi, kSetAdvertising, kDropLink, kFailConnect, kFailGatt,
  kClearFaults, kSetPowered, kRestartBluetoothd, kSetOrdering, kSetRates, kCentralConnect,
  kCentralDisconnect, kCentralRead, kCentralWrite, kCentralSubscribe, kCentralUnsubscribe,
  kCentralReceived, kHostedAttributes, kDevices, kGetStats, kWedgeDiscovery, kWedgeConnects,
};
enum Prop { kOrdering, kAdvertisingInterval, kNotificationInterval };

const dbus::InterfaceSpec& controlSpec() {
  static const dbus::InterfaceSpec s{
      kControlInterface,
      {{"AddDevices", {{"yaml", "s"}}, {{"added", "u"}}},
       {"RemoveDevice", {{"address", "s"}}, {}},
       {"SetRssi", {{"address", "s"}, {"rssi", "n"}}, {}},
       {"SetAdvertising", {{"address", "s"}, {"changes", "a{sv}"}}, {}},
       {"DropLink", {{"address", "s"}, {"reason", "s"}}, {}},
       {"FailConnect",
        {{"address", "s"}, {"kind", "s"}, {"message", "s"}, {"delay_ms", "u"}, {"count", "u"}},
        {}},
       {"FailGatt",
        {{"address", "s"}, {"handle", "q"}, {"error_name", "s"}, {"error_message", "s"},
         {"att_error", "y"}, {"delay_ms", "u"}, {"count", "u"}},
        {}},
       {"ClearFaults", {}, {}},
       {"SetPowered", {{"adapter", "s"}, {"powered", "b"}}, {}},
       {"RestartBluetoothd", {{"pause_ms", "u"}}, {}},
       {"SetOrdering", {{"ordering", "s"}}, {}},
       {"SetRates", {{"advertising_interval_us", "t"}, {"notification_interval_us", "t"}}, {}},
       {"CentralConnect", {{"adapter", "s"}, {"address", "s"}}, {{"central", "s"}}},
       {"CentralDisconnect", {{"central", "s"}}, {}},
       {"CentralRead", {{"central", "s"}, {"attribute", "s"}, {"offset", "q"}}, {{"value", "ay"}}},
       {"CentralWrite",
        {{"central", "s"}, {"attribute", "s"}, {"value", "ay"}, {"with_response", "b"}},
        {}},
       {"CentralSubscribe", {{"central", "s"}, {"attribute", "s"}, {"indicate", "b"}}, {}},
       {"CentralUnsubscribe", {{"central", "s"}, {"attribute", "s"}}, {}},
       {"CentralReceived", {{"central", "s"}, {"attribute", "s"}}, {{"count", "t"}, {"last", "ay"}}},
       {"HostedAttributes", {{"adapter", "s"}}, {{"attributes", "a(qqsas)"}}},
       {"Devices", {}, {{"devices", "a(sssn)"}}},
       {"GetStats", {}, {{"stats", "a{sv}"}}},
       {"WedgeDiscovery", {{"adapter", "s"}, {"cure", "s"}, {"restarts", "u"}}, {}},
       {"WedgeConnects", {{"adapter", "s"}}, {}}},
      {{"Ordering", "s"}, {"AdvertisingInterval", "t"}, {"NotificationInterval", "t"}},
      {}};
  return s;
}

constexpr char kErrInvalidArgs[] = "io.gattway.Sim1.Error.InvalidArgs";
constexpr char kErrNotFound[] = "io.gattway.Sim1.Error.NotFound";
constexpr char kErrFailed[] = "io.gattway.Sim1.Error.Failed";
constexpr char kErrAtt[] = "io.gattway.Sim1.Error.Att";

void answer(dbus::Call& call, const absl::Status& s) {
  if (s.ok()) return call.reply();
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument: return call.error(kErrInvalidArgs, s.message());
    case absl::StatusCode::kNotFound: return call.error(kErrNotFound, s.message());
    default: return call.error(kErrFailed, s.message());
  }
}

void attError(dbus::Call& call, std::uint8_t att) {
  call.error(kErrAtt, absl::StrFormat("0x%02x", att));
}

std::optional<Address> addressArg(dbus::Call& call, const std::string& text, bool emptyIsAny) {
  if (emptyIsAny && text.empty()) return std::nullopt;
  auto a = Address::parse(text);
  if (!a.ok()) {
    call.error(kErrInvalidArgs, a.status().message());
    return std::nullopt;
  }
  return *a;
}

// The entries of an a{?v} whose variants all hold ay, keyed by `key(entry key)`; false when a
// variant is not ay or a key does not convert.
template <typename K, typename F>
bool byteEntries(const dbus::Value& v, F key, std::map<K, Bytes>& out) {
  for (const auto& [k, val] : *v.asDict()) {
    const dbus::Value* content = val.variantContent();
    std::optional<K> converted = key(k);
    if (content == nullptr || content->asBytes() == nullptr || !converted) return false;
    out[*converted] = *content->asBytes();
  }
  return true;
}

std::uint64_t micros(const std::optional<absl::Duration>& d) {
  return d ? static_cast<std::uint64_t>(absl::ToInt64Microseconds(*d)) : 0;
}

}  // namespace

ControlService::ControlService(Simulator& sim, std::unique_ptr<dbus::Bus> bus)
    : dbus::Interface(controlSpec()), sim_(sim), bus_(std::move(bus)), tree_(*bus_) {
  tree_.add(kControlPath, this);
  name_ = bus_->requestName(kControlName, [](const std::string& error) {
    if (!error.empty()) log::warn("sim.name_failed", {{"name", kControlName}, {"error", error}});
  });
}

ControlService::~ControlService() = default;

void ControlService::get(int property, dbus::Writer& w) const {
  switch (property) {
    case kOrdering: w.s(sim_.options().ordering == Ordering::kReal ? "real" : "tidy"); break;
    case kAdvertisingInterval: w.t(micros(sim_.options().advertisingInterval)); break;
    case kNotificationInterval: w.t(micros(sim_.options().notificationInterval)); break;
  }
}

void ControlService::invoke(int method, dbus::Call call) {
  dbus::Reader args = call.args();
  std::string a1, a2, a3;
  switch (method) {
    case kAddDevices: {
      args.s(a1);
      auto specs = parseDevices(a1);
      if (!specs.ok()) return answer(call, specs.status());
      const auto n = static_cast<std::uint32_t>(specs->size());
      absl::Status s = sim_.addDevices(*specs);
      if (!s.ok()) return answer(call, s);
      return call.reply([&](dbus::Writer& w) { w.u(n); });
    }
    case kRemoveDevice: {
      args.s(a1);
      auto a = addressArg(call, a1, false);
      if (!a) return;
      return answer(call, sim_.removeDevice(*a));
    }
    case kSetRssi: {
      std::int16_t rssi = 0;
      args.s(a1);
      args.n(rssi);
      auto a = addressArg(call, a1, false);
      if (!a) return;
      return answer(call, sim_.setRssi(*a, rssi));
    }
    case kSetAdvertising: {
      args.s(a1);
      dbus::Dict changes;
      args.dict(changes);
      auto a = addressArg(call, a1, false);
      if (!a) return;
      AdvertisingUpdate u;
      for (const auto& [key, v] : changes) {
        if (key == "Name" && v.signature == "s") {
          u.name = *v.asString();
        } else if (key == "ManufacturerData" && v.signature == "a{qv}") {
          std::map<std::uint16_t, Bytes> md;
          auto id = [](const dbus::Value& k) { return std::optional(static_cast<std::uint16_t>(*k.asInt())); };
          if (!byteEntries(v, id, md)) return call.error(kErrInvalidArgs, "ManufacturerData: company id → ay");
          u.manufacturerData = md;
        } else if (key == "ServiceData" && v.signature == "a{sv}") {
          std::map<Uuid, Bytes> sd;
          auto uuid = [](const dbus::Value& k) -> std::optional<Uuid> {
            auto parsed = Uuid::parse(*k.asString());
            return parsed.ok() ? std::optional(*parsed) : std::nullopt;
          };
          if (!byteEntries(v, uuid, sd)) return call.error(kErrInvalidArgs, "ServiceData: uuid → ay");
          u.serviceData = sd;
        } else if (key == "ServiceUUIDs" && v.signature == "as") {
          std::vector<Uuid> uuids;
          for (const auto& s : *v.asStrings()) {
            auto uuid = Uuid::parse(s);
            if (!uuid.ok()) return call.error(kErrInvalidArgs, uuid.status().message());
            uuids.push_back(*uuid);
          }
          u.serviceUuids = uuids;
        } else if (key == "TxPower" && v.signature == "n") {
          u.txPower = std::optional<std::int8_t>(static_cast<std::int8_t>(*v.asInt()));
        } else if (key == "Connectable" && v.signature == "b") {
          u.connectable = *v.asBool();
        } else if (key == "Flags" && v.signature == "y") {
          u.flags = static_cast<std::uint8_t>(*v.asInt());
        } else if (key == "IntervalMs" && v.signature == "u") {
          u.interval = absl::Milliseconds(*v.asInt());
        } else if (key == "Data" && v.signature == "a{yv}") {
          std::map<std::uint8_t, Bytes> d;
          auto type = [](const dbus::Value& k) { return std::optional(static_cast<std::uint8_t>(*k.asInt())); };
          if (!byteEntries(v, type, d)) return call.error(kErrInvalidArgs, "Data: AD type → ay");
          u.data = d;
        } else {
          return call.error(kErrInvalidArgs, absl::StrCat("unknown or mistyped key ", key, " (", v.signature, ")"));
        }
      }
      return answer(call, sim_.updateAdvertising(*a, u));
    }
    case kDropLink: {
      args.s(a1);
      args.s(a2);
      auto a = addressArg(call, a1, false);
      if (!a) return;
      DropReason reason = DropReason::kRemote;
      if (a2 == "timeout") reason = DropReason::kTimeout;
      else if (a2 == "local") reason = DropReason::kLocal;
      else if (a2 != "remote" && !a2.empty()) return call.error(kErrInvalidArgs, "reason: remote, timeout or local");
      return answer(call, sim_.dropLink(*a, reason));
    }
    case kFailConnect: {
      std::uint32_t delay = 0, count = 0;
      args.s(a1);
      args.s(a2);
      args.s(a3);
      args.u(delay);
      args.u(count);
      std::optional<Address> a;
      if (!a1.empty()) {
        a = addressArg(call, a1, false);
        if (!a) return;
      }
      auto kind = parseConnectFault(a2);
      if (!kind.ok()) return answer(call, kind.status());
      sim_.failNextConnect(a, ConnectFaultSpec{*kind, a3, absl::Milliseconds(delay)},
                           static_cast<int>(std::max<std::uint32_t>(count, 1)));
      return call.reply();
    }
    case kFailGatt: {
      std::uint16_t handle = 0;
      std::uint8_t att = 0;
      std::uint32_t delay = 0, count = 0;
      args.s(a1);
      args.q(handle);
      args.s(a2);
      args.s(a3);
      args.y(att);
      args.u(delay);
      args.u(count);
      std::optional<Address> a;
      if (!a1.empty()) {
        a = addressArg(call, a1, false);
        if (!a) return;
      }
      GattFaultSpec spec;
      spec.delay = absl::Milliseconds(delay);
      spec.errorName = a2;
      spec.errorMessage = a3;
      if (att != 0) spec.att = att;
      spec.handle = handle;
      sim_.failNextGattOperation(a, spec, static_cast<int>(std::max<std::uint32_t>(count, 1)));
      return call.reply();
    }
    case kClearFaults:
      sim_.faults().clear();
      return call.reply();
    case kWedgeDiscovery: {
      std::uint32_t restarts = 0;
      args.s(a1);
      args.s(a2);
      args.u(restarts);
      auto cure = parseWedgeCure(a2);
      if (!cure.ok()) return answer(call, cure.status());
      DiscoveryWedge w{*cure, static_cast<int>(std::clamp<std::uint32_t>(restarts, 1, 1000))};
      return answer(call, sim_.wedgeDiscovery(a1, w));
    }
    case kWedgeConnects:
      args.s(a1);
      return answer(call, sim_.wedgeConnects(a1));
    case kSetPowered: {
      bool on = false;
      args.s(a1);
      args.b(on);
      return answer(call, sim_.setPowered(a1, on));
    }
    case kRestartBluetoothd: {
      std::uint32_t pause = 0;
      args.u(pause);
      call.reply();
      sim_.restartBluetoothd(absl::Milliseconds(pause));
      return;
    }
    case kSetOrdering: {
      args.s(a1);
      if (a1 != "tidy" && a1 != "real") return call.error(kErrInvalidArgs, "ordering: tidy or real");
      sim_.setOrdering(a1 == "real" ? Ordering::kReal : Ordering::kTidy);
      call.reply();
      return changed(kOrdering);
    }
    case kSetRates: {
      std::uint64_t adv = 0, notify = 0;
      sd_bus_message_read(call.message(), "tt", &adv, &notify);
      sim_.setAdvertisingInterval(adv == 0 ? std::nullopt : std::optional(absl::Microseconds(adv)));
      sim_.setNotificationInterval(notify == 0 ? std::nullopt : std::optional(absl::Microseconds(notify)));
      call.reply();
      changed(kAdvertisingInterval);
      return changed(kNotificationInterval);
    }
    case kCentralConnect: {
      args.s(a1);
      args.s(a2);
      auto a = addressArg(call, a2, false);
      if (!a) return;
      auto id = sim_.connectCentral(a1, *a);
      if (!id.ok()) return answer(call, id.status());
      return call.reply([&](dbus::Writer& w) { w.s(*id); });
    }
    case kCentralDisconnect:
      args.s(a1);
      return answer(call, sim_.disconnectCentral(a1));
    default:
      break;
  }
  // The central methods that take (id, attribute, ...).
  args.s(a1);
  args.s(a2);
  RemoteCentral* c = sim_.central(a1);
  const bool needsCentral = method >= kCentralRead && method <= kCentralReceived;
  if (needsCentral && c == nullptr) return call.error(kErrNotFound, absl::StrCat("no central ", a1));
  switch (method) {
    case kCentralRead: {
      std::uint16_t offset = 0;
      args.q(offset);
      auto shared = std::make_shared<dbus::Call>(std::move(call));
      c->read(a2, offset, [shared](std::uint8_t att, Bytes value) {
        if (att != 0) return attError(*shared, att);
        shared->reply([&](dbus::Writer& w) { w.bytes(value); });
      });
      return;
    }
    case kCentralWrite: {
      Bytes value;
      bool withResponse = true;
      args.bytes(value);
      args.b(withResponse);
      auto shared = std::make_shared<dbus::Call>(std::move(call));
      c->write(a2, std::move(value), withResponse, [shared](std::uint8_t att) {
        if (att != 0) return attError(*shared, att);
        shared->reply();
      });
      return;
    }
    case kCentralSubscribe: {
      bool indicate = false;
      args.b(indicate);
      const std::uint8_t att = c->subscribe(a2, indicate);
      if (att != 0) return attError(call, att);
      return call.reply();
    }
    case kCentralUnsubscribe: {
      const std::uint8_t att = c->unsubscribe(a2);
      if (att != 0) return attError(call, att);
      return call.reply();
    }
    case kCentralReceived: {
      const RemoteCentral::Received r = c->received(a2);
      return call.reply([&](dbus::Writer& w) { w.t(r.count).bytes(r.last); });
    }
    case kHostedAttributes: {
      Adapter* a = sim_.adapter(a1);
      if (a == nullptr) return call.error(kErrNotFound, absl::StrCat("no adapter ", a1));
      return call.reply([&](dbus::Writer& w) {
        w.open('a', "(qqsas)");
        for (const HostedService* s : a->gattManager().services()) {
          for (const auto& ch : s->characteristics) {
            w.open('r', "qqsas").q(ch->declHandle).q(ch->valueHandle).s(ch->uuid.toLongString());
            w.strings(ch->flags).close();
          }
        }
        w.close();
      });
    }
    case kDevices:
      return call.reply([&](dbus::Writer& w) {
        w.open('a', "(sssn)");
        for (Peripheral* p : sim_.air().all()) {
          w.open('r', "sssn").s(p->address().toString()).s(p->spec().name).s(p->connectedTo());
          w.n(static_cast<std::int16_t>(p->rssiMean())).close();
        }
        w.close();
      });
    case kGetStats: {
      const SimStats& st = sim_.stats();
      const std::uint64_t signals = sim_.signalsSent();
      const std::uint64_t devices = sim_.air().size();
      return call.reply([&](dbus::Writer& w) {
        w.open('a', "{sv}");
        auto t = [&](const char* k, std::uint64_t v) { w.entry(k, "t", [&](dbus::Writer& x) { x.t(v); }); };
        t("AdvertisingReports", st.advertisingReports);
        t("ReportsShed", st.reportsShed);
        t("Notifications", st.notifications);
        t("NotificationsShed", st.notificationsShed);
        t("Connects", st.connects);
        t("ConnectFailures", st.connectFailures);
        t("LinkDrops", st.linkDrops);
        t("GattOperations", st.gattOperations);
        t("Signals", signals);
        t("Devices", devices);
        t("AdvertisingEvents", sim_.air().advertisingEvents());
        w.close();
      });
    }
    default:
      return call.error(kErrFailed, "unhandled method");
  }
}

}  // namespace gattway::sim
