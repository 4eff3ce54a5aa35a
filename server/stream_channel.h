// Feeds one gRPC server stream from the loop thread: a bounded queue that drops its oldest
// entries (counted, and reported as a gap on the next message), one write in flight, and Finish
// only once the write in flight is done. Shared (shared_ptr) by the reactor and the domain's sink;
// once the reactor is done (detach), pushes are dropped. Any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "ble/bounded_queue.h"
#include "ble/metrics.h"
#include "grpcpp/support/status.h"

namespace gattway::server {

template <typename Item, typename Response, typename Reactor>
class StreamChannel {
 public:
  // Builds one message from up to `batch` items and the number dropped just before them.
  using Pack = std::function<void(std::vector<Item>& items, std::uint64_t dropped, Response* out)>;

  StreamChannel(Reactor* reactor, std::size_t capacity, std::size_t batch, Pack pack,
                Counter* dropped)
      : reactor_(reactor), queue_(capacity), batch_(batch), pack_(std::move(pack)),
        droppedCounter_(dropped) {}

  // Queues one item (`gapBefore`: items lost upstream just before it).
  void push(Item item, std::uint64_t gapBefore = 0) {
    std::lock_guard lock(mu_);
    if (reactor_ == nullptr || finishing_) return;
    upstreamGap_ += gapBefore;
    if (queue_.push(std::move(item)) && droppedCounter_ != nullptr) droppedCounter_->add();
    if (!writing_) writeNextLocked();
  }

  // The reactor's OnWriteDone.
  void onWriteDone(bool ok) {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (!ok) broken_ = true;
    if (finishing_) return finishLocked();
    if (!broken_) writeNextLocked();
  }

  // Ends the stream after the write in flight (queued items are not sent).
  void finish(const grpc::Status& status) {
    std::lock_guard lock(mu_);
    if (finishing_ || reactor_ == nullptr) return;
    finishing_ = true;
    status_ = status;
    if (!writing_) finishLocked();
  }

  // Tells the client the stream is live (its subscription is in place), unless a message did.
  void sendInitialMetadata() {
    std::lock_guard lock(mu_);
    if (reactor_ == nullptr || finishing_ || metadataSent_) return;
    metadataSent_ = true;
    reactor_->StartSendInitialMetadata();
  }

  // The reactor's OnDone: from here on the channel is inert.
  void detach() {
    std::lock_guard lock(mu_);
    reactor_ = nullptr;
  }

 private:
  void writeNextLocked() {
    if (queue_.empty() || reactor_ == nullptr) return;
    std::vector<Item> items = queue_.take(batch_);
    const std::uint64_t dropped = queue_.takeDropped() + upstreamGap_;
    upstreamGap_ = 0;
    current_ = Response();
    pack_(items, dropped, &current_);
    writing_ = true;
    metadataSent_ = true;
    reactor_->StartWrite(&current_);
  }
  void finishLocked() {
    if (finished_ || reactor_ == nullptr) return;
    finished_ = true;
    reactor_->Finish(status_);
  }

  std::mutex mu_;
  Reactor* reactor_;
  BoundedQueue<Item> queue_;
  std::size_t batch_;
  Pack pack_;
  Counter* droppedCounter_;
  std::uint64_t upstreamGap_ = 0;
  bool writing_ = false, finishing_ = false, finished_ = false, broken_ = false;
  bool metadataSent_ = false;
  grpc::Status status_;
  Response current_;
};

}  // namespace gattway::server
