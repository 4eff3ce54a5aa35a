// What every command shares: the channel (address, TLS, token), call contexts with the deadline
// and token, Ctrl-C that cancels the running stream, and the output conventions.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace gattway::cli {

// Exit codes: 0 success, 1 the gateway answered with an error, 2 the command line was wrong (or a
// file could not be read).
inline constexpr int kExitOk = 0;
inline constexpr int kExitRpcError = 1;
inline constexpr int kExitUsage = 2;

struct ClientOptions {
  std::string address;
  std::string tlsCa, tlsCert, tlsKey, tlsServerName;
  std::string token;
  absl::Duration timeout = absl::Seconds(30);
  bool json = false;
};

// The options from the flags and the environment (GATTWAY_ADDRESS, GATTWAY_TOKEN).
ClientOptions optionsFromFlags();

// Deregisters a stream context from the interrupt handler when it is destroyed.
struct StreamContextDeleter {
  void operator()(grpc::ClientContext* context) const;
};
using StreamContext = std::unique_ptr<grpc::ClientContext, StreamContextDeleter>;

class Client {
 public:
  // Reads the TLS files; errors name the file. --tls_cert without --tls_key (or the reverse), or
  // either without --tls_ca, is INVALID_ARGUMENT.
  static absl::StatusOr<std::unique_ptr<Client>> open(const ClientOptions& options);

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  bool json() const { return options_.json; }
  const std::string& address() const { return options_.address; }

  // A context for a unary call: the --timeout deadline and the token.
  std::unique_ptr<grpc::ClientContext> unaryContext() const;
  // A context for a stream: no deadline (`limit` zero) or `limit`, the token, and registered so
  // that SIGINT/SIGTERM cancel it. Only one stream context exists at a time.
  StreamContext streamContext(absl::Duration limit = absl::ZeroDuration());

  // Whether the user interrupted the running stream (then CANCELLED is a normal end).
  static bool interrupted();

 private:
  explicit Client(ClientOptions options) : options_(std::move(options)) {}
  void authorize(grpc::ClientContext* context) const;

  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
};

// Blocks SIGINT and SIGTERM in every thread and handles them on a thread of their own, which
// cancels the registered stream (or exits when none is running). Call before creating threads.
void installInterruptHandler();

// Output. Each writes to stdout and flushes, so streams reach pipes line by line.
void out(const std::string& text);
// The message as protobuf JSON on one line.
void outJson(const google::protobuf::Message& message);

// Ends a call: prints the error (text or JSON, on stderr) and returns its exit code. A stream
// that ended because the user interrupted it, or its --duration passed, is a success.
int finish(const Client& client, const grpc::Status& status, bool stream = false);

// Prints a usage error on stderr and returns kExitUsage.
int usageError(const std::string& message);

// Parses a duration flag value ("10s", "1m", "0"); empty gives `fallback`.
absl::StatusOr<absl::Duration> durationFlag(const std::string& value, absl::Duration fallback);

}  // namespace gattway::cli
