// A Central over the fake backend and the fake clock, for unit tests of ble/central.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "ble/central/central.h"
#include "ble/metrics.h"
#include "gtest/gtest.h"
#include "tests/support/fake_central_backend.h"
#include "tests/support/fake_executor.h"

namespace gattway::testing {

inline Address addr(const char* text) { return *Address::parse(text); }
inline Uuid uuid(std::uint32_t v) { return Uuid::fromShort(v); }

inline AttributeQuery charRef(std::uint32_t characteristic,
                              std::optional<std::uint32_t> service = std::nullopt) {
  AttributeQuery q;
  q.characteristic = Uuid::fromShort(characteristic);
  if (service) q.service = Uuid::fromShort(*service);
  return q;
}

inline AttributeQuery handleRef(std::uint16_t handle) {
  AttributeQuery q;
  q.handle = handle;
  return q;
}

// Every session event, in order.
struct SessionEventLog : SessionWatcher {
  void onSessionEvent(const SessionEvent& e) override { events.push_back(e); }
  std::vector<SessionState> states() const {
    std::vector<SessionState> out;
    for (const auto& e : events) out.push_back(e.session.state);
    return out;
  }
  // The latest event into `state`, or null.
  const SessionEvent* last(SessionState state) const {
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      if (it->session.state == state) return &*it;
    }
    return nullptr;
  }
  std::vector<SessionEvent> events;
};

// Every scan result of one subscription, and how it ended.
struct RecordingSink : ScanSink {
  void onScanResult(const ScanRecord& r) override { results.push_back(r); }
  void onScanEnded(const absl::Status& s) override { ended = s; }
  std::vector<ScanRecord> results;
  std::optional<absl::Status> ended;
};

// A Subscribe stream's view of its subscription, as lines: "started", "value 7", "interrupted",
// "resumed", "ended UNAVAILABLE".
struct RecordingStream : NotificationSink {
  void onSubscribed(const SubscriptionStarted&) override { log.push_back("started"); }
  void onNotification(absl::Span<const std::uint8_t> value, absl::Time) override {
    log.push_back(absl::StrCat("value ", value.empty() ? 0 : value[0]));
  }
  void onSubscriptionEnded(const absl::Status& status) override {
    log.push_back(absl::StrCat("ended ", absl::StatusCodeToString(status.code())));
  }
  void onInterrupted(const absl::Status&) override { log.push_back("interrupted"); }
  void onResumed(const SubscriptionStarted&, absl::Duration gap) override {
    log.push_back("resumed");
    interruption = gap;
  }
  std::vector<std::string> log;
  absl::Duration interruption;
};

class CentralTest : public ::testing::Test {
 protected:
  static constexpr const char* kDevice = "AA:BB:CC:DD:EE:01";

  CentralTest() : backend(clock) {
    backend.addAdapter("hci0");
    backend.addDevice(sampleDevice(kDevice));
    central = std::make_unique<Central>(clock, backend, metrics);
    central->start();
    clock.runUntilIdle();
  }
  ~CentralTest() override {
    central.reset();
    clock.runUntilIdle();
  }

  // Connects and runs the loop until the session answers.
  absl::StatusOr<SessionInfo> connect(ConnectOptions o) {
    std::optional<absl::StatusOr<SessionInfo>> out;
    central->sessions().connect(std::move(o), [&](absl::StatusOr<SessionInfo> r) { out = std::move(r); });
    for (int i = 0; i < 100 && !out; ++i) clock.advance(absl::Milliseconds(100));
    if (!out) return absl::InternalError("connect never answered");
    return *out;
  }
  absl::StatusOr<SessionInfo> connect(const char* address = kDevice) {
    ConnectOptions o;
    o.address = addr(address);
    return connect(std::move(o));
  }

  FakeExecutor clock;
  Metrics metrics;
  FakeCentralBackend backend;
  std::unique_ptr<Central> central;
};

}  // namespace gattway::testing
