// BatchExecutor: a list of GATT steps run in order under one time budget (gatt.proto, Execute;
// aioble's `with connection.timeout(ms)`). One timer bounds the whole batch; when it fires the
// running step's operation is cancelled and reported as DEADLINE_EXCEEDED, and the batch ends with
// the results so far. A dropped link ends it with UNAVAILABLE; without a budget that is its only
// guard. With stop_on_error the first failing step ends it.
//
// Loop thread only. Each step starts on its own loop turn, so a step that finishes from inside
// a notification never starts the next one inside that dispatch.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ble/central/attribute_resolver.h"
#include "ble/central/gatt_client.h"
#include "ble/central/handle.h"
#include "ble/central/session_manager.h"
#include "ble/central/subscription_hub.h"
#include "ble/executor.h"
#include "ble/metrics.h"

namespace gattway {

struct DiscoverStep {
  std::optional<Uuid> service;
  std::optional<Uuid> characteristic;
};
struct ReadStep {
  AttributeQuery attribute;
  std::uint16_t offset = 0;
};
struct WriteStep {
  AttributeQuery attribute;
  std::vector<std::uint8_t> value;
  WriteMode mode = WriteMode::kAuto;
  std::uint16_t offset = 0;
};
struct WaitNotificationsStep {
  AttributeQuery characteristic;
  SubscribeMode mode = SubscribeMode::kAuto;
  std::uint32_t count = 1;
};
struct WaitStep {
  absl::Duration duration;
};
using BatchStep =
    std::variant<DiscoverStep, ReadStep, WriteStep, WaitNotificationsStep, WaitStep>;

struct NotificationValue {
  std::vector<std::uint8_t> value;
  absl::Time time;
  std::uint64_t sequence = 0;  // from 1
};
struct WaitDone {};

struct StepResult {
  std::uint32_t index = 0;
  absl::Status status;
  absl::Duration elapsed;
  // Set when the step succeeded.
  std::variant<std::monostate, std::vector<GattServiceInfo>, ReadResult, WriteResult,
               std::vector<NotificationValue>, WaitDone>
      result;
};

// Receives one batch's progress. Loop thread.
class BatchSink {
 public:
  virtual ~BatchSink() = default;
  virtual void onStepFinished(StepResult result) = 0;
  // The outcome; metadata "steps_completed" on errors. No call follows.
  virtual void onBatchFinished(const absl::Status& outcome) = 0;
};

struct BatchOptions {
  Address address;
  std::vector<BatchStep> steps;
  std::optional<absl::Duration> budget;  // unset: disconnect guard only
  bool stopOnError = false;
};

class BatchExecutor {
  void cancel(const std::uint64_t& id);

 public:
  // A running batch; destroying it cancels the batch silently.
  using Handle = OwnedHandle<BatchExecutor, std::uint64_t, &BatchExecutor::cancel>;

  static constexpr std::size_t kMaxSteps = 64;

  BatchExecutor(Executor& executor, SessionManager& sessions, GattClient& gatt,
                SubscriptionHub& subscriptions, Metrics& metrics);
  ~BatchExecutor();
  BatchExecutor(const BatchExecutor&) = delete;
  BatchExecutor& operator=(const BatchExecutor&) = delete;

  // Starts a batch on a connected session. Errors before any step runs: NOT_FOUND (no session),
  // FAILED_PRECONDITION (not connected), INVALID_ARGUMENT (no steps, too many). `sink` must
  // outlive the handle.
  absl::StatusOr<Handle> start(BatchOptions options, BatchSink* sink);

  // Ends every running batch with `status` (gateway shutdown).
  void shutdown(const absl::Status& status);
  std::size_t running() const { return batches_.size(); }

 private:
  class Run;

  void retire(std::uint64_t id);

  Executor& executor_;
  SessionManager& sessions_;
  GattClient& gatt_;
  SubscriptionHub& subscriptions_;
  Metrics& metrics_;
  std::map<std::uint64_t, std::unique_ptr<Run>> batches_;
  // Finished runs are destroyed on a later turn: they finish from inside their own callbacks.
  std::vector<std::unique_ptr<Run>> retired_;
  Timer reaper_;
  std::uint64_t nextId_ = 1;
};

using BatchHandle = BatchExecutor::Handle;

}  // namespace gattway
