// The gateway's discovery session on each adapter: one per adapter, however many scans the domain
// runs (the domain merges their filters into one DiscoveryFilter). BlueZ keys sessions by the
// client's bus name and merges the filters of all its clients (bluez-5.66-api.md §7.1), so this
// only ever drives *our* session: other clients may be discovering too.
//
// What is wanted (the domain's filter, and the devices connect attempts are looking for) is kept
// apart from what BlueZ has, and one chain of calls at a time per adapter brings BlueZ to it:
//   start:  SetDiscoveryFilter(f) → StartDiscovery
//   update: SetDiscoveryFilter(f)
//   stop:   StopDiscovery → SetDiscoveryFilter({})   (a filter left behind outlives the session and,
//           by a 5.66 bug, can stop another client's discovery when the gateway leaves the bus)
// Powering the adapter off drops BlueZ's sessions; the wanted one is started again when it comes
// back on, and after bluetoothd restarts. Loop thread only; callbacks never run inside the call
// that registered them.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "ble/address.h"
#include "ble/bluez/backend_context.h"
#include "ble/bluez/call_limiter.h"
#include "ble/central_backend.h"

namespace gattway::bluez {

class DiscoverySessions {
 public:
  using Done = absl::AnyInvocable<void(absl::Status)>;
  // Runs when BlueZ started our session on the adapter: devices it already knows are re-reported.
  using StartedHook = absl::AnyInvocable<void(const std::string& adapter)>;

  DiscoverySessions(BackendContext& context, StartedHook onStarted);
  DiscoverySessions(const DiscoverySessions&) = delete;
  DiscoverySessions& operator=(const DiscoverySessions&) = delete;

  // The gateway's session with `filter` (replacing its previous filter). `done` runs once BlueZ
  // has it, or with the error that prevented it.
  void want(const std::string& adapter, const DiscoveryFilter& filter, Done done);
  // No gateway session any more. `done` runs once ours has stopped.
  void unwant(const std::string& adapter, Done done);
  // A connect attempt looks for a device BlueZ has not seen: discovery runs (LE, with the address
  // as Pattern when nothing else needs it) until removeTarget(). `done` runs once it runs.
  void addTarget(const std::string& adapter, const Address& address, Done done);
  void removeTarget(const std::string& adapter, const Address& address);

  // What BlueZ reports.
  void adapterChanged(const AdapterInfo& adapter);
  void adapterRemoved(const std::string& adapter);
  void bluezDown();  // sessions are gone; waiters are dropped (their operations fail anyway)
  void bluezUp();    // wanted sessions start again

  // stop(): ends our sessions without waiting, and forgets everything.
  void releaseAll();

  // Whether BlueZ runs our session on `adapter` (for tests and metrics).
  bool running(const std::string& adapter) const;

 private:
  struct Adapter {
    std::optional<DiscoveryFilter> wanted;   // the domain's session
    std::set<Address> targets;               // devices connect attempts look for
    std::optional<DiscoveryFilter> applied;  // what BlueZ has from us (nullopt: no session)
    bool powered = false;
    bool stalled = false;                    // the last chain failed: wait for a new request
    PendingCall call;                        // the chain's current call
    Timer turn;                              // a reconcile() armed for the next loop turn
    std::vector<Done> waiters;
  };

  std::optional<DiscoveryFilter> desired(const Adapter& a) const;
  void schedule(const std::string& name);
  void reconcile(const std::string& name);
  void startSession(const std::string& name, const DiscoveryFilter& filter);
  void updateFilter(const std::string& name, const DiscoveryFilter& filter);
  void stopSession(const std::string& name);
  void chainFailed(const std::string& name, const absl::Status& status);
  void complete(Adapter& a, const absl::Status& status);
  Adapter& state(const std::string& name);
  Adapter* find(const std::string& name);

  BackendContext& context_;
  StartedHook onStarted_;
  std::map<std::string, Adapter> adapters_;
};

}  // namespace gattway::bluez
