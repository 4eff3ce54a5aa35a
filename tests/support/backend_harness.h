// The BlueZ backend on its own loop thread against a fake org.bluez on a private bus, with a
// listener that records what it hears: the fixture of the backend's integration tests. Header
// only: gattway_test_support is also linked into programs without GoogleTest.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ble/bluez/bluez_central_backend.h"
#include "ble/central_backend.h"
#include "ble/dbus/connection.h"
#include "ble/event_loop.h"
#include "ble/metrics.h"
#include "gtest/gtest.h"
#include "tests/support/bluez_objects.h"
#include "tests/support/fake_bluez.h"
#include "tests/support/private_bus.h"

namespace gattway::testing {

// Records the listener calls (made on the backend's loop thread); tests wait on them.
class RecordingListener final : public CentralBackendListener {
 public:
  struct Event {
    explicit Event(std::string k) : kind(std::move(k)) {}
    std::string kind;  // "up", "down", "adapter", "adapter-removed", "device", "device-removed",
                       // "notification"
    std::string adapter;
    Address address;
    std::uint32_t changes = 0;
    std::uint16_t handle = 0;
    std::vector<std::uint8_t> value;
    DeviceInfo device;
  };

  void onBackendUp() override { add(Event("up")); }
  void onBackendDown() override { add(Event("down")); }
  void onAdapterChanged(const AdapterInfo& adapter) override {
    Event e("adapter");
    e.adapter = adapter.name;
    add(std::move(e));
  }
  void onAdapterRemoved(const std::string& adapter) override {
    Event e("adapter-removed");
    e.adapter = adapter;
    add(std::move(e));
  }
  void onDeviceChanged(const DeviceInfo& device, std::uint32_t changes) override {
    Event e("device");
    e.adapter = device.adapter;
    e.address = device.address;
    e.changes = changes;
    e.device = device;
    add(std::move(e));
  }
  void onDeviceRemoved(const std::string& adapter, const Address& address) override {
    Event e("device-removed");
    e.adapter = adapter;
    e.address = address;
    add(std::move(e));
  }
  void onNotification(const std::string& adapter, const Address& address, std::uint16_t handle,
                      absl::Span<const std::uint8_t> value) override {
    Event e("notification");
    e.adapter = adapter;
    e.address = address;
    e.handle = handle;
    e.value.assign(value.begin(), value.end());
    add(std::move(e));
  }

  // Waits until `pred` holds for the events so far.
  bool waitFor(const std::function<bool(const std::vector<Event>&)>& pred,
               absl::Duration timeout = absl::Seconds(5)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] { return pred(events_); });
  }
  bool waitForCount(const std::string& kind, std::size_t n,
                    absl::Duration timeout = absl::Seconds(5)) {
    return waitFor([&](const auto& events) { return count(events, kind) >= n; }, timeout);
  }
  std::size_t count(const std::string& kind) {
    std::lock_guard lock(mu_);
    return count(events_, kind);
  }
  std::vector<Event> events() {
    std::lock_guard lock(mu_);
    return events_;
  }
  void clear() {
    std::lock_guard lock(mu_);
    events_.clear();
  }
  static std::size_t count(const std::vector<Event>& events, const std::string& kind) {
    std::size_t n = 0;
    for (const auto& e : events) n += e.kind == kind ? 1 : 0;
    return n;
  }

 private:
  void add(Event e) {
    {
      std::lock_guard lock(mu_);
      events_.push_back(std::move(e));
    }
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
};

class BackendHarness : public ::testing::Test {
 protected:
  static constexpr const char* kAdapter = "hci0";
  static constexpr const char* kAdapterPath = "/org/bluez/hci0";

  BackendHarness() : fake(bus.address()), client("backend-loop") {}

  void TearDown() override {
    client.runSync([this] {
      held.clear();
      if (backend) backend->stop();
      backend.reset();
      connection.reset();
    });
  }

  // An adapter (powered) in the fake's tree; then fake.start().
  void startBluez(bool powered = true) {
    fake.addObject(adapterObject(kAdapter, "00:AA:01:00:00:00", powered), /*announce=*/false);
    fake.start();
  }
  // Opens the backend's connection, starts it, and (when `waitUp`) waits for onBackendUp.
  void startBackend(bool waitUp = true, std::size_t maxCallsInFlight = 64) {
    client.runSync([&] {
      auto opened = dbus::openBus(bus.address());
      ASSERT_TRUE(opened.ok()) << opened.status();
      connection = std::make_unique<dbus::LoopConnection>(client.loop(), std::move(*opened));
      backend = std::make_unique<BluezCentralBackend>(*connection, metrics, maxCallsInFlight);
      backend->start(&listener);
    });
    if (waitUp) {
      ASSERT_TRUE(listener.waitForCount("up", 1)) << "the backend never came up";
    }
  }

  // Runs `start` on the loop thread with a callback; waits for the result.
  template <typename R>
  R await(const std::function<Operation(Callback<R>)>& start,
          absl::Duration timeout = absl::Seconds(5)) {
    auto promise = std::make_shared<std::promise<R>>();
    auto future = promise->get_future();
    client.runSync([&] {
      held.push_back(start([promise](R r) { promise->set_value(std::move(r)); }));
    });
    if (future.wait_for(absl::ToChronoNanoseconds(timeout)) != std::future_status::ready) {
      ADD_FAILURE() << "no callback within " << timeout;
      return R(absl::DeadlineExceededError("test: no callback"));
    }
    return future.get();
  }
  absl::Status awaitStatus(const std::function<Operation(StatusCallback)>& start,
                           absl::Duration timeout = absl::Seconds(5)) {
    return await<absl::Status>(start, timeout);
  }
  // Runs `fn` on the backend's loop thread.
  void onLoop(const std::function<void()>& fn) {
    client.runSync([&] { fn(); });
  }
  const DeviceInfo* device(const Address& address) { return backend->device(kAdapter, address); }
  bool deviceConnected(const Address& address) {
    bool connected = false;
    onLoop([&] {
      const DeviceInfo* d = device(address);
      connected = d != nullptr && d->connected;
    });
    return connected;
  }

  testing::PrivateBus bus;
  FakeBluez fake;
  LoopThread client;
  Metrics metrics;
  RecordingListener listener;
  std::unique_ptr<dbus::LoopConnection> connection;
  std::unique_ptr<BluezCentralBackend> backend;  // touch on the loop thread only
  std::vector<Operation> held;                    // loop thread only
};

// Polls `pred` (any thread) until it holds.
inline bool eventually(const std::function<bool()>& pred,
                       absl::Duration timeout = absl::Seconds(5)) {
  const absl::Time end = absl::Now() + timeout;
  while (absl::Now() < end) {
    if (pred()) return true;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return pred();
}

}  // namespace gattway::testing
