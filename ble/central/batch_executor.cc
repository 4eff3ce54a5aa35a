#include "ble/central/batch_executor.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ble/error.h"

// GCC 12 reports moves of a std::variant holding vectors as "may be used uninitialized" under
// -O2 (GCC bug 80635, a known false positive); the variant here is always initialised.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace gattway {

// One running batch.
class BatchExecutor::Run final : public NotificationSink {
 public:
  Run(BatchExecutor& owner, std::uint64_t id, BatchOptions options, BatchSink* sink)
      : owner_(owner), id_(id), options_(std::move(options)), sink_(sink) {}

  void begin(const std::shared_ptr<Session>& session) {
    Executor& ex = owner_.executor_;
    started_ = ex.now();
    lease_ = owner_.sessions_.holdLease(session);
    session_ = session;
    linkWatch_ = owner_.sessions_.watchLink(session, [this](const absl::Status& status) {
      // The disconnect guard: the running step and the batch end with the link's status.
      abort(status);
    });
    if (options_.budget) {
      deadline_ = started_ + *options_.budget;
      budgetTimer_ = ex.runAfter(*options_.budget, [this] {
        budgetTimer_ = Timer();
        abort(budgetExhausted());
      });
    }
    scheduleNext();
  }

  // Stops without telling the sink (the caller went away).
  void cancelSilently() {
    finished_ = true;
    clearStep();
    budgetTimer_.cancel();
    linkWatch_.reset();
    lease_.reset();
    owner_.metrics_.batches[static_cast<std::size_t>(BatchOutcome::kFailed)].add();
  }

  void finishWith(const absl::Status& status) { abort(status); }

  // NotificationSink, for wait_notifications steps.
  void onSubscribed(const SubscriptionStarted&) override {}
  void onNotification(absl::Span<const std::uint8_t> value, absl::Time time) override {
    if (!stepRunning_) return;
    collected_.push_back(
        NotificationValue{std::vector<std::uint8_t>(value.begin(), value.end()), time,
                          collected_.size() + 1});
    const auto& step = std::get<WaitNotificationsStep>(options_.steps[index_]);
    if (collected_.size() >= step.count) {
      StepResult r;
      r.result = std::move(collected_);
      collected_.clear();
      stepDone(absl::OkStatus(), std::move(r));
    }
  }
  void onSubscriptionEnded(const absl::Status& status) override {
    if (stepRunning_) stepDone(status, StepResult());
  }

 private:
  void scheduleNext() {
    nextTurn_ = owner_.executor_.runAfter(absl::ZeroDuration(), [this] {
      nextTurn_ = Timer();
      runStep();
    });
  }

  absl::Duration opTimeout() const {
    if (!options_.budget) return kDefaultGattTimeout;
    return std::max(deadline_ - owner_.executor_.now(), absl::Milliseconds(1));
  }

  void runStep() {
    if (finished_) return;
    if (index_ >= options_.steps.size()) {
      finish(absl::OkStatus());
      return;
    }
    stepRunning_ = true;
    stepStart_ = owner_.executor_.now();
    const Address& address = options_.address;
    std::visit(
        [&](auto& step) {
          using T = std::decay_t<decltype(step)>;
          if constexpr (std::is_same_v<T, DiscoverStep>) {
            auto services = owner_.gatt_.discover(address, step.service, step.characteristic);
            StepResult r;
            if (services.ok()) r.result = std::move(*services);
            stepDone(services.status(), std::move(r));
          } else if constexpr (std::is_same_v<T, ReadStep>) {
            call_ = owner_.gatt_.read(address, step.attribute, step.offset, opTimeout(),
                                      [this](absl::StatusOr<ReadResult> result) {
                                        StepResult r;
                                        if (result.ok()) r.result = std::move(*result);
                                        stepDone(result.status(), std::move(r));
                                      });
          } else if constexpr (std::is_same_v<T, WriteStep>) {
            call_ = owner_.gatt_.write(address, step.attribute, step.value, step.mode, step.offset,
                                       opTimeout(), [this](absl::StatusOr<WriteResult> result) {
                                         StepResult r;
                                         if (result.ok()) r.result = *result;
                                         stepDone(result.status(), std::move(r));
                                       });
          } else if constexpr (std::is_same_v<T, WaitNotificationsStep>) {
            collected_.clear();
            SubscribeOptions o;
            o.address = address;
            o.characteristic = step.characteristic;
            o.mode = step.mode;
            o.timeout = opTimeout();
            auto sub = owner_.subscriptions_.subscribe(o, this);
            if (!sub.ok()) {
              stepDone(sub.status(), StepResult());
            } else {
              subscription_ = std::move(*sub);
            }
          } else {
            waitTimer_ = owner_.executor_.runAfter(step.duration, [this] {
              waitTimer_ = Timer();
              StepResult r;
              r.result = WaitDone{};
              stepDone(absl::OkStatus(), std::move(r));
            });
          }
        },
        options_.steps[index_]);
  }

  void clearStep() {
    stepRunning_ = false;
    call_.reset();
    subscription_.reset();
    waitTimer_.cancel();
    nextTurn_.cancel();
  }

  absl::Status budgetExhausted() const {
    return err::make(err::Reason::kBudgetExhausted,
                     absl::StrCat("the batch budget of ", absl::FormatDuration(*options_.budget),
                                  " ran out"));
  }

  void stepDone(absl::Status status, StepResult result) {
    if (!stepRunning_ || finished_) return;
    // A step's own timeout is the rest of the budget: when it fires on the same turn as the
    // budget timer (or just before it), the budget ran out, whichever timer the loop ran first.
    if (options_.budget && status.code() == absl::StatusCode::kDeadlineExceeded &&
        owner_.executor_.now() >= deadline_) {
      abort(budgetExhausted());
      return;
    }
    // A step that failed because the link dropped was cancelled by the disconnect, whichever
    // BlueZ said first (the call's error, or Connected=false): it does not count as completed,
    // and no later step runs.
    if (err::reasonOf(status) == err::Reason::kDisconnected) {
      abort(status);
      return;
    }
    clearStep();
    result.index = static_cast<std::uint32_t>(index_);
    result.elapsed = owner_.executor_.now() - stepStart_;
    result.status = status;
    if (!status.ok()) result.result = std::monostate();
    ++index_;
    ++completed_;
    sink_->onStepFinished(std::move(result));
    if (!status.ok() && options_.stopOnError) {
      absl::Status outcome = status;
      err::setMetadata(outcome, "steps_completed", absl::StrCat(completed_));
      finish(outcome);
      return;
    }
    scheduleNext();
  }

  // The budget ran out or the link dropped: the running step is cancelled and reported with
  // `status`, later steps do not run.
  void abort(const absl::Status& status) {
    if (finished_) return;
    if (stepRunning_) {
      clearStep();
      StepResult r;
      r.index = static_cast<std::uint32_t>(index_);
      r.elapsed = owner_.executor_.now() - stepStart_;
      r.status = status;
      sink_->onStepFinished(std::move(r));
    }
    absl::Status outcome = status;
    err::setMetadata(outcome, "steps_completed", absl::StrCat(completed_));
    finish(outcome);
  }

  void finish(const absl::Status& outcome) {
    if (finished_) return;
    finished_ = true;
    clearStep();
    budgetTimer_.cancel();
    linkWatch_.reset();
    if (auto s = session_.lock()) owner_.sessions_.touch(*s);
    lease_.reset();
    BatchOutcome o = BatchOutcome::kFailed;
    if (outcome.ok()) {
      o = BatchOutcome::kOk;
    } else if (outcome.code() == absl::StatusCode::kDeadlineExceeded) {
      o = BatchOutcome::kDeadlineExceeded;
    } else if (outcome.code() == absl::StatusCode::kUnavailable) {
      o = BatchOutcome::kDisconnected;
    }
    owner_.metrics_.batches[static_cast<std::size_t>(o)].add();
    BatchSink* sink = sink_;
    owner_.retire(id_);  // destroyed on a later turn
    sink->onBatchFinished(outcome);
  }

  BatchExecutor& owner_;
  const std::uint64_t id_;
  BatchOptions options_;
  BatchSink* sink_;
  std::weak_ptr<Session> session_;
  SessionManager::LeaseHold lease_;
  SessionManager::LinkWatch linkWatch_;
  absl::Time started_;
  absl::Time deadline_;
  Timer budgetTimer_;
  std::size_t index_ = 0;
  std::size_t completed_ = 0;
  bool stepRunning_ = false;
  bool finished_ = false;
  absl::Time stepStart_;
  GattCall call_;
  Subscription subscription_;
  std::vector<NotificationValue> collected_;
  Timer waitTimer_;
  Timer nextTurn_;
};

BatchExecutor::BatchExecutor(Executor& executor, SessionManager& sessions, GattClient& gatt,
                             SubscriptionHub& subscriptions, Metrics& metrics)
    : executor_(executor),
      sessions_(sessions),
      gatt_(gatt),
      subscriptions_(subscriptions),
      metrics_(metrics) {}

BatchExecutor::~BatchExecutor() {
  batches_.clear();
  retired_.clear();
}

absl::StatusOr<BatchExecutor::Handle> BatchExecutor::start(BatchOptions options, BatchSink* sink) {
  if (options.steps.empty()) {
    return err::invalidField("operations", "an empty batch; give 1 to 64 operations");
  }
  if (options.steps.size() > kMaxSteps) {
    return err::invalidField("operations", absl::StrCat(options.steps.size(),
                                                        " operations; at most 64"));
  }
  auto session = sessions_.use(options.address);
  if (!session.ok()) return session.status();
  const std::uint64_t id = nextId_++;
  auto run = std::make_unique<Run>(*this, id, std::move(options), sink);
  Run& r = *run;
  batches_.emplace(id, std::move(run));
  r.begin(*session);
  return Handle(this, id);
}

void BatchExecutor::cancel(const std::uint64_t& id) {
  auto it = batches_.find(id);
  if (it == batches_.end()) return;
  it->second->cancelSilently();
  retire(id);
}

void BatchExecutor::retire(std::uint64_t id) {
  auto it = batches_.find(id);
  if (it == batches_.end()) return;
  retired_.push_back(std::move(it->second));
  batches_.erase(it);
  if (!reaper_.held()) {
    reaper_ = executor_.runAfter(absl::ZeroDuration(), [this] {
      reaper_ = Timer();
      retired_.clear();
    });
  }
}

void BatchExecutor::shutdown(const absl::Status& status) {
  std::vector<Run*> runs;
  for (auto& [id, r] : batches_) runs.push_back(r.get());
  for (Run* r : runs) r->finishWith(status);
}

}  // namespace gattway
