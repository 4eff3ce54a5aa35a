// Every central RPC over real gRPC, through the production BluezCentralBackend, against the
// simulated BlueZ in both signal orderings (tidy, and real BlueZ 5.66's: no Connected=true signal,
// ServicesResolved before the GATT objects).
#include <set>

#include "tests/support/sim_gateway.h"

namespace gattway::testing {
namespace {

using namespace std::chrono_literals;

class TheCentralOverBluez : public SimGatewayTest {
 protected:
  void SetUp() override {
    auto o = fastOptions();
    o.notificationInterval = absl::Milliseconds(20);  // heart rates every 20 ms, not every second
    startAll(std::move(o));
  }
};

TEST_P(TheCentralOverBluez, ListsTheSimulatedAdapter) {
  grpc::ClientContext ctx;
  ctx.set_deadline(in(5000ms));
  v1::ListAdaptersResponse r;
  ASSERT_TRUE(adapters->ListAdapters(&ctx, v1::ListAdaptersRequest(), &r).ok());
  ASSERT_EQ(r.adapters_size(), 1);
  EXPECT_EQ(r.adapters(0).name(), "hci0");
  EXPECT_EQ(r.adapters(0).address(), "00:AA:01:00:00:00");
  EXPECT_TRUE(r.adapters(0).powered());
  EXPECT_FALSE(r.adapters(0).discovering_for_gateway());
  EXPECT_EQ(r.adapters(0).connection_slots_in_use(), 0u);
}

TEST_P(TheCentralOverBluez, ScansForAServiceAndListsWhatItSaw) {
  grpc::ClientContext ctx;
  ctx.set_deadline(in(10000ms));
  v1::ScanRequest request;
  request.mutable_filter()->add_service_uuids("180d");
  request.mutable_duration()->set_seconds(1);
  auto reader = scan->Scan(&ctx, request);
  std::set<std::string> seen;
  v1::ScanResult hrm;
  v1::ScanResponse m;
  while (reader->Read(&m)) {
    for (const auto& r : m.results()) {
      seen.insert(r.address());
      if (r.address() == kHrmAddress) hrm = r;
    }
  }
  auto s = reader->Finish();
  ASSERT_TRUE(s.ok()) << s.error_message();  // duration over: the stream ends with OK
  EXPECT_EQ(seen, std::set<std::string>{kHrmAddress});
  EXPECT_EQ(hrm.name(), "HRM-Strap");
  EXPECT_EQ(hrm.address_type(), v1::ADDRESS_TYPE_RANDOM);
  EXPECT_EQ(hrm.adapter(), "hci0");
  EXPECT_TRUE(hrm.has_rssi());
  EXPECT_EQ(hrm.appearance(), 0x0341u);
  EXPECT_TRUE(hrm.has_tx_power());
  EXPECT_THAT(hrm.service_uuids(), ::testing::Contains("180D"));

  grpc::ClientContext listCtx;
  listCtx.set_deadline(in(5000ms));
  v1::ListDevicesRequest list;
  list.mutable_filter()->set_name_prefix("HRM");
  v1::ListDevicesResponse devices;
  ASSERT_TRUE(scan->ListDevices(&listCtx, list, &devices).ok());
  ASSERT_EQ(devices.devices_size(), 1);
  EXPECT_EQ(devices.devices(0).address(), kHrmAddress);
  EXPECT_EQ(devices.devices(0).name(), "HRM-Strap");
}

TEST_P(TheCentralOverBluez, ConnectsWithoutAScanAndManagesTheSession) {
  v1::Session session;
  auto s = connect(kHrmAddress, &session);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(session.state(), v1::SESSION_STATE_CONNECTED);
  EXPECT_EQ(session.adapter(), "hci0");
  EXPECT_EQ(session.mtu(), 247u);  // min(adapter 517, a fleet device's default 247)
  EXPECT_FALSE(session.persistent());
  {
    grpc::ClientContext ctx;
    v1::GetSessionRequest request;
    request.set_address("c0:ff:ee:00:01:01");
    v1::GetSessionResponse response;
    ASSERT_TRUE(sessions->GetSession(&ctx, request, &response).ok());
    EXPECT_EQ(response.session().state(), v1::SESSION_STATE_CONNECTED);
  }
  {
    grpc::ClientContext ctx;
    v1::ListSessionsRequest request;
    request.mutable_filter()->add_states(v1::SESSION_STATE_CONNECTED);
    v1::ListSessionsResponse response;
    ASSERT_TRUE(sessions->ListSessions(&ctx, request, &response).ok());
    ASSERT_EQ(response.sessions_size(), 1);
    EXPECT_EQ(response.sessions(0).address(), kHrmAddress);
  }
  {
    grpc::ClientContext ctx;
    v1::GetMtuRequest request;
    request.set_address(kHrmAddress);
    v1::GetMtuResponse response;
    ASSERT_TRUE(gatt->GetMtu(&ctx, request, &response).ok());
    EXPECT_EQ(response.mtu(), 247u);
  }
  {
    grpc::ClientContext ctx;
    v1::ListAdaptersResponse r;
    ASSERT_TRUE(adapters->ListAdapters(&ctx, v1::ListAdaptersRequest(), &r).ok());
    EXPECT_EQ(r.adapters(0).connection_slots_in_use(), 1u);
  }
  ASSERT_TRUE(disconnect(kHrmAddress).ok());
  {
    grpc::ClientContext ctx;
    v1::GetSessionRequest request;
    request.set_address(kHrmAddress);
    v1::GetSessionResponse response;
    EXPECT_EQ(sessions->GetSession(&ctx, request, &response).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  // The link really goes (after bluetoothd's disconnect grace).
  EXPECT_TRUE(eventuallyUnlinked(kHrmAddress));
}

TEST_P(TheCentralOverBluez, WatchesASessionFromQueuedToRemoved) {
  grpc::ClientContext ctx;
  ctx.set_deadline(in(10000ms));
  v1::WatchSessionsRequest request;
  auto reader = sessions->WatchSessions(&ctx, request);
  reader->WaitForInitialMetadata();  // live: the Connect's first event will be seen
  ASSERT_TRUE(connect(kHrmAddress).ok());
  ASSERT_TRUE(disconnect(kHrmAddress).ok());
  std::vector<v1::SessionState> states;
  v1::WatchSessionsResponse e;
  while (reader->Read(&e)) {
    EXPECT_EQ(e.session().address(), kHrmAddress);
    states.push_back(e.session().state());
    if (e.session().state() == v1::SESSION_STATE_REMOVED) break;
  }
  ctx.TryCancel();
  reader->Finish();
  ASSERT_FALSE(states.empty());
  EXPECT_EQ(states.front(), v1::SESSION_STATE_QUEUED);
  EXPECT_THAT(states, ::testing::Contains(v1::SESSION_STATE_CONNECTING));
  EXPECT_THAT(states, ::testing::Contains(v1::SESSION_STATE_CONNECTED));
  EXPECT_EQ(states.back(), v1::SESSION_STATE_REMOVED);
}

TEST_P(TheCentralOverBluez, DiscoversTheWholeTreeAndATargetedPart) {
  ASSERT_TRUE(connect(kHrmAddress).ok());
  {
    grpc::ClientContext ctx;
    v1::DiscoverRequest request;
    request.set_address(kHrmAddress);
    v1::DiscoverResponse r;
    auto s = gatt->Discover(&ctx, request, &r);
    ASSERT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> services;
    for (const auto& svc : r.services()) services.push_back(svc.uuid());
    // GAP 0x1800 is never exported by BlueZ; GATT 0x1801 is.
    EXPECT_EQ(services, (std::vector<std::string>{"1801", "180D", "180F"}));
    const auto& hr = r.services(1);
    EXPECT_EQ(hr.handle(), 0x000au);
    ASSERT_EQ(hr.characteristics_size(), 2);
    EXPECT_EQ(hr.characteristics(0).uuid(), "2A37");
    EXPECT_EQ(hr.characteristics(0).handle(), 0x000bu);
    EXPECT_EQ(hr.characteristics(0).properties(), 0x10u);
    ASSERT_EQ(hr.characteristics(0).descriptors_size(), 1);
    EXPECT_EQ(hr.characteristics(0).descriptors(0).uuid(), "2902");
    EXPECT_EQ(hr.characteristics(1).uuid(), "2A38");
    EXPECT_EQ(hr.characteristics(1).properties(), 0x02u);
  }
  {
    grpc::ClientContext ctx;
    v1::DiscoverRequest request;
    request.set_address(kHrmAddress);
    request.set_characteristic_uuid("2a19");
    v1::DiscoverResponse r;
    ASSERT_TRUE(gatt->Discover(&ctx, request, &r).ok());
    ASSERT_EQ(r.services_size(), 1);
    EXPECT_EQ(r.services(0).uuid(), "180F");
    ASSERT_EQ(r.services(0).characteristics_size(), 1);
    EXPECT_EQ(r.services(0).characteristics(0).properties(), 0x12u);  // read | notify
  }
}

TEST_P(TheCentralOverBluez, ReadsShortAndLongValuesWithOffsets) {
  ASSERT_TRUE(connect(kHrmAddress).ok());
  v1::ReadResponse r;
  ASSERT_TRUE(read(kHrmAddress, attribute(kBodySensorLocation), &r).ok());
  EXPECT_EQ(r.value(), std::string("\x01", 1));
  EXPECT_EQ(r.handle(), 0x000eu);

  ASSERT_TRUE(connect(kCamAddress).ok());
  v1::ReadResponse whole;
  auto s = read(kCamAddress, attribute(kCamSnapshot), &whole);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(whole.value().size(), 480u);
  v1::ReadResponse tail;
  ASSERT_TRUE(read(kCamAddress, attribute(kCamSnapshot), &tail, 300).ok());
  EXPECT_EQ(tail.value(), whole.value().substr(300));
}

TEST_P(TheCentralOverBluez, WritesWithAndWithoutResponseAndReportsAttErrors) {
  ASSERT_TRUE(connect(kCamAddress).ok());
  v1::WriteResponse w;
  auto s = write(kCamAddress, attribute(kCamControl), "\x01", v1::WRITE_MODE_AUTO, &w);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(w.mode(), v1::WRITE_MODE_WITH_RESPONSE);
  ASSERT_TRUE(write(kCamAddress, attribute(kCamSink), std::string(20, 'x'), v1::WRITE_MODE_AUTO, &w)
                  .ok());
  EXPECT_EQ(w.mode(), v1::WRITE_MODE_WITHOUT_RESPONSE);
  // The camera's status counts the capture.
  v1::ReadResponse status;
  ASSERT_TRUE(read(kCamAddress, attribute(kCamStatus), &status).ok());
  ASSERT_GE(status.value().size(), 3u);
  EXPECT_EQ(static_cast<std::uint8_t>(status.value()[1]), 1u);  // one snapshot

  // An unknown opcode: the device answers ATT error 0x80 (application error) → ABORTED.
  s = write(kCamAddress, attribute(kCamControl), "\x7f");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << s.error_message();
  const auto info = errorInfo(s);
  EXPECT_EQ(info.metadata().at("att_error"), "0x80");
  EXPECT_EQ(info.metadata().at("bluez_error"), "org.bluez.Error.Failed");
  // Without response, beyond MTU - 3.
  s = write(kCamAddress, attribute(kCamSink), std::string(245, 'x'), v1::WRITE_MODE_WITHOUT_RESPONSE);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
}

TEST_P(TheCentralOverBluez, StreamsHeartRateNotificationsToTwoSubscribersAtOnce) {
  ASSERT_TRUE(connect(kHrmAddress).ok());
  grpc::ClientContext c1, c2;
  auto r1 = subscribe(c1, kHrmAddress, attribute(kHeartRateMeasurement, kHeartRateService));
  auto r2 = subscribe(c2, kHrmAddress, attribute(kHeartRateMeasurement, kHeartRateService));
  for (auto* r : {r1.get(), r2.get()}) {
    v1::SubscribeResponse m;
    ASSERT_TRUE(r->Read(&m));
    EXPECT_EQ(m.event().type(), v1::SUBSCRIPTION_EVENT_TYPE_STARTED);
    EXPECT_EQ(m.event().method(), "StartNotify");
    int values = 0;
    std::uint64_t lastSequence = 0;
    while (values < 5 && r->Read(&m)) {
      for (const auto& n : m.notifications()) {
        ASSERT_EQ(n.value().size(), 2u);  // flags 0x00, uint8 bpm
        EXPECT_EQ(n.value()[0], 0);
        const int bpm = static_cast<std::uint8_t>(n.value()[1]);
        EXPECT_GT(bpm, 30);
        EXPECT_LT(bpm, 200);
        EXPECT_GT(n.sequence(), lastSequence);
        lastSequence = n.sequence();
        ++values;
      }
    }
    EXPECT_GE(values, 5);
  }
  c1.TryCancel();
  r1->Finish();
  // The other stream keeps receiving after the first leaves (the shared notify session stays).
  v1::SubscribeResponse m;
  int more = 0;
  while (more < 3 && r2->Read(&m)) more += m.notifications_size();
  EXPECT_GE(more, 3);
  c2.TryCancel();
  r2->Finish();
}

TEST_P(TheCentralOverBluez, ExecutesABatchInOrder) {
  ASSERT_TRUE(connect(kCamAddress).ok());
  v1::ExecuteRequest request;
  request.set_address(kCamAddress);
  request.mutable_budget()->set_seconds(5);
  request.add_operations()->mutable_discover()->set_characteristic_uuid(kCamControl);
  {
    auto* w = request.add_operations()->mutable_write();
    *w->mutable_attribute() = attribute(kCamControl);
    w->set_value("\x01");
  }
  *request.add_operations()->mutable_read()->mutable_attribute() = attribute(kCamStatus);
  {
    auto* n = request.add_operations()->mutable_wait_notifications();
    *n->mutable_characteristic() = attribute(kCamStatus);
    n->set_count(2);
  }
  request.add_operations()->mutable_wait()->mutable_duration()->set_nanos(10'000'000);
  std::vector<v1::ExecuteResponse> steps;
  auto s = execute(request, &steps);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(steps.size(), 5u);
  for (std::size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(steps[i].index(), i);
    EXPECT_EQ(steps[i].status().code(), 0) << i << ": " << steps[i].status().message();
  }
  EXPECT_EQ(steps[0].discover().services_size(), 1);
  EXPECT_EQ(steps[1].write().mode(), v1::WRITE_MODE_WITH_RESPONSE);
  EXPECT_EQ(static_cast<std::uint8_t>(steps[2].read().value()[1]), 1u);
  EXPECT_EQ(steps[3].wait_notifications().notifications_size(), 2);
  EXPECT_TRUE(steps[4].has_wait());
}

INSTANTIATE_TEST_SUITE_P(Orderings, TheCentralOverBluez,
                         ::testing::Values(sim::Ordering::kTidy, sim::Ordering::kReal),
                         orderingName);

}  // namespace
}  // namespace gattway::testing
