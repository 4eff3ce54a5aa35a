#include "tests/support/sim_fixture.h"

#include "ble/sim/embedded.h"

namespace gattway::testing {

sim::SimOptions fastOptions() {
  sim::SimOptions o;
  auto fleet = sim::parseFleet(sim::embedded::kDemoFleet);
  if (fleet.ok()) o.fleet = std::move(*fleet);
  o.disconnectGrace = absl::Milliseconds(30);
  o.attLatency = absl::Milliseconds(1);
  o.scanLatency = absl::Milliseconds(2);
  o.leConnectTimeout = absl::Milliseconds(400);
  o.restartPause = absl::Milliseconds(100);
  return o;
}

SimFixture::~SimFixture() { stopSim(); }

void SimFixture::startSim(sim::SimOptions options) {
  options.busAddress = bus_.address();
  loop_ = std::make_unique<LoopThread>("sim-loop");
  std::promise<absl::Status> ready;
  auto future = ready.get_future();
  loop_->runSync([&] {
    sim_ = std::make_unique<sim::Simulator>(loop_->loop(), std::move(options));
    absl::Status s = sim_->start([&ready](absl::Status st) { ready.set_value(st); });
    if (!s.ok()) ready.set_value(s);
  });
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  ASSERT_TRUE(future.get().ok());
}

void SimFixture::stopSim() {
  if (loop_ == nullptr) return;
  loop_->runSync([&] { sim_.reset(); });
  loop_.reset();
}

std::unique_ptr<BusClient> SimFixture::client() {
  auto c = std::make_unique<BusClient>(bus_.address());
  c->watch();
  return c;
}

bool SimFixture::discover(BusClient& c, const std::string& path, const std::vector<std::string>& uuids) {
  Reply r = c.call("org.bluez", kAdapterPath, "org.bluez.Adapter1", "SetDiscoveryFilter",
                   [&](sd_bus_message* m) {
                     sd_bus_message_open_container(m, 'a', "{sv}");
                     sd_bus_message_append(m, "{sv}", "Transport", "s", "le");
                     if (!uuids.empty()) {
                       sd_bus_message_open_container(m, 'e', "sv");
                       sd_bus_message_append(m, "s", "UUIDs");
                       sd_bus_message_open_container(m, 'v', "as");
                       sd_bus_message_open_container(m, 'a', "s");
                       for (const auto& u : uuids) sd_bus_message_append(m, "s", u.c_str());
                       sd_bus_message_close_container(m);
                       sd_bus_message_close_container(m);
                       sd_bus_message_close_container(m);
                     }
                     sd_bus_message_close_container(m);
                   });
  if (!r.ok()) return false;
  if (!c.call("org.bluez", kAdapterPath, "org.bluez.Adapter1", "StartDiscovery").ok()) return false;
  return c.waitFor([&] { return c.managedObjects().contains(path); }, absl::Seconds(5));
}

bool SimFixture::connect(BusClient& c, const std::string& devicePath) {
  c.callAsync("org.bluez", devicePath, "org.bluez.Device1", "Connect");
  const std::size_t from = c.events().size();
  return c.waitFor([&] {
    return c.find([&](const BusEvent& e) {
             return e.path == devicePath && e.values.contains("ServicesResolved") &&
                    e.values.at("ServicesResolved") == "true";
           }, static_cast<int>(from)) >= 0;
  });
}

}  // namespace gattway::testing
