// Read handlers (aioble's on_read, for remote callers): a handler takes over the reads of the
// attributes it registers for; each read is forwarded to it and answered with its value or ATT
// error if the answer arrives before the handler's deadline. No handler, no answer in time, or
// the handler gone: the stored value is served. Loop thread only.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "ble/executor.h"
#include "ble/metrics.h"
#include "ble/peripheral/definitions.h"
#include "ble/peripheral_backend.h"

namespace gattway::peripheral {

class ReadDispatcher {
 public:
  // Runs on the loop thread for each read a handler must answer.
  using Sink = absl::AnyInvocable<void(const ReadRequestEvent& read)>;
  // Serves the stored value (from the read's offset on) through the responder.
  using ServeStored = absl::AnyInvocable<void(AttributeId, std::uint16_t offset, AttResponder)>;
  // Stores a handler's value (ReadAnswer.store).
  using Store = absl::AnyInvocable<void(AttributeId, const std::vector<std::uint8_t>&)>;

  ReadDispatcher(Executor& loop, Metrics& metrics, ServeStored serveStored, Store store)
      : loop_(loop), metrics_(metrics), serveStored_(std::move(serveStored)),
        store_(std::move(store)) {}
  ~ReadDispatcher();

  std::uint64_t addHandler(absl::Duration answerTimeout, Sink sink);
  // The attributes whose reads the handler answers; it takes them over from other handlers.
  void setAttributes(std::uint64_t handler, const std::set<AttributeId>& attributes);
  // Ends a handler; its pending reads get the stored value now.
  void removeHandler(std::uint64_t handler);
  // The database went away: forget every attribute mapping (handlers stay), serve pending reads.
  void clearAttributes();

  // A central's read: forwarded to its handler, or served from the stored value.
  void dispatch(const AttRequest& request, const AttributeName& name, AttResponder responder);
  // A handler's answer. Unknown or late request ids are ignored.
  void answer(std::uint64_t handler, const ReadAnswer& answer);

  std::size_t pending() const { return pending_.size(); }

 private:
  struct Handler {
    absl::Duration timeout;
    Sink sink;
  };
  struct Pending {
    std::uint64_t handler = 0;
    AttributeId attribute = 0;
    std::uint16_t offset = 0;
    AttResponder responder;
    Timer deadline;
  };
  void expire(std::uint64_t requestId);
  void serveAllPending(std::uint64_t handler);  // 0: every handler

  Executor& loop_;
  Metrics& metrics_;
  ServeStored serveStored_;
  Store store_;
  std::map<std::uint64_t, Handler> handlers_;
  std::map<AttributeId, std::uint64_t> owner_;  // attribute → handler
  std::map<std::uint64_t, Pending> pending_;   // request id → read
  std::uint64_t nextHandler_ = 1;
  std::uint64_t nextRequest_ = 1;
};

}  // namespace gattway::peripheral
