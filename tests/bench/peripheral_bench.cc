// Figures for the hosted peripheral on a private bus: ATT reads and writes through the exported
// application (a stand-in bluetoothd calling ReadValue / WriteValue as BlueZ does), the read
// handler's round trip over gRPC, and SetValue notifications. Prints figures; asserts nothing.
//
//   build/tests/gattway_peripheral_bench [iterations]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gattway/v1/peripheral.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "ble/log.h"
#include "server/gateway.h"
#include "tests/support/fake_bluetoothd.h"
#include "tests/support/private_bus.h"

using namespace gattway;
using Clock = std::chrono::steady_clock;

namespace {

double us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

void report(const char* what, std::vector<double> lat, double seconds) {
  std::sort(lat.begin(), lat.end());
  const auto at = [&](double q) { return lat[static_cast<std::size_t>(q * double(lat.size() - 1))]; };
  std::printf("%-46s %8.0f /s   p50 %7.1f us   p99 %7.1f us\n", what,
              double(lat.size()) / seconds, at(0.5), at(0.99));
}

template <typename Fn>
void measure(const char* what, int n, Fn fn) {
  std::vector<double> lat;
  lat.reserve(static_cast<std::size_t>(n));
  const auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    const auto t = Clock::now();
    fn(i);
    lat.push_back(us(Clock::now() - t));
  }
  report(what, std::move(lat), std::chrono::duration<double>(Clock::now() - start).count());
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  gattway::log::configure(gattway::log::Format::kText, gattway::log::Level::kWarn);
  testing::PrivateBus bus;
  testing::FakeBluetoothd bluez(bus.address());
  server::GatewayOptions o;
  o.grpcAddress = "127.0.0.1:0";
  o.dbusAddress = bus.address();
  server::Gateway gateway(o);
  if (!gateway.start().ok()) return 1;
  auto stub = v1::PeripheralService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", gateway.grpcPort()), grpc::InsecureChannelCredentials()));

  v1::RegisterServicesRequest db;
  auto* s = db.add_services();
  s->set_uuid("181A");
  auto* temp = s->add_characteristics();
  temp->set_uuid("2A6E");
  temp->set_read(true);
  temp->set_notify(true);
  temp->set_initial_value(std::string(20, 't'));
  auto* cmd = s->add_characteristics();
  cmd->set_uuid("2A6F");
  cmd->set_read(true);
  cmd->set_write(true);
  cmd->set_max_len(244);
  auto* wwr = s->add_characteristics();
  wwr->set_uuid("2A70");
  wwr->set_read(true);
  wwr->set_write_without_response(true);
  for (int i = 0;; ++i) {
    grpc::ClientContext c;
    v1::RegisterServicesResponse out;
    const auto st = stub->RegisterServices(&c, db, &out);
    if (st.ok()) break;
    if (i > 200) return 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  bluez.waitForApplication(absl::Seconds(5));
  const std::string tempPath = bluez.pathOf("00002a6e-0000-1000-8000-00805f9b34fb");
  const std::string cmdPath = bluez.pathOf("00002a6f-0000-1000-8000-00805f9b34fb");
  const std::string wwrPath = bluez.pathOf("00002a70-0000-1000-8000-00805f9b34fb");
  const std::string central = "11:22:33:44:55:66";
  std::printf("hosted peripheral on a private bus, %d iterations each, sequential callers\n", n);

  measure("ReadValue (20 B), stored value", n, [&](int) { bluez.readValue(tempPath, central); });
  const std::vector<std::uint8_t> value(244, 0x5a);
  measure("WriteValue (244 B), with response", n,
          [&](int) { bluez.writeValue(cmdPath, value, central); });
  {
    const std::vector<std::uint8_t> small(20, 0x33);
    const auto start = Clock::now();
    for (int i = 0; i < n * 10; ++i) bluez.writeValue(wwrPath, small, central, 0, true);
    bluez.readValue(wwrPath, central);  // ordered after every write on the bus
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("%-46s %8.0f /s\n", "WriteValue (20 B), without response, burst", n * 10 / secs);
  }

  {
    grpc::ClientContext c;
    auto stream = stub->HandleReads(&c);
    v1::HandleReadsRequest reg;
    reg.mutable_register_()->add_characteristics()->set_characteristic_uuid("2A6E");
    stream->Write(reg);
    v1::HandleReadsResponse m;
    stream->Read(&m);
    std::thread handler([&] {
      v1::HandleReadsResponse read;
      while (stream->Read(&read)) {
        v1::HandleReadsRequest answer;
        answer.mutable_answer()->set_request_id(read.read().request_id());
        answer.mutable_answer()->set_value("fresh sample");
        if (!stream->Write(answer)) break;
      }
    });
    measure("ReadValue answered by a gRPC read handler", n / 2,
            [&](int) { bluez.readValue(tempPath, central); });
    c.TryCancel();
    handler.join();
    stream->Finish();
  }

  bluez.connectCentral("hci0", central);
  bluez.callNoReply(tempPath, "StartNotify");
  measure("SetValue(send_update) over gRPC, 20 B", n, [&](int i) {
    grpc::ClientContext c;
    v1::SetValueRequest r;
    r.mutable_characteristic()->set_characteristic_uuid("2A6E");
    r.set_value(std::string(20, static_cast<char>(i)));
    r.set_send_update(true);
    v1::SetValueResponse out;
    stub->SetValue(&c, r, &out);
  });
  const bool all = bluez.waitForValues(tempPath, static_cast<std::size_t>(n), absl::Seconds(10));
  std::printf("notifications received by the subscribed central: %zu of %d%s\n",
              bluez.values(tempPath).size(), n, all ? "" : " (timed out)");
  gateway.shutdown(absl::Seconds(1));
  return 0;
}
