#include "ble/sim/daemon.h"

#include "absl/strings/str_cat.h"
#include "ble/error.h"
#include "ble/log.h"
#include "ble/sim/hosted_air.h"
#include "ble/sim/hosted_app.h"

namespace gattway::sim {

Daemon::Daemon(Environment env, std::unique_ptr<dbus::Bus> bus)
    : bus_(std::move(bus)), tree_(*bus_), ctx_{env, *bus_, tree_}, hostedAir_(std::make_unique<HostedAir>(*this)) {
  tree_.setExperimental(env.options.experimental);
}

Daemon::~Daemon() {
  upTimer_.cancel();
  retryTimer_.cancel();
  for (auto& a : adapters_) a->setHostedListener(nullptr);
  hostedAir_.reset();  // hosted advertisements leave the air while their adapters still exist
  centrals_.clear();
  monitors_.clear();
  adapters_.clear();
  if (profiles_) tree_.removeObject("/org/bluez");
  profiles_.reset();
  agents_.reset();
  tree_.flush();
}

void Daemon::start(const std::vector<StoredDevice>& stored,
                   std::function<void(const std::string&)> ready) {
  requestName(stored, std::move(ready), 0);
}

void Daemon::requestName(const std::vector<StoredDevice>& stored,
                         std::function<void(const std::string&)> ready, int attempt) {
  name_ = bus_->requestName("org.bluez", [this, stored, ready, attempt](const std::string& error) {
    if (!error.empty()) {
      // A previous bluetoothd (a restart) may not be gone from the bus yet: try again for a while.
      if (attempt < 100) {
        retryTimer_ = ctx_.loop.runAfter(absl::Milliseconds(50),
                                         [this, stored, ready, attempt] { requestName(stored, ready, attempt + 1); });
        return;
      }
      log::error("sim.name_failed", {{"name", "org.bluez"}, {"error", error}});
      if (ready) ready(error);
      return;
    }
    // bluetoothd owns its name before the kernel has reported the controllers: clients can see
    // org.bluez with no adapter for a moment, then InterfacesAdded.
    upTimer_ = ctx_.loop.runAfter(ctx_.options.scanLatency, [this, stored, ready] {
      bringUp(stored);
      ready_ = true;
      if (ready) ready("");
    });
  });
}

void Daemon::bringUp(const std::vector<StoredDevice>& stored) {
  agents_ = std::make_unique<AgentManager>(*bus_);
  profiles_ = std::make_unique<ProfileManager>(*bus_);
  tree_.add("/org/bluez", agents_.get());
  tree_.add("/org/bluez", profiles_.get());
  for (int i = 0; i < ctx_.options.adapters; ++i) {
    adapters_.push_back(std::make_unique<Adapter>(ctx_, i));
    adapters_.back()->setHostedListener([this](Adapter& a) { hostedAir_->hostedChanged(a); });
    monitors_.push_back(std::make_unique<MonitorManager>(*bus_));
    tree_.add(adapters_.back()->path(), monitors_.back().get());
  }
  for (const auto& s : stored) {
    Adapter* a = adapter(s.adapter);
    if (a == nullptr) continue;
    Peripheral* p = ctx_.air.find(s.address);
    if (p == nullptr) continue;
    Device& d = a->deviceFor(*p);
    d.restore(s.paired, s.trusted);
  }
  log::info("sim.bluetoothd.up", {{"unique_name", bus_->uniqueName()}, {"adapters", adapters_.size()}});
}

Adapter* Daemon::adapter(const std::string& name) const {
  for (const auto& a : adapters_) {
    if (a->name() == name) return a.get();
  }
  return nullptr;
}

std::vector<Adapter*> Daemon::adapters() const {
  std::vector<Adapter*> out;
  for (const auto& a : adapters_) out.push_back(a.get());
  return out;
}

std::vector<StoredDevice> Daemon::stored() const {
  std::vector<StoredDevice> out;
  for (const auto& a : adapters_) {
    for (Device* d : a->devices()) {
      if (d->temporary() || d->peripheral() == nullptr) continue;
      out.push_back(StoredDevice{a->name(), d->address(), d->addressType(), d->paired(), d->trusted()});
    }
  }
  return out;
}

absl::StatusOr<RemoteCentral*> Daemon::connectCentral(const std::string& adapterName,
                                                      const Address& address) {
  Adapter* a = adapter(adapterName);
  if (a == nullptr) {
    return err::make(err::Reason::kAdapterNotFound, absl::StrCat("no adapter ", adapterName));
  }
  const std::string id = absl::StrCat("central-", nextCentral_);
  auto c = std::make_unique<RemoteCentral>(*a, id, address, 247);
  if (absl::Status s = c->connect(); !s.ok()) return s;
  ++nextCentral_;
  RemoteCentral* raw = c.get();
  centrals_[id] = std::move(c);
  // One listener per adapter hands notifications to the centrals connected there.
  a->gattManager().setNotifyListener([this, a](const HostedCharacteristic& ch, const Bytes& v) {
    for (auto& [cid, central] : centrals_) {
      if (&central->adapter() == a) central->onNotification(ch, v);
    }
  });
  return raw;
}

RemoteCentral* Daemon::central(const std::string& id) const {
  auto it = centrals_.find(id);
  return it == centrals_.end() ? nullptr : it->second.get();
}

void Daemon::removeCentral(const std::string& id) { centrals_.erase(id); }

}  // namespace gattway::sim
