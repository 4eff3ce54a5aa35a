#include "tests/integration/matrix/fault_driver.h"

#include <thread>

#include "ble/sim/remote_central.h"

namespace gattway::testing::matrix {

using namespace std::chrono_literals;
using grpc::StatusCode;

namespace {
const Address kHrm = *Address::parse(kHrmAddress);
const Address kCam = *Address::parse(kCamAddress);
constexpr std::uint16_t kBodySensorLocationHandle = 0x000e;
constexpr std::uint16_t kCamControlHandle = 0x000b;
constexpr std::uint16_t kCamSnapshotHandle = 0x0011;
constexpr char kPhone[] = "4A:00:00:00:00:01";
constexpr char kTemperature[] = "2A6E";
}  // namespace

Outcome outcomeOf(const grpc::Status& s) {
  return {s.error_code(), s.ok() ? "" : errorInfo(s).reason(), s.error_message()};
}

void FaultDriver::SetUp() {
  SimGatewayTest::SetUp();
  if (HasFatalFailure()) return;
  stub_ = v1::PeripheralService::NewStub(channel);
  metricsStub_ = v1::MetricsService::NewStub(channel);
}

Outcome FaultDriver::run(Fault f, Op op) {
  stuck_ = false;
  Outcome got = isPeripheral(op) ? peripheral(f, op) : central(f, op);
  recover();
  return got;
}

std::uint32_t FaultDriver::openStreams() {
  grpc::ClientContext ctx;
  ctx.set_deadline(in(5000ms));
  v1::GetMetricsResponse m;
  EXPECT_TRUE(metricsStub_->GetMetrics(&ctx, v1::GetMetricsRequest(), &m).ok());
  return m.rpc().open_streams();
}

void FaultDriver::queue(Fault f, const Address& device, std::uint16_t handle) {
  onLoop([&] {
    if (isConnectFault(f)) {
      sim::ConnectFaultSpec c;
      switch (f) {
        case Fault::kConnectAbort: c.kind = sim::ConnectFault::kAbortByLocal; break;
        case Fault::kConnectTimeout:
          c.kind = sim::ConnectFault::kTimeout;
          c.delay = absl::Milliseconds(200);
          break;
        case Fault::kConnectFailed: c.kind = sim::ConnectFault::kFailed; break;
        case Fault::kConnectInProgress: c.kind = sim::ConnectFault::kInProgress; break;
        default: c.kind = sim::ConnectFault::kHang; break;
      }
      sim_->failNextConnect(device, c);
      return;
    }
    sim::GattFaultSpec g;
    g.handle = handle;
    switch (f) {
      case Fault::kBluezFailed:
        // A failure BlueZ gives no ATT code for (e.g. the controller refused the request).
        g.errorName = "org.bluez.Error.Failed";
        g.errorMessage = "Input/output error";
        break;
      case Fault::kAttError: g.att = 0x0E; break;
      case Fault::kBluezInProgress:
        g.errorName = "org.bluez.Error.InProgress";
        g.errorMessage = "In Progress";
        break;
      default: g.delay = absl::Seconds(2); break;  // kSlowPastDeadline
    }
    sim_->failNextGattOperation(device, g);
  });
}
void FaultDriver::hold(const Address& device, std::uint16_t handle) {
  onLoop([&] {
    sim::GattFaultSpec g;
    g.delay = absl::Seconds(3);
    g.handle = handle;
    sim_->failNextGattOperation(device, g);
  });
}
void FaultDriver::inject(Fault f, const Address& device, const std::string& central) {
  switch (f) {
    case Fault::kLinkDropRemote:
      if (!central.empty()) {
        ASSERT_TRUE(onLoop([&] { return sim_->disconnectCentral(central); }).ok());
      } else {
        ASSERT_TRUE(onLoop([&] { return sim_->dropLink(device, sim::DropReason::kRemote); }).ok());
      }
      return;
    case Fault::kLinkDropTimeout:
      ASSERT_TRUE(onLoop([&] { return sim_->dropLink(device, sim::DropReason::kTimeout); }).ok());
      return;
    case Fault::kAdapterPowerOff:
      ASSERT_TRUE(onLoop([&] { return sim_->setPowered("hci0", false); }).ok());
      poweredOff_ = true;
      // The controller goes down a moment later; wait until the gateway has seen it.
      ASSERT_TRUE(eventuallyPowered(false)) << "the gateway never saw hci0 powered off";
      return;
    case Fault::kBluetoothdRestart:
      restarted_ = std::make_shared<std::promise<absl::Status>>();
      onLoop([&] {
        sim_->restartBluetoothd(absl::Milliseconds(300),
                                [p = restarted_](absl::Status s) { p->set_value(s); });
      });
      return;
    default:
      ADD_FAILURE() << name(f) << " is queued, not injected";
  }
}
bool FaultDriver::eventuallyPowered(bool on) {
  for (int i = 0; i < 500; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(in(2000ms));
    v1::ListAdaptersResponse r;
    if (adapters->ListAdapters(&ctx, v1::ListAdaptersRequest(), &r).ok() &&
        r.adapters_size() > 0 && r.adapters(0).powered() == on) {
      return true;
    }
    std::this_thread::sleep_for(10ms);
  }
  return false;
}
void FaultDriver::recover() {
  if (poweredOff_) {
    ASSERT_TRUE(onLoop([&] { return sim_->setPowered("hci0", true); }).ok());
    poweredOff_ = false;
  }
  if (restarted_) {
    auto f = restarted_->get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready) << "bluetoothd never came back";
    ASSERT_TRUE(f.get().ok());
    restarted_.reset();
  }
  onLoop([&] { sim_->faults().clear(); });
  ASSERT_TRUE(eventuallyServing()) << "hci0 never came back";
}

Outcome FaultDriver::central(Fault f, Op op) {
  const bool queued = isGattFault(f) || isConnectFault(f);
  const bool slow = f == Fault::kSlowPastDeadline;
  const auto deadline = slow ? 500ms : 10000ms;
  switch (op) {
    case Op::kScan: {
      grpc::ClientContext ctx;
      ctx.set_deadline(in(15000ms));
      v1::ScanRequest r;
      r.mutable_filter()->add_addresses(kHrmAddress);
      r.mutable_filter()->add_addresses(kCamAddress);
      r.set_mode(v1::SCAN_MODE_ALL);  // every advertisement: the stream shows it carries on
      auto scanner = scan->Scan(&ctx, r);
      v1::ScanResponse m;
      if (!scanner->Read(&m)) return outcomeOf(scanner->Finish());
      if (isLinkDrop(f)) {
        EXPECT_TRUE(connect(kHrmAddress).ok());
      }
      inject(f, kHrm);
      // Carries on: a result seen after the fault; or ends with its status.
      const auto after = std::chrono::steady_clock::now();
      while (scanner->Read(&m)) {
        if (m.results_size() > 0 && std::chrono::steady_clock::now() - after > 100ms) {
          ctx.TryCancel();
          scanner->Finish();
          return {};
        }
      }
      return outcomeOf(scanner->Finish());
    }
    case Op::kConnect: {
      if (queued) {
        queue(f, kHrm, 0);
        return outcomeOf(connect(kHrmAddress, nullptr, 1000ms));
      }
      // In flight: the device takes 3 s to answer; the fault meets the waiting connect.
      onLoop([&] {
        sim::ConnectFaultSpec c;
        c.kind = sim::ConnectFault::kTimeout;
        c.delay = absl::Seconds(3);
        sim_->failNextConnect(kHrm, c);
      });
      auto pending = std::async(std::launch::async, [&] { return connect(kHrmAddress, nullptr, 8000ms); });
      EXPECT_TRUE(faultTaken());
      inject(f, kHrm);
      if (pending.wait_for(2500ms) != std::future_status::ready) stuck_ = true;
      return outcomeOf(pending.get());
    }
    case Op::kDiscover: {
      EXPECT_TRUE(connect(kHrmAddress).ok());
      inject(f, kHrm);
      EXPECT_TRUE(eventuallyGoneOrDown(kHrmAddress));
      grpc::ClientContext ctx;
      ctx.set_deadline(in(deadline));
      v1::DiscoverRequest r;
      r.set_address(kHrmAddress);
      v1::DiscoverResponse out;
      return outcomeOf(gatt->Discover(&ctx, r, &out));
    }
    case Op::kRead:
    case Op::kWrite: {
      const bool isRead = op == Op::kRead;
      const std::string address = isRead ? kHrmAddress : kCamAddress;
      const Address device = isRead ? kHrm : kCam;
      const std::uint16_t handle = isRead ? kBodySensorLocationHandle : kCamControlHandle;
      EXPECT_TRUE(connect(address).ok());
      if (queued) {
        queue(f, device, handle);
      } else {
        hold(device, handle);
      }
      auto pending = std::async(std::launch::async, [&] {
        grpc::ClientContext ctx;
        ctx.set_deadline(in(deadline));
        if (isRead) {
          v1::ReadRequest r;
          r.set_address(address);
          *r.mutable_attribute() = attribute(kBodySensorLocation);
          v1::ReadResponse out;
          return gatt->Read(&ctx, r, &out);
        }
        v1::WriteRequest w;
        w.set_address(address);
        *w.mutable_attribute() = attribute(kCamControl);
        w.set_value("\x01");
        v1::WriteResponse out;
        return gatt->Write(&ctx, w, &out);
      });
      if (!queued) {
        EXPECT_TRUE(faultTaken());
        inject(f, device);
      }
      if (pending.wait_for(queued ? deadline + 2000ms : 2500ms) != std::future_status::ready) {
        stuck_ = true;
      }
      return outcomeOf(pending.get());
    }
    case Op::kSubscribe: {
      EXPECT_TRUE(connect(kHrmAddress).ok());
      if (queued) queue(f, kHrm, 0);
      grpc::ClientContext ctx;
      ctx.set_deadline(in(deadline));
      v1::SubscribeRequest r;
      r.set_address(kHrmAddress);
      *r.mutable_characteristic() = attribute(kHeartRateMeasurement);
      auto reader = gatt->Subscribe(&ctx, r);
      v1::SubscribeResponse m;
      if (!queued) {
        if (!reader->Read(&m)) return outcomeOf(reader->Finish());
        EXPECT_EQ(m.event().type(), v1::SUBSCRIPTION_EVENT_TYPE_STARTED);
        inject(f, kHrm);
      }
      const auto start = std::chrono::steady_clock::now();
      while (reader->Read(&m)) {
      }
      if (!queued && std::chrono::steady_clock::now() - start > 2500ms) stuck_ = true;
      return outcomeOf(reader->Finish());
    }
    case Op::kBatch: {
      EXPECT_TRUE(connect(kCamAddress).ok());
      if (queued) {
        queue(f, kCam, kCamSnapshotHandle);
      } else {
        hold(kCam, kCamSnapshotHandle);
      }
      grpc::ClientContext ctx;
      ctx.set_deadline(in(10000ms));
      v1::ExecuteRequest request;
      request.set_address(kCamAddress);
      request.set_stop_on_error(true);
      if (slow) request.mutable_budget()->set_nanos(500'000'000);
      *request.add_operations()->mutable_read()->mutable_attribute() = attribute(kCamStatus);
      *request.add_operations()->mutable_read()->mutable_attribute() = attribute(kCamSnapshot);
      *request.add_operations()->mutable_read()->mutable_attribute() = attribute(kCamStatus);
      auto reader = gatt->Execute(&ctx, request);
      v1::ExecuteResponse step;
      if (!queued) {
        EXPECT_TRUE(reader->Read(&step));
        EXPECT_TRUE(faultTaken());
        inject(f, kCam);
      }
      const auto start = std::chrono::steady_clock::now();
      while (reader->Read(&step)) EXPECT_NE(step.index(), 2u) << "a step ran after the fault";
      if (std::chrono::steady_clock::now() - start > 2500ms) stuck_ = true;
      return outcomeOf(reader->Finish());
    }
    default: break;
  }
  ADD_FAILURE() << "not a central operation";
  return {};
}

bool FaultDriver::eventuallyGoneOrDown(const std::string& address) {
  for (int i = 0; i < 250; ++i) {
    grpc::ClientContext ctx;
    v1::GetSessionRequest request;
    request.set_address(address);
    v1::GetSessionResponse response;
    if (sessions->GetSession(&ctx, request, &response).error_code() == StatusCode::NOT_FOUND) {
      return true;
    }
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

void FaultDriver::host() {
  if (hosted_) return;
  auto db = envSensorDatabase();
  db.set_adapter("hci0");
  ASSERT_TRUE(registerServices(db).ok());
  v1::StartAdvertisingRequest a;
  a.set_id("env");
  a.set_adapter("hci0");
  ASSERT_TRUE(startAdvertising(a).ok());
  hosted_ = true;
}
std::string FaultDriver::join() {
  for (int i = 0; i < 250; ++i) {
    auto id = onLoop([&] { return sim_->connectCentral("hci0", *Address::parse(kPhone)); });
    if (id.ok()) return *id;
    std::this_thread::sleep_for(20ms);
  }
  ADD_FAILURE() << "the remote central could not connect";
  return "";
}
void FaultDriver::leave(const std::string& id) {
  if (onLoop([&] { return sim_->central(id) != nullptr; })) {
    onLoop([&] { (void)sim_->disconnectCentral(id); });
  }
}
std::shared_ptr<std::promise<FaultDriver::ReadResult>> FaultDriver::centralRead(
    const std::string& id) {
  auto done = std::make_shared<std::promise<ReadResult>>();
  onLoop([&] {
    if (sim_->central(id) == nullptr) return done->set_value({0xFF, ""});
    sim_->central(id)->read(kTemperature, 0, [done](std::uint8_t att, sim::Bytes v) {
      done->set_value({att, std::string(v.begin(), v.end())});
    });
  });
  return done;
}
std::uint8_t FaultDriver::centralWrite(const std::string& id, const std::string& value) {
  auto done = std::make_shared<std::promise<std::uint8_t>>();
  onLoop([&] {
    if (sim_->central(id) == nullptr) return done->set_value(0xFF);
    sim_->central(id)->write(kEnvCommandUuid, sim::Bytes(value.begin(), value.end()), true,
                             [done](std::uint8_t att) { done->set_value(att); });
  });
  auto f = done->get_future();
  return f.wait_for(5s) == std::future_status::ready ? f.get() : 0xFF;
}

Outcome FaultDriver::peripheral(Fault f, Op op) {
  host();
  std::string phone = join();
  switch (op) {
    case Op::kPeripheralRead: {
      grpc::ClientContext c;
      c.set_deadline(in(20000ms));
      auto stream = stub_->HandleReads(&c);
      v1::HandleReadsRequest reg;
      *reg.mutable_register_()->add_characteristics() = hostedRef(kTemperature);
      reg.mutable_register_()->mutable_answer_timeout()->set_seconds(5);
      EXPECT_TRUE(stream->Write(reg));
      v1::HandleReadsResponse m;
      if (!stream->Read(&m)) return outcomeOf(stream->Finish());
      centralRead(phone);
      if (!stream->Read(&m)) return outcomeOf(stream->Finish());  // the read is in flight
      EXPECT_TRUE(m.has_read());
      inject(f, kHrm, phone);
      recover();
      // The late answer is taken without harm; the registration still serves the next read.
      v1::HandleReadsRequest answer;
      answer.mutable_answer()->set_request_id(m.read().request_id());
      answer.mutable_answer()->set_value("late");
      stream->Write(answer);
      phone = join();
      auto next = centralRead(phone);
      while (stream->Read(&m) && !m.has_read()) {
      }
      if (!m.has_read()) return outcomeOf(stream->Finish());
      answer.mutable_answer()->set_request_id(m.read().request_id());
      answer.mutable_answer()->set_value("ok");
      EXPECT_TRUE(stream->Write(answer));
      auto att = next->get_future();
      EXPECT_EQ(att.wait_for(5s), std::future_status::ready);
      c.TryCancel();
      stream->Finish();
      leave(phone);
      return {};
    }
    case Op::kPeripheralWrite: {
      grpc::ClientContext c;
      c.set_deadline(in(20000ms));
      auto stream = stub_->StreamWrites(&c, v1::StreamWritesRequest());
      stream->WaitForInitialMetadata();
      EXPECT_EQ(centralWrite(phone, "one"), 0);
      v1::StreamWritesResponse m;
      if (!stream->Read(&m)) return outcomeOf(stream->Finish());
      inject(f, kHrm, phone);
      recover();
      phone = join();
      EXPECT_EQ(centralWrite(phone, "two"), 0);
      bool seen = false;
      while (!seen && stream->Read(&m)) {
        for (const auto& w : m.writes()) seen = seen || w.value() == "two";
      }
      if (!seen) return outcomeOf(stream->Finish());
      c.TryCancel();
      stream->Finish();
      leave(phone);
      return {};
    }
    case Op::kPeripheralNotify: {
      EXPECT_EQ(onLoop([&] {
                  auto* c = sim_->central(phone);
                  return c != nullptr ? c->subscribe(kTemperature, false) : std::uint8_t{0xFF};
                }),
                0);
      inject(f, kHrm, phone);
      // Set while the central is gone, the adapter off or BlueZ away (the gateway knows it).
      for (int i = 0; i < 500; ++i) {
        const auto& m = gateway->metrics();
        if (f == Fault::kBluetoothdRestart ? m.bluezUp.value() == 0
                                           : m.peripheralConnections.value() == 0) {
          break;
        }
        std::this_thread::sleep_for(2ms);
      }
      const std::string value = {static_cast<char>(0x10 + static_cast<int>(f)), '\x02'};
      v1::SetValueResponse out;
      auto s = setValue(kTemperature, value, true, &out);
      if (!s.ok()) return outcomeOf(s);
      EXPECT_EQ(out.centrals_updated(), 0u);
      // Nothing accepted is lost: the next central reads the value.
      recover();
      phone = join();
      auto read = centralRead(phone)->get_future();
      EXPECT_EQ(read.wait_for(5s), std::future_status::ready);
      EXPECT_EQ(read.get(), (ReadResult{0, value}));
      leave(phone);
      return {};
    }
    default: break;
  }
  ADD_FAILURE() << "not a peripheral operation";
  return {};
}

}  // namespace gattway::testing::matrix
