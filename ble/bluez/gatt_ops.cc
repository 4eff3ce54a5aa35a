#include "ble/bluez/gatt_ops.h"

#include <algorithm>

namespace gattway::bluez {

bool AttributeQueues::join(const std::string& path, std::uint64_t id, Go go) {
  auto& queue = queues_[path];
  queue.push_back({id, std::move(go)});
  return queue.size() == 1;
}

void AttributeQueues::leave(const std::string& path, std::uint64_t id) {
  auto it = queues_.find(path);
  if (it == queues_.end()) return;
  auto& queue = it->second;
  const bool wasHead = !queue.empty() && queue.front().id == id;
  std::erase_if(queue, [id](const Waiting& w) { return w.id == id; });
  if (queue.empty()) {
    queues_.erase(it);
    return;
  }
  if (wasHead) {
    // Moved out first: go() may queue more.
    Go next = std::move(queue.front().go);
    next();
  }
}

std::size_t AttributeQueues::waiting(const std::string& path) const {
  auto it = queues_.find(path);
  return it == queues_.end() ? 0 : it->second.size();
}

}  // namespace gattway::bluez
