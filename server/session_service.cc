#include "server/session_service.h"

#include "server/convert.h"
#include "server/reactors.h"
#include "server/stream_reactor.h"
#include "server/validate.h"

namespace gattway::server {
namespace {

constexpr absl::string_view kPolicies = "issue #5, persistent sessions and policies";
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
    if (ending()) return;
    if (ctx_.central.shuttingDown()) {
      end(shuttingDown(), false);
      return;
    }
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
  auto stream =
      WatchStream::create<WatchStream>(ctx_, std::move(*filter), request->include_initial());
  if (stream->open(*context)) ctx_.loop.post([stream] { stream->start(); });
  return stream.get();
}

grpc::ServerUnaryReactor* SessionServiceImpl::CreatePolicy(grpc::CallbackServerContext* context, const v1::CreatePolicyRequest*, v1::CreatePolicyResponse*) {
  return finishUnary(context, notBuiltYet("SessionService.CreatePolicy", kPolicies));
}

grpc::ServerUnaryReactor* SessionServiceImpl::UpdatePolicy(grpc::CallbackServerContext* context, const v1::UpdatePolicyRequest*, v1::UpdatePolicyResponse*) {
  return finishUnary(context, notBuiltYet("SessionService.UpdatePolicy", kPolicies));
}

grpc::ServerUnaryReactor* SessionServiceImpl::GetPolicy(grpc::CallbackServerContext* context, const v1::GetPolicyRequest*, v1::GetPolicyResponse*) {
  return finishUnary(context, notBuiltYet("SessionService.GetPolicy", kPolicies));
}

grpc::ServerUnaryReactor* SessionServiceImpl::ListPolicies(grpc::CallbackServerContext* context, const v1::ListPoliciesRequest*, v1::ListPoliciesResponse*) {
  return finishUnary(context, notBuiltYet("SessionService.ListPolicies", kPolicies));
}

grpc::ServerUnaryReactor* SessionServiceImpl::DeletePolicy(grpc::CallbackServerContext* context, const v1::DeletePolicyRequest*, v1::DeletePolicyResponse*) {
  return finishUnary(context, notBuiltYet("SessionService.DeletePolicy", kPolicies));
}

grpc::ServerUnaryReactor* SessionServiceImpl::ResolvePolicy(grpc::CallbackServerContext* context, const v1::ResolvePolicyRequest*, v1::ResolvePolicyResponse*) {
  return finishUnary(context, notBuiltYet("SessionService.ResolvePolicy", kPolicies));
}

}  // namespace gattway::server
