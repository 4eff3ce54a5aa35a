#include "ble/peripheral/peripheral.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ble/error.h"
#include "ble/log.h"

namespace gattway::peripheral {

Peripheral::Peripheral(Executor& loop, PeripheralBackend& backend, Metrics& metrics)
    : loop_(loop),
      backend_(backend),
      metrics_(metrics),
      capture_(metrics),
      reads_(
          loop, metrics,
          [this](AttributeId id, std::uint16_t offset, AttResponder responder) {
            std::vector<std::uint8_t> out;
            if (!db_ || !db_->contains(id)) return responder.fail(0x0E);
            if (const std::uint8_t code = db_->read(id, offset, out); code != 0) {
              return responder.fail(code);
            }
            responder.succeed(std::move(out));
          },
          [this](AttributeId id, const std::vector<std::uint8_t>& value) {
            if (!db_ || !db_->contains(id)) return;
            if (auto s = db_->setValue(id, value); !s.ok()) {
              log::warn("peripheral.read_answer_not_stored", {{"error", s}});
            }
          }),
      advertiser_(loop, backend, [this](PeripheralEvent e) { emit(std::move(e)); }) {}

Peripheral::~Peripheral() = default;

void Peripheral::start() {
  if (started_) return;
  started_ = true;
  backend_.start(this);
}

void Peripheral::stop() {
  if (!started_) return;
  started_ = false;
  advertiser_.stopAll();
  dbOp_.reset();
  if (db_ && (dbState_ == DbState::kRegistered || dbState_ == DbState::kRegistering)) {
    backend_.unregisterApplication([](absl::Status) {}).release();
  }
  databaseGone();
  dbState_ = DbState::kNone;
  backend_.stop();
}

// --- database -----------------------------------------------------------------------------

absl::StatusOr<std::string> Peripheral::chooseAdapter(const std::string& requested,
                                                      absl::string_view field,
                                                      bool forAdvertising) const {
  if (!backend_.bluezUp()) {
    return err::make(err::Reason::kBluezUnavailable, "BlueZ (org.bluez) is not on the D-Bus");
  }
  const auto adapters = backend_.adapters();
  auto usable = [&](const PeripheralAdapterInfo& a) {
    return forAdvertising ? a.advertisingManager : a.gattManager;
  };
  if (!requested.empty()) {
    auto it = std::find_if(adapters.begin(), adapters.end(),
                           [&](const PeripheralAdapterInfo& a) { return a.name == requested; });
    if (it == adapters.end()) {
      return err::make(err::Reason::kAdapterNotFound, absl::StrCat("no adapter ", requested),
                       {{err::kMetaField, field}, {err::kMetaAdapter, requested}});
    }
    if (!it->powered) {
      return err::make(err::Reason::kAdapterOff, absl::StrCat(requested, " is powered off"),
                       {{err::kMetaAdapter, requested}});
    }
    if (!usable(*it)) {
      return err::make(err::Reason::kOperationNotSupported,
                       absl::StrCat(requested, " offers no ",
                                    forAdvertising ? "LEAdvertisingManager1" : "GattManager1",
                                    " (BlueZ hosts no ",
                                    forAdvertising ? "advertisements" : "GATT database",
                                    " there)"),
                       {{err::kMetaAdapter, requested}});
    }
    return requested;
  }
  if (forAdvertising && db_) return adapter_;
  for (const auto& a : adapters) {
    if (a.powered && usable(a)) return a.name;
  }
  return err::make(err::Reason::kAdapterOff,
                   adapters.empty() ? "BlueZ has no adapter" : "no adapter is powered on");
}

void Peripheral::registerServices(DatabaseDefinition definition,
                                  Callback<absl::StatusOr<RegisteredDatabase>> done) {
  if (auto s = validateDefinition(definition); !s.ok()) return done(s);
  if (dbState_ == DbState::kRegistering) {
    return done(err::make(err::Reason::kInProgress,
                          "the database is being registered with BlueZ; try again"));
  }
  auto adapter = chooseAdapter(definition.adapter, "adapter", false);
  if (!adapter.ok()) return done(adapter.status());
  auto db = std::make_unique<HostedDatabase>(definition);
  const bool replacing = db_ != nullptr && dbState_ == DbState::kRegistered;
  dbState_ = DbState::kRegistering;
  if (!replacing) {
    databaseGone();
    dbState_ = DbState::kRegistering;
    return doRegister(std::move(db), *adapter, std::move(done));
  }
  // aioble's register_services() again replaces the database: BlueZ drops the old services
  // (and tells centrals with Service Changed) before the new ones are added.
  dbOp_ = backend_.unregisterApplication(
      [this, db = std::move(db), adapter = *adapter, done = std::move(done)](absl::Status s) mutable {
        if (!s.ok()) log::warn("peripheral.unregister_failed", {{"error", s}});
        databaseGone();
        dbState_ = DbState::kRegistering;
        doRegister(std::move(db), adapter, std::move(done));
      });
}

void Peripheral::doRegister(std::unique_ptr<HostedDatabase> db, std::string adapter,
                            Callback<absl::StatusOr<RegisteredDatabase>> done) {
  HostedDatabase* raw = db.get();
  dbOp_ = backend_.registerApplication(
      adapter, raw->spec(),
      [this, db = std::move(db), adapter, done = std::move(done)](
          absl::StatusOr<ExportedPaths> paths) mutable {
        if (!paths.ok()) {
          dbState_ = DbState::kNone;
          log::warn("peripheral.register_failed", {{"adapter", adapter}, {"error", paths.status()}});
          return done(paths.status());
        }
        db_ = std::move(db);
        adapter_ = adapter;
        paths_ = std::move(*paths);
        dbState_ = DbState::kRegistered;
        capture_.reset(db_->captureQueueSize());
        resolveStreamsAgain();
        refreshCentrals();
        log::info("peripheral.database_registered",
                  {{"adapter", adapter_}, {"attributes", db_->allAttributes().size()}});
        PeripheralEvent e;
        e.type = PeripheralEventType::kDatabaseRegistered;
        e.time = loop_.now();
        e.detail = absl::StrCat("registered on ", adapter_);
        emit(std::move(e));
        done(describe());
      });
}

void Peripheral::registerAgain() {
  if (!db_ || dbState_ != DbState::kWaitingForBluez) return;
  // A restarted bluetoothd takes its name before its adapters appear: wait for ours
  // (onAdapterChanged) rather than fail.
  const auto adapters = backend_.adapters();
  if (std::none_of(adapters.begin(), adapters.end(),
                   [&](const auto& a) { return a.name == adapter_ && a.gattManager; })) {
    return;
  }
  dbState_ = DbState::kRegistering;
  dbOp_ = backend_.registerApplication(
      adapter_, db_->spec(), [this](absl::StatusOr<ExportedPaths> paths) {
        if (!paths.ok()) {
          dbState_ = DbState::kWaitingForBluez;
          log::error("peripheral.reregister_failed", {{"adapter", adapter_}, {"error", paths.status()}});
          return;
        }
        paths_ = std::move(*paths);
        dbState_ = DbState::kRegistered;
        log::info("peripheral.database_restored", {{"adapter", adapter_}});
        PeripheralEvent e;
        e.type = PeripheralEventType::kDatabaseRegistered;
        e.time = loop_.now();
        e.detail = absl::StrCat("registered again on ", adapter_, " after a BlueZ restart");
        emit(std::move(e));
      });
}

void Peripheral::databaseGone() {
  reads_.clearAttributes();  // pending reads get the old stored value first
  db_.reset();
  paths_.clear();
  notifyEnables_.clear();
  capture_.reset(kDefaultCaptureQueue);
  resolveStreamsAgain();
}

void Peripheral::unregisterServices(StatusCallback done) {
  if (auto s = needDatabase(); !s.ok()) return done(s);
  if (dbState_ == DbState::kRegistering) {
    return done(err::make(err::Reason::kInProgress,
                          "the database is being registered with BlueZ; try again"));
  }
  if (dbState_ == DbState::kWaitingForBluez) {
    databaseGone();
    dbState_ = DbState::kNone;
    return done(absl::OkStatus());
  }
  dbState_ = DbState::kRegistering;
  dbOp_ = backend_.unregisterApplication([this, done = std::move(done)](absl::Status s) mutable {
    if (!s.ok()) log::warn("peripheral.unregister_failed", {{"error", s}});
    databaseGone();
    dbState_ = DbState::kNone;
    log::info("peripheral.database_removed");
    done(absl::OkStatus());
  });
}

absl::Status Peripheral::needDatabase() const {
  if (db_ && dbState_ != DbState::kNone) return absl::OkStatus();
  return err::make(err::Reason::kNoDatabase,
                   "no database is registered; call RegisterServices first");
}

RegisteredDatabase Peripheral::describe() const {
  RegisteredDatabase out;
  out.adapter = adapter_;
  if (!db_) return out;
  for (AttributeId id : db_->allAttributes()) {
    HostedAttributeInfo info;
    info.name = db_->name(id);
    if (auto it = paths_.find(id); it != paths_.end()) info.objectPath = it->second;
    out.attributes.push_back(std::move(info));
  }
  return out;
}

absl::StatusOr<std::uint32_t> Peripheral::setValue(const AttributeSelector& attribute,
                                                   std::vector<std::uint8_t> value,
                                                   bool sendUpdate) {
  if (auto s = needDatabase(); !s.ok()) return s;
  auto id = db_->resolve(attribute, "characteristic");
  if (!id.ok()) return id.status();
  if (sendUpdate && !db_->canNotify(*id)) {
    return err::make(err::Reason::kOperationNotSupported,
                     "send_update: the characteristic allows neither notify nor indicate",
                     {{err::kMetaField, "send_update"}});
  }
  if (auto s = db_->setValue(*id, std::move(value)); !s.ok()) return s;
  if (!sendUpdate) return 0u;
  const std::uint32_t reached = subscribers(*id);
  // Sent whatever the count says: BlueZ knows the subscriptions, the count is an estimate.
  if (dbState_ == DbState::kRegistered) {
    if (auto s = backend_.sendValue(*id, db_->value(*id)); !s.ok()) return s;
    metrics_.updatesSent.add();
  }
  return reached;
}

absl::StatusOr<std::vector<std::uint8_t>> Peripheral::getValue(const AttributeSelector& attribute,
                                                               bool clear) {
  if (auto s = needDatabase(); !s.ok()) return s;
  auto id = db_->resolve(attribute, "characteristic");
  if (!id.ok()) return id.status();
  std::vector<std::uint8_t> value = db_->value(*id);
  if (clear) db_->clear(*id);
  return value;
}

absl::Status Peripheral::notifyOne(const AttributeSelector& attribute, const Address& central,
                                   bool indicate) {
  if (auto s = needDatabase(); !s.ok()) return s;
  auto id = db_->resolve(attribute, "characteristic");
  if (!id.ok()) return id.status();
  if (!db_->canNotify(*id)) {
    return err::make(err::Reason::kOperationNotSupported,
                     "the characteristic allows neither notify nor indicate");
  }
  (void)indicate;
  absl::Status s = err::make(
      err::Reason::kBackendLimitation,
      absl::StrCat("BlueZ 5.66 cannot notify or indicate one central (", central.toString(),
                   "): BlueZ ", kBluezVersionForNotifyOne,
                   " is needed. Use SetValue with send_update to reach every subscriber"),
      {{err::kMetaAddress, central.toString()}});
  err::setMetadata(s, "bluez_version_needed", kBluezVersionForNotifyOne);
  return s;
}

std::uint32_t Peripheral::subscribers(AttributeId characteristic) const {
  auto it = notifyEnables_.find(characteristic);
  const std::uint32_t enables = it == notifyEnables_.end() ? 0 : it->second;
  // BlueZ 5.66 calls StartNotify on every enable but StopNotify only when the last central
  // stops (or disconnects), so enables can overcount: no more than the centrals connected.
  if (centrals_.empty()) return enables;
  return std::min<std::uint32_t>(enables, static_cast<std::uint32_t>(centrals_.size()));
}

// --- advertising ----------------------------------------------------------------------------

void Peripheral::startAdvertising(AdvertisingRequest request,
                                  Callback<absl::StatusOr<AdvertisingStarted>> done) {
  auto adapter = chooseAdapter(request.adapter, "adapter", true);
  if (!adapter.ok()) return done(adapter.status());
  PeripheralAdapterInfo info;
  for (const auto& a : backend_.adapters()) {
    if (a.name == *adapter) info = a;
  }
  const AdvertisementSpec& spec = request.spec;
  if (spec.includeTxPower &&
      std::find(info.supportedIncludes.begin(), info.supportedIncludes.end(), "tx-power") ==
          info.supportedIncludes.end()) {
    return done(err::make(err::Reason::kBackendLimitation,
                          absl::StrCat("include_tx_power: ", *adapter,
                                       " does not list \"tx-power\" in SupportedIncludes"),
                          {{err::kMetaField, "include_tx_power"}}));
  }
  if ((spec.minInterval || spec.maxInterval || spec.txPower) && !info.experimental) {
    const char* field = spec.minInterval ? "min_interval" : spec.maxInterval ? "max_interval"
                                                                             : "tx_power";
    return done(err::make(
        err::Reason::kBackendLimitation,
        absl::StrCat(field, ": BlueZ 5.66 applies advertising intervals and TX power only when "
                            "bluetoothd runs with experimental features (-E); this one does not, "
                            "so the value would be ignored"),
        {{err::kMetaField, field}}));
  }
  advertiser_.start(*adapter, std::move(request.spec), std::move(done));
}

void Peripheral::stopAdvertising(const std::string& id,
                                 Callback<absl::StatusOr<std::vector<std::string>>> done) {
  advertiser_.stop(id, std::move(done));
}

// --- streams --------------------------------------------------------------------------------

absl::StatusOr<std::set<AttributeId>> Peripheral::resolveAll(
    const std::vector<AttributeSelector>& selectors, absl::string_view field,
    bool needCapture) const {
  std::set<AttributeId> ids;
  for (std::size_t i = 0; i < selectors.size(); ++i) {
    const std::string f = absl::StrCat(field, "[", i, "]");
    auto id = db_->resolve(selectors[i], f);
    if (!id.ok()) return id.status();
    if (needCapture && !db_->captures(*id)) {
      return err::make(err::Reason::kOperationNotSupported,
                       absl::StrCat(f, ": the characteristic is not defined with capture"),
                       {{err::kMetaField, f}});
    }
    ids.insert(*id);
  }
  return ids;
}

absl::StatusOr<std::uint64_t> Peripheral::subscribeWrites(
    const std::vector<AttributeSelector>& attributes, WriteCapture::Sink sink) {
  if (auto s = needDatabase(); !s.ok()) return s;
  WriteCapture::Filter filter;
  if (!attributes.empty()) {
    auto ids = resolveAll(attributes, "characteristics", true);
    if (!ids.ok()) return ids.status();
    filter = std::move(*ids);
  }
  const std::uint64_t id = capture_.subscribe(std::move(filter), std::move(sink));
  writeStreams_[id] = attributes;
  return id;
}

void Peripheral::unsubscribeWrites(std::uint64_t subscription) {
  capture_.unsubscribe(subscription);
  writeStreams_.erase(subscription);
}

absl::StatusOr<Peripheral::ReadHandlerRegistration> Peripheral::registerReadHandler(
    const std::vector<AttributeSelector>& attributes, absl::Duration answerTimeout,
    ReadDispatcher::Sink sink) {
  if (auto s = needDatabase(); !s.ok()) return s;
  auto ids = resolveAll(attributes, "register.characteristics", false);
  if (!ids.ok()) return ids.status();
  ReadHandlerRegistration reg;
  reg.id = reads_.addHandler(answerTimeout, std::move(sink));
  reads_.setAttributes(reg.id, *ids);
  readHandlers_[reg.id] = attributes;
  for (AttributeId a : *ids) reg.attributes.push_back(db_->name(a));
  log::info("peripheral.read_handler_registered", {{"attributes", ids->size()}});
  return reg;
}

void Peripheral::answerRead(std::uint64_t handler, const ReadAnswer& answer) {
  reads_.answer(handler, answer);
}

void Peripheral::unregisterReadHandler(std::uint64_t handler) {
  reads_.removeHandler(handler);
  readHandlers_.erase(handler);
}

void Peripheral::resolveStreamsAgain() {
  // Selectors are kept as callers gave them, so that streams follow a replaced database.
  auto resolveQuietly = [this](const std::vector<AttributeSelector>& selectors, bool needCapture) {
    std::set<AttributeId> ids;
    if (!db_) return ids;
    for (const auto& sel : selectors) {
      auto id = db_->resolve(sel, "");
      if (id.ok() && (!needCapture || db_->captures(*id))) ids.insert(*id);
    }
    return ids;
  };
  for (const auto& [id, selectors] : writeStreams_) {
    if (selectors.empty()) continue;
    capture_.setFilter(id, resolveQuietly(selectors, true));
  }
  for (const auto& [id, selectors] : readHandlers_) {
    reads_.setAttributes(id, resolveQuietly(selectors, false));
  }
}

std::uint64_t Peripheral::watch(EventSink sink) {
  const std::uint64_t id = nextWatcher_++;
  watchers_[id] = std::move(sink);
  return id;
}

void Peripheral::unwatch(std::uint64_t subscription) { watchers_.erase(subscription); }

void Peripheral::emit(PeripheralEvent event) {
  for (auto& [id, sink] : watchers_) sink(event);
}

void Peripheral::emitAttribute(PeripheralEventType type, AttributeId id, std::string detail) {
  if (!db_ || !db_->contains(id)) return;
  PeripheralEvent e;
  e.type = type;
  e.time = loop_.now();
  e.attribute = db_->name(id);
  e.detail = std::move(detail);
  emit(std::move(e));
}

PeripheralSnapshot Peripheral::snapshot() const {
  PeripheralSnapshot out;
  if (db_) {
    out.adapter = adapter_;
    out.services = db_->snapshot();
  }
  out.advertisementIds = advertiser_.ids();
  for (const auto& [address, c] : centrals_) out.centrals.push_back(c);
  return out;
}

// --- what BlueZ reports ---------------------------------------------------------------------

void Peripheral::onBackendUp() {
  log::info("peripheral.bluez_up");
  registerAgain();
  advertiser_.onBackendUp();
  refreshCentrals();
}

void Peripheral::onBackendDown() {
  log::warn("peripheral.bluez_down");
  if (dbState_ == DbState::kRegistered) dbState_ = DbState::kWaitingForBluez;
  reads_.clearAttributes();
  resolveStreamsAgain();
  notifyEnables_.clear();
  advertiser_.onBackendDown();
  std::vector<Address> gone;
  for (const auto& [address, c] : centrals_) gone.push_back(address);
  for (const Address& a : gone) centralGone(a);
}

void Peripheral::onAdapterChanged(const PeripheralAdapterInfo& adapter) {
  if (adapter.name == adapter_) registerAgain();
  // Advertisements may be on another adapter than the database.
  advertiser_.onAdapterChanged(adapter);
}

void Peripheral::onAdapterRemoved(const std::string& adapter) {
  if (adapter != adapter_) return;
  std::vector<Address> gone;
  for (const auto& [address, c] : centrals_) gone.push_back(address);
  for (const Address& a : gone) centralGone(a);
}

void Peripheral::onRead(const AttRequest& request, AttResponder responder) {
  if (!db_ || !db_->contains(request.attribute)) return responder.fail(0x0E);
  sawCentral(request);
  reads_.dispatch(request, db_->name(request.attribute), std::move(responder));
}

void Peripheral::onWrite(const AttRequest& request, std::vector<std::uint8_t> value,
                         bool responseExpected, AttResponder responder) {
  if (!db_ || !db_->contains(request.attribute)) return responder.fail(0x0E);
  sawCentral(request);
  const AttributeId id = request.attribute;
  if (const std::uint8_t code = db_->write(id, request.offset, value); code != 0) {
    if (!responseExpected) {
      // BlueZ 5.66 answered the central already (write-without-response): the write is
      // discarded whole, never truncated.
      log::warn("peripheral.write_discarded",
                {{"central", request.central.toString()},
                 {"att_error", static_cast<int>(code)},
                 {"bytes", value.size()}});
    }
    return responder.fail(code);
  }
  if (db_->captures(id)) {
    CapturedWrite w;
    w.characteristic = db_->name(id);
    w.central = request.central;
    w.value = std::move(value);
    w.offset = request.offset;
    w.kind = db_->writeKind(id);
    w.time = loop_.now();
    capture_.capture(id, std::move(w));
  }
  responder.succeed();
}

void Peripheral::onNotifyStarted(AttributeId characteristic) {
  if (!db_ || !db_->contains(characteristic)) return;
  ++notifyEnables_[characteristic];
  emitAttribute(PeripheralEventType::kSubscribed, characteristic,
                "BlueZ 5.66 does not say which central");
}

void Peripheral::onNotifyStopped(AttributeId characteristic) {
  if (!db_ || !db_->contains(characteristic)) return;
  notifyEnables_.erase(characteristic);
  emitAttribute(PeripheralEventType::kUnsubscribed, characteristic, "the last subscriber left");
}

void Peripheral::onIndicationConfirmed(AttributeId characteristic) {
  emitAttribute(PeripheralEventType::kIndicationConfirmed, characteristic);
}

void Peripheral::onCentralConnected(const std::string& adapter, const Address& central) {
  if (!db_ || adapter != adapter_ || centrals_.contains(central)) return;
  centrals_[central] = CentralInfo{central, std::nullopt};
  metrics_.peripheralConnections.set(static_cast<std::int64_t>(centrals_.size()));
  log::info("peripheral.central_connected", {{"central", central.toString()}, {"adapter", adapter}});
  PeripheralEvent e;
  e.type = PeripheralEventType::kCentralConnected;
  e.time = loop_.now();
  e.central = central;
  emit(std::move(e));
}

void Peripheral::onCentralDisconnected(const std::string& adapter, const Address& central) {
  if (adapter != adapter_) return;
  centralGone(central);
}

void Peripheral::centralGone(const Address& central) {
  if (centrals_.erase(central) == 0) return;
  metrics_.peripheralConnections.set(static_cast<std::int64_t>(centrals_.size()));
  if (centrals_.empty()) notifyEnables_.clear();
  log::info("peripheral.central_disconnected", {{"central", central.toString()}});
  PeripheralEvent e;
  e.type = PeripheralEventType::kCentralDisconnected;
  e.time = loop_.now();
  e.central = central;
  emit(std::move(e));
}

void Peripheral::sawCentral(const AttRequest& request) {
  // A request proves the link even when no Device1 signal said so (yet).
  onCentralConnected(request.adapter, request.central);
  auto it = centrals_.find(request.central);
  if (it == centrals_.end() || !request.mtu || it->second.mtu == request.mtu) return;
  it->second.mtu = request.mtu;
  PeripheralEvent e;
  e.type = PeripheralEventType::kMtuChanged;
  e.time = loop_.now();
  e.central = request.central;
  e.mtu = *request.mtu;
  emit(std::move(e));
}

void Peripheral::refreshCentrals() {
  if (!db_ || !backend_.bluezUp()) return;
  const auto now = backend_.connectedCentrals(adapter_);
  std::vector<Address> gone;
  for (const auto& [address, c] : centrals_) {
    if (std::find(now.begin(), now.end(), address) == now.end()) gone.push_back(address);
  }
  for (const Address& a : gone) centralGone(a);
  for (const Address& a : now) onCentralConnected(adapter_, a);
}

void Peripheral::onAdvertisementReleased(const std::string& id) { advertiser_.onReleased(id); }

}  // namespace gattway::peripheral
