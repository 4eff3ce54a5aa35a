#include "server/session_service.h"

#include "server/reactors.h"

namespace gattway::server {

constexpr absl::string_view kWhere = "issue #4 (central) and #5 (persistent sessions and policies)";

grpc::ServerUnaryReactor* SessionServiceImpl::Connect(grpc::CallbackServerContext* context, const v1::ConnectRequest*, v1::ConnectResponse*) {
  return finishUnary(context, notBuiltYet("SessionService.Connect", kWhere));
}

grpc::ServerUnaryReactor* SessionServiceImpl::Disconnect(grpc::CallbackServerContext* context, const v1::DisconnectRequest*, v1::DisconnectResponse*) {
  return finishUnary(context, notBuiltYet("SessionService.Disconnect", kWhere));
}

grpc::ServerUnaryReactor* SessionServiceImpl::GetSession(grpc::CallbackServerContext* context, const v1::GetSessionRequest*, v1::GetSessionResponse*) {
  return finishUnary(context, notBuiltYet("SessionService.GetSession", kWhere));
}

grpc::ServerUnaryReactor* SessionServiceImpl::ListSessions(grpc::CallbackServerContext* context, const v1::ListSessionsRequest*, v1::ListSessionsResponse*) {
  return finishUnary(context, notBuiltYet("SessionService.ListSessions", kWhere));
}

grpc::ServerWriteReactor<v1::WatchSessionsResponse>* SessionServiceImpl::WatchSessions(grpc::CallbackServerContext*, const v1::WatchSessionsRequest*) {
  return new FinishedWriteReactor<v1::WatchSessionsResponse>(notBuiltYet("SessionService.WatchSessions", kWhere));
}

grpc::ServerUnaryReactor* SessionServiceImpl::CreatePolicy(grpc::CallbackServerContext* context, const v1::CreatePolicyRequest*, v1::CreatePolicyResponse*) {
  return finishUnary(context, notBuiltYet("SessionService.CreatePolicy", kWhere));
}

grpc::ServerUnaryReactor* SessionServiceImpl::UpdatePolicy(grpc::CallbackServerContext* context, const v1::UpdatePolicyRequest*, v1::UpdatePolicyResponse*) {
  return finishUnary(context, notBuiltYet("SessionService.UpdatePolicy", kWhere));
}

grpc::ServerUnaryReactor* SessionServiceImpl::GetPolicy(grpc::CallbackServerContext* context, const v1::GetPolicyRequest*, v1::GetPolicyResponse*) {
  return finishUnary(context, notBuiltYet("SessionService.GetPolicy", kWhere));
}

grpc::ServerUnaryReactor* SessionServiceImpl::ListPolicies(grpc::CallbackServerContext* context, const v1::ListPoliciesRequest*, v1::ListPoliciesResponse*) {
  return finishUnary(context, notBuiltYet("SessionService.ListPolicies", kWhere));
}

grpc::ServerUnaryReactor* SessionServiceImpl::DeletePolicy(grpc::CallbackServerContext* context, const v1::DeletePolicyRequest*, v1::DeletePolicyResponse*) {
  return finishUnary(context, notBuiltYet("SessionService.DeletePolicy", kWhere));
}

grpc::ServerUnaryReactor* SessionServiceImpl::ResolvePolicy(grpc::CallbackServerContext* context, const v1::ResolvePolicyRequest*, v1::ResolvePolicyResponse*) {
  return finishUnary(context, notBuiltYet("SessionService.ResolvePolicy", kWhere));
}

}  // namespace gattway::server
