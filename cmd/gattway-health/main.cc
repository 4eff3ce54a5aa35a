// gattway-health: asks a gateway's gRPC health service whether it is SERVING; exit 0 if so.
// For container HEALTHCHECKs and scripts (Kubernetes has gRPC probes of its own).
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/byte_buffer.h"

ABSL_FLAG(std::string, address, "127.0.0.1:50051", "Gateway address (host:port or unix:path).");
ABSL_FLAG(std::string, service, "", "Service to ask about; empty: the whole server.");
ABSL_FLAG(std::string, tls_ca, "", "PEM CA bundle: connect with TLS and verify the server.");
ABSL_FLAG(std::string, tls_server_name, "", "Name to verify in the server's certificate.");
ABSL_FLAG(int, timeout_ms, 2000, "How long to wait for the answer.");

namespace {

bool serialize(const google::protobuf::Message& m, grpc::ByteBuffer* out) {
  const std::string bytes = m.SerializeAsString();
  grpc::Slice slice(bytes);
  *out = grpc::ByteBuffer(&slice, 1);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("gattway-health: exit 0 when the gateway's health is SERVING.");
  absl::ParseCommandLine(argc, argv);

  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  grpc::ChannelArguments args;
  if (!absl::GetFlag(FLAGS_tls_ca).empty()) {
    std::ifstream in(absl::GetFlag(FLAGS_tls_ca));
    std::stringstream ca;
    ca << in.rdbuf();
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ca.str();
    creds = grpc::SslCredentials(ssl);
    if (!absl::GetFlag(FLAGS_tls_server_name).empty()) {
      args.SetSslTargetNameOverride(absl::GetFlag(FLAGS_tls_server_name));
    }
  }
  auto channel = grpc::CreateCustomChannel(absl::GetFlag(FLAGS_address), creds, args);
  // A generic call: the probe links no generated service code, only the health messages.
  grpc::GenericStub stub(channel);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(absl::GetFlag(FLAGS_service));
  grpc::ByteBuffer send, recv;
  serialize(request, &send);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(absl::GetFlag(FLAGS_timeout_ms)));
  grpc::Status status;
  bool done = false;
  std::mutex mu;
  std::condition_variable cv;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &send, &recv,
                 [&](grpc::Status s) {
                   std::lock_guard lock(mu);
                   status = std::move(s);
                   done = true;
                   cv.notify_one();
                 });
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return done; });
  if (!status.ok()) {
    std::fprintf(stderr, "gattway-health: %s\n", status.error_message().c_str());
    return 2;
  }
  std::vector<grpc::Slice> slices;
  recv.Dump(&slices);
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  grpc::health::v1::HealthCheckResponse response;
  response.ParseFromString(bytes);
  const bool serving = response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
  std::printf("%s\n", grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status())
                          .c_str());
  return serving ? 0 : 1;
}
