// gattway.v1.SessionService.
#pragma once

#include "gattway/v1/session.grpc.pb.h"
#include "server/service_context.h"

namespace gattway::server {

class SessionServiceImpl final : public v1::SessionService::CallbackService {
 public:
  explicit SessionServiceImpl(ServiceContext& ctx) : ctx_(ctx) {}
  grpc::ServerUnaryReactor* Connect(grpc::CallbackServerContext* context, const v1::ConnectRequest* request, v1::ConnectResponse* response) override;
  grpc::ServerUnaryReactor* Disconnect(grpc::CallbackServerContext* context, const v1::DisconnectRequest* request, v1::DisconnectResponse* response) override;
  grpc::ServerUnaryReactor* GetSession(grpc::CallbackServerContext* context, const v1::GetSessionRequest* request, v1::GetSessionResponse* response) override;
  grpc::ServerUnaryReactor* ListSessions(grpc::CallbackServerContext* context, const v1::ListSessionsRequest* request, v1::ListSessionsResponse* response) override;
  grpc::ServerWriteReactor<v1::WatchSessionsResponse>* WatchSessions(grpc::CallbackServerContext* context, const v1::WatchSessionsRequest* request) override;
  grpc::ServerUnaryReactor* CreatePolicy(grpc::CallbackServerContext* context, const v1::CreatePolicyRequest* request, v1::CreatePolicyResponse* response) override;
  grpc::ServerUnaryReactor* UpdatePolicy(grpc::CallbackServerContext* context, const v1::UpdatePolicyRequest* request, v1::UpdatePolicyResponse* response) override;
  grpc::ServerUnaryReactor* GetPolicy(grpc::CallbackServerContext* context, const v1::GetPolicyRequest* request, v1::GetPolicyResponse* response) override;
  grpc::ServerUnaryReactor* ListPolicies(grpc::CallbackServerContext* context, const v1::ListPoliciesRequest* request, v1::ListPoliciesResponse* response) override;
  grpc::ServerUnaryReactor* DeletePolicy(grpc::CallbackServerContext* context, const v1::DeletePolicyRequest* request, v1::DeletePolicyResponse* response) override;
  grpc::ServerUnaryReactor* ResolvePolicy(grpc::CallbackServerContext* context, const v1::ResolvePolicyRequest* request, v1::ResolvePolicyResponse* response) override;

 private:
  ServiceContext& ctx_;
};

}  // namespace gattway::server
