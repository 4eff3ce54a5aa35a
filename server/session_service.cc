#include "server/session_service.h"

#include "ble/error.h"
#include "server/convert.h"
#include "server/policy_convert.h"
#include "server/reactors.h"
#include "server/stream_reactor.h"
#include "server/validate.h"

namespace gattway::server {
namespace {

constexpr std::size_t kWatchQueue = 1024;

// One WatchSessions stream: a session watcher whose events go out through the bounded queue.
class WatchStream final
    : public QueuedWriteReactor<v1::WatchSessionsResponse, v1::WatchSessionsResponse>,
      public SessionWatcher {
 public:
  WatchStream(ServiceContext& ctx, SessionFilter filter, bool includeInitial)
      : QueuedWriteReactor(ctx, Options{kWatchQueue, 1, false, nullptr, nullptr, nullptr}),
        filter_(std::move(filter)),
        includeInitial_(includeInitial) {}

  // Loop thread.
  void start() {
    if (!mayStart()) return;
    if (includeInitial_) {
      for (const SessionInfo& s : ctx_.central.sessions().list()) {
        if (!filter_.matches(s)) continue;
        v1::WatchSessionsResponse r;
        toProto(s, r.mutable_session());
        r.set_initial(true);
        push(std::move(r));
      }
    }
    watch_ = ctx_.central.sessions().watch(this);
    sendInitialMetadata();  // the watch is live: no change from here on is missed
  }

  void onSessionEvent(const SessionEvent& event) override {
    if (!filter_.matches(event.session)) return;
    v1::WatchSessionsResponse r;
    toProto(event.session, r.mutable_session());
    if (event.previous) r.set_previous_state(toProto(*event.previous));
    push(std::move(r));
  }

 private:
  void fill(std::vector<v1::WatchSessionsResponse>& items, std::uint64_t gap,
            v1::WatchSessionsResponse* out) override {
    *out = std::move(items.front());
    if (gap > 0) out->mutable_gap()->set_dropped(gap);
  }
  void releaseOnLoop() override { watch_.reset(); }

  SessionFilter filter_;
  bool includeInitial_;
  SessionManager::WatcherHandle watch_;  // loop thread
};

}  // namespace

grpc::ServerUnaryReactor* SessionServiceImpl::Connect(grpc::CallbackServerContext* context,
                                                      const v1::ConnectRequest* request,
                                                      v1::ConnectResponse* response) {
  auto options = connectRequest(*request);
  if (!options.ok()) return finishUnary(context, options.status());
  auto* reactor = context->DefaultReactor();
  onLoop(ctx_, reactor, [this, reactor, response, options = std::move(*options)]() mutable {
    ctx_.central.sessions().connect(std::move(options),
                                    [reactor, response](absl::StatusOr<SessionInfo> session) {
                                      if (session.ok()) toProto(*session, response->mutable_session());
                                      reactor->Finish(toGrpcStatus(session.status()));
                                    });
  });
  return reactor;
}

grpc::ServerUnaryReactor* SessionServiceImpl::Disconnect(grpc::CallbackServerContext* context,
                                                         const v1::DisconnectRequest* request,
                                                         v1::DisconnectResponse* response) {
  auto address = requiredAddress(request->address(), "address");
  if (!address.ok()) return finishUnary(context, address.status());
  auto* reactor = context->DefaultReactor();
  onLoop(ctx_, reactor, [this, reactor, response, address = *address] {
    ctx_.central.sessions().disconnect(address,
                                       [reactor, response](absl::StatusOr<SessionInfo> session) {
                                         if (session.ok()) {
                                           toProto(*session, response->mutable_session());
                                         }
                                         reactor->Finish(toGrpcStatus(session.status()));
                                       });
  });
  return reactor;
}

grpc::ServerUnaryReactor* SessionServiceImpl::GetSession(grpc::CallbackServerContext* context,
                                                         const v1::GetSessionRequest* request,
                                                         v1::GetSessionResponse* response) {
  auto address = requiredAddress(request->address(), "address");
  if (!address.ok()) return finishUnary(context, address.status());
  auto* reactor = context->DefaultReactor();
  onLoop(ctx_, reactor, [this, reactor, response, address = *address] {
    auto session = ctx_.central.sessions().get(address);
    if (session.ok()) toProto(*session, response->mutable_session());
    reactor->Finish(toGrpcStatus(session.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* SessionServiceImpl::ListSessions(grpc::CallbackServerContext* context,
                                                           const v1::ListSessionsRequest* request,
                                                           v1::ListSessionsResponse* response) {
  auto filter = sessionFilter(request->filter(), "filter");
  if (!filter.ok()) return finishUnary(context, filter.status());
  auto* reactor = context->DefaultReactor();
  onLoop(ctx_, reactor, [this, reactor, response, filter = std::move(*filter)] {
    for (const SessionInfo& s : ctx_.central.sessions().list()) {
      if (filter.matches(s)) toProto(s, response->add_sessions());
    }
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerWriteReactor<v1::WatchSessionsResponse>* SessionServiceImpl::WatchSessions(
    grpc::CallbackServerContext* context, const v1::WatchSessionsRequest* request) {
  auto filter = sessionFilter(request->filter(), "filter");
  if (!filter.ok()) return new FinishedWriteReactor<v1::WatchSessionsResponse>(filter.status());
  return WatchStream::launch<WatchStream>(ctx_, *context, std::move(*filter),
                                          request->include_initial());
}

grpc::ServerUnaryReactor* SessionServiceImpl::CreatePolicy(grpc::CallbackServerContext* context,
                                                           const v1::CreatePolicyRequest* request,
                                                           v1::CreatePolicyResponse* response) {
  auto policy = policyFromProto(request->policy(), "policy");
  if (!policy.ok()) return finishUnary(context, policy.status());
  auto* reactor = context->DefaultReactor();
  onLoop(ctx_, reactor, [this, reactor, response, policy = std::move(*policy)]() mutable {
    auto stored = ctx_.central.policies().create(std::move(policy), absl::Now());
    if (stored.ok()) toProto(*stored, response->mutable_policy());
    reactor->Finish(toGrpcStatus(stored.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* SessionServiceImpl::UpdatePolicy(grpc::CallbackServerContext* context,
                                                           const v1::UpdatePolicyRequest* request,
                                                           v1::UpdatePolicyResponse* response) {
  auto policy = policyFromProto(request->policy(), "policy");
  if (!policy.ok()) return finishUnary(context, policy.status());
  auto* reactor = context->DefaultReactor();
  onLoop(ctx_, reactor, [this, reactor, response, allow = request->allow_missing(),
                         policy = std::move(*policy)]() mutable {
    auto stored = ctx_.central.policies().update(std::move(policy), allow, absl::Now());
    if (stored.ok()) toProto(*stored, response->mutable_policy());
    reactor->Finish(toGrpcStatus(stored.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* SessionServiceImpl::GetPolicy(grpc::CallbackServerContext* context,
                                                        const v1::GetPolicyRequest* request,
                                                        v1::GetPolicyResponse* response) {
  if (request->name().empty()) {
    return finishUnary(context, err::invalidField("name", "required; a policy name"));
  }
  auto* reactor = context->DefaultReactor();
  onLoop(ctx_, reactor, [this, reactor, response, name = request->name()] {
    auto policy = ctx_.central.policies().get(name);
    if (policy.ok()) toProto(*policy, response->mutable_policy());
    reactor->Finish(toGrpcStatus(policy.status()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* SessionServiceImpl::ListPolicies(grpc::CallbackServerContext* context,
                                                           const v1::ListPoliciesRequest*,
                                                           v1::ListPoliciesResponse* response) {
  auto* reactor = context->DefaultReactor();
  onLoop(ctx_, reactor, [this, reactor, response] {
    for (const auto& p : ctx_.central.policies().list()) toProto(p, response->add_policies());
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* SessionServiceImpl::DeletePolicy(grpc::CallbackServerContext* context,
                                                           const v1::DeletePolicyRequest* request,
                                                           v1::DeletePolicyResponse*) {
  if (request->name().empty()) {
    return finishUnary(context, err::invalidField("name", "required; a policy name"));
  }
  auto* reactor = context->DefaultReactor();
  onLoop(ctx_, reactor, [this, reactor, name = request->name()] {
    reactor->Finish(toGrpcStatus(ctx_.central.policies().remove(name)));
  });
  return reactor;
}

grpc::ServerUnaryReactor* SessionServiceImpl::ResolvePolicy(
    grpc::CallbackServerContext* context, const v1::ResolvePolicyRequest* request,
    v1::ResolvePolicyResponse* response) {
  auto address = requiredAddress(request->address(), "address");
  if (!address.ok()) return finishUnary(context, address.status());
  // The extras are checked here, before the loop, by resolving them against an empty device.
  if (auto probe = resolveRequest(*request, DeviceFacts{}); !probe.ok()) {
    return finishUnary(context, probe.status());
  }
  auto* reactor = context->DefaultReactor();
  onLoop(ctx_, reactor, [this, reactor, response, request, address = *address] {
    SessionManager& sessions = ctx_.central.sessions();
    auto facts = resolveRequest(*request, sessions.deviceFacts(address));
    if (!facts.ok()) {
      reactor->Finish(toGrpcStatus(facts.status()));
      return;
    }
    std::string named;
    if (auto s = sessions.get(address); s.ok()) named = s->explicitPolicy;
    toProto(ctx_.central.policies().resolve(*facts, named), response);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace gattway::server
