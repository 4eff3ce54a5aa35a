// A small scripted org.bluez for the backend's integration tests, until (and beside) the simulator
// (ble/sim): one raw sd-bus connection that owns the name, its own loop thread, an object tree of
// plain data (bluez_objects.h), and BlueZ 5.66's default answers (bluez-5.66-api.md), each of which
// a test can replace with a script: reply now or later, fail, emit signals in either order, or
// never answer.
//
// Thread-safety: the public methods may be called from any thread; they run on the fake's thread
// (directly when already there, so scripts call them too). Scripts run on the fake's thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "ble/bluez/bus.h"
#include "ble/bluez/properties.h"
#include "ble/event_loop.h"

struct sd_bus;

namespace gattway::testing {

class FakeBluez {
 public:
  // A method call as received. Reply once (or never, to make the caller time out).
  class Call {
   public:
    const std::string& path() const { return path_; }
    const std::string& interface() const { return interface_; }
    const std::string& member() const { return member_; }
    sd_bus_message* message() const { return message_.get(); }
    void reply();  // no out-arguments
    void replyError(const std::string& name, const std::string& text);
    // A reply whose arguments `fill` appends.
    void replyWith(const std::function<void(sd_bus_message*)>& fill);
    bool answered() const { return answered_; }

   private:
    friend class FakeBluez;
    FakeBluez* fake_ = nullptr;
    bluez::MessagePtr message_;
    std::string path_, interface_, member_;
    bool answered_ = false;
  };
  using CallPtr = std::shared_ptr<Call>;
  // Gets every call of one member (on any path). Calls `fallback` for BlueZ's default answer.
  using Script = std::function<void(const CallPtr& call, const std::function<void()>& fallback)>;

  explicit FakeBluez(std::string busAddress);
  ~FakeBluez();
  FakeBluez(const FakeBluez&) = delete;
  FakeBluez& operator=(const FakeBluez&) = delete;

  // Connects and takes org.bluez (bluetoothd starting); a new unique name each time.
  void start();
  // Closes the connection without a word (bluetoothd crashing): pending calls go unanswered.
  void crash();
  std::string uniqueName();

  // The object tree. `announce`: InterfacesAdded / InterfacesRemoved / PropertiesChanged.
  void addObject(const bluez::ManagedObject& object, bool announce = true);
  void removeObject(const std::string& path, bool announce = true);
  void setProperties(const std::string& path, const std::string& interface,
                     const bluez::PropertyMap& changed, bool announce = true,
                     const std::vector<std::string>& invalidated = {});
  std::optional<bluez::PropertyValue> property(const std::string& path,
                                               const std::string& interface,
                                               const std::string& name);
  bool hasObject(const std::string& path);

  // GATT objects exported when a device connects (BlueZ's discovery result for it).
  void setDatabase(const std::string& devicePath, std::vector<bluez::ManagedObject> objects);
  // A device that advertises: StartDiscovery creates its object (a report).
  void setAdvertiser(const bluez::ManagedObject& device);
  // ConnectDevice exists (bluetoothd -E) or not (UnknownMethod, the 5.66 default).
  void setExperimental(bool experimental);

  // A notification: PropertiesChanged(GattCharacteristic1, {Value}) on `path`, `count` times.
  void notify(const std::string& path, const bluez::Bytes& value, int count = 1);
  // A notification through an acquired socket (AcquireNotify). False when none is open.
  bool notifyAcquired(const std::string& path, const bluez::Bytes& value);
  // Closes an acquired socket from BlueZ's end (the link dropped).
  void hangUpAcquired(const std::string& path);

  // An empty script restores the default.
  void script(const std::string& member, Script script);
  // Runs `fn` on the fake's thread after `delay` (scripts use it to answer later).
  void after(absl::Duration delay, std::function<void()> fn);
  // Runs `fn` on the fake's thread and waits.
  void run(const std::function<void()>& fn);

  // "Member path" of every call received, in order; and how many of one member.
  std::vector<std::string> calls();
  int callCount(const std::string& member);
  // The options (a{sv}) of the last call of `member`: SetDiscoveryFilter's filter, WriteValue's.
  bluez::PropertyMap lastOptions(const std::string& member);
  bluez::Bytes lastWrite(const std::string& path);
  // Whether our client has a discovery session / notify session (per StartDiscovery/StartNotify).
  bool discovering(const std::string& adapterPath);

  // BlueZ's default behaviour for `call` (what `fallback` runs).
  void answer(const CallPtr& call);

 private:
  class Source;
  struct Acquired {
    int fd = -1;  // BlueZ's end
  };
  friend class Source;
  friend struct FakeTrampoline;
  int onMethod(sd_bus_message* m);
  void emitSignal(const std::string& path, const std::string& interface, const std::string& member,
                  const std::function<void(sd_bus_message*)>& fill);
  void emitPropertiesChanged(const std::string& path, const std::string& interface,
                             const bluez::PropertyMap& changed,
                             const std::vector<std::string>& invalidated);
  void emitInterfacesAdded(const bluez::ManagedObject& object);
  bluez::ManagedObject objectAt(const std::string& path);
  void onThread(const std::function<void()>& fn);
  void connectDevice(const std::string& devicePath);
  void disconnectDevice(const std::string& devicePath);
  void closeAcquired(const std::string& path);

  void defaultAdapter(const CallPtr& call);
  void defaultDevice(const CallPtr& call);
  void defaultGatt(const CallPtr& call);
  void defaultProperties(const CallPtr& call);

  const std::string address_;
  LoopThread thread_;
  // Fake thread only.
  sd_bus* bus_ = nullptr;
  std::unique_ptr<Source> source_;
  bluez::SlotPtr fallback_;
  std::map<std::string, std::map<std::string, bluez::PropertyMap>> objects_;
  std::map<std::string, std::vector<bluez::ManagedObject>> databases_;
  std::vector<bluez::ManagedObject> advertisers_;
  std::map<std::string, Script> scripts_;
  std::map<std::string, bool> discovering_;  // adapter path → our client's session
  std::map<std::string, int> notifySessions_;  // characteristic path → sessions
  std::map<std::string, Acquired> acquired_;
  std::map<std::string, bluez::Bytes> writes_;
  std::vector<Timer> timers_;
  bool experimental_ = false;
  // Any thread.
  std::mutex mu_;
  std::vector<std::string> calls_;
  std::map<std::string, bluez::PropertyMap> options_;
};

}  // namespace gattway::testing
