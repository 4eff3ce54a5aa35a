// Every open server stream, so that Gateway::shutdown can end them all cleanly (UNAVAILABLE,
// "shutting down") before the gRPC server stops; a stream opened after that is refused at once.
// It also holds each client to a bound on its concurrent streams (see clientKey in
// server/client_identity.h for what "a client" is). Any thread.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"

namespace gattway::server {

class StreamRegistry {
 public:
  class Stream {
   public:
    virtual ~Stream() = default;
    // Ends the stream because the gateway is shutting down. Any thread; must not block.
    virtual void shutdownStream() = 0;
  };

  // Default bound on one client's concurrent streams (--max_streams_per_client).
  static constexpr std::size_t kDefaultMaxStreamsPerClient = 64;

  explicit StreamRegistry(std::size_t maxStreamsPerClient = kDefaultMaxStreamsPerClient)
      : maxPerClient_(maxStreamsPerClient) {}

  // Registers `stream` for `client`. UNAVAILABLE (SHUTTING_DOWN) once closed, RESOURCE_EXHAUSTED
  // (LIMIT_EXCEEDED) when the client already has its maximum of streams open: the stream must
  // then end at once with that status.
  absl::Status add(const std::shared_ptr<Stream>& stream, const std::string& client);
  void remove(const Stream* stream);
  // Refuses new streams and ends every open one.
  void closeAll();
  bool closed() const;
  std::size_t size() const;
  std::size_t openFor(const std::string& client) const;

 private:
  struct Entry {
    std::weak_ptr<Stream> stream;
    std::string client;
  };
  const std::size_t maxPerClient_;
  mutable std::mutex mu_;
  bool closed_ = false;                              // guarded by mu_
  std::map<const Stream*, Entry> open_;              // guarded by mu_
  std::map<std::string, std::size_t> perClient_;     // guarded by mu_
};

}  // namespace gattway::server
