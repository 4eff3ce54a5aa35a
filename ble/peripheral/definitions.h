// What a caller defines and names in the hosted peripheral: the database (services,
// characteristics, descriptors with their values and buffer rules), attribute selectors, and the
// events and records the peripheral reports. Plain data; the rules live in hosted_database.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "ble/address.h"
#include "ble/peripheral_backend.h"
#include "ble/uuid.h"

namespace gattway::peripheral {

// A characteristic's value buffer when max_len is not given (one packet at the default MTU, as
// aioble's plain characteristics).
inline constexpr std::uint32_t kDefaultMaxLen = 20;
// The longest attribute value ATT allows (Core spec Vol 3, Part F, 3.2.9).
inline constexpr std::uint32_t kMaxAttributeLen = 512;
inline constexpr std::size_t kMaxServices = 32;
inline constexpr std::size_t kMaxCharacteristicsPerService = 64;
inline constexpr std::uint32_t kDefaultCaptureQueue = 1024;
inline constexpr std::uint32_t kMinCaptureQueue = 16;
inline constexpr std::uint32_t kMaxCaptureQueue = 65536;

struct LocalDescriptor {
  Uuid uuid;
  bool read = false;
  bool write = false;
  std::vector<std::uint8_t> value;
  AttributeSecurity readSecurity = AttributeSecurity::kNone;
  AttributeSecurity writeSecurity = AttributeSecurity::kNone;
};

struct LocalCharacteristic {
  Uuid uuid;
  bool read = false;
  bool write = false;
  bool writeWithoutResponse = false;
  bool notify = false;
  bool indicate = false;
  AttributeSecurity readSecurity = AttributeSecurity::kNone;
  AttributeSecurity writeSecurity = AttributeSecurity::kNone;
  std::vector<std::uint8_t> initialValue;
  std::uint32_t maxLen = 0;  // 0: kDefaultMaxLen, or the initial value's length when longer
  bool append = false;
  bool capture = false;
  std::vector<LocalDescriptor> descriptors;
};

struct LocalService {
  Uuid uuid;
  bool primary = true;
  std::vector<LocalCharacteristic> characteristics;
};

struct DatabaseDefinition {
  std::string adapter;  // empty: the first powered adapter
  std::vector<LocalService> services;
  std::uint32_t captureQueueSize = 0;  // 0: kDefaultCaptureQueue
};

// Names a hosted attribute as callers do (gattway.v1.AttributeRef without the handle).
struct AttributeSelector {
  std::optional<Uuid> service;
  Uuid characteristic;
  std::optional<Uuid> descriptor;
  std::uint32_t instance = 0;
};

// How the peripheral names an attribute in what it reports.
struct AttributeName {
  Uuid service;
  Uuid characteristic;
  std::optional<Uuid> descriptor;
  std::uint32_t instance = 0;  // occurrence of the characteristic UUID among same-UUID services
  bool operator==(const AttributeName&) const = default;
};

struct HostedAttributeInfo {
  AttributeName name;
  std::string objectPath;
};

struct RegisteredDatabase {
  std::string adapter;
  std::vector<HostedAttributeInfo> attributes;
};

// How a central wrote. BlueZ 5.66 does not say (no "type" option): it is inferred from the
// characteristic's properties, kUnknown when it allows both kinds.
enum class WriteKind : std::uint8_t { kUnknown, kRequest, kCommand };

struct CapturedWrite {
  AttributeName characteristic;
  Address central;
  std::vector<std::uint8_t> value;
  std::uint16_t offset = 0;
  WriteKind kind = WriteKind::kUnknown;
  absl::Time time;
  std::uint64_t sequence = 0;  // per characteristic, from 1, counting dropped writes
};

struct ReadRequestEvent {
  std::uint64_t requestId = 0;
  AttributeName attribute;
  Address central;
  std::uint16_t offset = 0;
  std::optional<std::uint16_t> mtu;
  absl::Time deadline;
};

struct ReadAnswer {
  std::uint64_t requestId = 0;
  std::optional<std::vector<std::uint8_t>> value;  // serve this (from the read's offset on)
  std::uint8_t attError = 0;                       // or refuse with this code
  bool store = false;                              // with value: also store it
};

enum class PeripheralEventType : std::uint8_t {
  kCentralConnected,
  kCentralDisconnected,
  kSubscribed,
  kUnsubscribed,
  kMtuChanged,
  kIndicationConfirmed,
  kAdvertisingStarted,
  kAdvertisingStopped,
  kDatabaseRegistered,
};

struct PeripheralEvent {
  PeripheralEventType type = PeripheralEventType::kCentralConnected;
  absl::Time time;
  std::optional<Address> central;
  std::optional<AttributeName> attribute;
  std::uint32_t mtu = 0;
  std::string advertisementId;
  std::string detail;
};

struct AdvertisingRequest {
  std::string adapter;  // empty: the database's adapter, else the first powered one
  AdvertisementSpec spec;
};

struct AdvertisingStarted {
  std::string id;
  std::string adapter;
  std::optional<absl::Time> expireTime;
};

struct CentralInfo {
  Address address;
  std::optional<std::uint16_t> mtu;
};

struct PeripheralSnapshot {
  std::string adapter;  // empty: no database
  std::vector<LocalService> services;  // current values as initialValue
  std::vector<std::string> advertisementIds;
  std::vector<CentralInfo> centrals;
};

}  // namespace gattway::peripheral
