#include "ble/central/gatt_client.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ble/error.h"

namespace gattway {
namespace {

// Client Characteristic Configuration: BlueZ writes it itself and refuses writes to it
// (docs/notes/bluez-5.66-api.md, GattDescriptor1 WriteValue).
const Uuid kCccd = Uuid::fromShort(0x2902);

std::string props(std::uint8_t p) { return absl::StrFormat("0x%02x", p); }

absl::Status notSupported(const ResolvedAttribute& r, absl::string_view what) {
  return err::make(err::Reason::kOperationNotSupported,
                   absl::StrCat("characteristic ", r.characteristic->uuid.toString(),
                                " does not support ", what, " (properties ",
                                props(r.characteristic->properties), ")"),
                   {{err::kMetaAttribute, r.characteristic->uuid.toString()}});
}

bool hasFlag(const GattCharacteristicInfo& c, absl::string_view flag) {
  return std::find(c.flags.begin(), c.flags.end(), flag) != c.flags.end();
}

// Picks the write procedure (common.proto, WriteMode) and checks what the API promises before
// the radio is asked.
absl::StatusOr<WriteMode> chooseWriteMode(const ResolvedAttribute& r, WriteMode mode,
                                          std::size_t size, std::uint16_t offset,
                                          std::uint16_t mtu) {
  using namespace gatt_property;
  if (r.isDescriptor()) {
    if (r.descriptor->uuid == kCccd) {
      return err::make(err::Reason::kOperationNotSupported,
                       "BlueZ manages the Client Characteristic Configuration descriptor (2902) "
                       "itself; use GattService.Subscribe");
    }
    if (mode == WriteMode::kWithoutResponse || mode == WriteMode::kReliable) {
      return err::make(err::Reason::kOperationNotSupported,
                       "descriptors are written with a Write Request only; use WRITE_MODE_AUTO or "
                       "WRITE_MODE_WITH_RESPONSE");
    }
    return WriteMode::kWithResponse;
  }
  const std::uint8_t p = r.characteristic->properties;
  if (mode == WriteMode::kAuto) {
    if ((p & kWrite) != 0) {
      mode = WriteMode::kWithResponse;
    } else if ((p & kWriteWithoutResponse) != 0) {
      mode = WriteMode::kWithoutResponse;
    } else {
      return notSupported(r, "writes");
    }
  }
  switch (mode) {
    case WriteMode::kWithResponse:
      if ((p & kWrite) == 0) return notSupported(r, "Write Request (property 0x08)");
      break;
    case WriteMode::kWithoutResponse: {
      if ((p & kWriteWithoutResponse) == 0) {
        return notSupported(r, "Write Without Response (property 0x04)");
      }
      if (offset != 0) {
        return err::invalidField("offset", "a write without response has no offset");
      }
      const std::size_t fits = mtu > 3 ? mtu - 3u : 0u;
      if (size > fits) {
        return err::invalidField(
            "value", absl::StrCat(size, " bytes do not fit in one write without response: the "
                                        "link's MTU is ",
                                  mtu, ", so at most ", fits, " bytes (MTU - 3)"));
      }
      break;
    }
    case WriteMode::kReliable:
      if (!hasFlag(*r.characteristic, "reliable-write")) {
        return notSupported(r, "reliable writes (extended property Reliable Write)");
      }
      break;
    case WriteMode::kAuto:
      break;
  }
  return mode;
}

WriteType writeType(WriteMode mode) {
  switch (mode) {
    case WriteMode::kWithoutResponse: return WriteType::kCommand;
    case WriteMode::kReliable: return WriteType::kReliable;
    default: return WriteType::kRequest;
  }
}

}  // namespace

GattClient::GattClient(Executor& executor, CentralBackend& backend, SessionManager& sessions,
                       Metrics& metrics)
    : executor_(executor), backend_(backend), sessions_(sessions), metrics_(metrics) {}

GattClient::~GattClient() { calls_.clear(); }

std::uint64_t GattClient::begin(GattOpKind kind, const std::shared_ptr<Session>& session,
                                Completion done) {
  const std::uint64_t id = nextId_++;
  auto p = std::make_unique<Pending>();
  p->kind = kind;
  p->start = executor_.now();
  p->session = session;
  p->done = std::move(done);
  // A dropped link fails the call at once; BlueZ's own reply may come much later.
  p->linkWatch = sessions_.watchLink(session, [this, id](const absl::Status& status) {
    finish(id, status, false);
  });
  calls_.emplace(id, std::move(p));
  return id;
}

GattCall GattClient::fail(GattOpKind kind, absl::Status status, Completion done) {
  const std::uint64_t id = nextId_++;
  auto p = std::make_unique<Pending>();
  p->kind = kind;
  p->start = executor_.now();
  p->done = std::move(done);
  p->soon = executor_.runAfter(absl::ZeroDuration(), [this, id, status = std::move(status)] {
    finish(id, status, false);
  });
  calls_.emplace(id, std::move(p));
  return GattCall(this, id);
}

void GattClient::finish(std::uint64_t id, absl::StatusOr<std::vector<std::uint8_t>> result,
                        bool replied) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  std::unique_ptr<Pending> p = std::move(it->second);
  calls_.erase(it);
  if (replied) p->op.release();
  p->soon = Timer();
  const absl::Duration took = executor_.now() - p->start;
  metrics_.countGattOp(p->kind, result.status().code(), absl::ToDoubleSeconds(took));
  if (auto s = p->session.lock()) sessions_.touch(*s);
  auto done = std::move(p->done);
  p.reset();  // cancels what is left (the backend call, when the link dropped first)
  done(std::move(result));
}

void GattClient::cancel(const std::uint64_t& id) { calls_.erase(id); }

void GattClient::shutdown(const absl::Status& status) {
  std::vector<std::uint64_t> ids;
  for (const auto& [id, p] : calls_) ids.push_back(id);
  for (auto id : ids) finish(id, status, false);
}

absl::StatusOr<std::vector<GattServiceInfo>> GattClient::discover(
    const Address& address, const std::optional<Uuid>& service,
    const std::optional<Uuid>& characteristic) {
  // BlueZ resolves the whole tree when the link comes up (ServicesResolved), so discovery is
  // answered from that tree without another round trip.
  const absl::Time start = executor_.now();
  auto session = sessions_.use(address);
  if (!session.ok()) {
    metrics_.countGattOp(GattOpKind::kDiscover, session.status().code(), 0);
    return session.status();
  }
  auto out = selectServices((*session)->services(), service, characteristic);
  metrics_.countGattOp(GattOpKind::kDiscover, absl::StatusCode::kOk,
                       absl::ToDoubleSeconds(executor_.now() - start));
  return out;
}

GattCall GattClient::read(const Address& address, const AttributeQuery& attribute,
                          std::uint16_t offset, absl::Duration timeout,
                          Callback<absl::StatusOr<ReadResult>> done) {
  auto session = sessions_.use(address);
  absl::StatusOr<ResolvedAttribute> r =
      session.ok() ? resolveAttribute((*session)->services(), attribute) : session.status();
  if (r.ok() && !r->isDescriptor() &&
      (r->characteristic->properties & gatt_property::kRead) == 0) {
    r = notSupported(*r, "reads (property 0x02)");
  }
  if (r.ok() && offset >= kMaxAttributeValue) {
    r = err::invalidField("offset", absl::StrCat(offset, " is beyond the largest value (0..511)"));
  }
  const std::uint16_t handle = r.ok() ? r->handle : 0;
  Completion complete = [handle, done = std::move(done)](
                            absl::StatusOr<std::vector<std::uint8_t>> value) mutable {
    if (!value.ok()) {
      done(value.status());
      return;
    }
    done(ReadResult{std::move(*value), handle});
  };
  if (!r.ok()) return fail(GattOpKind::kRead, r.status(), std::move(complete));
  const std::uint64_t id = begin(GattOpKind::kRead, *session, std::move(complete));
  calls_[id]->op = backend_.read(
      (*session)->adapter(), address, handle, offset, timeout,
      [this, id](absl::StatusOr<std::vector<std::uint8_t>> value) {
        finish(id, std::move(value), true);
      });
  return GattCall(this, id);
}

GattCall GattClient::write(const Address& address, const AttributeQuery& attribute,
                           std::vector<std::uint8_t> value, WriteMode mode, std::uint16_t offset,
                           absl::Duration timeout, Callback<absl::StatusOr<WriteResult>> done) {
  auto session = sessions_.use(address);
  absl::StatusOr<ResolvedAttribute> r =
      session.ok() ? resolveAttribute((*session)->services(), attribute) : session.status();
  absl::StatusOr<WriteMode> chosen = r.ok() ? absl::StatusOr<WriteMode>(WriteMode::kAuto) : r.status();
  if (r.ok() && value.size() > kMaxAttributeValue) {
    chosen = err::invalidField("value", absl::StrCat(value.size(), " bytes is longer than the "
                                                                   "largest attribute value (512)"));
  } else if (r.ok() && offset >= kMaxAttributeValue) {
    chosen = err::invalidField("offset", absl::StrCat(offset, " is beyond the largest value (0..511)"));
  } else if (r.ok()) {
    const std::uint16_t mtu = sessions_.refreshMtu(**session);
    chosen = chooseWriteMode(*r, mode, value.size(), offset, mtu);
  }
  const std::uint16_t handle = r.ok() ? r->handle : 0;
  const WriteMode used = chosen.ok() ? *chosen : WriteMode::kWithResponse;
  Completion complete = [handle, used, done = std::move(done)](
                            absl::StatusOr<std::vector<std::uint8_t>> result) mutable {
    if (!result.ok()) {
      done(result.status());
      return;
    }
    done(WriteResult{used, handle});
  };
  if (!chosen.ok()) return fail(GattOpKind::kWrite, chosen.status(), std::move(complete));
  const std::uint64_t id = begin(GattOpKind::kWrite, *session, std::move(complete));
  calls_[id]->op = backend_.write((*session)->adapter(), address, handle, std::move(value),
                                  writeType(used), offset, timeout,
                                  [this, id](absl::Status status) {
                                    if (status.ok()) {
                                      finish(id, std::vector<std::uint8_t>(), true);
                                    } else {
                                      finish(id, status, true);
                                    }
                                  });
  return GattCall(this, id);
}

absl::StatusOr<std::uint16_t> GattClient::mtu(const Address& address) {
  auto session = sessions_.use(address);
  if (!session.ok()) return session.status();
  return sessions_.refreshMtu(**session);
}

}  // namespace gattway
