// The hosted peripheral (aioble's peripheral side, for remote callers): one GATT database on one
// adapter, advertisements, values, captured writes, read handlers, and what centrals do.
//
// Threads: every method runs on the loop thread (server/ posts to it); every callback and sink
// runs there too. Callbacks run exactly once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ble/executor.h"
#include "ble/metrics.h"
#include "ble/peripheral/advertiser.h"
#include "ble/peripheral/definitions.h"
#include "ble/peripheral/hosted_database.h"
#include "ble/peripheral/read_dispatcher.h"
#include "ble/peripheral/write_capture.h"
#include "ble/peripheral_backend.h"

namespace gattway::peripheral {

// The read handler's answer deadline (ReadHandlerRegistration.answer_timeout): well inside the
// 30 s ATT gives a transaction, and inside BlueZ's 25 s D-Bus timeout.
inline constexpr absl::Duration kDefaultAnswerTimeout = absl::Seconds(5);
inline constexpr absl::Duration kMinAnswerTimeout = absl::Milliseconds(10);
inline constexpr absl::Duration kMaxAnswerTimeout = absl::Seconds(20);
// BlueZ 5.66 cannot notify one device; PropertiesChanged reaches every subscriber. Per-device
// notification arrived later (org.bluez.GattCharacteristic1 "NotifyValue"/device option).
inline constexpr absl::string_view kBluezVersionForNotifyOne = "5.76";

class Peripheral final : public PeripheralBackendListener {
 public:
  using EventSink = absl::AnyInvocable<void(const PeripheralEvent&)>;

  Peripheral(Executor& loop, PeripheralBackend& backend, Metrics& metrics);
  ~Peripheral() override;

  void start();
  // Removes the database and the advertisements from BlueZ and ends every stream's source.
  void stop();

  // --- database ---
  // Replaces the database (unregistering the previous one first).
  void registerServices(DatabaseDefinition definition,
                        Callback<absl::StatusOr<RegisteredDatabase>> done);
  void unregisterServices(StatusCallback done);
  // Returns how many subscribed centrals the value was sent to (0 without sendUpdate).
  absl::StatusOr<std::uint32_t> setValue(const AttributeSelector& attribute,
                                         std::vector<std::uint8_t> value, bool sendUpdate);
  absl::StatusOr<std::vector<std::uint8_t>> getValue(const AttributeSelector& attribute, bool clear);
  // Notify/indicate one central: not possible with BlueZ 5.66 (FAILED_PRECONDITION, naming the
  // version needed), after checking the request.
  absl::Status notifyOne(const AttributeSelector& attribute, const Address& central, bool indicate);

  // --- advertising ---
  void startAdvertising(AdvertisingRequest request,
                        Callback<absl::StatusOr<AdvertisingStarted>> done);
  void stopAdvertising(const std::string& id,
                       Callback<absl::StatusOr<std::vector<std::string>>> done);

  // --- streams: each returns a subscription id for the matching end call ---
  // Captured writes of the selected characteristics (empty: every capturing one). Errors: no
  // database; a selector that names nothing or a characteristic without capture.
  absl::StatusOr<std::uint64_t> subscribeWrites(const std::vector<AttributeSelector>& attributes,
                                                WriteCapture::Sink sink);
  void unsubscribeWrites(std::uint64_t subscription);
  // Registers a read handler; returns its id and the attributes it now answers for.
  struct ReadHandlerRegistration {
    std::uint64_t id = 0;
    std::vector<AttributeName> attributes;
  };
  absl::StatusOr<ReadHandlerRegistration> registerReadHandler(
      const std::vector<AttributeSelector>& attributes, absl::Duration answerTimeout,
      ReadDispatcher::Sink sink);
  void answerRead(std::uint64_t handler, const ReadAnswer& answer);
  void unregisterReadHandler(std::uint64_t handler);
  std::uint64_t watch(EventSink sink);
  void unwatch(std::uint64_t subscription);

  PeripheralSnapshot snapshot() const;

  // --- PeripheralBackendListener ---
  void onBackendUp() override;
  void onBackendDown() override;
  void onAdapterChanged(const PeripheralAdapterInfo& adapter) override;
  void onAdapterRemoved(const std::string& adapter) override;
  void onRead(const AttRequest& request, AttResponder responder) override;
  void onWrite(const AttRequest& request, std::vector<std::uint8_t> value, bool responseExpected,
               AttResponder responder) override;
  void onNotifyStarted(AttributeId characteristic) override;
  void onNotifyStopped(AttributeId characteristic) override;
  void onIndicationConfirmed(AttributeId characteristic) override;
  void onCentralConnected(const std::string& adapter, const Address& central) override;
  void onCentralDisconnected(const std::string& adapter, const Address& central) override;
  void onAdvertisementReleased(const std::string& id) override;

 private:
  enum class DbState { kNone, kRegistering, kRegistered, kWaitingForBluez };

  absl::StatusOr<std::string> chooseAdapter(const std::string& requested, absl::string_view field,
                                            bool forAdvertising) const;
  void doRegister(std::unique_ptr<HostedDatabase> db, std::string adapter,
                  Callback<absl::StatusOr<RegisteredDatabase>> done);
  void registerAgain();
  void databaseGone();
  absl::Status needDatabase() const;
  RegisteredDatabase describe() const;
  void emit(PeripheralEvent event);
  void emitAttribute(PeripheralEventType type, AttributeId id, std::string detail = "");
  void sawCentral(const AttRequest& request);
  void centralGone(const Address& central);
  void refreshCentrals();
  absl::StatusOr<std::set<AttributeId>> resolveAll(const std::vector<AttributeSelector>& selectors,
                                                   absl::string_view field,
                                                   bool needCapture) const;
  void resolveStreamsAgain();
  std::uint32_t subscribers(AttributeId characteristic) const;

  Executor& loop_;
  PeripheralBackend& backend_;
  Metrics& metrics_;
  bool started_ = false;

  std::unique_ptr<HostedDatabase> db_;
  DbState dbState_ = DbState::kNone;
  std::string adapter_;  // hosting adapter, while db_ exists
  ExportedPaths paths_;
  Operation dbOp_;

  WriteCapture capture_;
  ReadDispatcher reads_;
  Advertiser advertiser_;

  std::map<Address, CentralInfo> centrals_;
  std::map<AttributeId, std::uint32_t> notifyEnables_;  // StartNotify count since StopNotify

  std::map<std::uint64_t, EventSink> watchers_;
  std::uint64_t nextWatcher_ = 1;
  std::map<std::uint64_t, std::vector<AttributeSelector>> writeStreams_;
  std::map<std::uint64_t, std::vector<AttributeSelector>> readHandlers_;
};

}  // namespace gattway::peripheral
