// The hosted GATT database: what callers defined, the values centrals read and write, and the
// buffer rules of aioble's BufferedCharacteristic (max_len, append). Loop thread only; no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "ble/peripheral/definitions.h"
#include "ble/peripheral_backend.h"

namespace gattway::peripheral {

// Checks a definition for consistency. Errors are INVALID_ARGUMENT naming the field as the API
// does ("services[1].characteristics[0].max_len").
absl::Status validateDefinition(const DatabaseDefinition& definition);

class HostedDatabase {
 public:
  // `definition` must have passed validateDefinition().
  explicit HostedDatabase(const DatabaseDefinition& definition);

  // What the backend exports.
  const ApplicationSpec& spec() const { return spec_; }
  std::uint32_t captureQueueSize() const { return captureQueueSize_; }

  // NOT_FOUND when nothing matches; INVALID_ARGUMENT (ATTRIBUTE_AMBIGUOUS) when the
  // characteristic UUID is in several services and no service was named. `field` prefixes the
  // error's field name ("characteristic").
  absl::StatusOr<AttributeId> resolve(const AttributeSelector& selector,
                                      absl::string_view field) const;
  bool contains(AttributeId id) const { return find(id) != nullptr; }
  AttributeName name(AttributeId id) const;
  bool isCharacteristic(AttributeId id) const;
  bool captures(AttributeId id) const;
  bool canNotify(AttributeId id) const;  // notify or indicate
  std::uint32_t maxLen(AttributeId id) const;
  WriteKind writeKind(AttributeId id) const;
  std::vector<AttributeId> capturedCharacteristics() const;
  std::vector<AttributeId> allAttributes() const;

  const std::vector<std::uint8_t>& value(AttributeId id) const;
  // Replaces the value (SetValue). INVALID_ARGUMENT past max_len.
  absl::Status setValue(AttributeId id, std::vector<std::uint8_t> value);
  // GetValue(clear = true).
  void clear(AttributeId id);

  // A central's read: the bytes from `offset` on, or ATT 0x07 (Invalid Offset).
  // Returns the ATT error code (0 = success) and fills `out`.
  std::uint8_t read(AttributeId id, std::uint16_t offset, std::vector<std::uint8_t>& out) const;
  static std::uint8_t slice(absl::Span<const std::uint8_t> value, std::uint16_t offset,
                            std::vector<std::uint8_t>& out);
  // A central's write at `offset`. Returns 0, or the ATT error the central gets: 0x07 for an
  // offset past the value, 0x0D when the value would grow past max_len (nothing is stored or
  // truncated then). With append, an offset-0 write appends and a non-zero offset continues the
  // long write that started there.
  std::uint8_t write(AttributeId id, std::uint16_t offset, absl::Span<const std::uint8_t> data);

  // The definition with current values as initial values.
  std::vector<LocalService> snapshot() const;
  const std::string& adapterRequested() const { return adapterRequested_; }

 private:
  struct Attribute {
    AttributeId id = 0;
    AttributeName name;
    bool characteristic = true;
    bool capture = false;
    bool append = false;
    bool notify = false;
    WriteKind writeKind = WriteKind::kUnknown;
    std::uint32_t maxLen = kMaxAttributeLen;
    std::vector<std::uint8_t> value;
    std::size_t appendBase = 0;  // where the current append sequence started
    std::size_t service = 0, characteristic_index = 0;
    std::optional<std::size_t> descriptor_index;
  };
  const Attribute* find(AttributeId id) const;
  Attribute* find(AttributeId id);

  std::string adapterRequested_;
  std::vector<LocalService> definition_;
  ApplicationSpec spec_;
  std::uint32_t captureQueueSize_ = kDefaultCaptureQueue;
  std::vector<Attribute> attributes_;  // index = id - 1
};

}  // namespace gattway::peripheral
