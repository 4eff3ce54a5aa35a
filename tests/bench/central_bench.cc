// Prints what the gateway spends per delivered event on its two hot paths, scan results and
// notifications, through real gRPC streams, with the in-process fake backend standing in for
// BlueZ. The client runs in a forked process, so the CPU measured (getrusage of this process) is
// the gateway's: the fake backend producing events on the loop, the central domain, the stream
// queues and gRPC's server side. Figures only; nothing here fails on a slow machine.
//
//   gattway_central_bench [events=200000]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "gattway/v1/gatt.grpc.pb.h"
#include "gattway/v1/scan.grpc.pb.h"
#include "gattway/v1/session.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "ble/log.h"
#include "server/gateway.h"
#include "tests/support/fake_central_backend.h"

namespace gattway::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kDevice = "AA:BB:CC:DD:EE:01";

double cpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void writeLine(int fd, const std::string& s) {
  std::string line = s + "\n";
  if (::write(fd, line.data(), line.size()) < 0) std::abort();
}

std::string readLine(int fd) {
  std::string s;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') s.push_back(c);
  return s;
}

enum class Kind { kScan, kNotify };

struct Scenario {
  Kind kind;
  int streams;
  long events;     // injected by the fake backend
  int ratePerSec;  // 0: as fast as the loop takes them
  // The stream's filter matches nothing: what the loop spends per event before any gRPC write
  // (waking up, the backend, the hub), as a floor for the figures above.
  bool matchNothing = false;
};

// The client side (child process): opens the streams, reads until every one has all the events,
// then reports how many it got and how many were reported dropped.
[[noreturn]] void runClient(const Scenario& sc, int port, int toParent, int fromParent) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < sc.streams; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("gattway.bench.channel", i);  // one connection per stream, like separate callers
    channels.push_back(grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                                 grpc::InsecureChannelCredentials(), args));
  }
  if (sc.kind == Kind::kNotify) {
    auto sessions = v1::SessionService::NewStub(channels[0]);
    grpc::ClientContext ctx;
    v1::ConnectRequest request;
    request.set_address(kDevice);
    v1::ConnectResponse response;
    if (!sessions->Connect(&ctx, request, &response).ok()) std::_Exit(2);
  }
  std::atomic<long> delivered{0}, dropped{0};
  std::vector<std::thread> readers;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  for (int i = 0; i < sc.streams; ++i) contexts.push_back(std::make_unique<grpc::ClientContext>());
  std::atomic<int> ready{0};
  for (int i = 0; i < sc.streams; ++i) {
    readers.emplace_back([&, i] {
      long got = 0, gaps = 0;
      auto* ctx = contexts[static_cast<std::size_t>(i)].get();
      if (sc.kind == Kind::kScan) {
        auto stub = v1::ScanService::NewStub(channels[static_cast<std::size_t>(i)]);
        v1::ScanRequest request;
        request.set_mode(v1::SCAN_MODE_ALL);
        request.set_queue_size(65536);
        request.set_max_batch_size(1000);
        if (sc.matchNothing) request.mutable_filter()->set_name_prefix("no such device");
        auto reader = stub->Scan(ctx, request);
        ++ready;
        v1::ScanResponse m;
        while (got + gaps < sc.events && reader->Read(&m)) {
          got += m.results_size();
          gaps += static_cast<long>(m.gap().dropped());
        }
      } else {
        auto stub = v1::GattService::NewStub(channels[static_cast<std::size_t>(i)]);
        v1::SubscribeRequest request;
        request.set_address(kDevice);
        request.mutable_characteristic()->set_characteristic_uuid("2A37");
        request.set_queue_size(65536);
        auto reader = stub->Subscribe(ctx, request);
        ++ready;
        v1::SubscribeResponse m;
        while (got + gaps < sc.events && reader->Read(&m)) {
          got += m.notifications_size();
          gaps += static_cast<long>(m.gap().dropped());
        }
      }
      delivered += got;
      dropped += gaps;
    });
  }
  while (ready < sc.streams) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  writeLine(toParent, "ready");
  if (sc.matchNothing) {
    readLine(fromParent);  // the parent has sent everything
    for (auto& c : contexts) c->TryCancel();
  }
  for (auto& t : readers) t.join();
  writeLine(toParent, std::to_string(delivered.load()) + " " + std::to_string(dropped.load()));
  for (auto& c : contexts) c->TryCancel();
  std::_Exit(0);
}

void runScenario(const Scenario& sc) {
  int up[2], down[2];
  if (pipe(up) != 0 || pipe(down) != 0) std::abort();
  const pid_t child = fork();
  if (child == 0) {
    ::close(up[0]);
    ::close(down[1]);
    const int port = std::stoi(readLine(down[0]));
    runClient(sc, port, up[1], down[0]);
  }
  ::close(up[1]);
  ::close(down[0]);

  testing::FakeCentralBackend* fake = nullptr;
  Executor* executor = nullptr;
  server::GatewayOptions options;
  options.grpcAddress = "127.0.0.1:0";
  server::Gateway gateway(options, [&](Executor& loop) {
    executor = &loop;
    auto b = std::make_unique<testing::FakeCentralBackend>(loop);
    b->addAdapter("hci0");
    b->addDevice(testing::sampleDevice(kDevice));
    fake = b.get();
    return b;
  });
  if (!gateway.start().ok()) std::abort();
  writeLine(down[1], std::to_string(gateway.grpcPort()));
  if (readLine(up[0]) != "ready") std::abort();
  // Wait until every stream is set up on the loop.
  for (;;) {
    const auto& m = gateway.metrics();
    bool set = false;
    gateway.runOnLoop([&] {
      set = sc.kind == Kind::kScan ? m.scanStreams.value() == sc.streams && fake->gatewayDiscovering("hci0")
                                   : m.subscribeStreams.value() == sc.streams &&
                                         fake->notifying(*Address::parse(kDevice), 0x0010);
    });
    if (set) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a quiet moment
  // What the gateway burns with its streams open and nothing happening (gRPC's own threads).
  const double idle0 = cpuSeconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const double idlePerSecond = (cpuSeconds() - idle0) / 0.5;

  const Address device = *Address::parse(kDevice);
  const std::vector<std::uint8_t> value(20, 0x42);
  const double cpu0 = cpuSeconds();
  const auto t0 = Clock::now();
  // Paced: each event wakes the loop on its own, as a D-Bus signal would at that rate.
  auto emit = [&](long i) {
    if (sc.kind == Kind::kScan) {
      fake->advertise(device, static_cast<std::int16_t>(-40 - i % 50));
    } else {
      fake->notify(device, 0x0010, value);
    }
  };
  Timer pacer;  // loop thread
  if (sc.ratePerSec > 0) {
    // Paced: a loop timer emits one event per tick, so each event wakes the loop on its own, as
    // a D-Bus signal arriving at that rate would.
    const absl::Duration interval = absl::Seconds(1) / sc.ratePerSec;
    const absl::Time start = absl::Now();
    std::promise<void> finished;
    std::function<void(long)> tick = [&](long i) {
      emit(i);
      if (i + 1 == sc.events) {
        finished.set_value();
        return;
      }
      pacer = executor->runAfter(start + interval * (i + 1) - absl::Now(), [&, i] { tick(i + 1); });
    };
    gateway.runOnLoop([&] { pacer = executor->runAfter(interval, [&] { tick(0); }); });
    finished.get_future().wait();
  } else {
    long sent = 0;
    while (sent < sc.events) {
      const long n = std::min(500L, sc.events - sent);
      gateway.runOnLoop([&] {
        for (long i = 0; i < n; ++i) emit(sent + i);
      });
      sent += n;
    }
  }
  if (sc.matchNothing) {
    gateway.runOnLoop([] {});  // every event handled
    writeLine(down[1], "stop");
  }
  const std::string result = readLine(up[0]);
  const auto t1 = Clock::now();
  const double cpu1 = cpuSeconds();
  long delivered = 0, dropped = 0;
  std::sscanf(result.c_str(), "%ld %ld", &delivered, &dropped);
  const double seconds = std::chrono::duration<double>(t1 - t0).count();
  std::printf("%-7s streams=%-3d%s rate=%-8s events=%-7ld delivered=%-8ld dropped=%-6ld "
              "%9.0f delivered/s  %6.2f us CPU/delivered  %6.2f us CPU/event  (idle %.1f ms CPU/s)\n",
              sc.kind == Kind::kScan ? "scan" : "notify", sc.streams,
              sc.matchNothing ? " (matching nothing)" : "",
              sc.ratePerSec > 0 ? std::to_string(sc.ratePerSec).c_str() : "max", sc.events,
              delivered, dropped, static_cast<double>(delivered) / seconds,
              (cpu1 - cpu0) * 1e6 / static_cast<double>(std::max(1L, delivered)),
              (cpu1 - cpu0) * 1e6 / static_cast<double>(sc.events), idlePerSecond * 1e3);
  std::fflush(stdout);
  gateway.runOnLoop([&] { pacer.cancel(); });
  gateway.shutdown(absl::Seconds(1));
  int status = 0;
  waitpid(child, &status, 0);
  ::close(up[0]);
  ::close(down[1]);
}

}  // namespace
}  // namespace gattway::bench

int main(int argc, char** argv) {
  using gattway::bench::Kind;
  using gattway::bench::Scenario;
  gattway::log::configure(gattway::log::Format::kText, gattway::log::Level::kWarn);
  long n = 200000;
  int only = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--scenario=", 0) == 0) {
      only = std::atoi(arg.c_str() + 11);
    } else {
      n = std::atol(arg.c_str());
    }
  }
  const std::vector<Scenario> scenarios = {
      {Kind::kScan, 1, n, 0},         {Kind::kScan, 16, n / 4, 0},
      {Kind::kScan, 1, 2000, 1000},   {Kind::kScan, 16, 2000, 1000},
      {Kind::kNotify, 1, n, 0},       {Kind::kNotify, 16, n / 4, 0},
      {Kind::kNotify, 1, 2000, 1000}, {Kind::kNotify, 16, 2000, 1000},
      {Kind::kScan, 1, 2000, 1000, true},
  };
  if (only >= 0) {
    // One scenario per process: it forks its client before gRPC starts any thread.
    gattway::bench::runScenario(scenarios[static_cast<std::size_t>(only)]);
    return 0;
  }
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    const pid_t pid = fork();
    if (pid == 0) {
      const std::string events = std::to_string(n);
      const std::string scenario = "--scenario=" + std::to_string(i);
      execl("/proc/self/exe", argv[0], events.c_str(), scenario.c_str(), nullptr);
      std::_Exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
  }
  return 0;
}
