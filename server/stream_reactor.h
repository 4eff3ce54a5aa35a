// The base of every server stream (Scan, WatchSessions, Subscribe, Execute, StreamWrites,
// WatchPeripheral, HandleReads): a bounded queue that drops its oldest items when the caller reads
// slowly (counted, and reported as a gap in the next message), one write in flight, queued items
// coalesced into one message, `OnCancel`/`OnDone` cleanup, and membership in the StreamRegistry so
// that shutdown ends it cleanly and each client stays within its bound on open streams.
// `Base` is the gRPC reactor: ServerWriteReactor<Response>, or ServerBidiReactor for a stream
// that also reads (the subclass then adds OnReadDone).
//
// Threads: the domain pushes from the loop thread; gRPC completes writes on its threads. Pushing
// never waits for the network: when no write is in flight the pushing thread starts one,
// otherwise the item waits in the queue and OnWriteDone sends it (with whatever queued behind
// it). Domain handles the stream holds are released on the loop thread (releaseOnLoop), after
// cancellation or completion, before the stream is destroyed.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ble/bounded_queue.h"
#include "ble/executor.h"
#include "ble/metrics.h"
#include "grpcpp/support/server_callback.h"
#include "server/client_identity.h"
#include "server/service_context.h"
#include "server/status.h"
#include "server/stream_registry.h"

namespace gattway::server {

template <typename Base, typename Response, typename Item>
class QueuedStream : public Base,
                     public StreamRegistry::Stream,
                     public std::enable_shared_from_this<QueuedStream<Base, Response, Item>> {
 public:
  struct Options {
    std::size_t queueSize = 1024;
    std::size_t maxPerMessage = 1;
    // Send only full messages until flush() (server-side batching).
    bool holdPartial = false;
    Counter* delivered = nullptr;  // items written
    Counter* dropped = nullptr;    // items dropped from the queue
    Gauge* open = nullptr;         // streams of this kind
  };

  // Makes a stream that owns itself until gRPC is done with it.
  template <typename T, typename... Args>
  static std::shared_ptr<T> create(Args&&... args) {
    std::shared_ptr<T> s(new T(std::forward<Args>(args)...));
    s->self_ = s;
    return s;
  }

  // Handler thread, once. Registers the stream for the caller of `call`; false when the gateway
  // is shutting down or the caller has too many streams open (the stream is then already
  // finishing with UNAVAILABLE or RESOURCE_EXHAUSTED).
  bool open(const grpc::CallbackServerContext& call) {
    if (auto added = streams_.add(this->shared_from_this(), clientKey(call)); !added.ok()) {
      end(added, false);
      return false;
    }
    if (options_.open != nullptr) options_.open->add(1);
    opened_ = true;
    return true;
  }

  // Any thread. Queues an item (dropping the oldest when full) and starts a write when none is
  // in flight.
  void push(Item item) {
    std::unique_lock lock(mu_);
    if (finishing_) return;
    if (queue_.push(std::move(item)) && options_.dropped != nullptr) options_.dropped->add();
    ++pushed_;
    pump(lock, false);
  }

  // Any thread. A message of its own (an event), sent in order with the items pushed before it
  // and never dropped.
  void pushControl(Response message) {
    std::unique_lock lock(mu_);
    if (finishing_) return;
    control_.push_back(Control{pushed_, std::move(message)});
    pump(lock, false);
  }

  // Any thread. Sends what is queued even if it does not fill a message (batch interval).
  void flush() {
    std::unique_lock lock(mu_);
    pump(lock, true);
  }

  // Any thread. Ends the stream with `status`: after sending what is queued when `drain`, at once
  // otherwise. Later calls are ignored.
  void end(const absl::Status& status, bool drain) {
    std::unique_lock lock(mu_);
    if (finishing_) return;
    finishing_ = true;
    pendingFinish_ = toGrpcStatus(status);
    if (!drain) {
      queue_.clear();
      control_.clear();
    }
    pump(lock, true);
  }

  // Any thread. Tells the caller the stream is live (its subscription is in place) unless a
  // message already did.
  void sendInitialMetadata() {
    std::unique_lock lock(mu_);
    if (finishing_ || metadataSent_) return;
    metadataSent_ = true;
    lock.unlock();
    this->StartSendInitialMetadata();
  }

  bool ending() const {
    std::lock_guard lock(mu_);
    return finishing_;
  }

  void shutdownStream() override {
    scheduleRelease();
    end(shuttingDown(), false);
  }

 protected:
  QueuedStream(Executor& loop, StreamRegistry& streams, Options options)
      : loop_(loop), streams_(streams), options_(options), queue_(options.queueSize) {}

  // Builds one message from `items` (oldest first) and the number dropped just before them.
  // Called without the lock, by whichever thread starts the write.
  virtual void fill(std::vector<Item>& items, std::uint64_t gap, Response* out) = 0;
  // Loop thread, once: release the domain handles (subscriptions, timers) the stream holds.
  virtual void releaseOnLoop() {}

 private:
  struct Control {
    std::uint64_t after;  // sent once this many items were taken or dropped
    Response message;
  };

  std::uint64_t consumed() const { return taken_ + queue_.droppedTotal(); }

  // Starts the next write, or finishes the stream when it is ending and nothing is left.
  // Releases the lock before calling into gRPC.
  void pump(std::unique_lock<std::mutex>& lock, bool force) {
    if (writing_ || finished_ || broken_) return;
    if (!control_.empty() && control_.front().after <= consumed()) {
      message_ = std::move(control_.front().message);
      control_.pop_front();
      writing_ = true;
      metadataSent_ = true;
      inFlight_ = 0;
      lock.unlock();
      this->StartWrite(&message_);
      return;
    }
    std::size_t limit = options_.maxPerMessage;
    if (!control_.empty()) {
      limit = std::min<std::size_t>(limit, control_.front().after - consumed());
    }
    const bool full = queue_.size() >= options_.maxPerMessage;
    if (!queue_.empty() && (!options_.holdPartial || force || finishing_ || full)) {
      std::vector<Item> items = queue_.take(limit);
      taken_ += items.size();
      const std::uint64_t gap = queue_.takeDropped();
      writing_ = true;
      metadataSent_ = true;
      inFlight_ = items.size();
      lock.unlock();
      message_.Clear();
      fill(items, gap, &message_);
      this->StartWrite(&message_);
      return;
    }
    if (finishing_ && queue_.empty() && control_.empty()) {
      finished_ = true;
      grpc::Status status = *pendingFinish_;
      lock.unlock();
      this->Finish(std::move(status));
    }
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock lock(mu_);
    writing_ = false;
    if (!ok) {
      // The call is gone (cancelled, or the connection broke); it must still be finished.
      broken_ = true;
      queue_.clear();
      control_.clear();
      if (finished_) return;
      finished_ = true;
      grpc::Status status =
          pendingFinish_.value_or(grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled"));
      lock.unlock();
      this->Finish(std::move(status));
      return;
    }
    if (options_.delivered != nullptr && inFlight_ > 0) options_.delivered->add(inFlight_);
    pump(lock, false);
  }

  void OnCancel() override {
    scheduleRelease();
    end(absl::CancelledError("the caller cancelled the stream"), false);
  }

  void OnDone() override {
    streams_.remove(this);
    if (opened_ && options_.open != nullptr) options_.open->add(-1);
    scheduleRelease();
    auto self = std::move(self_);  // may be the last reference: nothing after this
  }

  void scheduleRelease() {
    if (released_.exchange(true)) return;
    loop_.post([keep = this->shared_from_this()] {
      static_cast<QueuedStream*>(keep.get())->releaseOnLoop();
    });
  }

  Executor& loop_;
  StreamRegistry& streams_;
  Options options_;
  std::shared_ptr<QueuedStream> self_;  // gRPC's reference, dropped in OnDone
  std::atomic<bool> released_{false};
  bool opened_ = false;

  mutable std::mutex mu_;
  BoundedQueue<Item> queue_;            // guarded by mu_
  std::deque<Control> control_;         // guarded by mu_
  std::uint64_t pushed_ = 0;            // guarded by mu_
  std::uint64_t taken_ = 0;             // guarded by mu_
  std::size_t inFlight_ = 0;            // guarded by mu_
  bool writing_ = false;                // guarded by mu_
  bool finishing_ = false;              // guarded by mu_: end() was called
  bool finished_ = false;               // guarded by mu_: Finish() was called
  bool broken_ = false;                 // guarded by mu_: a write failed
  bool metadataSent_ = false;           // guarded by mu_: initial metadata or a message went
  std::optional<grpc::Status> pendingFinish_;  // guarded by mu_
  Response message_;  // the message in flight (one at a time)
};

// The central's streams: a QueuedStream writing to the caller, with the services' context. A
// stream class has `void start()` (loop thread) that begins with `if (!mayStart()) return;`.
template <typename Response, typename Item>
class QueuedWriteReactor
    : public QueuedStream<grpc::ServerWriteReactor<Response>, Response, Item> {
 public:
  using Options = typename QueuedStream<grpc::ServerWriteReactor<Response>, Response, Item>::Options;

  // Handler thread: makes a `Stream`, registers it for the caller of `call` and has the loop
  // start it. Returns the reactor gRPC takes.
  template <typename Stream, typename... Args>
  static grpc::ServerWriteReactor<Response>* launch(ServiceContext& ctx,
                                                    const grpc::CallbackServerContext& call,
                                                    Args&&... args) {
    auto stream = Stream::template create<Stream>(ctx, std::forward<Args>(args)...);
    if (stream->open(call)) ctx.loop.post([stream] { stream->start(); });
    return stream.get();
  }

 protected:
  // Loop thread, first in start(): false when the stream must not start because it is already
  // ending, or because the gateway is shutting down (the stream is then ended).
  bool mayStart() {
    if (this->ending()) return false;
    if (ctx_.central.shuttingDown()) {
      this->end(shuttingDown(), false);
      return false;
    }
    return true;
  }

  QueuedWriteReactor(ServiceContext& ctx, Options options)
      : QueuedStream<grpc::ServerWriteReactor<Response>, Response, Item>(ctx.loop, ctx.streams,
                                                                          options),
        ctx_(ctx) {}

  // Loop thread. Server-side batching (a request's batch_interval; the stream's Options hold
  // partial messages): what is queued goes out every `interval`. No-op for a zero interval. The
  // stream calls stopBatching() in releaseOnLoop.
  void startBatching(absl::Duration interval) {
    if (interval <= absl::ZeroDuration()) return;
    flushTimer_ = ctx_.loop.runAfter(interval, [this, interval] {
      this->flush();
      startBatching(interval);
    });
  }
  void stopBatching() { flushTimer_.cancel(); }

  ServiceContext& ctx_;

 private:
  Timer flushTimer_;  // loop thread
};

}  // namespace gattway::server
