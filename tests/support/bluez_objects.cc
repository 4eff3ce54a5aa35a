#include "tests/support/bluez_objects.h"

#include "absl/strings/str_format.h"
#include "ble/bluez/paths.h"

namespace gattway::testing {

using bluez::iface::kAdapter;
using bluez::iface::kCharacteristic;
using bluez::iface::kDescriptor;
using bluez::iface::kDevice;
using bluez::iface::kService;

std::string bluezUuid(std::uint16_t shortUuid) {
  return absl::StrFormat("0000%04x-0000-1000-8000-00805f9b34fb", shortUuid);
}

bluez::ManagedObject adapterObject(const std::string& name, const std::string& address,
                                   bool powered) {
  bluez::ManagedObject o;
  o.path = bluez::adapterPath(name);
  o.interfaces.push_back({std::string(kAdapter),
                          {{"Address", address},
                           {"AddressType", std::string("public")},
                           {"Name", std::string("gattway-test")},
                           {"Alias", std::string("gattway-test")},
                           {"Powered", powered},
                           {"Discovering", false},
                           {"UUIDs", std::vector<std::string>{}}}});
  o.interfaces.push_back({"org.bluez.GattManager1", {}});
  return o;
}

bluez::ManagedObject deviceObject(const std::string& adapter, const Address& address,
                                  bluez::PropertyMap extra, bool random) {
  bluez::ManagedObject o;
  o.path = bluez::devicePath(adapter, address);
  std::string alias = address.toString();
  for (auto& c : alias) c = c == ':' ? '-' : c;
  bluez::PropertyMap props = {{"Address", address.toString()},
                              {"AddressType", std::string(random ? "random" : "public")},
                              {"Alias", alias},
                              {"Adapter", bluez::ObjectPathValue{bluez::adapterPath(adapter)}},
                              {"Paired", false},
                              {"Trusted", false},
                              {"Blocked", false},
                              {"LegacyPairing", false},
                              {"Connected", false},
                              {"ServicesResolved", false},
                              {"UUIDs", std::vector<std::string>{}}};
  for (auto& p : extra) {
    bool replaced = false;
    for (auto& q : props) {
      if (q.name == p.name) {
        q.value = p.value;
        replaced = true;
      }
    }
    if (!replaced) props.push_back(std::move(p));
  }
  o.interfaces.push_back({std::string(kDevice), std::move(props)});
  return o;
}

bluez::ManagedObject serviceObject(const std::string& adapter, const Address& address,
                                   std::uint16_t handle, const std::string& uuid) {
  bluez::ManagedObject o;
  o.path = bluez::servicePath(adapter, address, handle);
  o.interfaces.push_back(
      {std::string(kService),
       {{"UUID", uuid},
        {"Device", bluez::ObjectPathValue{bluez::devicePath(adapter, address)}},
        {"Primary", true},
        {"Includes", bluez::Unsupported{}}}});
  return o;
}

bluez::ManagedObject characteristicObject(const std::string& adapter, const Address& address,
                                          std::uint16_t service, std::uint16_t handle,
                                          const std::string& uuid,
                                          std::vector<std::string> flags,
                                          std::optional<std::uint16_t> mtu) {
  bluez::ManagedObject o;
  o.path = bluez::characteristicPath(adapter, address, service, handle);
  bluez::PropertyMap props = {
      {"UUID", uuid},
      {"Service", bluez::ObjectPathValue{bluez::servicePath(adapter, address, service)}},
      {"Flags", flags}};
  for (const auto& f : flags) {
    if (f == "notify" || f == "indicate") {
      props.push_back({"Notifying", false});
      break;
    }
  }
  if (mtu) props.push_back({"MTU", *mtu});
  o.interfaces.push_back({std::string(kCharacteristic), std::move(props)});
  return o;
}

bluez::ManagedObject descriptorObject(const std::string& adapter, const Address& address,
                                      std::uint16_t service, std::uint16_t characteristic,
                                      std::uint16_t handle, const std::string& uuid) {
  bluez::ManagedObject o;
  o.path = bluez::descriptorPath(adapter, address, service, characteristic, handle);
  o.interfaces.push_back(
      {std::string(kDescriptor),
       {{"UUID", uuid},
        {"Characteristic", bluez::ObjectPathValue{bluez::characteristicPath(
                               adapter, address, service, characteristic)}}}});
  return o;
}

std::vector<bluez::ManagedObject> heartRateDatabase(const std::string& adapter,
                                                    const Address& address, std::uint16_t mtu) {
  return {
      serviceObject(adapter, address, 0x000a, bluezUuid(0x180d)),
      characteristicObject(adapter, address, 0x000a, 0x000b, bluezUuid(0x2a37), {"notify"}, mtu),
      descriptorObject(adapter, address, 0x000a, 0x000b, 0x000d, bluezUuid(0x2902)),
      characteristicObject(adapter, address, 0x000a, 0x000e, bluezUuid(0x2a38), {"read"}, mtu),
      characteristicObject(adapter, address, 0x000a, 0x0010, bluezUuid(0x2a39), {"write"}, mtu),
  };
}

}  // namespace gattway::testing
