// The gateway's consumers for tests/bench/compare.py: a small C++ gRPC client, so that the
// consumer is never what limits the figures. Prints one JSON object on stdout; never fails on speed.
//
//   scan       --streams Scan streams (SCAN_MODE_ALL, batched as a user would), one channel each,
//              counting results received in the window
//   subscribe  Connect --address, Subscribe to its load characteristic, count notifications in
//              the window and, for values stamped by gattway-sim --load_timestamps, the emit →
//              receive latency
//   read       Connect --address, then --count sequential Read calls: p50/p99
//   execute    Connect --address, then --count rounds of one Execute with 10 reads, and --count
//              rounds of 10 sequential Read calls: p50/p99 of a round
//
// The window is [--start_at, --start_at + --seconds] (Unix seconds), shared with the other
// clients started side by side.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gattway/v1/gatt.grpc.pb.h"
#include "gattway/v1/scan.grpc.pb.h"
#include "gattway/v1/session.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "tests/bench/bench_support.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "The gateway's gRPC address.");
ABSL_FLAG(std::string, mode, "scan", "scan, subscribe, read or execute.");
ABSL_FLAG(int, streams, 1, "scan: streams, each on its own channel (connection).");
ABSL_FLAG(int, max_batch_size, 100, "scan: ScanRequest.max_batch_size.");
ABSL_FLAG(int, batch_interval_ms, 0,
          "scan, subscribe: the request's batch_interval (0: send each result or value at once).");
ABSL_FLAG(std::string, address, "F0:00:00:00:00:01", "Load device for subscribe, read and execute.");
ABSL_FLAG(double, start_at, 0, "Window start, Unix seconds (0: now + 0.5 s).");
ABSL_FLAG(double, seconds, 3, "Window length.");
ABSL_FLAG(int, count, 2000, "read/execute: calls (rounds).");

namespace gattway::bench {
namespace {

constexpr const char* kLoadCharacteristic = "67617474-7761-7900-0000-006c6f616401";

std::shared_ptr<grpc::Channel> channel(const std::string& target, int i) {
  grpc::ChannelArguments args;
  args.SetInt("gattway.bench.channel", i);  // a connection of its own, like a separate caller
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

int scan(const std::string& target, int streams, const Window& w) {
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  for (int i = 0; i < streams; ++i) contexts.push_back(std::make_unique<grpc::ClientContext>());
  std::vector<std::uint64_t> counts(static_cast<std::size_t>(streams)), gaps(counts), messages(counts);
  std::vector<int> failed(static_cast<std::size_t>(streams));
  std::vector<std::thread> readers;
  for (int i = 0; i < streams; ++i) {
    readers.emplace_back([&, i] {
      const auto k = static_cast<std::size_t>(i);
      auto stub = v1::ScanService::NewStub(channel(target, i));
      v1::ScanRequest request;
      request.set_mode(v1::SCAN_MODE_ALL);
      request.set_max_batch_size(static_cast<std::uint32_t>(absl::GetFlag(FLAGS_max_batch_size)));
      request.set_queue_size(65536);
      if (const int ms = absl::GetFlag(FLAGS_batch_interval_ms); ms > 0) {
        request.mutable_batch_interval()->set_nanos(ms * 1000000);
      }
      auto reader = stub->Scan(contexts[k].get(), request);
      v1::ScanResponse m;
      while (reader->Read(&m)) {
        const absl::Time now = absl::Now();
        if (now >= w.end) break;
        if (now < w.start) continue;
        counts[k] += static_cast<std::uint64_t>(m.results_size());
        gaps[k] += m.gap().dropped();
        ++messages[k];
      }
      contexts[k]->TryCancel();
      const grpc::Status s = reader->Finish();
      if (!s.ok() && s.error_code() != grpc::StatusCode::CANCELLED) {
        failed[k] = 1;
        std::fprintf(stderr, "Scan %d: %s\n", i, s.error_message().c_str());
      }
    });
  }
  // Streams that see nothing still end with the window.
  std::thread stopper([&] {
    absl::SleepFor(w.end - absl::Now() + absl::Milliseconds(200));
    for (auto& c : contexts) c->TryCancel();
  });
  const double cpu0 = cpuSeconds(RUSAGE_SELF);
  for (auto& t : readers) t.join();
  stopper.join();
  const double seconds = w.seconds();
  std::vector<std::string> each;
  std::uint64_t total = 0, dropped = 0, msgs = 0;
  int bad = 0;
  for (std::size_t k = 0; k < counts.size(); ++k) {
    each.push_back(absl::StrFormat("%.1f", static_cast<double>(counts[k]) / seconds));
    total += counts[k];
    dropped += gaps[k];
    msgs += messages[k];
    bad += failed[k];
  }
  std::printf("{\"mode\":\"scan\",\"ok\":%s,\"streams\":%d,\"seconds\":%.3f,\"per_second_each\":[%s],"
              "\"per_second_total\":%.1f,\"dropped\":%llu,\"messages\":%llu,\"client_cpu_s\":%.3f}\n",
              bad == 0 ? "true" : "false", streams, seconds, absl::StrJoin(each, ",").c_str(),
              static_cast<double>(total) / seconds, static_cast<unsigned long long>(dropped),
              static_cast<unsigned long long>(msgs), cpuSeconds(RUSAGE_SELF) - cpu0);
  return 0;
}

// Connects, retrying while another BlueZ client's connect holds the adapter (the simulator, like
// the controller, takes one LE connect at a time and answers InProgress, surfaced as ABORTED).
bool connect(v1::SessionService::Stub& sessions, const std::string& address) {
  for (int attempt = 0;; ++attempt) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::ConnectRequest request;
    request.set_address(address);
    v1::ConnectResponse response;
    const grpc::Status s = sessions.Connect(&ctx, request, &response);
    if (s.ok() || s.error_code() == grpc::StatusCode::ALREADY_EXISTS) return true;
    if (s.error_code() != grpc::StatusCode::ABORTED || attempt == 20) {
      std::fprintf(stderr, "Connect %s: %d %s\n", address.c_str(), s.error_code(), s.error_message().c_str());
      return false;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
}

int subscribe(const std::string& target, const std::string& address, const Window& w) {
  auto ch = channel(target, 0);
  auto sessions = v1::SessionService::NewStub(ch);
  if (!connect(*sessions, address)) {
    std::printf("{\"mode\":\"subscribe\",\"ok\":false}\n");
    return 0;
  }
  auto gatt = v1::GattService::NewStub(ch);
  grpc::ClientContext ctx;
  v1::SubscribeRequest request;
  request.set_address(address);
  request.mutable_characteristic()->set_characteristic_uuid(kLoadCharacteristic);
  request.set_queue_size(65536);
  if (const int ms = absl::GetFlag(FLAGS_batch_interval_ms); ms > 0) {
    request.mutable_batch_interval()->set_nanos(ms * 1000000);
  }
  auto reader = gatt->Subscribe(&ctx, request);
  std::thread stopper([&] {
    absl::SleepFor(w.end - absl::Now() + absl::Milliseconds(200));
    ctx.TryCancel();
  });
  std::uint64_t count = 0, dropped = 0;
  std::vector<double> latencyUs;
  v1::SubscribeResponse m;
  while (reader->Read(&m)) {
    const absl::Time now = absl::Now();
    if (now >= w.end) break;
    if (now < w.start) continue;
    dropped += m.gap().dropped();
    const double nowNs = static_cast<double>(absl::ToUnixNanos(now));
    for (const auto& n : m.notifications()) {
      ++count;
      if (n.value().size() >= 12) {
        std::uint64_t stamp = 0;
        std::memcpy(&stamp, n.value().data() + 4, 8);
        latencyUs.push_back((nowNs - static_cast<double>(stamp)) / 1e3);
      }
    }
  }
  ctx.TryCancel();
  reader->Finish();
  stopper.join();
  const double seconds = w.seconds();
  std::printf("{\"mode\":\"subscribe\",\"ok\":true,\"seconds\":%.3f,\"per_second_total\":%.1f,\"dropped\":%llu,"
              "\"latency_n\":%zu,\"latency_p50_us\":%.1f,\"latency_p99_us\":%.1f}\n",
              seconds, static_cast<double>(count) / seconds, static_cast<unsigned long long>(dropped),
              latencyUs.size(), percentile(latencyUs, 0.5), percentile(latencyUs, 0.99));
  return 0;
}

int reads(const std::string& target, const std::string& address, int count, bool execute) {
  auto ch = channel(target, 0);
  auto sessions = v1::SessionService::NewStub(ch);
  if (!connect(*sessions, address)) {
    std::printf("{\"mode\":\"%s\",\"ok\":false}\n", execute ? "execute" : "read");
    return 0;
  }
  auto gatt = v1::GattService::NewStub(ch);
  int failed = 0;
  auto readOnce = [&] {
    grpc::ClientContext ctx;
    v1::ReadRequest request;
    request.set_address(address);
    request.mutable_attribute()->set_characteristic_uuid(kLoadCharacteristic);
    v1::ReadResponse response;
    if (!gatt->Read(&ctx, request, &response).ok()) ++failed;
  };
  auto executeOnce = [&] {
    grpc::ClientContext ctx;
    v1::ExecuteRequest request;
    request.set_address(address);
    for (int i = 0; i < 10; ++i) {
      request.add_operations()->mutable_read()->mutable_attribute()->set_characteristic_uuid(kLoadCharacteristic);
    }
    auto reader = gatt->Execute(&ctx, request);
    v1::ExecuteResponse r;
    int got = 0;
    while (reader->Read(&r)) {
      if (r.status().code() != 0) ++failed;
      ++got;
    }
    if (!reader->Finish().ok() || got != 10) ++failed;
  };
  auto time = [](const auto& f) {
    const absl::Time t0 = absl::Now();
    f();
    return absl::ToDoubleMicroseconds(absl::Now() - t0);
  };
  for (int i = 0; i < 50; ++i) readOnce();  // warm-up
  if (!execute) {
    std::vector<double> us;
    for (int i = 0; i < count; ++i) us.push_back(time(readOnce));
    std::printf("{\"mode\":\"read\",\"ok\":true,\"count\":%d,\"failed\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f}\n", count,
                failed, percentile(us, 0.5), percentile(us, 0.99));
    return 0;
  }
  std::vector<double> batched, separate;
  for (int i = 0; i < count; ++i) {
    batched.push_back(time(executeOnce));
    separate.push_back(time([&] {
      for (int k = 0; k < 10; ++k) readOnce();
    }));
  }
  std::printf("{\"mode\":\"execute\",\"ok\":true,\"count\":%d,\"failed\":%d,\"execute10_p50_us\":%.1f,"
              "\"execute10_p99_us\":%.1f,\"read10_p50_us\":%.1f,\"read10_p99_us\":%.1f}\n",
              count, failed, percentile(batched, 0.5), percentile(batched, 0.99), percentile(separate, 0.5),
              percentile(separate, 0.99));
  return 0;
}

}  // namespace
}  // namespace gattway::bench

int main(int argc, char** argv) {
  using namespace gattway::bench;
  absl::ParseCommandLine(argc, argv);
  const std::string target = absl::GetFlag(FLAGS_target);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const Window w(absl::GetFlag(FLAGS_start_at), absl::GetFlag(FLAGS_seconds));
  if (mode == "scan") return scan(target, absl::GetFlag(FLAGS_streams), w);
  if (mode == "subscribe") return subscribe(target, absl::GetFlag(FLAGS_address), w);
  if (mode == "read") return reads(target, absl::GetFlag(FLAGS_address), absl::GetFlag(FLAGS_count), false);
  if (mode == "execute") return reads(target, absl::GetFlag(FLAGS_address), absl::GetFlag(FLAGS_count), true);
  std::fprintf(stderr, "unknown --mode=%s\n", mode.c_str());
  return 2;
}
