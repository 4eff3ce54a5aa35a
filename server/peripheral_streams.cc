#include "server/peripheral_streams.h"

#include <atomic>
#include <memory>

#include "ble/error.h"
#include "ble/log.h"
#include "server/peripheral_convert.h"
#include "server/reactors.h"
#include "server/status.h"
#include "server/stream_reactor.h"

namespace gattway::server {
namespace {

constexpr std::size_t kWritesPerMessage = 64;
constexpr std::size_t kWatchQueue = 1024;
// Reads waiting for the handler's stream; more than this many unanswered reads fall back to
// the stored value when their deadline passes.
constexpr std::size_t kReadQueue = 1024;

// --- StreamWrites ---------------------------------------------------------------------------

// One captured write and the writes the domain dropped just before it (capture overrun).
struct WriteItem {
  v1::CapturedWrite write;
  std::uint64_t droppedBefore = 0;
};

class StreamWritesReactor final
    : public QueuedStream<grpc::ServerWriteReactor<v1::StreamWritesResponse>,
                          v1::StreamWritesResponse, WriteItem> {
 public:
  StreamWritesReactor(StreamHost host, peripheral::Peripheral& p,
                      std::vector<peripheral::AttributeSelector> selectors, std::size_t queueSize)
      : QueuedStream(host.loop, host.streams,
                     Options{queueSize, kWritesPerMessage, false, nullptr,
                             &host.metrics.writesDropped, nullptr}),
        peripheral_(p), selectors_(std::move(selectors)) {}

  // Loop thread.
  void start() {
    auto sub = peripheral_.subscribeWrites(
        selectors_, [this](const peripheral::CapturedWrite& w, std::uint64_t droppedBefore) {
          WriteItem item;
          toProto(w, &item.write);
          item.droppedBefore = droppedBefore;
          push(std::move(item));
        });
    if (!sub.ok()) return end(sub.status(), false);
    id_ = *sub;
    sendInitialMetadata();
  }

 private:
  void fill(std::vector<WriteItem>& items, std::uint64_t gap,
            v1::StreamWritesResponse* out) override {
    for (auto& item : items) {
      gap += item.droppedBefore;
      *out->add_writes() = std::move(item.write);
    }
    if (gap > 0) out->mutable_gap()->set_dropped(gap);
  }
  void releaseOnLoop() override {
    if (id_ != 0) peripheral_.unsubscribeWrites(id_);
    id_ = 0;
  }

  peripheral::Peripheral& peripheral_;
  std::vector<peripheral::AttributeSelector> selectors_;
  std::uint64_t id_ = 0;  // loop thread only
};

// --- WatchPeripheral ------------------------------------------------------------------------

class WatchReactor final
    : public QueuedStream<grpc::ServerWriteReactor<v1::WatchPeripheralResponse>,
                          v1::WatchPeripheralResponse, v1::WatchPeripheralResponse> {
 public:
  WatchReactor(StreamHost host, peripheral::Peripheral& p)
      : QueuedStream(host.loop, host.streams, Options{kWatchQueue, 1, false, nullptr, nullptr,
                                                      nullptr}),
        peripheral_(p) {}

  // Loop thread.
  void start() {
    id_ = peripheral_.watch([this](const peripheral::PeripheralEvent& e) {
      v1::WatchPeripheralResponse out;
      toProto(e, &out);
      push(std::move(out));
    });
    sendInitialMetadata();
  }

 private:
  void fill(std::vector<v1::WatchPeripheralResponse>& items, std::uint64_t gap,
            v1::WatchPeripheralResponse* out) override {
    *out = std::move(items.front());
    if (gap > 0) out->mutable_gap()->set_dropped(gap);
  }
  void releaseOnLoop() override {
    if (id_ != 0) peripheral_.unwatch(id_);
    id_ = 0;
  }

  peripheral::Peripheral& peripheral_;
  std::uint64_t id_ = 0;  // loop thread only
};

// --- HandleReads ----------------------------------------------------------------------------

using HandleReadsBase = grpc::ServerBidiReactor<v1::HandleReadsRequest, v1::HandleReadsResponse>;

class HandleReadsReactor final
    : public QueuedStream<HandleReadsBase, v1::HandleReadsResponse, v1::HandleReadsResponse> {
 public:
  HandleReadsReactor(StreamHost host, peripheral::Peripheral& p)
      : QueuedStream(host.loop, host.streams, Options{kReadQueue, 1, false, nullptr, nullptr,
                                                      nullptr}),
        loop_(host.loop), peripheral_(p) {}

  // Handler thread, after open().
  void startReading() { StartRead(&request_); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The caller closed its side (or left): the registration ends with the stream.
      return end(absl::OkStatus(), false);
    }
    if (!registered_) {
      if (!request_.has_register_()) {
        return end(err::invalidField("register", "the first message must be a registration"),
                   false);
      }
      const auto& reg = request_.register_();
      if (reg.characteristics().empty()) {
        return end(err::invalidField("register.characteristics", "name at least one"), false);
      }
      auto selectors = toSelectors(reg.characteristics(), "register.characteristics");
      if (!selectors.ok()) return end(selectors.status(), false);
      auto timeout = toDuration(reg.has_answer_timeout() ? &reg.answer_timeout() : nullptr,
                                "register.answer_timeout", peripheral::kDefaultAnswerTimeout,
                                peripheral::kMinAnswerTimeout, peripheral::kMaxAnswerTimeout);
      if (!timeout.ok()) return end(timeout.status(), false);
      registered_ = true;
      loop_.post([self = keep(), selectors = std::move(*selectors), timeout = *timeout] {
        self->registerOnLoop(selectors, timeout);
      });
    } else {
      if (!request_.has_answer()) {
        return end(err::invalidField("register", "register once, in the first message"), false);
      }
      auto answer = toReadAnswer(request_.answer());
      if (!answer.ok()) return end(answer.status(), false);
      loop_.post([self = keep(), answer = *answer] {
        if (self->id_ != 0) self->peripheral_.answerRead(self->id_, answer);
      });
    }
    StartRead(&request_);
  }

 private:
  std::shared_ptr<HandleReadsReactor> keep() {
    return std::static_pointer_cast<HandleReadsReactor>(shared_from_this());
  }

  // Loop thread.
  void registerOnLoop(const std::vector<peripheral::AttributeSelector>& selectors,
                      absl::Duration timeout) {
    if (ending()) return;
    auto handler = peripheral_.registerReadHandler(
        selectors, timeout, [this](const peripheral::ReadRequestEvent& read) {
          v1::HandleReadsResponse out;
          toProto(read, out.mutable_read());
          push(std::move(out));
        });
    if (!handler.ok()) return end(handler.status(), false);
    id_ = handler->id;
    v1::HandleReadsResponse confirm;
    for (const auto& name : handler->attributes) {
      toProto(name, confirm.mutable_registered()->add_characteristics());
    }
    push(std::move(confirm));
  }

  void fill(std::vector<v1::HandleReadsResponse>& items, std::uint64_t,
            v1::HandleReadsResponse* out) override {
    *out = std::move(items.front());
  }
  void releaseOnLoop() override {
    if (id_ != 0) peripheral_.unregisterReadHandler(id_);
    id_ = 0;
  }

  Executor& loop_;
  peripheral::Peripheral& peripheral_;
  std::uint64_t id_ = 0;  // loop thread only
  v1::HandleReadsRequest request_;
  bool registered_ = false;  // gRPC read thread only (one read in flight)
};

}  // namespace

grpc::ServerWriteReactor<v1::StreamWritesResponse>* newStreamWritesReactor(
    StreamHost host, peripheral::Peripheral& peripheral, const grpc::CallbackServerContext& call,
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
  auto stream = StreamWritesReactor::create<StreamWritesReactor>(host, peripheral,
                                                                 std::move(*selectors), queue);
  if (stream->open(call)) host.loop.post([stream] { stream->start(); });
  return stream.get();
}

grpc::ServerWriteReactor<v1::WatchPeripheralResponse>* newWatchReactor(
    StreamHost host, peripheral::Peripheral& peripheral, const grpc::CallbackServerContext& call) {
  auto stream = WatchReactor::create<WatchReactor>(host, peripheral);
  if (stream->open(call)) host.loop.post([stream] { stream->start(); });
  return stream.get();
}

grpc::ServerBidiReactor<v1::HandleReadsRequest, v1::HandleReadsResponse>* newHandleReadsReactor(
    StreamHost host, peripheral::Peripheral& peripheral, const grpc::CallbackServerContext& call) {
  auto stream = HandleReadsReactor::create<HandleReadsReactor>(host, peripheral);
  if (stream->open(call)) stream->startReading();
  return stream.get();
}

}  // namespace gattway::server
