// A plain D-Bus client for tests, on sd-bus directly (independent of the code under test): calls
// with replies, and a log of every signal and reply in the order they arrived, so tests can check
// BlueZ's orderings (Connected before the Connect reply, InterfacesAdded before ServicesResolved).
// Single-threaded: the test thread drives it with waitFor().
#pragma once

#include <systemd/sd-bus.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace gattway::testing {

// One thing that arrived: a signal or the answer to an async call.
struct BusEvent {
  enum Kind { kSignal, kReply, kError } kind = kSignal;
  std::string path;
  std::string interface;  // signals: the interface; PropertiesChanged: the changed interface
  std::string member;     // signals: the member; replies: the method called
  std::string object;     // InterfacesAdded/Removed: the object path
  std::vector<std::string> keys;         // PropertiesChanged: changed keys; Interfaces*: names
  std::vector<std::string> invalidated;  // PropertiesChanged
  std::map<std::string, std::string> values;  // PropertiesChanged: key → value text
  std::string errorName, errorMessage;        // kError
  std::string sender;
};

// A D-Bus reply as read by a test: an error, or the message to read from.
struct Reply {
  std::string errorName;
  std::string errorMessage;
  sd_bus_message* message = nullptr;  // owned
  Reply() = default;
  Reply(Reply&& o) noexcept;
  Reply& operator=(Reply&& o) noexcept;
  ~Reply();
  bool ok() const { return errorName.empty(); }
};

class BusClient {
 public:
  explicit BusClient(const std::string& address);
  ~BusClient();
  BusClient(const BusClient&) = delete;
  BusClient& operator=(const BusClient&) = delete;

  sd_bus* raw() const { return bus_; }
  std::string uniqueName() const;

  // Blocking call (processes nothing else meanwhile; arriving signals are queued and logged at
  // the next waitFor). `append` adds arguments.
  Reply call(const std::string& dest, const std::string& path, const std::string& iface,
             const std::string& member,
             const std::function<void(sd_bus_message*)>& append = nullptr,
             absl::Duration timeout = absl::Seconds(10));
  // Async call: its reply is logged as a BusEvent (kReply/kError, member = method) in arrival
  // order. `onReply` (optional) sees the message.
  void callAsync(const std::string& dest, const std::string& path, const std::string& iface,
                 const std::string& member, const std::function<void(sd_bus_message*)>& append = nullptr,
                 std::function<void(sd_bus_message*)> onReply = nullptr);

  // Records signals matching `rule` (every signal from org.bluez by default).
  void watch(const std::string& rule = "type='signal',sender='org.bluez'");
  // Processes messages until `done()` or the timeout. Returns done().
  bool waitFor(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(5));
  // Processes for `d`.
  void pump(absl::Duration d);

  std::vector<BusEvent>& events() { return events_; }
  // Index of the first event after `from` matching `pred`, or -1.
  int find(const std::function<bool(const BusEvent&)>& pred, int from = 0) const;

  // Property helpers (blocking Properties.Get on org.bluez).
  std::optional<bool> getBool(const std::string& path, const std::string& iface, const std::string& name);
  std::optional<std::string> getString(const std::string& path, const std::string& iface,
                                       const std::string& name);
  std::optional<std::int64_t> getInt(const std::string& path, const std::string& iface,
                                     const std::string& name);
  // GetManagedObjects on org.bluez: path → interface names.
  std::map<std::string, std::vector<std::string>> managedObjects();

 private:
  static int onSignal(sd_bus_message* m, void* userdata, sd_bus_error*);
  static int onAsyncReply(sd_bus_message* m, void* userdata, sd_bus_error*);

  sd_bus* bus_ = nullptr;
  std::vector<sd_bus_slot*> slots_;
  std::vector<BusEvent> events_;
  struct Pending {
    BusClient* self;
    std::string member;
    std::function<void(sd_bus_message*)> onReply;
  };
  std::vector<std::unique_ptr<Pending>> pending_;
};

// A value read from a variant as text: "true", "-60", "\"abc\"", "[01 02]", "{...}".
std::string variantText(sd_bus_message* m);

}  // namespace gattway::testing
