#include "ble/peripheral/read_dispatcher.h"

#include "ble/peripheral/hosted_database.h"

namespace gattway::peripheral {

ReadDispatcher::~ReadDispatcher() { serveAllPending(0); }

std::uint64_t ReadDispatcher::addHandler(absl::Duration answerTimeout, Sink sink) {
  const std::uint64_t id = nextHandler_++;
  handlers_[id] = Handler{answerTimeout, std::move(sink)};
  return id;
}

void ReadDispatcher::setAttributes(std::uint64_t handler, const std::set<AttributeId>& attributes) {
  for (auto it = owner_.begin(); it != owner_.end();) {
    it = it->second == handler ? owner_.erase(it) : std::next(it);
  }
  for (AttributeId a : attributes) owner_[a] = handler;
}

void ReadDispatcher::removeHandler(std::uint64_t handler) {
  handlers_.erase(handler);
  for (auto it = owner_.begin(); it != owner_.end();) {
    it = it->second == handler ? owner_.erase(it) : std::next(it);
  }
  serveAllPending(handler);
}

void ReadDispatcher::clearAttributes() {
  owner_.clear();
  serveAllPending(0);
}

void ReadDispatcher::serveAllPending(std::uint64_t handler) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (handler != 0 && it->second.handler != handler) {
      ++it;
      continue;
    }
    Pending p = std::move(it->second);
    it = pending_.erase(it);
    p.deadline.cancel();
    serveStored_(p.attribute, p.offset, std::move(p.responder));
  }
}

void ReadDispatcher::dispatch(const AttRequest& request, const AttributeName& name,
                              AttResponder responder) {
  auto owner = owner_.find(request.attribute);
  auto handler = owner == owner_.end() ? handlers_.end() : handlers_.find(owner->second);
  if (handler == handlers_.end()) {
    serveStored_(request.attribute, request.offset, std::move(responder));
    return;
  }
  const std::uint64_t requestId = nextRequest_++;
  ReadRequestEvent event;
  event.requestId = requestId;
  event.attribute = name;
  event.central = request.central;
  event.offset = request.offset;
  event.mtu = request.mtu;
  event.deadline = loop_.now() + handler->second.timeout;
  Pending& p = pending_[requestId];
  p.handler = handler->first;
  p.attribute = request.attribute;
  p.offset = request.offset;
  p.responder = std::move(responder);
  p.deadline = loop_.runAfter(handler->second.timeout, [this, requestId] { expire(requestId); });
  handler->second.sink(event);
}

void ReadDispatcher::expire(std::uint64_t requestId) {
  auto it = pending_.find(requestId);
  if (it == pending_.end()) return;
  Pending p = std::move(it->second);
  pending_.erase(it);
  metrics_.readsTimedOut.add();
  serveStored_(p.attribute, p.offset, std::move(p.responder));
}

void ReadDispatcher::answer(std::uint64_t handler, const ReadAnswer& answer) {
  auto it = pending_.find(answer.requestId);
  if (it == pending_.end() || it->second.handler != handler) return;
  Pending p = std::move(it->second);
  pending_.erase(it);
  p.deadline.cancel();
  metrics_.readsHandled.add();
  if (!answer.value) {
    p.responder.fail(answer.attError);
    return;
  }
  if (answer.store) store_(p.attribute, *answer.value);
  std::vector<std::uint8_t> out;
  if (const std::uint8_t code = HostedDatabase::slice(*answer.value, p.offset, out); code != 0) {
    p.responder.fail(code);
    return;
  }
  p.responder.succeed(std::move(out));
}

}  // namespace gattway::peripheral
