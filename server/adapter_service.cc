#include "server/adapter_service.h"

#include "server/reactors.h"

namespace gattway::server {

constexpr absl::string_view kWhere = "issue #4 (central over BlueZ)";

grpc::ServerUnaryReactor* AdapterServiceImpl::ListAdapters(grpc::CallbackServerContext* context, const v1::ListAdaptersRequest*, v1::ListAdaptersResponse*) {
  return finishUnary(context, notBuiltYet("AdapterService.ListAdapters", kWhere));
}

grpc::ServerUnaryReactor* AdapterServiceImpl::GetAdapter(grpc::CallbackServerContext* context, const v1::GetAdapterRequest*, v1::GetAdapterResponse*) {
  return finishUnary(context, notBuiltYet("AdapterService.GetAdapter", kWhere));
}

grpc::ServerUnaryReactor* AdapterServiceImpl::UpdateAdapter(grpc::CallbackServerContext* context, const v1::UpdateAdapterRequest*, v1::UpdateAdapterResponse*) {
  return finishUnary(context, notBuiltYet("AdapterService.UpdateAdapter", kWhere));
}

}  // namespace gattway::server
