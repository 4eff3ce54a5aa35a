#include "server/stream_registry.h"

#include <vector>

namespace gattway::server {

bool StreamRegistry::add(const std::shared_ptr<Stream>& stream) {
  std::lock_guard lock(mu_);
  if (closed_) return false;
  open_.emplace(stream.get(), stream);
  return true;
}

void StreamRegistry::remove(const Stream* stream) {
  std::lock_guard lock(mu_);
  open_.erase(stream);
}

void StreamRegistry::closeAll() {
  std::vector<std::shared_ptr<Stream>> streams;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    for (auto& [p, weak] : open_) {
      if (auto s = weak.lock()) streams.push_back(std::move(s));
    }
  }
  // Outside the lock: ending a stream may complete it, and its OnDone removes it from here.
  for (auto& s : streams) s->shutdownStream();
}

bool StreamRegistry::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

std::size_t StreamRegistry::size() const {
  std::lock_guard lock(mu_);
  return open_.size();
}

}  // namespace gattway::server
