// The fault matrix (issue 10): every fault the simulated BlueZ can inject × every operation in
// flight, through the production backend and real gRPC. Each cell checks that the operation ends
// with its documented status (or, where the fault does not concern it, carries on), within a
// bound (no stuck call or stream), and that the gateway serves afterwards. After every cell no
// session, stream or subscription is left; after the whole matrix the process holds no more file
// descriptors than after the first cell. The matrix and its size are printed.
//
// Cells are the combinations where the fault can meet the operation; the others are listed with
// the reason they are not cells (kNotCells below). Discover has no in-flight window (it answers
// from the gateway's mirror of BlueZ's objects): its cells run the call right after the fault.
#include <dirent.h>

#include <cstdio>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ble/sim/remote_central.h"
#include "gattway/v1/metrics.grpc.pb.h"
#include "tests/support/peripheral_rpc.h"
#include "tests/support/sim_gateway.h"

namespace gattway::testing {
namespace {

using namespace std::chrono_literals;
using grpc::StatusCode;

const Address kHrm = *Address::parse(kHrmAddress);
const Address kCam = *Address::parse(kCamAddress);
constexpr std::uint16_t kBodySensorLocationHandle = 0x000e;
constexpr std::uint16_t kCamControlHandle = 0x000b;
constexpr std::uint16_t kCamSnapshotHandle = 0x0011;
constexpr char kPhone[] = "4A:00:00:00:00:01";
constexpr char kTemperature[] = "2A6E";

enum class Fault {
  kLinkDropRemote,     // the device ends the link (HCI 0x13)
  kLinkDropTimeout,    // supervision timeout (HCI 0x08)
  kAdapterPowerOff,    // the adapter is powered off (then on again)
  kBluetoothdRestart,  // org.bluez leaves the bus and comes back
  kBluezFailed,        // the GATT call fails with org.bluez.Error.Failed
  kAttError,           // the device answers with an ATT error (0x0E Unlikely Error)
  kBluezInProgress,    // the GATT call fails with org.bluez.Error.InProgress
  kSlowPastDeadline,   // the device answers after the caller's deadline (or the batch budget)
  kConnectAbort,       // the connect fails: le-connection-abort-by-local
  kConnectTimeout,     // the device never answers the connect
  kConnectFailed,      // the connect fails at once: Input/output error
  kConnectInProgress,  // the controller is busy with another connect
  kConnectHang,        // the connect never answers until cancelled
};
constexpr Fault kFaults[] = {
    Fault::kLinkDropRemote, Fault::kLinkDropTimeout,   Fault::kAdapterPowerOff,
    Fault::kBluetoothdRestart, Fault::kBluezFailed,    Fault::kAttError,
    Fault::kBluezInProgress,   Fault::kSlowPastDeadline, Fault::kConnectAbort,
    Fault::kConnectTimeout,    Fault::kConnectFailed,  Fault::kConnectInProgress,
    Fault::kConnectHang};

enum class Op {
  kScan, kConnect, kDiscover, kRead, kWrite, kSubscribe, kBatch,
  kPeripheralRead, kPeripheralWrite, kPeripheralNotify,
};
constexpr Op kOps[] = {Op::kScan,      Op::kConnect,        Op::kDiscover,
                       Op::kRead,      Op::kWrite,          Op::kSubscribe,
                       Op::kBatch,     Op::kPeripheralRead, Op::kPeripheralWrite,
                       Op::kPeripheralNotify};

const char* name(Fault f) {
  switch (f) {
    case Fault::kLinkDropRemote: return "link drop (remote)";
    case Fault::kLinkDropTimeout: return "link drop (timeout)";
    case Fault::kAdapterPowerOff: return "adapter power off";
    case Fault::kBluetoothdRestart: return "bluetoothd restart";
    case Fault::kBluezFailed: return "BlueZ Failed";
    case Fault::kAttError: return "ATT error";
    case Fault::kBluezInProgress: return "BlueZ InProgress";
    case Fault::kSlowPastDeadline: return "slow past deadline";
    case Fault::kConnectAbort: return "connect abort";
    case Fault::kConnectTimeout: return "connect timeout";
    case Fault::kConnectFailed: return "connect failed";
    case Fault::kConnectInProgress: return "connect InProgress";
    case Fault::kConnectHang: return "connect hang";
  }
  return "?";
}
const char* name(Op op) {
  switch (op) {
    case Op::kScan: return "Scan";
    case Op::kConnect: return "Connect";
    case Op::kDiscover: return "Discover";
    case Op::kRead: return "Read";
    case Op::kWrite: return "Write";
    case Op::kSubscribe: return "Subscribe";
    case Op::kBatch: return "Execute";
    case Op::kPeripheralRead: return "HandleReads";
    case Op::kPeripheralWrite: return "StreamWrites";
    case Op::kPeripheralNotify: return "SetValue+notify";
  }
  return "?";
}

bool isGattFault(Fault f) {
  return f == Fault::kBluezFailed || f == Fault::kAttError || f == Fault::kBluezInProgress ||
         f == Fault::kSlowPastDeadline;
}
bool isConnectFault(Fault f) {
  return f >= Fault::kConnectAbort && f <= Fault::kConnectHang;
}
bool isLinkDrop(Fault f) { return f == Fault::kLinkDropRemote || f == Fault::kLinkDropTimeout; }
bool isPeripheral(Op op) { return op >= Op::kPeripheralRead; }

// How a cell may end. `code` OK with `carriesOn` means the operation was not disturbed: the stream
// delivered again after the fault, or the call succeeded.
struct Expect {
  std::set<StatusCode> codes;
  std::string reason;  // the ErrorInfo reason, when one is documented; empty: not checked
};

// Why the remaining combinations are not cells.
const char* notACell(Fault f, Op op) {
  if (isConnectFault(f) && op != Op::kConnect) {
    return "a connect fault only meets a connect";
  }
  if (isGattFault(f) && (op == Op::kScan || op == Op::kConnect || op == Op::kDiscover)) {
    return "no GATT request to the device in this operation";
  }
  if (isGattFault(f) && isPeripheral(op)) {
    return "the simulator's GATT faults are on the device side; the hosted peripheral's own "
           "errors are the application's (tested in peripheral_sim_test)";
  }
  if (f == Fault::kLinkDropTimeout && isPeripheral(op)) {
    return "a remote central's link ends one way in the simulator (disconnectCentral)";
  }
  if (isLinkDrop(f) && op == Op::kConnect) return "no link while the connect is in flight";
  return nullptr;
}

// The documented outcome of each cell (the proto comments of each RPC).
Expect expected(Fault f, Op op) {
  const Expect unavailable{{StatusCode::UNAVAILABLE}, ""};
  switch (op) {
    case Op::kScan:
      // A link drop does not concern discovery; the stream carries on. With the only adapter
      // off or BlueZ gone the stream ends UNAVAILABLE (scan.proto).
      if (isLinkDrop(f)) return {{StatusCode::OK}, ""};
      return unavailable;
    case Op::kConnect:
      switch (f) {
        case Fault::kAdapterPowerOff: return unavailable;
        case Fault::kBluetoothdRestart: return unavailable;
        case Fault::kConnectAbort:
        case Fault::kConnectTimeout:
        case Fault::kConnectFailed: return {{StatusCode::UNAVAILABLE}, "BLUEZ_ERROR"};
        // With the adapter watchdog on (the default) an InProgress the gateway did not cause is
        // taken for a wedged adapter (session.proto, Connect).
        case Fault::kConnectInProgress: return {{StatusCode::UNAVAILABLE}, "BLUEZ_ERROR"};
        case Fault::kConnectHang: return {{StatusCode::DEADLINE_EXCEEDED}, "TIMEOUT"};
        default: break;
      }
      break;
    case Op::kDiscover:
      // After the link is gone the ephemeral session is gone: NOT_FOUND; while BlueZ is away the
      // call may meet UNAVAILABLE first.
      if (f == Fault::kBluetoothdRestart) {
        return {{StatusCode::NOT_FOUND, StatusCode::UNAVAILABLE}, ""};
      }
      return {{StatusCode::NOT_FOUND}, "DEVICE_NOT_FOUND"};
    case Op::kRead:
    case Op::kWrite:
    case Op::kSubscribe:
    case Op::kBatch:
      switch (f) {
        case Fault::kLinkDropRemote:
        case Fault::kLinkDropTimeout:
        case Fault::kAdapterPowerOff: return {{StatusCode::UNAVAILABLE}, "DISCONNECTED"};
        case Fault::kBluetoothdRestart: return unavailable;
        case Fault::kBluezFailed: return {{StatusCode::UNAVAILABLE}, "BLUEZ_ERROR"};
        case Fault::kAttError: return {{StatusCode::ABORTED}, "ATT_ERROR"};
        case Fault::kBluezInProgress: return {{StatusCode::ABORTED}, "IN_PROGRESS"};
        case Fault::kSlowPastDeadline:
          return {{StatusCode::DEADLINE_EXCEEDED}, op == Op::kBatch ? "BUDGET_EXHAUSTED" : ""};
        default: break;
      }
      break;
    case Op::kPeripheralRead:
    case Op::kPeripheralWrite:
      // The caller's stream does not depend on one central's link, on the adapter's power or on
      // bluetoothd (the database is registered again when BlueZ is back): it carries on.
      return {{StatusCode::OK}, ""};
    case Op::kPeripheralNotify:
      // The value is stored and served once the database is back; nobody is updated.
      return {{StatusCode::OK}, ""};
  }
  ADD_FAILURE() << "no expectation for " << name(f) << " × " << name(op);
  return {};
}

struct Outcome {
  StatusCode code = StatusCode::OK;
  std::string reason;
  std::string message;
};

Outcome outcomeOf(const grpc::Status& s) {
  return {s.error_code(), s.ok() ? "" : errorInfo(s).reason(), s.error_message()};
}

std::string codeName(StatusCode code) {
  static const char* const kNames[] = {
      "OK",          "CANCELLED",         "UNKNOWN",        "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND",   "ALREADY_EXISTS", "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",         "UNAVAILABLE",    "DATA_LOSS",
      "UNAUTHENTICATED"};
  const auto i = static_cast<std::size_t>(code);
  return i < std::size(kNames) ? kNames[i] : absl::StrCat(i);
}

std::size_t openFds() {
  std::size_t n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d) != nullptr) ++n;
    closedir(d);
  }
  return n;
}

class TheFaultMatrix : public SimGatewayTest, protected PeripheralRpc {
 protected:
  void SetUp() override {
    SimGatewayTest::SetUp();
    if (HasFatalFailure()) return;
    stub_ = v1::PeripheralService::NewStub(channel);
    metricsStub_ = v1::MetricsService::NewStub(channel);
  }
  // Open streaming calls, as the gateway counts them (MetricsService).
  std::uint32_t openStreams() {
    grpc::ClientContext ctx;
    ctx.set_deadline(in(5000ms));
    v1::GetMetricsResponse m;
    EXPECT_TRUE(metricsStub_->GetMetrics(&ctx, v1::GetMetricsRequest(), &m).ok());
    return m.rpc().open_streams();
  }

  // --- faults --------------------------------------------------------------------------------
  // Faults queued before the operation: the simulator's device answers the next request with it.
  void queue(Fault f, const Address& device, std::uint16_t handle) {
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
  // Holds the device's next request on `handle` so that the operation is in flight.
  void hold(const Address& device, std::uint16_t handle) {
    onLoop([&] {
      sim::GattFaultSpec g;
      g.delay = absl::Seconds(3);
      g.handle = handle;
      sim_->failNextGattOperation(device, g);
    });
  }
  // Faults injected while the operation is in flight. `device` is the link's peer; `central`
  // the remote central's id for the peripheral operations.
  void inject(Fault f, const Address& device, const std::string& central = "") {
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
  bool eventuallyPowered(bool on) {
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
  // Undoes the fault and waits until the gateway sees BlueZ and hci0 powered again.
  void recover() {
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

  // --- the central's operations ----------------------------------------------------------------
  grpc::Status connectTo(const std::string& address, std::chrono::milliseconds timeout) {
    return connect(address, nullptr, timeout);
  }
  template <typename Call>
  Outcome inFlight(Call&& call, std::chrono::milliseconds bound) {
    auto pending = std::async(std::launch::async, std::forward<Call>(call));
    if (pending.wait_for(bound) != std::future_status::ready) {
      stuck_ = true;
      return pending.get();  // the call's own deadline ends it
    }
    return pending.get();
  }

  Outcome central(Fault f, Op op) {
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
          return outcomeOf(connectTo(kHrmAddress, 1000ms));
        }
        // In flight: the device takes 3 s to answer; the fault meets the waiting connect.
        onLoop([&] {
          sim::ConnectFaultSpec c;
          c.kind = sim::ConnectFault::kTimeout;
          c.delay = absl::Seconds(3);
          sim_->failNextConnect(kHrm, c);
        });
        auto pending = std::async(std::launch::async, [&] { return connectTo(kHrmAddress, 8000ms); });
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

  // True once the session is gone, or once BlueZ is (the session ends when the gateway learns it).
  bool eventuallyGoneOrDown(const std::string& address) {
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

  // --- the hosted peripheral's operations ------------------------------------------------------
  void host() {
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
  // A remote central joins the hosted database (retried while it is being registered again).
  std::string join() {
    for (int i = 0; i < 250; ++i) {
      auto id = onLoop([&] { return sim_->connectCentral("hci0", *Address::parse(kPhone)); });
      if (id.ok()) return *id;
      std::this_thread::sleep_for(20ms);
    }
    ADD_FAILURE() << "the remote central could not connect";
    return "";
  }
  void leave(const std::string& id) {
    if (onLoop([&] { return sim_->central(id) != nullptr; })) {
      onLoop([&] { (void)sim_->disconnectCentral(id); });
    }
  }
  // A remote central's read of the temperature: the ATT code (0xFF: no such central) and value.
  using ReadResult = std::pair<std::uint8_t, std::string>;
  std::shared_ptr<std::promise<ReadResult>> centralRead(const std::string& id) {
    auto done = std::make_shared<std::promise<ReadResult>>();
    onLoop([&] {
      if (sim_->central(id) == nullptr) return done->set_value({0xFF, ""});
      sim_->central(id)->read(kTemperature, 0, [done](std::uint8_t att, sim::Bytes v) {
        done->set_value({att, std::string(v.begin(), v.end())});
      });
    });
    return done;
  }
  std::uint8_t centralWrite(const std::string& id, const std::string& value) {
    auto done = std::make_shared<std::promise<std::uint8_t>>();
    onLoop([&] {
      if (sim_->central(id) == nullptr) return done->set_value(0xFF);
      sim_->central(id)->write(kEnvCommandUuid, sim::Bytes(value.begin(), value.end()), true,
                               [done](std::uint8_t att) { done->set_value(att); });
    });
    auto f = done->get_future();
    return f.wait_for(5s) == std::future_status::ready ? f.get() : 0xFF;
  }

  Outcome peripheral(Fault f, Op op) {
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

  // --- after each cell ---------------------------------------------------------------------
  int sessionCount() {
    v1::ListSessionsResponse list;
    grpc::ClientContext ctx;
    ctx.set_deadline(in(2000ms));
    return sessions->ListSessions(&ctx, v1::ListSessionsRequest(), &list).ok()
               ? list.sessions_size()
               : -1;
  }
  bool noSessions() {
    for (int i = 0; i < 250; ++i) {
      if (sessionCount() == 0) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  // The gateway serves: a fresh connect and read succeed; then nothing is left open.
  void expectServingAndClean(const std::string& cell) {
    SCOPED_TRACE(cell);
    // A failed call may answer before the gateway has handled the link's end: let the sessions
    // the cell left end first, so that the connect below opens a fresh one.
    for (const char* a : {kHrmAddress, kCamAddress}) disconnect(a);
    EXPECT_TRUE(noSessions());
    auto s = connect(kHrmAddress);
    ASSERT_TRUE(s.ok()) << s.error_message();
    v1::ReadResponse r;
    s = read(kHrmAddress, attribute(kBodySensorLocation), &r);
    EXPECT_TRUE(s.ok()) << s.error_message();
    for (const char* a : {kHrmAddress, kCamAddress}) disconnect(a);
    // No session, stream or subscription is left (bounded wait: ends are asynchronous).
    bool clean = false;
    for (int i = 0; i < 250 && !clean; ++i) {
      clean = sessionCount() == 0 && gateway->metrics().scanStreams.value() == 0 &&
              gateway->metrics().subscribeStreams.value() == 0 && openStreams() == 0;
      if (!clean) std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(clean) << "scan streams " << gateway->metrics().scanStreams.value()
                       << ", subscribe streams " << gateway->metrics().subscribeStreams.value()
                       << ", open gRPC streams " << openStreams();
  }

  bool poweredOff_ = false;
  bool hosted_ = false;
  bool stuck_ = false;
  std::shared_ptr<std::promise<absl::Status>> restarted_;
  std::unique_ptr<v1::MetricsService::Stub> metricsStub_;
};

TEST_P(TheFaultMatrix, EndsEveryOperationWithItsDocumentedStatusAndKeepsServing) {
  std::map<Op, std::map<Fault, std::string>> table;
  std::vector<std::string> notCells;
  std::size_t cells = 0;
  std::size_t fdsAfterFirst = 0;
  for (Op op : kOps) {
    for (Fault f : kFaults) {
      if (const char* why = notACell(f, op)) {
        notCells.push_back(absl::StrCat(name(f), " × ", name(op), ": ", why));
        continue;
      }
      const std::string cell = absl::StrCat(name(f), " × ", name(op));
      SCOPED_TRACE(cell);
      std::printf("fault matrix: cell %s\n", cell.c_str());
      std::fflush(stdout);
      stuck_ = false;
      const Expect want = expected(f, op);
      const Outcome got = isPeripheral(op) ? peripheral(f, op) : central(f, op);
      recover();
      EXPECT_FALSE(stuck_) << "the operation did not end within its bound";
      EXPECT_TRUE(want.codes.count(got.code) == 1)
          << "got " << codeName(got.code) << " (" << got.reason << "): " << got.message;
      if (!want.reason.empty() && got.code != StatusCode::OK) {
        EXPECT_EQ(got.reason, want.reason) << got.message;
      }
      table[op][f] = got.reason.empty() ? codeName(got.code)
                                        : absl::StrCat(codeName(got.code), "/", got.reason);
      ++cells;
      expectServingAndClean(cell);
      if (cells == 1) fdsAfterFirst = openFds();
    }
  }
  // Descriptors: back to what the process held after the first cell (a little slack for gRPC's
  // and D-Bus's own pooled sockets).
  EXPECT_LE(openFds(), fdsAfterFirst + 4);

  std::printf("fault matrix: %zu cells (%zu faults × %zu operations; %zu combinations are not "
              "cells)\n", cells, std::size(kFaults), std::size(kOps), notCells.size());
  for (const auto& [op, row] : table) {
    std::vector<std::string> parts;
    for (const auto& [f, outcome] : row) parts.push_back(absl::StrCat(name(f), "=", outcome));
    std::printf("  %-16s %s\n", name(op), absl::StrJoin(parts, ", ").c_str());
  }
  RecordProperty("cells", static_cast<int>(cells));
}

INSTANTIATE_TEST_SUITE_P(Orderings, TheFaultMatrix,
                         ::testing::Values(sim::Ordering::kTidy, sim::Ordering::kReal),
                         orderingName);

}  // namespace
}  // namespace gattway::testing
