#include "ble/bluez/paths.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace gattway::bluez {
namespace {

// Four lower-case hex digits, as BlueZ prints them with %04x.
std::optional<std::uint16_t> parseHandle(absl::string_view digits) {
  if (digits.size() != 4) return std::nullopt;
  unsigned value = 0;
  for (char c : digits) {
    int d = -1;
    if (c >= '0' && c <= '9') d = c - '0';
    if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    if (d < 0) return std::nullopt;
    value = value * 16 + static_cast<unsigned>(d);
  }
  return static_cast<std::uint16_t>(value);
}

// Splits off the next path component of `rest` (which starts after a '/').
absl::string_view nextComponent(absl::string_view& rest) {
  const auto slash = rest.find('/');
  absl::string_view component = rest.substr(0, slash);
  rest = slash == absl::string_view::npos ? absl::string_view() : rest.substr(slash + 1);
  return component;
}

// "service000a" with prefix "service" → 0x000a.
std::optional<std::uint16_t> handleComponent(absl::string_view component, absl::string_view prefix) {
  if (!absl::ConsumePrefix(&component, prefix)) return std::nullopt;
  return parseHandle(component);
}

}  // namespace

std::optional<BluezPath> parsePath(absl::string_view path) {
  if (!absl::ConsumePrefix(&path, kBluezRoot) || !absl::ConsumePrefix(&path, "/")) {
    return std::nullopt;
  }
  BluezPath out;
  out.adapter = nextComponent(path);
  if (out.adapter.empty()) return std::nullopt;
  if (path.empty()) return out;

  auto address = Address::fromBluezPathComponent(nextComponent(path));
  if (!address.ok()) return std::nullopt;
  out.kind = ObjectKind::kDevice;
  out.address = *address;
  if (path.empty()) return out;

  auto service = handleComponent(nextComponent(path), "service");
  if (!service) return std::nullopt;
  out.kind = ObjectKind::kService;
  out.service = *service;
  if (path.empty()) return out;

  auto characteristic = handleComponent(nextComponent(path), "char");
  if (!characteristic) return std::nullopt;
  out.kind = ObjectKind::kCharacteristic;
  out.characteristic = *characteristic;
  if (path.empty()) return out;

  auto descriptor = handleComponent(nextComponent(path), "desc");
  if (!descriptor || !path.empty()) return std::nullopt;
  out.kind = ObjectKind::kDescriptor;
  out.descriptor = *descriptor;
  return out;
}

std::string adapterPath(absl::string_view adapter) { return absl::StrCat(kBluezRoot, "/", adapter); }

std::string devicePath(absl::string_view adapter, const Address& address) {
  return absl::StrCat(kBluezRoot, "/", adapter, "/", address.bluezPathComponent());
}

std::string servicePath(absl::string_view adapter, const Address& address, std::uint16_t service) {
  return absl::StrCat(devicePath(adapter, address), absl::StrFormat("/service%04x", service));
}

std::string characteristicPath(absl::string_view adapter, const Address& address,
                               std::uint16_t service, std::uint16_t characteristic) {
  return absl::StrCat(servicePath(adapter, address, service),
                      absl::StrFormat("/char%04x", characteristic));
}

std::string descriptorPath(absl::string_view adapter, const Address& address,
                           std::uint16_t service, std::uint16_t characteristic,
                           std::uint16_t descriptor) {
  return absl::StrCat(characteristicPath(adapter, address, service, characteristic),
                      absl::StrFormat("/desc%04x", descriptor));
}

std::string handleText(std::uint16_t handle) { return absl::StrFormat("0x%04x", handle); }

}  // namespace gattway::bluez
