#include "server/grpc_server.h"

#include "absl/strings/str_cat.h"
#include "gattway/v1/adapter.grpc.pb.h"
#include "gattway/v1/gatt.grpc.pb.h"
#include "gattway/v1/metrics.grpc.pb.h"
#include "gattway/v1/peripheral.grpc.pb.h"
#include "gattway/v1/scan.grpc.pb.h"
#include "gattway/v1/session.grpc.pb.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace gattway::server {

const std::vector<std::string>& apiServiceNames() {
  static const std::vector<std::string> kNames = {
      v1::AdapterService::service_full_name(),    v1::ScanService::service_full_name(),
      v1::SessionService::service_full_name(),    v1::GattService::service_full_name(),
      v1::PeripheralService::service_full_name(), v1::MetricsService::service_full_name()};
  return kNames;
}

GrpcServer::GrpcServer(std::vector<grpc::Service*> services, InterceptorFactories interceptors)
    : services_(std::move(services)), interceptors_(std::move(interceptors)) {}

GrpcServer::~GrpcServer() {
  if (server_) shutdown(absl::ZeroDuration());
}

absl::Status GrpcServer::start(const std::string& address,
                               std::shared_ptr<grpc::ServerCredentials> credentials,
                               int maxMessageBytes) {
  // Reflection describes what the generated descriptor pool holds; gRPC's built-in health service
  // is not generated code, so name its descriptor here to link health.proto's into the pool.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, std::move(credentials), &port_);
  builder.SetMaxReceiveMessageSize(maxMessageBytes);
  for (grpc::Service* s : services_) builder.RegisterService(s);
  builder.experimental().SetInterceptorCreators(std::move(interceptors_));
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    server_.reset();
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address, " (address in use, or not a local address?)"));
  }
  return absl::OkStatus();
}

void GrpcServer::setServing(bool serving) {
  if (!server_) return;
  auto* health = server_->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus(serving);
  for (const auto& name : apiServiceNames()) health->SetServingStatus(name, serving);
}

void GrpcServer::shutdown(absl::Duration grace) {
  if (!server_) return;
  setServing(false);
  server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(grace));
  server_->Wait();
  server_.reset();
}

}  // namespace gattway::server
