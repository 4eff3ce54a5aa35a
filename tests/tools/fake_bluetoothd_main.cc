// fake-bluetoothd: tests/support/fake_bluetoothd.h as a process, for end-to-end tests of the
// hosted peripheral until the simulated BlueZ (gattwayd --simulate) covers it.
//
//   gattway-fake-bluetoothd BUS_ADDRESS [CHARACTERISTIC_UUID128]
//
// Owns org.bluez on the bus; once an application is registered, a central connects to hci0,
// subscribes to the characteristic (default: Temperature 2A6E) and every value notified is
// printed as "notified <hex>". Advertisements print as "advertising <local name>". Stops on
// SIGTERM or when stdin closes.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "absl/time/clock.h"
#include "tests/support/fake_bluetoothd.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s BUS_ADDRESS [CHARACTERISTIC_UUID128]\n", argv[0]);
    return 2;
  }
  const std::string uuid = argc > 2 ? argv[2] : "00002a6e-0000-1000-8000-00805f9b34fb";
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  gattway::testing::FakeBluetoothd bluez(argv[1]);
  std::printf("ready\n");
  std::fflush(stdout);
  bool subscribed = false;
  std::size_t printed = 0, adverts = 0;
  for (;;) {
    timespec zero{0, 0};
    if (sigtimedwait(&signals, nullptr, &zero) > 0) break;
    if (!subscribed && bluez.waitForApplication(absl::Milliseconds(50))) {
      const std::string path = bluez.pathOf(uuid);
      if (!path.empty()) {
        bluez.connectCentral("hci0", "11:22:33:44:55:66");
        bluez.callNoReply(path, "StartNotify");
        subscribed = true;
        std::printf("subscribed %s\n", path.c_str());
      }
    }
    const auto ads = bluez.advertisements();
    for (; adverts < ads.size(); ++adverts) std::printf("advertising %s\n", ads[adverts].localName.c_str());
    if (subscribed) {
      const auto values = bluez.values(bluez.pathOf(uuid));
      for (; printed < values.size(); ++printed) {
        std::printf("notified ");
        for (auto b : values[printed]) std::printf("%02x", b);
        std::printf("\n");
      }
    }
    std::fflush(stdout);
    pollfd in{0, POLLIN, 0};
    if (::poll(&in, 1, 50) > 0 && (in.revents & (POLLHUP | POLLIN))) {
      char c;
      if (::read(0, &c, 1) <= 0) break;
    }
  }
  return 0;
}
