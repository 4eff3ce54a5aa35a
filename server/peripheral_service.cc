#include "server/peripheral_service.h"

#include "ble/error.h"
#include "server/peripheral_convert.h"
#include "server/peripheral_streams.h"
#include "server/reactors.h"
#include "server/status.h"

namespace gattway::server {
namespace {

absl::Status noBus() {
  return err::make(err::Reason::kBluezUnavailable,
                   "the gateway has no D-Bus connection, so no BlueZ to host a peripheral on");
}

// Posts `fn(finish)` to the loop; `finish(status)` ends the call from whichever thread.
template <typename Fn>
grpc::ServerUnaryReactor* onLoop(grpc::CallbackServerContext* context, Executor* loop,
                                 peripheral::Peripheral* p, Fn fn) {
  auto* reactor = context->DefaultReactor();
  if (loop == nullptr || p == nullptr) {
    reactor->Finish(toGrpcStatus(noBus()));
    return reactor;
  }
  loop->post([reactor, p, fn = std::move(fn)]() mutable {
    fn(*p, [reactor](const absl::Status& s) { reactor->Finish(toGrpcStatus(s)); });
  });
  return reactor;
}

std::vector<std::uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }

}  // namespace

grpc::ServerUnaryReactor* PeripheralServiceImpl::RegisterServices(
    grpc::CallbackServerContext* context, const v1::RegisterServicesRequest* request,
    v1::RegisterServicesResponse* response) {
  auto definition = toDefinition(*request);
  if (!definition.ok()) return finishUnary(context, definition.status());
  return onLoop(context, loop_, peripheral_,
                [response, d = std::move(*definition)](peripheral::Peripheral& p, auto finish) mutable {
                  p.registerServices(std::move(d), [response, finish](auto result) {
                    if (result.ok()) toProto(*result, response);
                    finish(result.status());
                  });
                });
}

grpc::ServerUnaryReactor* PeripheralServiceImpl::UnregisterServices(
    grpc::CallbackServerContext* context, const v1::UnregisterServicesRequest*,
    v1::UnregisterServicesResponse*) {
  return onLoop(context, loop_, peripheral_, [](peripheral::Peripheral& p, auto finish) {
    p.unregisterServices([finish](absl::Status s) { finish(s); });
  });
}

grpc::ServerUnaryReactor* PeripheralServiceImpl::StartAdvertising(
    grpc::CallbackServerContext* context, const v1::StartAdvertisingRequest* request,
    v1::StartAdvertisingResponse* response) {
  auto advertising = toAdvertising(*request);
  if (!advertising.ok()) return finishUnary(context, advertising.status());
  return onLoop(context, loop_, peripheral_,
                [response, a = std::move(*advertising)](peripheral::Peripheral& p, auto finish) mutable {
                  p.startAdvertising(std::move(a), [response, finish](auto result) {
                    if (result.ok()) {
                      response->set_id(result->id);
                      response->set_adapter(result->adapter);
                      if (result->expireTime) toProto(*result->expireTime, response->mutable_expire_time());
                    }
                    finish(result.status());
                  });
                });
}

grpc::ServerUnaryReactor* PeripheralServiceImpl::StopAdvertising(
    grpc::CallbackServerContext* context, const v1::StopAdvertisingRequest* request,
    v1::StopAdvertisingResponse* response) {
  return onLoop(context, loop_, peripheral_,
                [response, id = request->id()](peripheral::Peripheral& p, auto finish) {
                  p.stopAdvertising(id, [response, finish](auto result) {
                    if (result.ok()) {
                      for (const auto& each : *result) response->add_ids(each);
                    }
                    finish(result.status());
                  });
                });
}

grpc::ServerUnaryReactor* PeripheralServiceImpl::SetValue(grpc::CallbackServerContext* context,
                                                          const v1::SetValueRequest* request,
                                                          v1::SetValueResponse* response) {
  auto selector = toSelector(request->characteristic(), "characteristic");
  if (!selector.ok()) return finishUnary(context, selector.status());
  if (auto s = checkValue(request->value(), "value"); !s.ok()) return finishUnary(context, s);
  return onLoop(context, loop_, peripheral_,
                [response, sel = *selector, value = bytes(request->value()),
                 update = request->send_update()](peripheral::Peripheral& p, auto finish) mutable {
                  auto reached = p.setValue(sel, std::move(value), update);
                  if (reached.ok()) response->set_centrals_updated(*reached);
                  finish(reached.status());
                });
}

grpc::ServerUnaryReactor* PeripheralServiceImpl::GetValue(grpc::CallbackServerContext* context,
                                                          const v1::GetValueRequest* request,
                                                          v1::GetValueResponse* response) {
  auto selector = toSelector(request->characteristic(), "characteristic");
  if (!selector.ok()) return finishUnary(context, selector.status());
  return onLoop(context, loop_, peripheral_,
                [response, sel = *selector, clear = request->clear()](peripheral::Peripheral& p,
                                                                      auto finish) {
                  auto value = p.getValue(sel, clear);
                  if (value.ok()) response->set_value(std::string(value->begin(), value->end()));
                  finish(value.status());
                });
}

grpc::ServerUnaryReactor* PeripheralServiceImpl::Notify(grpc::CallbackServerContext* context,
                                                        const v1::NotifyRequest* request,
                                                        v1::NotifyResponse*) {
  auto selector = toSelector(request->characteristic(), "characteristic");
  if (!selector.ok()) return finishUnary(context, selector.status());
  if (request->central().empty()) {
    return finishUnary(context, err::invalidField("central", "is required"));
  }
  auto central = Address::parse(request->central(), "central");
  if (!central.ok()) return finishUnary(context, central.status());
  if (auto s = checkValue(request->value(), "value"); !s.ok()) return finishUnary(context, s);
  return onLoop(context, loop_, peripheral_,
                [sel = *selector, central = *central, indicate = request->indicate()](
                    peripheral::Peripheral& p, auto finish) {
                  finish(p.notifyOne(sel, central, indicate));
                });
}

grpc::ServerWriteReactor<v1::StreamWritesResponse>* PeripheralServiceImpl::StreamWrites(
    grpc::CallbackServerContext* context, const v1::StreamWritesRequest* request) {
  if (loop_ == nullptr || peripheral_ == nullptr) {
    return new FinishedWriteReactor<v1::StreamWritesResponse>(noBus());
  }
  return newStreamWritesReactor(host(), *peripheral_, *context, *request);
}

grpc::ServerBidiReactor<v1::HandleReadsRequest, v1::HandleReadsResponse>*
PeripheralServiceImpl::HandleReads(grpc::CallbackServerContext* context) {
  if (loop_ == nullptr || peripheral_ == nullptr) {
    return new FinishedBidiReactor<v1::HandleReadsRequest, v1::HandleReadsResponse>(noBus());
  }
  return newHandleReadsReactor(host(), *peripheral_, *context);
}

grpc::ServerWriteReactor<v1::WatchPeripheralResponse>* PeripheralServiceImpl::WatchPeripheral(
    grpc::CallbackServerContext* context, const v1::WatchPeripheralRequest*) {
  if (loop_ == nullptr || peripheral_ == nullptr) {
    return new FinishedWriteReactor<v1::WatchPeripheralResponse>(noBus());
  }
  return newWatchReactor(host(), *peripheral_, *context);
}

grpc::ServerUnaryReactor* PeripheralServiceImpl::GetPeripheral(
    grpc::CallbackServerContext* context, const v1::GetPeripheralRequest*,
    v1::GetPeripheralResponse* response) {
  return onLoop(context, loop_, peripheral_, [response](peripheral::Peripheral& p, auto finish) {
    toProto(p.snapshot(), response);
    finish(absl::OkStatus());
  });
}

}  // namespace gattway::server
