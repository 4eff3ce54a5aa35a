#include "server/fleet_state.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "ble/error.h"
#include "ble/log.h"
#include "server/config_file.h"
#include "server/policy_convert.h"
#include "server/validate.h"

namespace gattway::server {
namespace {

absl::Status inFile(const absl::Status& s, const std::string& origin, const std::string& item) {
  absl::Status out(s.code(), absl::StrCat(origin, ": ", item, ".", s.message()));
  s.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    out.SetPayload(url, payload);
  });
  return out;
}

void toProto(const SessionInfo& s, v1::ConnectRequest* out) {
  out->set_address(s.address.toString());
  out->set_address_type(s.addressType == AddressType::kRandom ? v1::ADDRESS_TYPE_RANDOM
                                                              : v1::ADDRESS_TYPE_PUBLIC);
  out->set_adapter(s.requestedAdapter);
  out->set_persistent(true);
  out->set_policy(s.explicitPolicy);
  for (const auto& [k, v] : s.labels) (*out->mutable_labels())[k] = v;
  if (s.requestedPriority) out->set_priority(*s.requestedPriority);
}

}  // namespace

FleetState::FleetState(Executor& loop, Central& central, std::string stateDir,
                       std::string configFile)
    : loop_(loop), central_(central), configFile_(std::move(configFile)) {
  if (!stateDir.empty()) {
    state_.emplace(stateDir);
    writer_ = std::make_unique<StateWriter>(StateFile(std::move(stateDir)));
  }
}

absl::Status FleetState::start() {
  if (state_) {
    auto saved = state_->load();
    if (!saved.ok()) return saved.status();
    if (auto s = apply(*saved, state_->path()); !s.ok()) return s;
    log::info("state.restored", {{"file", state_->path()},
                                 {"policies", saved->policies_size()},
                                 {"sessions", saved->sessions_size()}});
  }
  if (!configFile_.empty()) {
    if (auto s = reloadConfig(); !s.ok()) return s;
  }
  saving_ = state_.has_value();
  central_.policies().onChange([this] { scheduleSave(); });
  central_.sessions().onPersistentChange([this] { scheduleSave(); });
  scheduleSave();  // what the config file added
  return absl::OkStatus();
}

absl::Status FleetState::reloadConfig() {
  if (configFile_.empty()) return absl::OkStatus();
  auto config = loadConfigFile(configFile_);
  if (!config.ok()) return config.status();
  if (auto s = apply(*config, configFile_); !s.ok()) return s;
  log::info("config.applied", {{"file", configFile_},
                               {"policies", config->policies_size()},
                               {"sessions", config->sessions_size()}});
  return absl::OkStatus();
}

absl::Status FleetState::apply(const v1::GatewayConfig& config, const std::string& origin) {
  // Everything is checked first, so that a file with an error changes nothing.
  std::vector<std::pair<std::string, std::uint32_t>> limits;
  for (int i = 0; i < config.adapters_size(); ++i) {
    const auto& a = config.adapters(i);
    const std::string item = absl::StrCat("adapters[", i, "]");
    auto name = adapterName(a.name(), "name", false);
    if (!name.ok()) return inFile(name.status(), origin, item);
    if (a.connection_slot_limit() > Central::kMaxSlotLimit) {
      return inFile(err::invalidField("connection_slot_limit",
                                      absl::StrCat(a.connection_slot_limit(),
                                                   " is out of range 1..64")),
                    origin, item);
    }
    limits.emplace_back(*name, a.connection_slot_limit());
  }
  std::vector<ReconnectPolicy> policies;
  for (int i = 0; i < config.policies_size(); ++i) {
    auto p = policyFromProto(config.policies(i), absl::StrCat("policies[", i, "]"));
    if (!p.ok()) {
      return absl::Status(p.status().code(), absl::StrCat(origin, ": ", p.status().message()));
    }
    policies.push_back(std::move(*p));
  }
  std::vector<ConnectOptions> sessions;
  for (int i = 0; i < config.sessions_size(); ++i) {
    auto o = connectRequest(config.sessions(i));
    if (!o.ok()) return inFile(o.status(), origin, absl::StrCat("sessions[", i, "]"));
    o->persistent = true;  // implied (config.proto)
    o->noWait = true;
    o->origin = SessionReason::kRestored;
    sessions.push_back(std::move(*o));
  }
  for (const auto& [name, limit] : limits) {
    if (limit != 0) central_.scheduler().setLimit(name, limit);
  }
  const absl::Time now = absl::Now();
  for (auto& p : policies) {
    auto stored = central_.policies().update(std::move(p), true, now);
    if (!stored.ok()) return absl::Status(stored.status().code(),
                                          absl::StrCat(origin, ": ", stored.status().message()));
  }
  for (auto& o : sessions) {
    const std::string address = o.address.toString();
    central_.sessions().connect(std::move(o), [address](absl::StatusOr<SessionInfo> s) {
      if (!s.ok()) log::warn("state.session_not_restored", {{"address", address}, {"error", s.status()}});
    });
  }
  return absl::OkStatus();
}

v1::GatewayConfig FleetState::snapshot() const {
  v1::GatewayConfig out;
  for (const auto& p : central_.policies().list()) toProto(p, out.add_policies());
  // Output-only times are not saved: the config schema ignores them on the way in.
  for (auto& p : *out.mutable_policies()) {
    p.clear_create_time();
    p.clear_update_time();
  }
  for (const SessionInfo& s : central_.sessions().list()) {
    if (s.persistent) toProto(s, out.add_sessions());
  }
  return out;
}

void FleetState::scheduleSave() {
  if (!saving_ || saveTimer_.held()) return;
  saveTimer_ = loop_.runAfter(kSaveDelay, [this] {
    saveTimer_ = Timer();
    writer_->post(snapshot());  // the writer logs a failure
  });
}

absl::Status FleetState::saveNow() {
  if (!writer_) return absl::OkStatus();
  writer_->post(snapshot());
  return writer_->flush();
}

void FleetState::stop() {
  if (saving_ && saveTimer_.held()) {
    saveTimer_.cancel();
    if (auto s = saveNow(); !s.ok()) log::error("state.save_failed", {{"error", s}});
  }
  saving_ = false;
}

}  // namespace gattway::server
