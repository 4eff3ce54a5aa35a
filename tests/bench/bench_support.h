// Small helpers the benchmark programs share: percentiles, CPU time, the measuring window, and
// a discovery session as the gateway starts one.
#pragma once

#include <systemd/sd-bus.h>
#include <sys/resource.h>

#include <algorithm>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/support/bus_client.h"

namespace gattway::bench {

// The p-th percentile (0..1) of `v`, nearest rank; 0 for no values.
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// CPU seconds (user + system) of RUSAGE_SELF or RUSAGE_THREAD.
inline double cpuSeconds(int who) {
  rusage u{};
  getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// The measuring window clients started side by side share: [start, start + seconds), from a
// --start_at in Unix seconds (0: half a second from now).
struct Window {
  absl::Time start, end;
  Window(double startAt, double seconds)
      : start(startAt > 0 ? absl::FromUnixMicros(static_cast<std::int64_t>(startAt * 1e6))
                          : absl::Now() + absl::Milliseconds(500)),
        end(start + absl::Seconds(seconds)) {}
  double seconds() const { return absl::ToDoubleSeconds(end - start); }
};

// SetDiscoveryFilter(Transport le, DuplicateData) and StartDiscovery on hci0: every advertising
// report becomes a Device1 PropertiesChanged, as with the gateway's SCAN_MODE_ALL.
inline void startDiscovery(testing::BusClient& c) {
  c.call("org.bluez", "/org/bluez/hci0", "org.bluez.Adapter1", "SetDiscoveryFilter", [](sd_bus_message* m) {
    sd_bus_message_open_container(m, 'a', "{sv}");
    sd_bus_message_append(m, "{sv}", "Transport", "s", "le");
    sd_bus_message_append(m, "{sv}", "DuplicateData", "b", 1);
    sd_bus_message_close_container(m);
  });
  c.call("org.bluez", "/org/bluez/hci0", "org.bluez.Adapter1", "StartDiscovery");
}

}  // namespace gattway::bench
