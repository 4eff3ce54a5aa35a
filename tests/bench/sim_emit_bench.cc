// The simulator's own ceiling: advertisement and notification signals per second it puts on a
// private bus, as received by a bare listener (sd-bus, value bytes read in bulk), at 20- and
// 244-byte payloads. The offered load is set well above what the bus carries, so the figure is the
// ceiling; what the simulator shed (a backed-up bus) is printed too. Prints figures, asserts nothing.
//
//   gattway_sim_emit_bench [--devices=1000] [--links=50] [--seconds=3] [--offered=400000]
#include <sys/resource.h>

#include <cstdio>
#include <future>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "ble/event_loop.h"
#include "ble/log.h"
#include "ble/sim/simulator.h"
#include "tests/bench/bench_support.h"
#include "tests/support/bus_client.h"
#include "tests/support/private_bus.h"

ABSL_FLAG(int, devices, 1000, "Advertising devices in the advertisement run.");
ABSL_FLAG(int, links, 50, "Connected devices notifying in the notification run.");
ABSL_FLAG(double, seconds, 3, "Measured seconds per run (after a warm-up).");
ABSL_FLAG(double, offered, 400000, "Offered events per second (above the ceiling).");

namespace gattway {
namespace {

struct Counter {
  std::uint64_t signals = 0;
  std::uint64_t bytes = 0;
};

// Counts PropertiesChanged signals whose changed properties carry a byte array under `key`.
int onSignal(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* c = static_cast<Counter*>(userdata);
  ++c->signals;
  const char* iface = nullptr;
  if (sd_bus_message_read(m, "s", &iface) < 0) return 0;
  if (sd_bus_message_enter_container(m, 'a', "{sv}") <= 0) return 0;
  while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
    const char* key = nullptr;
    sd_bus_message_read(m, "s", &key);
    char type = 0;
    const char* contents = nullptr;
    sd_bus_message_peek_type(m, &type, &contents);
    if (std::string(contents) == "ay") {
      sd_bus_message_enter_container(m, 'v', "ay");
      const void* p = nullptr;
      std::size_t n = 0;
      sd_bus_message_read_array(m, 'y', &p, &n);
      c->bytes += n;
      sd_bus_message_exit_container(m);
    } else {
      sd_bus_message_skip(m, "v");
    }
    sd_bus_message_exit_container(m);
  }
  return 0;
}

// Counts every PropertiesChanged under /org/bluez on `listener` into `counter`; returns the slot.
sd_bus_slot* countSignals(testing::BusClient& listener, Counter& counter) {
  sd_bus_slot* slot = nullptr;
  sd_bus_add_match(listener.raw(), &slot,
                   "type='signal',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
                   "path_namespace='/org/bluez'",
                   onSignal, &counter);
  return slot;
}

double threadCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Result {
  double receivedPerSecond = 0;
  double sentPerSecond = 0;
  double shedPerSecond = 0;
  double eventsPerSecond = 0;  // reports or notifications the simulator handled
  double simCpuMicrosPerSignal = 0;
};

class Run {
 public:
  Run(const testing::PrivateBus& bus, sim::SimOptions o) : loop_("bench-sim") {
    o.busAddress = bus.address();
    std::promise<absl::Status> ready;
    loop_.runSync([&] {
      sim_ = std::make_unique<sim::Simulator>(loop_.loop(), std::move(o));
      absl::Status s = sim_->start([&](absl::Status st) { ready.set_value(st); }, /*control=*/false);
      if (!s.ok()) ready.set_value(s);
    });
    auto f = ready.get_future();
    const absl::Status s = f.get();
    if (!s.ok()) std::fprintf(stderr, "simulator did not start: %s\n", s.ToString().c_str());
  }
  ~Run() {
    loop_.runSync([&] { sim_.reset(); });
  }

  Result measure(testing::BusClient& listener, Counter& counter, double seconds, bool notifications) {
    // Warm-up, and drain what queued up for the listener while it was making blocking calls.
    for (int i = 0; i < 40; ++i) {
      listener.pump(absl::Milliseconds(50));
      std::uint64_t queued = 0;
      sd_bus_get_n_queued_read(listener.raw(), &queued);
      if (i >= 10 && queued == 0) break;
    }
    auto snapshot = [&] {
      std::tuple<std::uint64_t, std::uint64_t, double, std::uint64_t> out;
      loop_.runSync([&] {
        const auto& st = sim_->stats();
        out = {sim_->signalsSent(), notifications ? st.notificationsShed : st.reportsShed, threadCpuSeconds(),
               notifications ? st.notifications : st.advertisingReports};
      });
      return out;
    };
    const auto [sent0, shed0, cpu0, ev0] = snapshot();
    const std::uint64_t got0 = counter.signals;
    const absl::Time t0 = absl::Now();
    listener.pump(absl::Seconds(seconds));
    const double dt = absl::ToDoubleSeconds(absl::Now() - t0);
    const auto [sent1, shed1, cpu1, ev1] = snapshot();
    Result r;
    r.receivedPerSecond = static_cast<double>(counter.signals - got0) / dt;
    r.sentPerSecond = static_cast<double>(sent1 - sent0) / dt;
    r.shedPerSecond = static_cast<double>(shed1 - shed0) / dt;
    r.eventsPerSecond = static_cast<double>(ev1 - ev0) / dt;
    r.simCpuMicrosPerSignal = sent1 > sent0 ? (cpu1 - cpu0) * 1e6 / static_cast<double>(sent1 - sent0) : 0;
    return r;
  }

  sim::Simulator& sim() { return *sim_; }
  LoopThread& loop() { return loop_; }

 private:
  LoopThread loop_;
  std::unique_ptr<sim::Simulator> sim_;
};

Result advertisements(const testing::PrivateBus& bus, int devices, int size, double seconds, double offered) {
  sim::SimOptions o;
  o.fleet.devices = sim::loadDevices(devices, size);
  o.advertisingInterval = absl::Seconds(devices / offered);
  o.scanLatency = absl::Milliseconds(1);
  Run run(bus, std::move(o));
  testing::BusClient listener(bus.address());
  Counter counter;
  sd_bus_slot* slot = countSignals(listener, counter);
  bench::startDiscovery(listener);
  Result r = run.measure(listener, counter, seconds, false);
  sd_bus_slot_unref(slot);
  return r;
}

Result notifications(const testing::PrivateBus& bus, int links, int size, double seconds, double offered) {
  sim::SimOptions o;
  o.fleet.devices = sim::loadDevices(links, size);
  o.connectionSlots = links;
  o.advertisingInterval = absl::Milliseconds(20);
  o.attLatency = absl::Microseconds(100);
  o.scanLatency = absl::Milliseconds(1);
  Run run(bus, std::move(o));
  testing::BusClient listener(bus.address());
  bench::startDiscovery(listener);
  std::vector<std::string> paths;
  for (int i = 1; i <= links; ++i) {
    paths.push_back(absl::StrFormat("/org/bluez/hci0/dev_F0_00_00_00_%02X_%02X", (i >> 8) & 0xFF, i & 0xFF));
  }
  if (!listener.waitFor([&] { return listener.managedObjects().size() >= static_cast<std::size_t>(links) + 2; },
                        absl::Seconds(30))) {
    std::fprintf(stderr, "not every load device was found (%zu objects)\n", listener.managedObjects().size());
    run.loop().runSync([&] {
      std::fprintf(stderr, "sim: ready=%d reports=%llu events=%llu\n", run.sim().ready(),
                   static_cast<unsigned long long>(run.sim().stats().advertisingReports),
                   static_cast<unsigned long long>(run.sim().air().advertisingEvents()));
    });
  }
  listener.call("org.bluez", "/org/bluez/hci0", "org.bluez.Adapter1", "StopDiscovery");
  for (const auto& p : paths) {
    testing::Reply r = listener.call("org.bluez", p, "org.bluez.Device1", "Connect", nullptr, absl::Seconds(30));
    if (!r.ok()) std::fprintf(stderr, "connect %s: %s %s\n", p.c_str(), r.errorName.c_str(), r.errorMessage.c_str());
  }
  for (const auto& p : paths) {
    listener.waitFor([&] { return listener.getBool(p, "org.bluez.Device1", "ServicesResolved") == true; },
                     absl::Seconds(10));
  }
  Counter counter;
  sd_bus_slot* slot = countSignals(listener, counter);
  // Subscribe at the devices' own gentle rate, then turn every stream up at once.
  for (const auto& p : paths) {
    testing::Reply r = listener.call("org.bluez", p + "/service000a/char000b", "org.bluez.GattCharacteristic1",
                                     "StartNotify");
    if (!r.ok()) std::fprintf(stderr, "StartNotify %s: %s\n", p.c_str(), r.errorName.c_str());
  }
  listener.pump(absl::Milliseconds(300));
  run.loop().runSync([&] { run.sim().setNotificationInterval(absl::Seconds(links / offered)); });
  Result r = run.measure(listener, counter, seconds, true);
  sd_bus_slot_unref(slot);
  return r;
}

void print(const char* what, int size, const Result& r) {
  std::printf("%-14s %4d B  received %9.0f /s  sent %9.0f /s  events %9.0f /s  shed %9.0f /s  sim CPU %5.2f us/signal\n",
              what, size, r.receivedPerSecond, r.sentPerSecond, r.eventsPerSecond, r.shedPerSecond,
              r.simCpuMicrosPerSignal);
  std::fflush(stdout);
}

}  // namespace
}  // namespace gattway

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  gattway::log::configure(gattway::log::Format::kText, gattway::log::Level::kWarn);
  const int devices = absl::GetFlag(FLAGS_devices);
  const int links = absl::GetFlag(FLAGS_links);
  const double seconds = absl::GetFlag(FLAGS_seconds);
  const double offered = absl::GetFlag(FLAGS_offered);
  std::printf("simulator emit ceiling: %d advertising devices, %d notifying links, offered %.0f/s\n",
              devices, links, offered);
  gattway::testing::PrivateBus bus;
  for (int size : {20, 244}) {
    print("advertisements", size, gattway::advertisements(bus, devices, size, seconds, offered));
  }
  for (int size : {20, 244}) {
    print("notifications", size, gattway::notifications(bus, links, size, seconds, offered));
  }
  return 0;
}
