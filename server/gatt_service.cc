#include "server/gatt_service.h"

#include "server/convert.h"
#include "server/reactors.h"
#include "server/stream_reactor.h"
#include "server/validate.h"

namespace gattway::server {
namespace {

// Most values in one Subscribe message when the stream is behind.
constexpr std::size_t kNotificationsPerMessage = 256;

struct NotificationItem {
  std::string value;
  absl::Time time;
  std::uint64_t sequence = 0;
};

// One Subscribe stream: a subscriber of the shared notify session.
class SubscribeStream final : public QueuedWriteReactor<v1::SubscribeResponse, NotificationItem>,
                              public NotificationSink {
 public:
  SubscribeStream(ServiceContext& ctx, SubscribeStreamOptions options)
      : QueuedWriteReactor(ctx, Options{options.queueSize, kNotificationsPerMessage,
                                        options.batchInterval > absl::ZeroDuration(),
                                        &ctx.metrics.notificationsDelivered,
                                        &ctx.metrics.notificationsDropped,
                                        &ctx.metrics.subscribeStreams}),
        options_(std::move(options)) {}

  // Loop thread.
  void start() {
    if (!mayStart()) return;
    auto sub = ctx_.central.subscriptions().subscribe(options_.subscribe, this);
    if (!sub.ok()) {
      end(sub.status(), false);
      return;
    }
    subscription_ = std::move(*sub);
    startBatching(options_.batchInterval);
  }

  // NotificationSink, loop thread.
  void onSubscribed(const SubscriptionStarted& started) override {
    v1::SubscribeResponse r;
    auto* e = r.mutable_event();
    e->set_type(v1::SUBSCRIPTION_EVENT_TYPE_STARTED);
    setTimestamp(ctx_.loop.now(), e->mutable_time());
    e->set_method(started.method == NotifyMethod::kAcquireNotify ? "AcquireNotify"
                                                                 : "StartNotify");
    pushControl(std::move(r));
  }
  void onNotification(absl::Span<const std::uint8_t> value, absl::Time time) override {
    // Numbered as they arrive, so values dropped from the queue leave a hole in the sequence.
    push(NotificationItem{std::string(value.begin(), value.end()), time, ++sequence_});
  }
  void onSubscriptionEnded(const absl::Status& status) override { end(status, true); }
  // A persistent session's link dropped and came back (gatt.proto, Subscribe).
  void onInterrupted(const absl::Status& why) override {
    v1::SubscribeResponse r;
    auto* e = r.mutable_event();
    e->set_type(v1::SUBSCRIPTION_EVENT_TYPE_INTERRUPTED);
    setTimestamp(ctx_.loop.now(), e->mutable_time());
    e->set_reason(std::string(why.message()));
    pushControl(std::move(r));
  }
  void onResumed(const SubscriptionStarted& started, absl::Duration interruption) override {
    v1::SubscribeResponse r;
    auto* e = r.mutable_event();
    e->set_type(v1::SUBSCRIPTION_EVENT_TYPE_RESUMED);
    setTimestamp(ctx_.loop.now(), e->mutable_time());
    setDuration(interruption, e->mutable_interruption());
    e->set_method(started.method == NotifyMethod::kAcquireNotify ? "AcquireNotify"
                                                                 : "StartNotify");
    pushControl(std::move(r));
  }

 private:
  void fill(std::vector<NotificationItem>& items, std::uint64_t gap,
            v1::SubscribeResponse* out) override {
    out->mutable_notifications()->Reserve(static_cast<int>(items.size()));
    for (NotificationItem& item : items) {
      auto* n = out->add_notifications();
      n->set_value(std::move(item.value));
      setTimestamp(item.time, n->mutable_time());
      n->set_sequence(item.sequence);
    }
    if (gap > 0) out->mutable_gap()->set_dropped(gap);
  }
  void releaseOnLoop() override {
    stopBatching();
    subscription_.reset();
  }

  SubscribeStreamOptions options_;
  Subscription subscription_;  // loop thread
  std::uint64_t sequence_ = 0;  // loop thread
};

// One Execute call: a batch whose finished steps go out one message each.
class ExecuteStream final : public QueuedWriteReactor<v1::ExecuteResponse, v1::ExecuteResponse>,
                            public BatchSink {
 public:
  ExecuteStream(ServiceContext& ctx, BatchOptions options)
      // Room for every step: a batch's messages are never dropped.
      : QueuedWriteReactor(ctx, Options{options.steps.size() + 1, 1, false, nullptr, nullptr,
                                        nullptr}),
        options_(std::move(options)) {}

  // Loop thread.
  void start() {
    if (!mayStart()) return;
    auto batch = ctx_.central.batches().start(std::move(options_), this);
    if (!batch.ok()) {
      end(batch.status(), false);
      return;
    }
    batch_ = std::move(*batch);
  }

  // BatchSink, loop thread.
  void onStepFinished(StepResult result) override {
    v1::ExecuteResponse r;
    toProto(std::move(result), &r);
    push(std::move(r));
  }
  void onBatchFinished(const absl::Status& outcome) override { end(outcome, true); }

 private:
  void fill(std::vector<v1::ExecuteResponse>& items, std::uint64_t,
            v1::ExecuteResponse* out) override {
    *out = std::move(items.front());
  }
  void releaseOnLoop() override { batch_.reset(); }

  BatchOptions options_;
  BatchHandle batch_;  // loop thread
};

}  // namespace

grpc::ServerUnaryReactor* GattServiceImpl::Discover(grpc::CallbackServerContext* context,
                                                    const v1::DiscoverRequest* request,
                                                    v1::DiscoverResponse* response) {
  auto options = discoverRequest(*request);
  if (!options.ok()) return finishUnary(context, options.status());
  auto* reactor = context->DefaultReactor();
  onLoop(ctx_, reactor, [this, reactor, response, o = std::move(*options)] {
    auto services = ctx_.central.gatt().discover(o.address, o.service, o.characteristic);
    if (services.ok()) toProto(*services, response);
    reactor->Finish(toGrpcStatus(services.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* GattServiceImpl::Read(grpc::CallbackServerContext* context,
                                                const v1::ReadRequest* request,
                                                v1::ReadResponse* response) {
  auto options = readRequest(*request);
  if (!options.ok()) return finishUnary(context, options.status());
  auto* reactor = context->DefaultReactor();
  onLoop(ctx_, reactor, [this, reactor, response, o = std::move(*options)] {
    ctx_.central.gatt()
        .read(o.address, o.attribute, o.offset, o.timeout,
              [reactor, response](absl::StatusOr<ReadResult> result) {
                if (result.ok()) {
                  response->set_value(result->value.data(), result->value.size());
                  response->set_handle(result->handle);
                }
                reactor->Finish(toGrpcStatus(result.status()));
              })
        .detach();
  });
  return reactor;
}

grpc::ServerUnaryReactor* GattServiceImpl::Write(grpc::CallbackServerContext* context,
                                                 const v1::WriteRequest* request,
                                                 v1::WriteResponse* response) {
  auto options = writeRequest(*request);
  if (!options.ok()) return finishUnary(context, options.status());
  auto* reactor = context->DefaultReactor();
  onLoop(ctx_, reactor, [this, reactor, response, o = std::move(*options)]() mutable {
    ctx_.central.gatt()
        .write(o.address, o.attribute, std::move(o.value), o.mode, o.offset, o.timeout,
               [reactor, response](absl::StatusOr<WriteResult> result) {
                 if (result.ok()) {
                   response->set_mode(toProto(result->mode));
                   response->set_handle(result->handle);
                 }
                 reactor->Finish(toGrpcStatus(result.status()));
               })
        .detach();
  });
  return reactor;
}

grpc::ServerWriteReactor<v1::SubscribeResponse>* GattServiceImpl::Subscribe(
    grpc::CallbackServerContext* context, const v1::SubscribeRequest* request) {
  auto options = subscribeRequest(*request);
  if (!options.ok()) return new FinishedWriteReactor<v1::SubscribeResponse>(options.status());
  return SubscribeStream::launch<SubscribeStream>(ctx_, *context, std::move(*options));
}

grpc::ServerUnaryReactor* GattServiceImpl::GetMtu(grpc::CallbackServerContext* context,
                                                  const v1::GetMtuRequest* request,
                                                  v1::GetMtuResponse* response) {
  auto address = requiredAddress(request->address(), "address");
  if (!address.ok()) return finishUnary(context, address.status());
  auto* reactor = context->DefaultReactor();
  onLoop(ctx_, reactor, [this, reactor, response, address = *address] {
    auto mtu = ctx_.central.gatt().mtu(address);
    if (mtu.ok()) response->set_mtu(*mtu);
    reactor->Finish(toGrpcStatus(mtu.status()));
  });
  return reactor;
}

grpc::ServerWriteReactor<v1::ExecuteResponse>* GattServiceImpl::Execute(
    grpc::CallbackServerContext* context, const v1::ExecuteRequest* request) {
  auto options = executeRequest(*request);
  if (!options.ok()) return new FinishedWriteReactor<v1::ExecuteResponse>(options.status());
  return ExecuteStream::launch<ExecuteStream>(ctx_, *context, std::move(*options));
}

}  // namespace gattway::server
