#include "ble/bluez/pending_ops.h"

#include "absl/strings/str_cat.h"
#include "ble/error.h"

namespace gattway::bluez {

Executor& OpState::executor() { return registry_.executor(); }

void OpState::armDeadline(absl::Duration timeout, std::string what) {
  if (timeout == absl::InfiniteDuration()) return;
  deadline_ = registry_.executor().now() + timeout;
  deadlineTimer_ = registry_.executor().runAfter(
      timeout, [this, timeout, what = std::move(what)] {
        abandon();
        fail(err::make(err::Reason::kTimeout,
                       absl::StrCat(what, ": no answer within ", absl::FormatDuration(timeout))));
      });
}

absl::Duration OpState::remaining() const {
  if (deadline_ == absl::InfiniteFuture()) return absl::InfiniteDuration();
  return std::max(deadline_ - registry_.executor().now(), absl::ZeroDuration());
}

OpRegistry::OpRegistry(Executor& executor)
    : executor_(executor), self_(std::make_shared<OpRegistry*>(this)) {}

OpRegistry::~OpRegistry() {
  self_.reset();
  // Take them out first: an operation's destructor may look the registry up.
  auto ops = std::move(ops_);
  ops_.clear();
  ops.clear();
}

Operation OpRegistry::operation(std::uint64_t id) {
  return Operation([weak = std::weak_ptr<OpRegistry*>(self_), id] {
    if (auto self = weak.lock()) (*self)->abandon(id);
  });
}

OpState* OpRegistry::find(std::uint64_t id) {
  auto it = ops_.find(id);
  return it == ops_.end() ? nullptr : it->second.get();
}

std::unique_ptr<OpState> OpRegistry::take(std::uint64_t id) {
  auto it = ops_.find(id);
  if (it == ops_.end()) return nullptr;
  auto op = std::move(it->second);
  ops_.erase(it);
  return op;
}

void OpRegistry::abandon(std::uint64_t id) {
  OpState* op = find(id);
  if (op == nullptr) return;
  op->abandon();
  take(id).reset();
}

std::vector<std::uint64_t> OpRegistry::ids() const {
  std::vector<std::uint64_t> out;
  out.reserve(ops_.size());
  for (const auto& [id, op] : ops_) out.push_back(id);
  return out;
}

void OpRegistry::failAll(const absl::Status& status) {
  for (std::uint64_t id : ids()) {
    if (OpState* op = find(id)) op->fail(status);
  }
}

void OpRegistry::broadcast(const MirrorEvent& event) {
  for (std::uint64_t id : ids()) {
    if (OpState* op = find(id)) op->onDeviceEvent(event);
  }
}

}  // namespace gattway::bluez
