// The ceiling for tests/bench/compare.py: a bare sd-bus client on the simulator's bus, reading the
// same signals the gateway reads, value bytes in bulk (sd_bus_message_read_array), and doing
// nothing else with them. Prints one JSON object on stdout; never fails on speed.
//
//   scan    count Device1 PropertiesChanged (advertising reports) in the window
//   notify  connect --address, StartNotify its load characteristic, count its Value signals in the
//           window; with --load_timestamps values, the emit → receive latency
//   read    connect --address, then --count sequential ReadValue round trips
//
// Every process waits for the wall-clock window [--start_at, --start_at + --seconds] (Unix
// seconds), so that several clients started side by side measure the same second.
// --listeners=N runs N such clients on N connections (threads), as N separate D-Bus listeners.
#include <systemd/sd-bus.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "tests/bench/bench_support.h"
#include "tests/support/bus_client.h"

ABSL_FLAG(std::string, bus_address, "", "The simulator's bus.");
ABSL_FLAG(std::string, mode, "scan", "scan, notify or read.");
ABSL_FLAG(std::string, address, "F0:00:00:00:00:02", "Load device for notify and read.");
ABSL_FLAG(double, start_at, 0, "Window start, Unix seconds (0: now + 0.5 s).");
ABSL_FLAG(double, seconds, 3, "Window length.");
ABSL_FLAG(int, listeners, 1, "Separate bus connections (threads), each counting.");
ABSL_FLAG(int, count, 2000, "Round trips in read mode.");
ABSL_FLAG(bool, discover, true, "scan: start a discovery session of our own (DuplicateData).");

namespace gattway::bench {
namespace {

constexpr const char* kLoadChar = "/service000a/char000b";

std::string devicePath(const std::string& address) {
  return "/org/bluez/hci0/dev_" + absl::StrReplaceAll(address, {{":", "_"}});
}

struct Listener {
  bool counting = false;
  std::string wantPath;  // notify: the characteristic whose Value we count
  std::uint64_t signals = 0;
  std::uint64_t bytes = 0;
  std::vector<double> latencyUs;
};

// Reads the changed properties of one PropertiesChanged, byte arrays in bulk (ManufacturerData's
// a{qv} of ay, a characteristic's Value ay); returns the last byte array seen.
void readChanged(sd_bus_message* m, Listener& l, const void** lastBytes, std::size_t* lastSize) {
  if (sd_bus_message_enter_container(m, 'a', "{sv}") <= 0) return;
  while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
    const char* key = nullptr;
    sd_bus_message_read(m, "s", &key);
    const char* contents = nullptr;
    char type = 0;
    sd_bus_message_peek_type(m, &type, &contents);
    if (contents != nullptr && std::strcmp(contents, "ay") == 0) {
      sd_bus_message_enter_container(m, 'v', "ay");
      sd_bus_message_read_array(m, 'y', lastBytes, lastSize);
      l.bytes += *lastSize;
      sd_bus_message_exit_container(m);
    } else if (contents != nullptr && std::strcmp(contents, "a{qv}") == 0) {
      sd_bus_message_enter_container(m, 'v', "a{qv}");
      sd_bus_message_enter_container(m, 'a', "{qv}");
      while (sd_bus_message_enter_container(m, 'e', "qv") > 0) {
        std::uint16_t id = 0;
        sd_bus_message_read(m, "q", &id);
        sd_bus_message_enter_container(m, 'v', "ay");
        sd_bus_message_read_array(m, 'y', lastBytes, lastSize);
        l.bytes += *lastSize;
        sd_bus_message_exit_container(m);
        sd_bus_message_exit_container(m);
      }
      sd_bus_message_exit_container(m);
      sd_bus_message_exit_container(m);
    } else {
      sd_bus_message_skip(m, "v");
    }
    sd_bus_message_exit_container(m);
  }
}

int onSignal(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto& l = *static_cast<Listener*>(userdata);
  if (!l.counting) return 0;
  const char* iface = nullptr;
  if (sd_bus_message_read(m, "s", &iface) < 0) return 0;
  const void* bytes = nullptr;
  std::size_t size = 0;
  if (l.wantPath.empty()) {
    if (std::strcmp(iface, "org.bluez.Device1") != 0) return 0;
    readChanged(m, l, &bytes, &size);
    ++l.signals;
    return 0;
  }
  if (std::strcmp(iface, "org.bluez.GattCharacteristic1") != 0 || l.wantPath != sd_bus_message_get_path(m)) return 0;
  readChanged(m, l, &bytes, &size);
  if (bytes == nullptr) return 0;
  ++l.signals;
  if (size >= 12) {
    std::uint64_t stamp = 0;
    std::memcpy(&stamp, static_cast<const std::uint8_t*>(bytes) + 4, 8);  // little-endian host
    const double now = static_cast<double>(absl::ToUnixNanos(absl::Now()));
    l.latencyUs.push_back((now - static_cast<double>(stamp)) / 1e3);
  }
  return 0;
}

void pumpUntil(sd_bus* bus, absl::Time until) {
  for (;;) {
    const absl::Time now = absl::Now();
    if (now >= until) return;
    const int r = sd_bus_process(bus, nullptr);
    if (r < 0) return;
    if (r > 0) continue;
    sd_bus_wait(bus, static_cast<std::uint64_t>(absl::ToInt64Microseconds(until - now)));
  }
}

// Connects the load device (discovering it first if BlueZ does not know it yet); returns the
// characteristic's path, or "" on failure.
std::string connectLoadDevice(testing::BusClient& c, const std::string& address) {
  const std::string dev = devicePath(address);
  if (!c.managedObjects().contains(dev)) {
    startDiscovery(c);
    c.waitFor([&] { return c.managedObjects().contains(dev); }, absl::Seconds(20));
    c.call("org.bluez", "/org/bluez/hci0", "org.bluez.Adapter1", "StopDiscovery");
  }
  testing::Reply r = c.call("org.bluez", dev, "org.bluez.Device1", "Connect", nullptr, absl::Seconds(30));
  // Another client's connect holds the adapter (one LE connect at a time): try again shortly.
  for (int i = 0; i < 20 && r.errorName == "org.bluez.Error.InProgress"; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    r = c.call("org.bluez", dev, "org.bluez.Device1", "Connect", nullptr, absl::Seconds(30));
  }
  if (!r.ok()) {
    std::fprintf(stderr, "Connect %s: %s %s\n", dev.c_str(), r.errorName.c_str(), r.errorMessage.c_str());
    return "";
  }
  c.waitFor([&] { return c.getBool(dev, "org.bluez.Device1", "ServicesResolved") == true; }, absl::Seconds(20));
  return dev + kLoadChar;
}

struct Outcome {
  std::uint64_t signals = 0;
  std::uint64_t bytes = 0;
  double cpu = 0;
  std::vector<double> latencyUs;
  bool ok = true;
};

Outcome listen(const std::string& busAddress, const std::string& mode, const std::string& address, const Window& w,
               bool discover) {
  Outcome out;
  testing::BusClient client(busAddress);
  Listener l;
  if (mode == "notify") {
    l.wantPath = connectLoadDevice(client, address);
    if (l.wantPath.empty()) {
      out.ok = false;
      return out;
    }
  }
  sd_bus_slot* slot = nullptr;
  sd_bus_add_match(client.raw(), &slot,
                   "type='signal',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
                   "path_namespace='/org/bluez'",
                   onSignal, &l);
  if (mode == "scan" && discover) startDiscovery(client);
  if (mode == "notify") {
    testing::Reply r = client.call("org.bluez", l.wantPath, "org.bluez.GattCharacteristic1", "StartNotify");
    if (!r.ok()) std::fprintf(stderr, "StartNotify: %s %s\n", r.errorName.c_str(), r.errorMessage.c_str());
  }
  pumpUntil(client.raw(), w.start);
  l.counting = true;
  const double cpu0 = cpuSeconds(RUSAGE_THREAD);
  pumpUntil(client.raw(), w.end);
  out.cpu = cpuSeconds(RUSAGE_THREAD) - cpu0;
  l.counting = false;
  out.signals = l.signals;
  out.bytes = l.bytes;
  out.latencyUs = std::move(l.latencyUs);
  sd_bus_slot_unref(slot);
  return out;
}

int readMode(const std::string& busAddress, const std::string& address, int count) {
  testing::BusClient client(busAddress);
  const std::string path = connectLoadDevice(client, address);
  if (path.empty()) return 1;
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(count));
  auto readOnce = [&] {
    sd_bus_message* call = nullptr;
    sd_bus_message_new_method_call(client.raw(), &call, "org.bluez", path.c_str(), "org.bluez.GattCharacteristic1",
                                   "ReadValue");
    sd_bus_message_open_container(call, 'a', "{sv}");
    sd_bus_message_close_container(call);
    sd_bus_message* reply = nullptr;
    sd_bus_error error = SD_BUS_ERROR_NULL;
    const int r = sd_bus_call(client.raw(), call, 5'000'000, &error, &reply);
    if (r >= 0) {
      const void* p = nullptr;
      std::size_t n = 0;
      sd_bus_message_read_array(reply, 'y', &p, &n);
    }
    sd_bus_error_free(&error);
    sd_bus_message_unref(reply);
    sd_bus_message_unref(call);
    return r >= 0;
  };
  for (int i = 0; i < 50; ++i) readOnce();  // warm-up
  int failed = 0;
  for (int i = 0; i < count; ++i) {
    const absl::Time t0 = absl::Now();
    if (!readOnce()) ++failed;
    us.push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
  }
  std::printf("{\"mode\":\"read\",\"count\":%d,\"failed\":%d,\"p50_us\":%.1f,\"p99_us\":%.1f}\n", count, failed,
              percentile(us, 0.5), percentile(us, 0.99));
  return 0;
}

}  // namespace
}  // namespace gattway::bench

int main(int argc, char** argv) {
  using namespace gattway::bench;
  absl::ParseCommandLine(argc, argv);
  const std::string bus = absl::GetFlag(FLAGS_bus_address);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const std::string address = absl::GetFlag(FLAGS_address);
  if (mode == "read") return readMode(bus, address, absl::GetFlag(FLAGS_count));
  const Window w(absl::GetFlag(FLAGS_start_at), absl::GetFlag(FLAGS_seconds));
  const int n = std::max(1, absl::GetFlag(FLAGS_listeners));
  std::vector<Outcome> outcomes(static_cast<std::size_t>(n));
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      outcomes[static_cast<std::size_t>(i)] =
          listen(bus, mode, address, w, absl::GetFlag(FLAGS_discover) && i == 0);
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = w.seconds();
  std::vector<std::string> per;
  std::vector<double> latency;
  double cpu = 0;
  std::uint64_t total = 0;
  bool ok = true;
  for (const auto& o : outcomes) {
    per.push_back(absl::StrFormat("%.1f", static_cast<double>(o.signals) / seconds));
    latency.insert(latency.end(), o.latencyUs.begin(), o.latencyUs.end());
    cpu += o.cpu;
    total += o.signals;
    ok = ok && o.ok;
  }
  std::printf(
      "{\"mode\":\"%s\",\"ok\":%s,\"listeners\":%d,\"seconds\":%.3f,\"per_second_each\":[%s],"
      "\"per_second_total\":%.1f,\"cpu_s\":%.4f,\"latency_n\":%zu,\"latency_p50_us\":%.1f,\"latency_p99_us\":%.1f}\n",
      mode.c_str(), ok ? "true" : "false", n, seconds, absl::StrJoin(per, ",").c_str(),
      static_cast<double>(total) / seconds, cpu, latency.size(), percentile(latency, 0.5), percentile(latency, 0.99));
  return 0;
}
