// Every open server stream, so that Gateway::shutdown can end them all cleanly (UNAVAILABLE,
// "shutting down") before the gRPC server stops; a stream opened after that is refused at once.
// Any thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>

namespace gattway::server {

class StreamRegistry {
 public:
  class Stream {
   public:
    virtual ~Stream() = default;
    // Ends the stream because the gateway is shutting down. Any thread; must not block.
    virtual void shutdownStream() = 0;
  };

  // False once closed: the stream must end at once.
  bool add(const std::shared_ptr<Stream>& stream);
  void remove(const Stream* stream);
  // Refuses new streams and ends every open one.
  void closeAll();
  bool closed() const;
  std::size_t size() const;

 private:
  mutable std::mutex mu_;
  bool closed_ = false;                                    // guarded by mu_
  std::map<const Stream*, std::weak_ptr<Stream>> open_;  // guarded by mu_
};

}  // namespace gattway::server
