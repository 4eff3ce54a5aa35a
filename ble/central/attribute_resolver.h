// Finds one attribute of a remote GATT tree from what a caller named: UUIDs (service optional,
// instance for repeats, descriptor optional) or a handle (common.proto, AttributeRef).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ble/central_backend.h"
#include "ble/uuid.h"

namespace gattway {

struct AttributeQuery {
  std::optional<Uuid> service;
  std::optional<Uuid> characteristic;
  std::optional<Uuid> descriptor;
  std::uint32_t instance = 0;
  std::uint16_t handle = 0;  // 0: by UUIDs

  // "2A37 in 180D", "handle 0x000b": for messages and ErrorInfo metadata.
  std::string describe() const;
  // The same reference, field by field (not: the same attribute once resolved).
  bool operator==(const AttributeQuery&) const = default;
};

struct ResolvedAttribute {
  const GattServiceInfo* service = nullptr;
  const GattCharacteristicInfo* characteristic = nullptr;
  const GattDescriptorInfo* descriptor = nullptr;  // set when the attribute is a descriptor
  std::uint16_t handle = 0;                        // what the backend reads and writes

  bool isDescriptor() const { return descriptor != nullptr; }
};

// Errors: NOT_FOUND (ATTRIBUTE_NOT_FOUND) when nothing matches; INVALID_ARGUMENT
// (ATTRIBUTE_AMBIGUOUS) when a characteristic UUID occurs in several services and no service was
// named, listing them; INVALID_ARGUMENT (INVALID_FIELD) when a handle and UUIDs disagree.
// `field` names the request field for INVALID_ARGUMENT ("attribute", "characteristic").
absl::StatusOr<ResolvedAttribute> resolveAttribute(const std::vector<GattServiceInfo>& services,
                                                   const AttributeQuery& query,
                                                   const std::string& field = "attribute");

// Targeted discovery: the services (and within them the characteristics) with the given UUIDs;
// empty optionals select everything. Services left without characteristics are dropped when a
// characteristic UUID is given.
std::vector<GattServiceInfo> selectServices(const std::vector<GattServiceInfo>& services,
                                            const std::optional<Uuid>& service,
                                            const std::optional<Uuid>& characteristic);

}  // namespace gattway
