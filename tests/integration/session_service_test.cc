// SessionService and AdapterService over real gRPC against the gateway with the fake backend.
#include <thread>

#include "ble/error.h"
#include "tests/support/fake_gateway.h"

namespace gattway::testing {
namespace {

using namespace std::chrono_literals;
using Op = FakeCentralBackend::Op;

class ASessionRpc : public FakeGatewayTest {};

TEST_F(ASessionRpc, ConnectsGetsListsAndDisconnects) {
  v1::Session session;
  ASSERT_TRUE(connect(kDevice, &session).ok());
  EXPECT_EQ(session.state(), v1::SESSION_STATE_CONNECTED);
  EXPECT_EQ(session.adapter(), "hci0");
  EXPECT_EQ(session.mtu(), 247u);
  EXPECT_FALSE(session.persistent());
  EXPECT_TRUE(session.has_lease_expire_time());

  {
    grpc::ClientContext ctx;
    v1::GetSessionRequest request;
    request.set_address("aa:bb:cc:dd:ee:01");  // either case on input
    v1::GetSessionResponse response;
    ASSERT_TRUE(sessions->GetSession(&ctx, request, &response).ok());
    EXPECT_EQ(response.session().address(), kDevice);
  }
  {
    grpc::ClientContext ctx;
    v1::ListSessionsRequest request;
    request.mutable_filter()->add_states(v1::SESSION_STATE_CONNECTED);
    v1::ListSessionsResponse response;
    ASSERT_TRUE(sessions->ListSessions(&ctx, request, &response).ok());
    EXPECT_EQ(response.sessions_size(), 1);
  }
  {
    grpc::ClientContext ctx;
    v1::DisconnectRequest request;
    request.set_address(kDevice);
    v1::DisconnectResponse response;
    ASSERT_TRUE(sessions->Disconnect(&ctx, request, &response).ok());
    EXPECT_EQ(response.session().state(), v1::SESSION_STATE_REMOVED);
  }
  {
    grpc::ClientContext ctx;
    v1::GetSessionRequest request;
    request.set_address(kDevice);
    v1::GetSessionResponse response;
    auto s = sessions->GetSession(&ctx, request, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(errorInfo(s).reason(), "DEVICE_NOT_FOUND");
  }
  bool linked = true;
  onLoop([&] { linked = fake->connected(*Address::parse(kDevice)); });
  EXPECT_FALSE(linked);
}

TEST_F(ASessionRpc, StreamsStateChangesWithTheInitialSnapshotFirst) {
  ASSERT_TRUE(connect().ok());
  onLoop([&] { fake->addDevice(sampleDevice("AA:BB:CC:DD:EE:02")); });
  grpc::ClientContext ctx;
  ctx.set_deadline(in(5000ms));
  v1::WatchSessionsRequest request;
  request.set_include_initial(true);
  auto reader = sessions->WatchSessions(&ctx, request);
  v1::WatchSessionsResponse e;
  ASSERT_TRUE(reader->Read(&e));
  EXPECT_TRUE(e.initial());
  EXPECT_EQ(e.session().state(), v1::SESSION_STATE_CONNECTED);
  ASSERT_TRUE(connect("AA:BB:CC:DD:EE:02").ok());
  std::vector<v1::SessionState> states;
  while (states.size() < 4 && reader->Read(&e)) {
    EXPECT_FALSE(e.initial());
    EXPECT_EQ(e.session().address(), "AA:BB:CC:DD:EE:02");
    states.push_back(e.session().state());
  }
  EXPECT_EQ(states, (std::vector<v1::SessionState>{
                        v1::SESSION_STATE_QUEUED, v1::SESSION_STATE_CONNECTING,
                        v1::SESSION_STATE_RESOLVING_SERVICES, v1::SESSION_STATE_CONNECTED}));
  onLoop([&] { fake->dropLink(*Address::parse(kDevice)); });
  ASSERT_TRUE(reader->Read(&e));
  EXPECT_EQ(e.session().state(), v1::SESSION_STATE_DISCONNECTED);
  EXPECT_EQ(e.session().reason(), v1::SESSION_REASON_LINK_LOST);
  EXPECT_EQ(e.previous_state(), v1::SESSION_STATE_CONNECTED);
  ASSERT_TRUE(reader->Read(&e));
  EXPECT_EQ(e.session().state(), v1::SESSION_STATE_REMOVED);
  ctx.TryCancel();
  reader->Finish();
}

TEST_F(ASessionRpc, ReportsEachKindOfConnectFailure) {
  const Address a = *Address::parse(kDevice);
  struct Case {
    std::function<void()> arrange;
    grpc::StatusCode code;
    const char* reason;
    const char* bluezError = "org.bluez.Error.Failed";  // for BLUEZ_ERROR
  };
  const std::vector<Case> cases = {
      {[&] { fake->radioDevice(a).inRange = false; }, grpc::StatusCode::UNAVAILABLE,
       "BLUEZ_ERROR"},
      {[&] {
         fake->radioDevice(a).inRange = true;
         fake->failNext(Op::kConnect, err::fromBluez("org.bluez.Error.InProgress",
                                                     "Operation already in progress", "connect"));
       },
       // Busy with a connect the gateway did not start: one is no wedge for the watchdog.
       grpc::StatusCode::ABORTED, "IN_PROGRESS"},
      {[&] { fake->hangNext(Op::kConnect); }, grpc::StatusCode::DEADLINE_EXCEEDED, "TIMEOUT"},
      {[&] {
         fake->failNext(Op::kResolve, err::fromBluez("org.bluez.Error.Failed",
                                                     "le-connection-abort-by-remote", "resolve"));
       },
       grpc::StatusCode::UNAVAILABLE, "BLUEZ_ERROR"},
  };
  for (const auto& c : cases) {
    onLoop(c.arrange);
    grpc::ClientContext ctx;
    ctx.set_deadline(in(5000ms));
    v1::ConnectRequest request;
    request.set_address(kDevice);
    request.mutable_timeout()->set_seconds(1);
    v1::ConnectResponse response;
    auto s = sessions->Connect(&ctx, request, &response);
    EXPECT_EQ(s.error_code(), c.code) << c.reason << ": " << s.error_message();
    EXPECT_EQ(errorInfo(s).reason(), c.reason) << s.error_message();
    if (std::string(c.reason) == "BLUEZ_ERROR") {
      EXPECT_EQ(errorInfo(s).metadata().at("bluez_error"), c.bluezError);
    }
  }
  // No session and no link is left behind by any of them.
  grpc::ClientContext ctx;
  v1::ListSessionsResponse response;
  ASSERT_TRUE(sessions->ListSessions(&ctx, v1::ListSessionsRequest(), &response).ok());
  EXPECT_EQ(response.sessions_size(), 0);
  EXPECT_TRUE(eventually([&] { return !fake->connected(a); }));
}

TEST_F(ASessionRpc, IsRefusedWhenEverySlotIsTakenUnlessTheCallerWaits) {
  onLoop([&] { fake->addDevice(sampleDevice("AA:BB:CC:DD:EE:02")); });
  {
    grpc::ClientContext ctx;
    v1::UpdateAdapterRequest request;
    request.set_name("hci0");
    request.set_connection_slot_limit(1);
    v1::UpdateAdapterResponse response;
    ASSERT_TRUE(adapters->UpdateAdapter(&ctx, request, &response).ok());
    EXPECT_EQ(response.adapter().connection_slot_limit(), 1u);
  }
  ASSERT_TRUE(connect().ok());
  auto s = connect("AA:BB:CC:DD:EE:02");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(errorInfo(s).reason(), "NO_FREE_SLOT");

  grpc::Status waited;
  std::thread waiter([&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(in(5000ms));
    v1::ConnectRequest request;
    request.set_address("AA:BB:CC:DD:EE:02");
    request.set_wait_for_slot(true);
    v1::ConnectResponse response;
    waited = sessions->Connect(&ctx, request, &response);
  });
  // It waits in the queue.
  bool queued = false;
  for (int i = 0; i < 500 && !queued; ++i) {
    grpc::ClientContext c;
    v1::GetSessionRequest r;
    r.set_address("AA:BB:CC:DD:EE:02");
    v1::GetSessionResponse got;
    queued = sessions->GetSession(&c, r, &got).ok() &&
             got.session().state() == v1::SESSION_STATE_QUEUED;
    if (!queued) std::this_thread::sleep_for(2ms);
  }
  ASSERT_TRUE(queued);
  grpc::ClientContext ctx;
  v1::DisconnectRequest request;
  request.set_address(kDevice);
  v1::DisconnectResponse response;
  ASSERT_TRUE(sessions->Disconnect(&ctx, request, &response).ok());
  waiter.join();
  EXPECT_TRUE(waited.ok()) << waited.error_message();
}

TEST_F(ASessionRpc, OpensAPersistentSessionWhenAsked) {
  grpc::ClientContext ctx;
  v1::ConnectRequest request;
  request.set_address(kDevice);
  request.set_persistent(true);
  v1::ConnectResponse response;
  auto s = sessions->Connect(&ctx, request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(response.session().persistent());
  EXPECT_FALSE(response.session().has_lease_expire_time());
}

class AnAdapterRpc : public FakeGatewayTest {};

TEST_F(AnAdapterRpc, ListsGetsAndUpdatesAdapters) {
  {
    grpc::ClientContext ctx;
    v1::ListAdaptersResponse response;
    ASSERT_TRUE(adapters->ListAdapters(&ctx, v1::ListAdaptersRequest(), &response).ok());
    ASSERT_EQ(response.adapters_size(), 1);
    const auto& a = response.adapters(0);
    EXPECT_EQ(a.name(), "hci0");
    EXPECT_TRUE(a.powered());
    EXPECT_EQ(a.connection_slot_limit(), 7u);
    EXPECT_EQ(a.connection_slots_in_use(), 0u);
  }
  ASSERT_TRUE(connect().ok());
  {
    grpc::ClientContext ctx;
    v1::GetAdapterRequest request;
    request.set_name("hci0");
    v1::GetAdapterResponse response;
    ASSERT_TRUE(adapters->GetAdapter(&ctx, request, &response).ok());
    EXPECT_EQ(response.adapter().connection_slots_in_use(), 1u);
  }
  {
    grpc::ClientContext ctx;
    v1::UpdateAdapterRequest request;
    request.set_name("hci0");
    request.set_powered(false);
    v1::UpdateAdapterResponse response;
    ASSERT_TRUE(adapters->UpdateAdapter(&ctx, request, &response).ok());
    EXPECT_FALSE(response.adapter().powered());
    EXPECT_EQ(response.adapter().connection_slots_in_use(), 0u);  // its sessions ended
  }
  {
    grpc::ClientContext ctx;
    v1::GetAdapterRequest request;
    request.set_name("hci3");
    v1::GetAdapterResponse response;
    auto s = adapters->GetAdapter(&ctx, request, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(errorInfo(s).reason(), "ADAPTER_NOT_FOUND");
  }
}

TEST_F(AnAdapterRpc, AnswersUnavailableWhileBluezIsDown) {
  onLoop([&] { fake->goDown(); });
  grpc::ClientContext ctx;
  v1::ListAdaptersResponse response;
  auto s = adapters->ListAdapters(&ctx, v1::ListAdaptersRequest(), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(errorInfo(s).reason(), "BLUEZ_UNAVAILABLE");
  EXPECT_EQ(connect().error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace gattway::testing
