#include "server/peripheral_streams.h"

#include <atomic>
#include <memory>

#include "ble/error.h"
#include "ble/log.h"
#include "server/peripheral_convert.h"
#include "server/reactors.h"
#include "server/status.h"
#include "server/stream_channel.h"

namespace gattway::server {
namespace {

constexpr std::size_t kWritesPerMessage = 64;
constexpr std::size_t kWatchQueue = 1024;
// Reads waiting for the handler's stream; more than this many unanswered reads fall back to
// the stored value when their deadline passes.
constexpr std::size_t kReadQueue = 1024;

// --- StreamWrites ---------------------------------------------------------------------------

class StreamWritesReactor final : public grpc::ServerWriteReactor<v1::StreamWritesResponse> {
 public:
  using Channel = StreamChannel<v1::CapturedWrite, v1::StreamWritesResponse,
                                grpc::ServerWriteReactor<v1::StreamWritesResponse>>;

  StreamWritesReactor(Executor& loop, peripheral::Peripheral& p, Metrics& metrics,
                      std::vector<peripheral::AttributeSelector> selectors, std::size_t queueSize)
      : loop_(loop), peripheral_(p) {
    channel_ = std::make_shared<Channel>(
        this, queueSize, kWritesPerMessage,
        [](std::vector<v1::CapturedWrite>& items, std::uint64_t dropped,
           v1::StreamWritesResponse* out) {
          for (auto& w : items) *out->add_writes() = std::move(w);
          if (dropped > 0) out->mutable_gap()->set_dropped(dropped);
        },
        &metrics.writesDropped);
    loop_.post([channel = channel_, &p, selectors = std::move(selectors), id = id_] {
      auto sub = p.subscribeWrites(selectors, [channel](const peripheral::CapturedWrite& w,
                                                        std::uint64_t droppedBefore) {
        v1::CapturedWrite out;
        toProto(w, &out);
        channel->push(std::move(out), droppedBefore);
      });
      if (!sub.ok()) return channel->finish(toGrpcStatus(sub.status()));
      *id = *sub;
      channel->sendInitialMetadata();
    });
  }
  void OnWriteDone(bool ok) override { channel_->onWriteDone(ok); }
  void OnCancel() override { channel_->finish(grpc::Status::CANCELLED); }
  void OnDone() override {
    channel_->detach();
    loop_.post([&p = peripheral_, id = id_] {
      if (*id != 0) p.unsubscribeWrites(*id);
    });
    delete this;
  }

 private:
  Executor& loop_;
  peripheral::Peripheral& peripheral_;
  std::shared_ptr<Channel> channel_;
  std::shared_ptr<std::uint64_t> id_ = std::make_shared<std::uint64_t>(0);  // loop thread only
};

// --- WatchPeripheral ------------------------------------------------------------------------

class WatchReactor final : public grpc::ServerWriteReactor<v1::WatchPeripheralResponse> {
 public:
  using Channel = StreamChannel<v1::WatchPeripheralResponse, v1::WatchPeripheralResponse,
                                grpc::ServerWriteReactor<v1::WatchPeripheralResponse>>;

  WatchReactor(Executor& loop, peripheral::Peripheral& p) : loop_(loop), peripheral_(p) {
    channel_ = std::make_shared<Channel>(
        this, kWatchQueue, 1,
        [](std::vector<v1::WatchPeripheralResponse>& items, std::uint64_t dropped,
           v1::WatchPeripheralResponse* out) {
          *out = std::move(items.front());
          if (dropped > 0) out->mutable_gap()->set_dropped(dropped);
        },
        nullptr);
    loop_.post([channel = channel_, &p, id = id_] {
      *id = p.watch([channel](const peripheral::PeripheralEvent& e) {
        v1::WatchPeripheralResponse out;
        toProto(e, &out);
        channel->push(std::move(out));
      });
      channel->sendInitialMetadata();
    });
  }
  void OnWriteDone(bool ok) override { channel_->onWriteDone(ok); }
  void OnCancel() override { channel_->finish(grpc::Status::CANCELLED); }
  void OnDone() override {
    channel_->detach();
    loop_.post([&p = peripheral_, id = id_] {
      if (*id != 0) p.unwatch(*id);
    });
    delete this;
  }

 private:
  Executor& loop_;
  peripheral::Peripheral& peripheral_;
  std::shared_ptr<Channel> channel_;
  std::shared_ptr<std::uint64_t> id_ = std::make_shared<std::uint64_t>(0);
};

// --- HandleReads ----------------------------------------------------------------------------

class HandleReadsReactor final
    : public grpc::ServerBidiReactor<v1::HandleReadsRequest, v1::HandleReadsResponse> {
 public:
  using Base = grpc::ServerBidiReactor<v1::HandleReadsRequest, v1::HandleReadsResponse>;
  using Channel = StreamChannel<v1::HandleReadsResponse, v1::HandleReadsResponse, Base>;

  HandleReadsReactor(Executor& loop, peripheral::Peripheral& p) : loop_(loop), peripheral_(p) {
    channel_ = std::make_shared<Channel>(
        this, kReadQueue, 1,
        [](std::vector<v1::HandleReadsResponse>& items, std::uint64_t,
           v1::HandleReadsResponse* out) { *out = std::move(items.front()); },
        nullptr);
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The caller closed its side (or left): the registration ends with the stream.
      channel_->finish(grpc::Status::OK);
      return;
    }
    if (!registered_) {
      if (!request_.has_register_()) {
        return fail(err::invalidField("register", "the first message must be a registration"));
      }
      const auto& reg = request_.register_();
      if (reg.characteristics().empty()) {
        return fail(err::invalidField("register.characteristics", "name at least one"));
      }
      auto selectors = toSelectors(reg.characteristics(), "register.characteristics");
      if (!selectors.ok()) return fail(selectors.status());
      auto timeout = toDuration(reg.has_answer_timeout() ? &reg.answer_timeout() : nullptr,
                                "register.answer_timeout", peripheral::kDefaultAnswerTimeout,
                                peripheral::kMinAnswerTimeout, peripheral::kMaxAnswerTimeout);
      if (!timeout.ok()) return fail(timeout.status());
      registered_ = true;
      loop_.post([channel = channel_, &p = peripheral_, id = id_, selectors = std::move(*selectors),
                  timeout = *timeout] {
        auto handler = p.registerReadHandler(selectors, timeout,
                                             [channel](const peripheral::ReadRequestEvent& read) {
                                               v1::HandleReadsResponse out;
                                               toProto(read, out.mutable_read());
                                               channel->push(std::move(out));
                                             });
        if (!handler.ok()) return channel->finish(toGrpcStatus(handler.status()));
        *id = handler->id;
        v1::HandleReadsResponse confirm;
        for (const auto& name : handler->attributes) {
          toProto(name, confirm.mutable_registered()->add_characteristics());
        }
        channel->push(std::move(confirm));
      });
    } else {
      if (!request_.has_answer()) {
        return fail(err::invalidField("register", "register once, in the first message"));
      }
      auto answer = toReadAnswer(request_.answer());
      if (!answer.ok()) return fail(answer.status());
      loop_.post([&p = peripheral_, id = id_, answer = *answer] {
        if (*id != 0) p.answerRead(*id, answer);
      });
    }
    StartRead(&request_);
  }
  void OnWriteDone(bool ok) override { channel_->onWriteDone(ok); }
  void OnCancel() override { channel_->finish(grpc::Status::CANCELLED); }
  void OnDone() override {
    channel_->detach();
    loop_.post([&p = peripheral_, id = id_] {
      if (*id != 0) p.unregisterReadHandler(*id);
    });
    delete this;
  }

 private:
  void fail(const absl::Status& status) { channel_->finish(toGrpcStatus(status)); }

  Executor& loop_;
  peripheral::Peripheral& peripheral_;
  std::shared_ptr<Channel> channel_;
  std::shared_ptr<std::uint64_t> id_ = std::make_shared<std::uint64_t>(0);
  v1::HandleReadsRequest request_;
  bool registered_ = false;  // gRPC read thread only (one read in flight)
};

}  // namespace

grpc::ServerWriteReactor<v1::StreamWritesResponse>* newStreamWritesReactor(
    Executor& loop, peripheral::Peripheral& peripheral, Metrics& metrics,
    const v1::StreamWritesRequest& request) {
  auto selectors = toSelectors(request.characteristics(), "characteristics");
  if (!selectors.ok()) {
    return new FinishedWriteReactor<v1::StreamWritesResponse>(selectors.status());
  }
  std::uint32_t queue = request.queue_size();
  if (queue == 0) queue = peripheral::kDefaultCaptureQueue;
  if (queue < peripheral::kMinCaptureQueue || queue > peripheral::kMaxCaptureQueue) {
    return new FinishedWriteReactor<v1::StreamWritesResponse>(
        err::invalidField("queue_size", "must be 16..65536 (0: 1024)"));
  }
  return new StreamWritesReactor(loop, peripheral, metrics, std::move(*selectors), queue);
}

grpc::ServerWriteReactor<v1::WatchPeripheralResponse>* newWatchReactor(
    Executor& loop, peripheral::Peripheral& peripheral) {
  return new WatchReactor(loop, peripheral);
}

grpc::ServerBidiReactor<v1::HandleReadsRequest, v1::HandleReadsResponse>* newHandleReadsReactor(
    Executor& loop, peripheral::Peripheral& peripheral) {
  return new HandleReadsReactor(loop, peripheral);
}

}  // namespace gattway::server
