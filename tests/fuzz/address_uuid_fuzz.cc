// Addresses and UUIDs as callers and BlueZ send them: whatever the text, parsing returns a value
// or an error, never crashes, and what parses prints back to a form that parses to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "ble/address.h"
#include "ble/uuid.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  using gattway::Address;
  using gattway::Uuid;
  if (auto a = Address::parse(text); a.ok()) {
    auto again = Address::parse(a->toString());
    check(again.ok() && *again == *a);
    auto fromPath = Address::fromBluezPathComponent(a->bluezPathComponent());
    check(fromPath.ok() && *fromPath == *a);
  }
  (void)Address::fromBluezPathComponent(text);
  (void)gattway::parseAddressType(text);
  if (auto u = Uuid::parse(text); u.ok()) {
    auto shortForm = Uuid::parse(u->toString());
    auto longForm = Uuid::parse(u->toLongString());
    check(shortForm.ok() && *shortForm == *u);
    check(longForm.ok() && *longForm == *u);
  }
  return 0;
}
