#include "ble/sim/dbus/object_tree.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ble/log.h"

namespace gattway::sim::dbus {
namespace {

// char arrays: they go to sd-bus as they are, with no copy to terminate them.
constexpr char kProperties[] = "org.freedesktop.DBus.Properties";
constexpr char kIntrospectable[] = "org.freedesktop.DBus.Introspectable";
constexpr char kObjectManager[] = "org.freedesktop.DBus.ObjectManager";
constexpr absl::string_view kInvalidArgs = "org.freedesktop.DBus.Error.InvalidArgs";

constexpr char kDoctype[] =
    "<!DOCTYPE node PUBLIC \"-//freedesktop//DTD D-BUS Object Introspection 1.0//EN\"\n"
    "\"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd\">\n";
constexpr char kIntrospectableXml[] =
    "<interface name=\"org.freedesktop.DBus.Introspectable\"><method name=\"Introspect\">"
    "<arg name=\"xml\" type=\"s\" direction=\"out\"/>\n</method></interface>";
constexpr char kPropertiesXml[] =
    "<interface name=\"org.freedesktop.DBus.Properties\"><method name=\"Get\">"
    "<arg name=\"interface\" type=\"s\" direction=\"in\"/><arg name=\"name\" type=\"s\" "
    "direction=\"in\"/><arg name=\"value\" type=\"v\" direction=\"out\"/>\n</method>"
    "<method name=\"Set\"><arg name=\"interface\" type=\"s\" direction=\"in\"/><arg name=\"name\" "
    "type=\"s\" direction=\"in\"/><arg name=\"value\" type=\"v\" direction=\"in\"/>\n</method>"
    "<method name=\"GetAll\"><arg name=\"interface\" type=\"s\" direction=\"in\"/>"
    "<arg name=\"properties\" type=\"a{sv}\" direction=\"out\"/>\n</method>"
    "<signal name=\"PropertiesChanged\"><arg name=\"interface\" type=\"s\"/>"
    "<arg name=\"changed_properties\" type=\"a{sv}\"/><arg name=\"invalidated_properties\" "
    "type=\"as\"/>\n</signal>\n</interface>";
constexpr char kObjectManagerXml[] =
    "<interface name=\"org.freedesktop.DBus.ObjectManager\"><method name=\"GetManagedObjects\">"
    "<arg name=\"objects\" type=\"a{oa{sa{sv}}}\" direction=\"out\"/>\n</method>"
    "<signal name=\"InterfacesAdded\"><arg name=\"object\" type=\"o\"/><arg name=\"interfaces\" "
    "type=\"a{sa{sv}}\"/>\n</signal>\n<signal name=\"InterfacesRemoved\"><arg name=\"object\" "
    "type=\"o\"/><arg name=\"interfaces\" type=\"as\"/>\n</signal>\n</interface>";

std::string unknownMethodText(sd_bus_message* m) {
  const char* member = sd_bus_message_get_member(m);
  const char* iface = sd_bus_message_get_interface(m);
  return absl::StrCat("Method \"", member != nullptr ? member : "", "\" with signature \"",
                      sd_bus_message_get_signature(m, 1), "\" on interface \"",
                      iface != nullptr ? iface : "", "\" doesn't exist\n");
}

void appendArgs(std::string& xml, const std::vector<Arg>& args, const char* direction) {
  for (const auto& a : args) {
    absl::StrAppend(&xml, "<arg name=\"", a.name, "\" type=\"", a.type, "\"");
    if (direction != nullptr) absl::StrAppend(&xml, " direction=\"", direction, "\"");
    xml += "/>";
  }
}

}  // namespace

ObjectTree::ObjectTree(Bus& bus) : bus_(bus), outbox_(std::make_shared<Outbox>()) {
  outbox_->tree = this;
  sd_bus_add_fallback(bus_.raw(), &slot_, "/", &ObjectTree::onMessage, this);
  bus_.setBeforeSend([this] { flush(); });
}

ObjectTree::~ObjectTree() {
  *alive_ = false;
  outbox_->tree = nullptr;
  bus_.setBeforeSend(nullptr);
  sd_bus_slot_unref(slot_);
  for (auto& [path, object] : objects_) {
    for (Interface* i : object.interfaces) i->tree_ = nullptr;
  }
}

int ObjectTree::onMessage(sd_bus_message* m, void* userdata, sd_bus_error*) {
  std::uint8_t type = 0;
  if (sd_bus_message_get_type(m, &type) < 0 || type != SD_BUS_MESSAGE_METHOD_CALL) return 0;
  auto* self = static_cast<ObjectTree*>(userdata);
  try {
    self->handle(Call(self->outbox_, Message::ref(m)));
  } catch (const std::exception& e) {
    log::error("sim.dbus.handler_failed", {{"error", e.what()}});
  }
  return 1;
}

void ObjectTree::handle(Call call) {
  sd_bus_message* m = call.message();
  const std::string path = call.path();
  const char* ifaceName = sd_bus_message_get_interface(m);
  const absl::string_view iface = ifaceName != nullptr ? ifaceName : "";
  const absl::string_view member = sd_bus_message_get_member(m);
  const absl::string_view sig = sd_bus_message_get_signature(m, 1);
  const auto object = objects_.find(path);
  const bool found = object != objects_.end() || path == "/";

  if (iface == kIntrospectable && member == "Introspect" && sig.empty()) {
    return introspect(std::move(call), path);
  }
  if (found && iface == kProperties) {
    if (member == "Get" && sig == "ss") return getProperty(std::move(call), path);
    if (member == "GetAll" && sig == "s") return getAllProperties(std::move(call), path);
    if (member == "Set" && sig == "ssv") return setProperty(std::move(call), path);
  }
  if (path == "/" && iface == kObjectManager && member == "GetManagedObjects" && sig.empty()) {
    return getManagedObjects(std::move(call));
  }
  if (object != objects_.end()) {
    for (Interface* i : object->second.interfaces) {
      if (!iface.empty() && i->spec().name != iface) continue;
      const int index = i->spec().method(member);
      if (index < 0) continue;
      const MethodSpec& method = i->spec().methods[static_cast<std::size_t>(index)];
      if (method.experimental && !experimental_) continue;
      if (method.inSignature() != sig) continue;
      return i->invoke(index, std::move(call));
    }
  }
  // What libdbus answers for a call nobody handled.
  const std::string text = unknownMethodText(m);
  call.error(found ? "org.freedesktop.DBus.Error.UnknownMethod"
                   : "org.freedesktop.DBus.Error.UnknownObject",
             text);
}

std::vector<std::string> ObjectTree::children(const std::string& path) const {
  const std::string prefix = path == "/" ? "/" : path + "/";
  std::vector<std::string> out;
  for (auto it = objects_.lower_bound(prefix);
       it != objects_.end() && absl::StartsWith(it->first, prefix);) {
    const std::string rest = it->first.substr(prefix.size());
    const std::string child = rest.substr(0, rest.find('/'));
    if (!child.empty()) out.push_back(child);
    // Skip everything below this child: the next candidate sorts after "prefix + child + 0xFF".
    it = objects_.lower_bound(prefix + child + "0");  // '0' follows '/' in ASCII
  }
  return out;
}

void ObjectTree::introspect(Call call, const std::string& path) {
  const auto object = objects_.find(path);
  const std::vector<std::string> kids = children(path);
  if (object == objects_.end() && path != "/" && kids.empty()) {
    const std::string text = unknownMethodText(call.message());
    return call.error("org.freedesktop.DBus.Error.UnknownObject", text);
  }
  std::string xml = kDoctype;
  xml += "<node>";
  if (path == "/") absl::StrAppend(&xml, kIntrospectableXml, kObjectManagerXml);
  if (object != objects_.end()) {
    if (path != "/") xml += kIntrospectableXml;
    for (const Interface* i : object->second.interfaces) {
      absl::StrAppend(&xml, "<interface name=\"", i->spec().name, "\">");
      for (const auto& m : i->spec().methods) {
        if (m.experimental && !experimental_) continue;
        absl::StrAppend(&xml, "<method name=\"", m.name, "\">");
        appendArgs(xml, m.in, "in");
        appendArgs(xml, m.out, "out");
        xml += "</method>";
      }
      for (const auto& s : i->spec().signals) {
        absl::StrAppend(&xml, "<signal name=\"", s.name, "\">");
        appendArgs(xml, s.args, nullptr);
        xml += "</signal>\n";
      }
      for (const auto& p : i->spec().properties) {
        if (!visible(p)) continue;
        absl::StrAppend(&xml, "<property name=\"", p.name, "\" type=\"", p.type,
                        "\" access=\"read", p.writable ? "write" : "", "\"></property>");
      }
      xml += "</interface>";
    }
    xml += kPropertiesXml;
  }
  for (const auto& k : kids) absl::StrAppend(&xml, "<node name=\"", k, "\"/>");
  xml += "</node>";
  call.reply([&](Writer& w) { w.s(xml); });
}

Interface* ObjectTree::find(const std::string& path, absl::string_view interface) const {
  const auto object = objects_.find(path);
  if (object == objects_.end()) return nullptr;
  for (Interface* i : object->second.interfaces) {
    if (i->spec().name == interface) return i;
  }
  return nullptr;
}

void ObjectTree::getProperty(Call call, const std::string& path) {
  std::string iface, name;
  Reader r = call.args();
  r.s(iface);
  r.s(name);
  Interface* i = find(path, iface);
  if (i == nullptr) return call.error(kInvalidArgs, absl::StrCat("No such interface '", iface, "'"));
  const int index = i->spec().property(name);
  if (index < 0 || !visible(i->spec().properties[static_cast<std::size_t>(index)]) ||
      !i->has(index)) {
    return call.error(kInvalidArgs, absl::StrCat("No such property '", name, "'"));
  }
  const PropertySpec& p = i->spec().properties[static_cast<std::size_t>(index)];
  call.reply([&](Writer& w) {
    w.open('v', p.type.c_str());
    i->get(index, w);
    w.close();
  });
}

void ObjectTree::writeProperties(Writer& w, const Interface& iface) const {
  w.open('a', "{sv}");
  const auto& props = iface.spec().properties;
  for (std::size_t k = 0; k < props.size(); ++k) {
    const int index = static_cast<int>(k);
    if (!visible(props[k]) || !iface.has(index)) continue;
    w.open('e', "sv").s(props[k].name).open('v', props[k].type.c_str());
    iface.get(index, w);
    w.close().close();
  }
  w.close();
}

void ObjectTree::getAllProperties(Call call, const std::string& path) {
  std::string iface;
  call.args().s(iface);
  Interface* i = find(path, iface);
  if (i == nullptr) return call.error(kInvalidArgs, absl::StrCat("No such interface '", iface, "'"));
  call.reply([&](Writer& w) { writeProperties(w, *i); });
}

void ObjectTree::setProperty(Call call, const std::string& path) {
  std::string iface, name;
  Reader r = call.args();
  r.s(iface);
  r.s(name);
  Value wrapped;
  r.value(wrapped);
  Interface* i = find(path, iface);
  if (i == nullptr) return call.error(kInvalidArgs, absl::StrCat("No such interface '", iface, "'"));
  const int index = i->spec().property(name);
  if (index < 0 || !visible(i->spec().properties[static_cast<std::size_t>(index)])) {
    return call.error("org.freedesktop.DBus.Error.UnknownProperty",
                      absl::StrCat("No such property '", name, "'"));
  }
  const PropertySpec& p = i->spec().properties[static_cast<std::size_t>(index)];
  if (!p.writable) {
    return call.error("org.freedesktop.DBus.Error.PropertyReadOnly",
                      absl::StrCat("Property '", name, "' is not writable"));
  }
  if (!i->has(index)) {
    return call.error("org.freedesktop.DBus.Error.UnknownProperty",
                      absl::StrCat("No such property '", name, "'"));
  }
  const Value* content = wrapped.variantContent();
  if (content == nullptr || content->signature != p.type) {
    return call.error("org.freedesktop.DBus.Error.InvalidSignature",
                      absl::StrCat("Invalid signature for '", name, "'"));
  }
  i->set(index, *content, std::move(call));
}

void ObjectTree::writeInterfaces(Writer& w, const std::vector<Interface*>& ifaces) const {
  w.open('a', "{sa{sv}}");
  for (const Interface* i : ifaces) {
    w.open('e', "sa{sv}").s(i->spec().name);
    writeProperties(w, *i);
    w.close();
  }
  w.close();
}

void ObjectTree::getManagedObjects(Call call) {
  call.reply([&](Writer& w) {
    w.open('a', "{oa{sa{sv}}}");
    for (const auto& [path, object] : objects_) {
      // Objects whose InterfacesAdded is still queued are included: gdbus reads its live tree.
      w.open('e', "oa{sa{sv}}").o(path);
      writeInterfaces(w, object.interfaces);
      w.close();
    }
    w.close();
  });
}

// --- the signal queue -------------------------------------------------------------------------

ObjectTree::Pending& ObjectTree::pending(const std::string& path) {
  auto [it, inserted] = pendingIndex_.try_emplace(path, pending_.size());
  if (inserted) {
    pending_.push_back(Pending{path, {}, {}, {}});
    schedule();
  }
  return pending_[it->second];
}

void ObjectTree::schedule() {
  if (flushPosted_) return;
  flushPosted_ = true;
  // gdbus sends from an idle callback: after the work of this turn, before the next wait.
  bus_.loop().post([this, alive = alive_] {
    if (!*alive) return;
    flushPosted_ = false;
    flush();
  });
}

void ObjectTree::add(const std::string& path, Interface* iface) {
  iface->path_ = path;
  iface->tree_ = this;
  objects_[path].interfaces.push_back(iface);
  pending(path).added.push_back(iface);
}

void ObjectTree::remove(Interface* iface) {
  if (iface->tree_ != this) return;
  const std::string path = iface->path_;
  iface->tree_ = nullptr;
  auto object = objects_.find(path);
  if (object == objects_.end()) return;
  std::erase(object->second.interfaces, iface);
  Pending& p = pending(path);
  std::erase_if(p.props, [&](const auto& e) { return e.first == iface; });
  const auto added = std::find(p.added.begin(), p.added.end(), iface);
  if (added != p.added.end()) {
    p.added.erase(added);  // never announced: nothing to retract
  } else {
    p.removed.push_back(iface->spec().name);
  }
  if (object->second.interfaces.empty()) {
    objects_.erase(object);
    flushObject(path);
  }
}

void ObjectTree::removeObject(const std::string& path) {
  auto object = objects_.find(path);
  if (object == objects_.end()) return;
  const std::vector<Interface*> ifaces = object->second.interfaces;
  for (Interface* i : ifaces) remove(i);
}

void ObjectTree::changed(Interface* iface, int property, bool flush) {
  if (iface->tree_ != this) return;
  if (flush && !pendingIndex_.contains(iface->path_)) {
    // Nothing queued for this object (the notification path): straight out.
    emitChanged(iface, std::uint64_t{1} << property);
    return;
  }
  Pending& p = pending(iface->path_);
  // No PropertiesChanged for an interface whose InterfacesAdded is pending: it carries the value.
  if (std::find(p.added.begin(), p.added.end(), iface) != p.added.end()) return;
  const std::uint64_t bit = std::uint64_t{1} << property;
  auto entry = std::find_if(p.props.begin(), p.props.end(),
                            [&](const auto& e) { return e.first == iface; });
  if (entry == p.props.end()) {
    p.props.emplace_back(iface, bit);
  } else {
    entry->second |= bit;
  }
  if (flush) {
    // Only this object's property changes (gdbus process_property_changes), nothing else.
    auto props = std::move(p.props);
    p.props.clear();
    for (auto& [i, mask] : props) emitChanged(i, mask);
  }
}

void ObjectTree::flush() {
  // Signals sent here may queue more changes (none do today); loop until drained.
  for (std::size_t i = 0; i < pending_.size(); ++i) flushAt(i);
  pending_.clear();
  pendingIndex_.clear();
}

void ObjectTree::flushAt(std::size_t index) {
  Pending p = std::move(pending_[index]);
  pending_[index] = Pending{p.path, {}, {}, {}};
  if (!p.added.empty()) emitAdded(p);
  for (auto& [i, mask] : p.props) emitChanged(i, mask);
  if (!p.removed.empty()) emitRemoved(p);
}

void ObjectTree::flushObject(const std::string& path) {
  auto it = pendingIndex_.find(path);
  if (it == pendingIndex_.end()) return;
  flushAt(it->second);
}

Message ObjectTree::newSignal(const std::string& path, const char* interface, const char* member) const {
  sd_bus_message* m = nullptr;
  if (sd_bus_message_new_signal(bus_.raw(), &m, path.c_str(), interface, member) < 0) {
    return {};
  }
  return Message::adopt(m);
}

void ObjectTree::emitAdded(Pending& p) {
  Message msg = newSignal("/", kObjectManager, "InterfacesAdded");
  if (!msg) return;
  Writer w(msg.get());
  w.o(p.path);
  writeInterfaces(w, p.added);
  emit(msg);
}

void ObjectTree::emitChanged(Interface* iface, std::uint64_t mask) {
  Message msg = newSignal(iface->path_, kProperties, "PropertiesChanged");
  if (!msg) return;
  Writer w(msg.get());
  w.s(iface->spec().name);
  const auto& props = iface->spec().properties;
  std::vector<const std::string*> invalidated;
  w.open('a', "{sv}");
  for (std::size_t k = 0; k < props.size(); ++k) {
    if ((mask & (std::uint64_t{1} << k)) == 0 || !visible(props[k])) continue;
    if (!iface->has(static_cast<int>(k))) {
      invalidated.push_back(&props[k].name);
      continue;
    }
    w.open('e', "sv").s(props[k].name).open('v', props[k].type.c_str());
    iface->get(static_cast<int>(k), w);
    w.close().close();
  }
  w.close();
  w.open('a', "s");
  for (const auto* name : invalidated) w.s(*name);
  w.close();
  emit(msg);
}

void ObjectTree::emitRemoved(Pending& p) {
  Message msg = newSignal("/", kObjectManager, "InterfacesRemoved");
  if (!msg) return;
  Writer w(msg.get());
  w.o(p.path).strings(p.removed);
  emit(msg);
}

void ObjectTree::emit(const Message& m) {
  ++signalsSent_;
  bus_.sendRaw(m);
}

}  // namespace gattway::sim::dbus
