#include "ble/central/attribute_resolver.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "ble/error.h"

namespace gattway {
namespace {

std::string hex4(std::uint16_t h) { return absl::StrFormat("0x%04x", h); }

absl::Status notFound(const AttributeQuery& q, absl::string_view what) {
  return err::make(err::Reason::kAttributeNotFound,
                   absl::StrCat(what, " (", q.describe(), ") does not exist on the device"),
                   {{err::kMetaAttribute, q.describe()}});
}

// Looks the handle up in the whole tree.
absl::StatusOr<ResolvedAttribute> byHandle(const std::vector<GattServiceInfo>& services,
                                           const AttributeQuery& q, const std::string& field) {
  for (const auto& s : services) {
    for (const auto& c : s.characteristics) {
      ResolvedAttribute r{&s, &c, nullptr, c.handle};
      if (c.handle != q.handle) {
        const GattDescriptorInfo* found = nullptr;
        for (const auto& d : c.descriptors) {
          if (d.handle == q.handle) found = &d;
        }
        if (found == nullptr) continue;
        r.descriptor = found;
        r.handle = found->handle;
      }
      // A handle given with UUIDs must name the same attribute (common.proto, AttributeRef).
      auto disagree = [&](absl::string_view part, const Uuid& want, const Uuid& have) {
        return err::invalidField(
            field, absl::StrCat("handle ", hex4(q.handle), " is ", part, " ", have.toString(),
                                ", not ", want.toString(), "; give the handle or UUIDs that agree"));
      };
      if (q.service && *q.service != s.uuid) return disagree("in service", *q.service, s.uuid);
      if (q.characteristic && *q.characteristic != c.uuid) {
        return disagree("characteristic", *q.characteristic, c.uuid);
      }
      if (q.descriptor && (r.descriptor == nullptr || *q.descriptor != r.descriptor->uuid)) {
        if (r.descriptor == nullptr) {
          return err::invalidField(
              field, absl::StrCat("handle ", hex4(q.handle), " is a characteristic, but descriptor ",
                                  q.descriptor->toString(), " was named"));
        }
        return disagree("descriptor", *q.descriptor, r.descriptor->uuid);
      }
      if (!q.descriptor && r.descriptor != nullptr && q.characteristic) {
        return err::invalidField(
            field, absl::StrCat("handle ", hex4(q.handle), " is descriptor ",
                                r.descriptor->uuid.toString(), " of ", c.uuid.toString(),
                                ", not the characteristic"));
      }
      return r;
    }
  }
  return notFound(q, "attribute");
}

}  // namespace

std::string AttributeQuery::describe() const {
  if (handle != 0 && !characteristic) return absl::StrCat("handle ", hex4(handle));
  std::string s = characteristic ? characteristic->toString() : std::string("?");
  if (descriptor) s = absl::StrCat("descriptor ", descriptor->toString(), " of ", s);
  if (service) absl::StrAppend(&s, " in ", service->toString());
  if (instance != 0) absl::StrAppend(&s, " #", instance);
  if (handle != 0) absl::StrAppend(&s, " at ", hex4(handle));
  return s;
}

absl::StatusOr<ResolvedAttribute> resolveAttribute(const std::vector<GattServiceInfo>& services,
                                                   const AttributeQuery& q,
                                                   const std::string& field) {
  if (q.handle != 0) return byHandle(services, q, field);
  if (!q.characteristic) {
    return err::invalidField(field, "give characteristic_uuid or a handle");
  }
  // Matching characteristics in scope, in handle order.
  std::vector<std::pair<const GattServiceInfo*, const GattCharacteristicInfo*>> found;
  bool serviceSeen = false;
  for (const auto& s : services) {
    if (q.service && s.uuid != *q.service) continue;
    serviceSeen = true;
    for (const auto& c : s.characteristics) {
      if (c.uuid == *q.characteristic) found.emplace_back(&s, &c);
    }
  }
  if (q.service && !serviceSeen) {
    return err::make(err::Reason::kAttributeNotFound,
                     absl::StrCat("service ", q.service->toString(), " does not exist on the device"),
                     {{err::kMetaAttribute, q.describe()}});
  }
  if (found.empty()) return notFound(q, "characteristic");
  if (!q.service) {
    // The same UUID in two services is ambiguous without a service (common.proto).
    std::vector<std::string> names;
    for (const auto& [s, c] : found) {
      std::string n = absl::StrCat(s->uuid.toString(), " (handle ", hex4(s->handle), ")");
      if (names.empty() || names.back() != n) names.push_back(std::move(n));
    }
    std::vector<const GattServiceInfo*> distinct;
    for (const auto& [s, c] : found) {
      if (distinct.empty() || distinct.back() != s) distinct.push_back(s);
    }
    if (distinct.size() > 1) {
      return err::make(err::Reason::kAttributeAmbiguous,
                       absl::StrCat(field, ": characteristic ", q.characteristic->toString(),
                                    " occurs in services ", absl::StrJoin(names, ", "),
                                    "; set service_uuid"),
                       {{err::kMetaField, field}, {err::kMetaAttribute, q.describe()}});
    }
  }
  if (q.instance >= found.size()) {
    return notFound(q, absl::StrCat("instance ", q.instance, " of characteristic (", found.size(),
                                    " found)"));
  }
  const auto [service, characteristic] = found[q.instance];
  ResolvedAttribute r{service, characteristic, nullptr, characteristic->handle};
  if (q.descriptor) {
    for (const auto& d : characteristic->descriptors) {
      if (d.uuid == *q.descriptor) {
        r.descriptor = &d;
        r.handle = d.handle;
        return r;
      }
    }
    return notFound(q, "descriptor");
  }
  return r;
}

std::vector<GattServiceInfo> selectServices(const std::vector<GattServiceInfo>& services,
                                            const std::optional<Uuid>& service,
                                            const std::optional<Uuid>& characteristic) {
  std::vector<GattServiceInfo> out;
  for (const auto& s : services) {
    if (service && s.uuid != *service) continue;
    if (!characteristic) {
      out.push_back(s);
      continue;
    }
    GattServiceInfo copy;
    copy.handle = s.handle;
    copy.uuid = s.uuid;
    copy.primary = s.primary;
    for (const auto& c : s.characteristics) {
      if (c.uuid == *characteristic) copy.characteristics.push_back(c);
    }
    if (!copy.characteristics.empty()) out.push_back(std::move(copy));
  }
  return out;
}

}  // namespace gattway
