#include "server/stream_registry.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "ble/error.h"

namespace gattway::server {

absl::Status StreamRegistry::add(const std::shared_ptr<Stream>& stream,
                                 const std::string& client) {
  std::lock_guard lock(mu_);
  if (closed_) return err::make(err::Reason::kShuttingDown, "the gateway is shutting down");
  std::size_t& count = perClient_[client];
  if (count >= maxPerClient_) {
    absl::Status refused = err::make(
        err::Reason::kLimitExceeded,
        absl::StrCat("this client already has ", count,
                     " streams open, the most the gateway allows per client "
                     "(--max_streams_per_client); end one before opening another"));
    err::setMetadata(refused, "limit", absl::StrCat(maxPerClient_));
    if (count == 0) perClient_.erase(client);
    return refused;
  }
  ++count;
  open_.emplace(stream.get(), Entry{stream, client});
  return absl::OkStatus();
}

void StreamRegistry::remove(const Stream* stream) {
  std::lock_guard lock(mu_);
  auto it = open_.find(stream);
  if (it == open_.end()) return;
  auto c = perClient_.find(it->second.client);
  if (c != perClient_.end() && --c->second == 0) perClient_.erase(c);
  open_.erase(it);
}

void StreamRegistry::closeAll() {
  std::vector<std::shared_ptr<Stream>> streams;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    for (auto& [p, entry] : open_) {
      if (auto s = entry.stream.lock()) streams.push_back(std::move(s));
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

std::size_t StreamRegistry::openFor(const std::string& client) const {
  std::lock_guard lock(mu_);
  auto it = perClient_.find(client);
  return it == perClient_.end() ? 0 : it->second;
}

}  // namespace gattway::server
