// GattClient: discover, read and write on a connected session's GATT tree, with the checks the
// API promises before anything goes to the radio (properties, write mode, MTU - 3 for writes
// without response), the lease renewed by every call, a call failing fast when the link drops,
// and latency metrics per operation kind and outcome.
//
// Loop thread only. Callbacks run on a later turn, or not at all when the GattCall is destroyed
// first.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ble/central/attribute_resolver.h"
#include "ble/central/handle.h"
#include "ble/central/session_manager.h"
#include "ble/central_backend.h"
#include "ble/executor.h"
#include "ble/metrics.h"

namespace gattway {

// Mirrors gattway.v1.WriteMode (common.proto), where each mode is described.
enum class WriteMode : std::uint8_t { kAuto, kWithResponse, kWithoutResponse, kReliable };

struct ReadResult {
  std::vector<std::uint8_t> value;
  std::uint16_t handle = 0;
};

struct WriteResult {
  WriteMode mode = WriteMode::kWithResponse;  // AUTO resolved
  std::uint16_t handle = 0;
};

// Largest attribute value (Core spec Vol 3, Part F, 3.2.9).
inline constexpr std::size_t kMaxAttributeValue = 512;
// Default bound of one read or write (gatt.proto).
inline constexpr absl::Duration kDefaultGattTimeout = absl::Seconds(10);

class GattClient {
  void cancel(const std::uint64_t& id);

 public:
  // A pending read or write. Destroying it cancels the call (its callback will not run);
  // detach() lets it finish on its own.
  using Call = OwnedHandle<GattClient, std::uint64_t, &GattClient::cancel>;

  GattClient(Executor& executor, CentralBackend& backend, SessionManager& sessions,
             Metrics& metrics);
  ~GattClient();
  GattClient(const GattClient&) = delete;
  GattClient& operator=(const GattClient&) = delete;

  // The services resolved at connect, all or those matching the UUIDs (targeted discovery).
  absl::StatusOr<std::vector<GattServiceInfo>> discover(const Address& address,
                                                        const std::optional<Uuid>& service,
                                                        const std::optional<Uuid>& characteristic);

  Call read(const Address& address, const AttributeQuery& attribute, std::uint16_t offset,
                absl::Duration timeout, Callback<absl::StatusOr<ReadResult>> done);

  Call write(const Address& address, const AttributeQuery& attribute,
                 std::vector<std::uint8_t> value, WriteMode mode, std::uint16_t offset,
                 absl::Duration timeout, Callback<absl::StatusOr<WriteResult>> done);

  // The ATT MTU of the session's link.
  absl::StatusOr<std::uint16_t> mtu(const Address& address);

  // Fails every pending call with `status` (gateway shutdown).
  void shutdown(const absl::Status& status);
  std::size_t pending() const { return calls_.size(); }

 private:
  using Completion = absl::AnyInvocable<void(absl::StatusOr<std::vector<std::uint8_t>>)>;
  struct Pending {
    GattOpKind kind = GattOpKind::kRead;
    absl::Time start;
    Operation op;
    SessionManager::LinkWatch linkWatch;
    std::weak_ptr<Session> session;
    Timer soon;  // reports a failure found before the radio was asked
    Completion done;
  };

  // Registers a call on a connected session; the caller then starts the backend operation.
  std::uint64_t begin(GattOpKind kind, const std::shared_ptr<Session>& session, Completion done);
  // A call that fails before reaching the radio (reported on the next turn).
  Call fail(GattOpKind kind, absl::Status status, Completion done);
  // Completes a call once: metrics, lease renewal, then the caller's callback.
  void finish(std::uint64_t id, absl::StatusOr<std::vector<std::uint8_t>> result, bool replied);

  Executor& executor_;
  CentralBackend& backend_;
  SessionManager& sessions_;
  Metrics& metrics_;
  std::map<std::uint64_t, std::unique_ptr<Pending>> calls_;
  std::uint64_t nextId_ = 1;
};

using GattCall = GattClient::Call;

}  // namespace gattway
