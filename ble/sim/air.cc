#include "ble/sim/air.h"

#include <algorithm>
#include <random>

namespace gattway::sim {

Air::~Air() {
  for (auto& [address, e] : peripherals_) stop(e);
}

Peripheral* Air::add(std::unique_ptr<Peripheral> peripheral) {
  const Address a = peripheral->address();
  remove(a);
  Entry& e = peripherals_[a];
  e.peripheral = std::move(peripheral);
  if (!scanning_.empty()) start(e, true);
  return e.peripheral.get();
}

bool Air::remove(const Address& address) {
  auto it = peripherals_.find(address);
  if (it == peripherals_.end()) return false;
  stop(it->second);
  const std::vector<AirListener*> listeners = listeners_;
  for (AirListener* l : listeners) l->onPeripheralRemoved(*it->second.peripheral);
  peripherals_.erase(it);
  return true;
}

Peripheral* Air::find(const Address& address) const {
  auto it = peripherals_.find(address);
  return it == peripherals_.end() ? nullptr : it->second.peripheral.get();
}

std::vector<Peripheral*> Air::all() const {
  std::vector<Peripheral*> out;
  out.reserve(peripherals_.size());
  for (const auto& [a, e] : peripherals_) out.push_back(e.peripheral.get());
  return out;
}

void Air::addListener(AirListener* listener) { listeners_.push_back(listener); }

void Air::removeListener(AirListener* listener) {
  setScanning(listener, false);
  std::erase(listeners_, listener);
}

void Air::setScanning(AirListener* listener, bool scanning) {
  const bool was = !scanning_.empty();
  if (scanning) {
    if (std::find(scanning_.begin(), scanning_.end(), listener) == scanning_.end()) {
      scanning_.push_back(listener);
    }
  } else {
    std::erase(scanning_, listener);
  }
  const bool is = !scanning_.empty();
  if (was == is) return;
  for (auto& [a, e] : peripherals_) {
    if (is) {
      start(e, true);
    } else {
      stop(e);
    }
  }
}

void Air::setIntervalOverride(std::optional<absl::Duration> interval) {
  intervalOverride_ = interval;
  restartAll();
}

void Air::restartAll() {
  for (auto& [a, e] : peripherals_) {
    stop(e);
    if (!scanning_.empty()) start(e, true);
  }
}

absl::Duration Air::interval(Peripheral& p) {
  return intervalOverride_ ? *intervalOverride_ : p.advertising().interval;
}

void Air::start(Entry& e, bool randomPhase) {
  if (e.job != 0) return;
  Peripheral* p = e.peripheral.get();
  absl::Duration first = absl::ZeroDuration();
  if (randomPhase) {
    // Devices are not in step: the first event lands anywhere in one interval.
    std::uniform_real_distribution<double> phase(0.0, 1.0);
    first = interval(*p) * phase(p->rng());
  }
  e.job = ticker_.add(first, [this, p] { return onEvent(*p); });
}

void Air::stop(Entry& e) {
  if (e.job != 0) ticker_.remove(e.job);
  e.job = 0;
}

std::optional<absl::Duration> Air::onEvent(Peripheral& p) {
  if (p.advertisingNow()) {
    ++events_;
    AdvertisingSpec& adv = p.advertising();
    if (adv.countInManufacturerData && !adv.manufacturerData.empty()) {
      Bytes& md = adv.manufacturerData.begin()->second;
      if (md.size() < 4) md.resize(4);
      const auto n = static_cast<std::uint32_t>(events_);
      for (int i = 0; i < 4; ++i) md[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
    }
    // By index: a listener never changes who scans from inside onAdvertisement, and copying the
    // list for every event of every device would cost an allocation each.
    for (std::size_t i = 0; i < scanning_.size(); ++i) scanning_[i]->onAdvertisement(p, p.sampleRssi());
  }
  // advDelay: 0 to 10 ms of pseudo-random delay after each event (legacy advertising).
  std::uniform_int_distribution<int> advDelayUs(0, 10000);
  const absl::Duration base = interval(p);
  const absl::Duration delay =
      base >= absl::Milliseconds(20) ? absl::Microseconds(advDelayUs(p.rng())) : absl::ZeroDuration();
  return base + delay;
}

}  // namespace gattway::sim
