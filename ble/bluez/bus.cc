#include "ble/bluez/bus.h"

#include <systemd/sd-bus.h>

#include "ble/dbus/message_bytes.h"
#include "sdbus-c++/IProxy.h"

namespace gattway::bluez {

void MessageUnref::operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }

void SlotUnref::operator()(sd_bus_slot* s) const { sd_bus_slot_unref(s); }

sd_bus* rawBus(sdbus::IConnection& connection) {
  // sdbus-c++ 1.2 does not hand out its sd_bus, but every message it creates knows its bus. A
  // proxy on the connection builds one, without sending anything.
  auto proxy = sdbus::createProxy(connection, "org.freedesktop.DBus", "/org/freedesktop/DBus");
  auto call = proxy->createMethodCall("org.freedesktop.DBus", "Ping");
  return sd_bus_message_get_bus(dbus::rawMessage(call));
}

}  // namespace gattway::bluez
