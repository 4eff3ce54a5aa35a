#include "cmd/gattway/client.h"

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "cmd/gattway/flags.h"
#include "cmd/gattway/rpc_error.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace gattway::cli {
namespace {

std::mutex g_streamMutex;
grpc::ClientContext* g_stream = nullptr;  // guarded by g_streamMutex
std::atomic<bool> g_interrupted{false};
std::atomic<bool> g_deadlineIsDuration{false};

absl::StatusOr<std::string> readFile(const std::string& flag, const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("--", flag, "=", path, ": cannot read the file"));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string envOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

}  // namespace

ClientOptions optionsFromFlags() {
  ClientOptions o;
  o.address = absl::GetFlag(FLAGS_address);
  if (o.address.empty()) o.address = envOr("GATTWAY_ADDRESS", "127.0.0.1:50051");
  o.tlsCa = absl::GetFlag(FLAGS_tls_ca);
  o.tlsCert = absl::GetFlag(FLAGS_tls_cert);
  o.tlsKey = absl::GetFlag(FLAGS_tls_key);
  o.tlsServerName = absl::GetFlag(FLAGS_tls_server_name);
  o.token = absl::GetFlag(FLAGS_token);
  if (o.token.empty()) o.token = envOr("GATTWAY_TOKEN", "");
  o.timeout = absl::GetFlag(FLAGS_timeout);
  o.json = absl::GetFlag(FLAGS_json);
  return o;
}

absl::StatusOr<std::unique_ptr<Client>> Client::open(const ClientOptions& options) {
  if (options.tlsCert.empty() != options.tlsKey.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together (mTLS)");
  }
  if (!options.tlsCert.empty() && options.tlsCa.empty()) {
    return absl::InvalidArgumentError(
        "--tls_cert needs --tls_ca (the CA that signed the gateway's certificate)");
  }
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--timeout must be positive");
  }
  std::unique_ptr<Client> client(new Client(options));
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  grpc::ChannelArguments args;
  if (!options.tlsCa.empty()) {
    grpc::SslCredentialsOptions ssl;
    auto ca = readFile("tls_ca", options.tlsCa);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
    if (!options.tlsCert.empty()) {
      auto cert = readFile("tls_cert", options.tlsCert);
      if (!cert.ok()) return cert.status();
      auto key = readFile("tls_key", options.tlsKey);
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *cert;
      ssl.pem_private_key = *key;
    }
    creds = grpc::SslCredentials(ssl);
    if (!options.tlsServerName.empty()) args.SetSslTargetNameOverride(options.tlsServerName);
  }
  client->channel_ = grpc::CreateCustomChannel(options.address, creds, args);
  return client;
}

void Client::authorize(grpc::ClientContext* context) const {
  // Plain metadata rather than call credentials: gRPC sends call credentials over TLS only, and the
  // gateway accepts tokens in clear on loopback and unix: addresses (README, Security).
  if (!options_.token.empty()) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", options_.token));
  }
}

std::unique_ptr<grpc::ClientContext> Client::unaryContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
  authorize(context.get());
  return context;
}

void StreamContextDeleter::operator()(grpc::ClientContext* context) const {
  {
    std::lock_guard lock(g_streamMutex);
    if (g_stream == context) g_stream = nullptr;
  }
  delete context;
}

StreamContext Client::streamContext(absl::Duration limit) {
  auto* context = new grpc::ClientContext();
  if (limit > absl::ZeroDuration()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + limit));
    g_deadlineIsDuration = true;
  }
  authorize(context);
  std::lock_guard lock(g_streamMutex);
  g_stream = context;
  return StreamContext(context);
}

bool Client::interrupted() { return g_interrupted.load(); }

void installInterruptHandler() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      std::lock_guard lock(g_streamMutex);
      if (g_stream == nullptr || g_interrupted.exchange(true)) {
        // Nothing to cancel gracefully, or a second Ctrl-C: leave now.
        std::fflush(stdout);
        std::_Exit(128 + sig);
      }
      g_stream->TryCancel();
    }
  }).detach();
}

void out(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void outJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = false;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  out(json + "\n");
}

int finish(const Client& client, const grpc::Status& status, bool stream) {
  if (status.ok()) return kExitOk;
  if (stream && status.error_code() == grpc::StatusCode::CANCELLED && g_interrupted) {
    return kExitOk;
  }
  if (stream && status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
      g_deadlineIsDuration) {
    return kExitOk;  // --duration passed: the end the user asked for
  }
  const RpcError e = describe(status);
  std::string text = client.json() ? formatJson(e) + "\n" : formatText(e);
  if (!client.json() && e.reason.empty() && status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    // No ErrorInfo: gRPC itself could not reach the gateway.
    absl::StrAppend(&text, "  is a gateway listening at ", client.address(),
                    "? (--address, $GATTWAY_ADDRESS)\n");
  }
  std::fwrite(text.data(), 1, text.size(), stderr);
  return kExitRpcError;
}

int usageError(const std::string& message) {
  std::fprintf(stderr, "gattway: %s\n(gattway --help lists the commands)\n", message.c_str());
  return kExitUsage;
}

absl::StatusOr<absl::Duration> durationFlag(const std::string& value, absl::Duration fallback) {
  if (value.empty()) return fallback;
  absl::Duration d;
  if (!absl::ParseDuration(value, &d) || d < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--duration=", value, ": expected a duration such as 10s, 2m or 0"));
  }
  return d;
}

}  // namespace gattway::cli
