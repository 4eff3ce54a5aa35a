// How fast the BlueZ backend takes in the two signal streams that carry load: notifications
// (PropertiesChanged of GattCharacteristic1.Value) and advertisement reports (PropertiesChanged of
// Device1 RSSI + ManufacturerData). A scripted org.bluez emits them on a private bus; the backend
// parses them on its loop thread and hands them to a listener that only counts.
//
// Prints, per case: signals delivered, wall-clock rate, and the backend loop thread's CPU time per
// signal (which is what the gateway spends; the rate is bounded by dbus-daemon, DBUS-PERF.md).
// Usage: build/tests/gattway_bluez_signals_bench [signals per case, default 100000]
#include <time.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <optional>
#include <thread>

#include "ble/bluez/bluez_central_backend.h"
#include "ble/bluez/paths.h"
#include "ble/dbus/connection.h"
#include "ble/event_loop.h"
#include "ble/log.h"
#include "ble/metrics.h"
#include "sdbus-c++/IConnection.h"
#include "tests/support/bluez_objects.h"
#include "tests/support/fake_bluez.h"
#include "tests/support/private_bus.h"

namespace gattway {
namespace {

using bluez::Bytes;

class CountingListener final : public CentralBackendListener {
 public:
  void onBackendUp() override { up.store(true); }
  void onBackendDown() override {}
  void onAdapterChanged(const AdapterInfo&) override {}
  void onAdapterRemoved(const std::string&) override {}
  void onDeviceChanged(const DeviceInfo&, std::uint32_t changes) override {
    if ((changes & device_change::kRssi) != 0) reports.fetch_add(1, std::memory_order_relaxed);
  }
  void onDeviceRemoved(const std::string&, const Address&) override {}
  void onNotification(const std::string&, const Address&, std::uint16_t,
                      absl::Span<const std::uint8_t> value) override {
    bytes.fetch_add(value.size(), std::memory_order_relaxed);
    notifications.fetch_add(1, std::memory_order_relaxed);
  }
  std::atomic<bool> up{false};
  std::atomic<std::uint64_t> notifications{0}, reports{0}, bytes{0};
};

double threadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Result {
  std::uint64_t delivered = 0;
  double seconds = 0;
  double cpuSeconds = 0;
};

// Runs `emit` on the fake's thread and waits until `counter` reaches `expected` (or stalls).
Result measure(LoopThread& loop, testing::FakeBluez& fake, std::atomic<std::uint64_t>& counter,
               std::uint64_t expected, const std::function<void()>& emit) {
  const std::uint64_t base = counter.load();
  double cpu0 = 0, cpu1 = 0;
  loop.runSync([&] { cpu0 = threadCpuSeconds(); });
  const absl::Time t0 = absl::Now();
  std::thread emitter([&] { fake.run(emit); });
  std::uint64_t last = base;
  absl::Time lastChange = absl::Now();
  while (counter.load() - base < expected) {
    absl::SleepFor(absl::Milliseconds(1));
    const std::uint64_t now = counter.load();
    if (now != last) {
      last = now;
      lastChange = absl::Now();
    } else if (absl::Now() - lastChange > absl::Seconds(2)) {
      break;  // stalled: report what arrived
    }
  }
  const absl::Time t1 = absl::Now();
  emitter.join();
  loop.runSync([&] { cpu1 = threadCpuSeconds(); });
  return {counter.load() - base, absl::ToDoubleSeconds(t1 - t0), cpu1 - cpu0};
}

void print(const char* what, std::uint64_t sent, const Result& r) {
  std::printf("%-44s %8llu/%-8llu %9.0f signals/s  %6.2f us CPU/signal on the loop thread\n",
              what, static_cast<unsigned long long>(r.delivered),
              static_cast<unsigned long long>(sent),
              static_cast<double>(r.delivered) / r.seconds,
              r.delivered == 0 ? 0.0 : r.cpuSeconds * 1e6 / static_cast<double>(r.delivered));
}

int run(int count) {
  log::configure(log::Format::kText, log::Level::kWarn);
  testing::PrivateBus bus;
  testing::FakeBluez fake(bus.address());
  const std::string adapter = "hci0";
  const Address sensor = *Address::parse("C0:FF:EE:00:00:01");
  fake.addObject(testing::adapterObject(adapter, "00:AA:01:00:00:00"), false);
  fake.addObject(testing::deviceObject(adapter, sensor, {{"Connected", true}}), false);
  for (const auto& o : testing::heartRateDatabase(adapter, sensor)) fake.addObject(o, false);
  constexpr int kDevices = 1000;
  std::vector<std::string> devicePaths;
  for (int i = 0; i < kDevices; ++i) {
    std::array<std::uint8_t, 6> b = {0xD0, 0, 0, 0, static_cast<std::uint8_t>(i >> 8),
                                     static_cast<std::uint8_t>(i)};
    const Address a(b);
    fake.addObject(testing::deviceObject(adapter, a, {{"RSSI", std::int16_t{-60}}}), false);
    devicePaths.push_back(bluez::devicePath(adapter, a));
  }
  fake.start();

  const std::string hrm = bluez::characteristicPath(adapter, sensor, 0x000a, 0x000b);
  const auto n = static_cast<std::uint64_t>(count);

  // The floor: the same signals through the same loop-driven connection and match rule, to a
  // callback that only counts them.
  {
    LoopThread floorLoop("bench-floor");
    std::unique_ptr<dbus::LoopConnection> floorConnection;
    std::atomic<std::uint64_t> seen{0};
    std::optional<sdbus::Slot> match;
    floorLoop.runSync([&] {
      floorConnection =
          std::make_unique<dbus::LoopConnection>(floorLoop.loop(), *dbus::openBus(bus.address()));
      match = floorConnection->get().addMatch(
          "type='signal',sender='org.bluez',interface='org.freedesktop.DBus.Properties',"
          "member='PropertiesChanged',path_namespace='/org/bluez'",
          [&](sdbus::Message&) { seen.fetch_add(1, std::memory_order_relaxed); });
    });
    absl::SleepFor(absl::Milliseconds(500));
    const Bytes value(20, 0x5a);
    const Result r = measure(floorLoop, fake, seen, n, [&] { fake.notify(hrm, value, count); });
    print("floor: a match callback that only counts", n, r);
    floorLoop.runSync([&] {
      match.reset();
      floorConnection.reset();
    });
  }

  LoopThread loop("bench-backend");
  Metrics metrics;
  CountingListener listener;
  std::unique_ptr<dbus::LoopConnection> connection;
  std::unique_ptr<BluezCentralBackend> backend;
  loop.runSync([&] {
    connection = std::make_unique<dbus::LoopConnection>(loop.loop(), *dbus::openBus(bus.address()));
    backend = std::make_unique<BluezCentralBackend>(*connection, metrics);
    backend->start(&listener);
  });
  while (!listener.up.load()) absl::SleepFor(absl::Milliseconds(1));
  std::promise<absl::Status> subscribed;
  Operation op;
  loop.runSync([&] {
    op = backend->startNotify(adapter, sensor, 0x000b, NotifyMethod::kStartNotify,
                              absl::Seconds(5),
                              [&](absl::Status s) { subscribed.set_value(s); });
  });
  if (!subscribed.get_future().get().ok()) return 1;
  absl::SleepFor(absl::Seconds(1));  // a quiet second (DBUS-PERF.md)

  for (std::size_t size : {20u, 244u}) {
    const Bytes value(size, 0x5a);
    const Result r = measure(loop, fake, listener.notifications, n,
                             [&] { fake.notify(hrm, value, count); });
    const std::string what = "notifications, " + std::to_string(size) + "-byte values";
    print(what.c_str(), n, r);
  }

  const Result reports = measure(loop, fake, listener.reports, n, [&] {
    const bluez::PropertyMap change = {
        {"RSSI", std::int16_t{-61}},
        {"ManufacturerData", std::map<std::uint16_t, Bytes>{{0x0059, Bytes(24, 0x11)}}}};
    for (int i = 0; i < count; ++i) {
      fake.setProperties(devicePaths[static_cast<std::size_t>(i % kDevices)], "org.bluez.Device1",
                         change);
    }
  });
  print("advertisement reports (RSSI + 24-byte mfr data)", n, reports);
  std::printf("calls in flight limit: %zu; dbus signals counted: %llu\n",
              backend->callLimiter().limit(),
              static_cast<unsigned long long>(metrics.dbusSignalsReceived.value()));

  loop.runSync([&] {
    op.reset();
    backend.reset();
    connection.reset();
  });
  return 0;
}

}  // namespace
}  // namespace gattway

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 100000;
  return gattway::run(count > 0 ? count : 100000);
}
