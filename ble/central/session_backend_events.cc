// What the platform reports to SessionManager (CentralBackendListener): BlueZ coming and going,
// adapters powered off or removed, and links that drop. Each ends the sessions it affects with its
// reason; persistent ones then back off and return (session_reconnect.cc).
#include "absl/strings/str_cat.h"
#include "ble/central/session_manager.h"
#include "ble/error.h"
#include "ble/log.h"

namespace gattway {

void SessionManager::onBackendUp() {
  backendSynced_ = true;
  resumeWaiting("");
}

void SessionManager::onBackendDown() {
  backendSynced_ = false;
  const absl::Status down =
      err::make(err::Reason::kBluezUnavailable, "BlueZ left the D-Bus (bluetoothd stopped)");
  for (auto& s : sessionsOn("")) {
    end(s, Ending{SessionReason::kBluezDown, "BlueZ left the D-Bus", down, down, false});
  }
  // Links BlueZ was closing are gone with it.
  std::vector<std::uint64_t> ids;
  for (const auto& [id, c] : closing_) ids.push_back(id);
  for (auto id : ids) {
    auto it = closing_.find(id);
    if (it == closing_.end()) continue;
    auto callbacks = std::move(it->second.done);
    SessionInfo info = std::move(it->second.removed);
    closing_.erase(it);
    for (auto& cb : callbacks) cb(info);
  }
}

void SessionManager::onAdapterChanged(const AdapterInfo& adapter) {
  if (adapter.powered) {
    if (backendSynced_) resumeWaiting(adapter.name);
    return;
  }
  const absl::Status off = err::make(absl::StatusCode::kUnavailable, err::Reason::kAdapterOff,
                                     absl::StrCat("adapter ", adapter.name, " was powered off"),
                                     {{err::kMetaAdapter, adapter.name}});
  for (auto& s : sessionsOn(adapter.name)) {
    end(s, Ending{SessionReason::kAdapterOff, "adapter powered off", off, off, false});
  }
}

void SessionManager::onAdapterRemoved(const std::string& adapter) {
  const absl::Status gone = err::make(absl::StatusCode::kUnavailable, err::Reason::kAdapterOff,
                                      absl::StrCat("adapter ", adapter, " was removed"),
                                      {{err::kMetaAdapter, adapter}});
  for (auto& s : sessionsOn(adapter)) {
    end(s, Ending{SessionReason::kAdapterOff, "adapter removed", gone, gone, false});
  }
}

void SessionManager::onDeviceChanged(const DeviceInfo& device, std::uint32_t changes) {
  if ((changes & device_change::kConnected) == 0 || device.connected) return;
  auto it = sessions_.find(device.address);
  if (it == sessions_.end() || it->second->adapter() != device.adapter) return;
  auto s = it->second;
  const SessionState state = s->info_.state;
  // While CONNECTING the backend's connect call reports the failure itself.
  if (state != SessionState::kResolvingServices && state != SessionState::kConnected) return;
  const std::string a = device.address.toString();
  if (state == SessionState::kResolvingServices) {
    metrics_.connectAttempts[static_cast<std::size_t>(ConnectResult::kFailed)].add();
  }
  const absl::Status lost = err::make(
      err::Reason::kDisconnected,
      state == SessionState::kConnected
          ? absl::StrCat("the link to ", a, " dropped")
          : absl::StrCat("the link to ", a, " dropped while its services were being resolved"),
      {{err::kMetaAddress, a}, {err::kMetaAdapter, device.adapter}});
  log::info("session.link_lost", {{"address", a}, {"adapter", device.adapter}});
  // BlueZ is still asked to disconnect: that also stops its auto-connect, so the device does not
  // come back as a link nobody owns (device-api.txt, Disconnect).
  end(s, Ending{SessionReason::kLinkLost, "link lost", lost, lost, true, true});
}

void SessionManager::onDeviceRemoved(const std::string& adapter, const Address& address) {
  DeviceInfo gone;
  gone.adapter = adapter;
  gone.address = address;
  gone.connected = false;
  onDeviceChanged(gone, device_change::kConnected);
}

}  // namespace gattway
