#include "ble/sim/dbus/interface.h"

#include "absl/strings/str_cat.h"
#include "ble/sim/dbus/object_tree.h"

namespace gattway::sim::dbus {

std::string MethodSpec::inSignature() const {
  std::string sig;
  for (const auto& a : in) sig += a.type;
  return sig;
}

int InterfaceSpec::method(absl::string_view wanted) const {
  for (std::size_t i = 0; i < methods.size(); ++i) {
    if (methods[i].name == wanted) return static_cast<int>(i);
  }
  return -1;
}

int InterfaceSpec::property(absl::string_view wanted) const {
  for (std::size_t i = 0; i < properties.size(); ++i) {
    if (properties[i].name == wanted) return static_cast<int>(i);
  }
  return -1;
}

std::string Call::sender() const {
  const char* s = message_ ? sd_bus_message_get_sender(message_.get()) : nullptr;
  return s != nullptr ? s : "";
}

std::string Call::path() const {
  const char* p = message_ ? sd_bus_message_get_path(message_.get()) : nullptr;
  return p != nullptr ? p : "";
}

Message Call::newReply() {
  if (!message_ || outbox_ == nullptr || outbox_->tree == nullptr) {
    message_.reset();
    return {};
  }
  sd_bus_message* r = nullptr;
  // Fails when the caller asked for no reply: then there is nothing to send.
  if (sd_bus_message_new_method_return(message_.get(), &r) < 0) {
    message_.reset();
    return {};
  }
  return Message::adopt(r);
}

void Call::finish(Message reply) {
  message_.reset();
  // Through the bus, which flushes the tree's queued signals first (gdbus order).
  if (outbox_ != nullptr && outbox_->tree != nullptr) outbox_->tree->bus().send(reply);
}

void Call::reply() {
  Message r = newReply();
  if (r) finish(std::move(r));
}

void Call::error(absl::string_view name, absl::string_view text) {
  if (!message_ || outbox_ == nullptr || outbox_->tree == nullptr) {
    message_.reset();
    return;
  }
  const std::string n(name), t(text);
  sd_bus_error e = SD_BUS_ERROR_MAKE_CONST(n.c_str(), t.c_str());
  sd_bus_message* r = nullptr;
  if (sd_bus_message_new_method_error(message_.get(), &r, &e) < 0) {
    message_.reset();
    return;
  }
  finish(Message::adopt(r));
}

void Call::errorWithoutMessage(absl::string_view name) {
  if (!message_ || outbox_ == nullptr || outbox_->tree == nullptr) {
    message_.reset();
    return;
  }
  const std::string n(name);
  sd_bus_error e = SD_BUS_ERROR_MAKE_CONST(n.c_str(), nullptr);
  sd_bus_message* r = nullptr;
  if (sd_bus_message_new_method_error(message_.get(), &r, &e) < 0) {
    message_.reset();
    return;
  }
  finish(Message::adopt(r));
}

Interface::~Interface() {
  if (tree_ != nullptr) tree_->remove(this);
}

bool Interface::has(int) const { return true; }

void Interface::set(int property, const Value&, Call call) {
  call.error("org.freedesktop.DBus.Error.PropertyReadOnly",
             absl::StrCat("Property '", spec_.properties[static_cast<std::size_t>(property)].name,
                          "' is not writable"));
}

void Interface::changed(int property, bool flush) {
  if (tree_ != nullptr) tree_->changed(this, property, flush);
}

}  // namespace gattway::sim::dbus
