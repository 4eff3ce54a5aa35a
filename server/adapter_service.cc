#include "server/adapter_service.h"

#include "absl/strings/str_cat.h"
#include "server/convert.h"
#include "server/reactors.h"
#include "server/validate.h"

namespace gattway::server {

grpc::ServerUnaryReactor* AdapterServiceImpl::ListAdapters(grpc::CallbackServerContext* context,
                                                           const v1::ListAdaptersRequest*,
                                                           v1::ListAdaptersResponse* response) {
  auto* reactor = context->DefaultReactor();
  onLoop(ctx_, reactor, [this, reactor, response] {
    auto adapters = ctx_.central.adapters();
    if (adapters.ok()) {
      for (const auto& a : *adapters) toProto(a, response->add_adapters());
    }
    reactor->Finish(toGrpcStatus(adapters.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* AdapterServiceImpl::GetAdapter(grpc::CallbackServerContext* context,
                                                         const v1::GetAdapterRequest* request,
                                                         v1::GetAdapterResponse* response) {
  auto name = adapterName(request->name(), "name", false);
  if (!name.ok()) return finishUnary(context, name.status());
  auto* reactor = context->DefaultReactor();
  onLoop(ctx_, reactor, [this, reactor, response, name = *name] {
    auto adapter = ctx_.central.adapter(name);
    if (adapter.ok()) toProto(*adapter, response->mutable_adapter());
    reactor->Finish(toGrpcStatus(adapter.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* AdapterServiceImpl::UpdateAdapter(grpc::CallbackServerContext* context,
                                                            const v1::UpdateAdapterRequest* request,
                                                            v1::UpdateAdapterResponse* response) {
  auto name = adapterName(request->name(), "name", false);
  if (!name.ok()) return finishUnary(context, name.status());
  std::optional<std::uint32_t> limit;
  if (request->has_connection_slot_limit()) {
    const std::uint32_t n = request->connection_slot_limit();
    if (n < 1 || n > Central::kMaxSlotLimit) {
      return finishUnary(context, err::invalidField("connection_slot_limit",
                                                    absl::StrCat(n, " is out of range 1..64")));
    }
    limit = n;
  }
  std::optional<bool> powered;
  if (request->has_powered()) powered = request->powered();
  auto* reactor = context->DefaultReactor();
  onLoop(ctx_, reactor, [this, reactor, response, name = *name, powered, limit] {
    ctx_.central.updateAdapter(name, powered, limit,
                               [reactor, response](absl::StatusOr<AdapterView> adapter) {
                                 if (adapter.ok()) toProto(*adapter, response->mutable_adapter());
                                 reactor->Finish(toGrpcStatus(adapter.status()));
                               });
  });
  return reactor;
}

}  // namespace gattway::server
