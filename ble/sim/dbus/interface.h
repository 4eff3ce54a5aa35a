// One D-Bus interface on one object of the simulated BlueZ: its description (for introspection and
// signature checks), its properties and its methods. Implementations (Adapter1, Device1, ...) keep
// their own state; the ObjectTree serves them on the bus. Loop thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "ble/sim/dbus/message.h"

namespace gattway::sim::dbus {

class ObjectTree;

struct Arg {
  std::string name;
  std::string type;
};

struct MethodSpec {
  std::string name;
  std::vector<Arg> in;
  std::vector<Arg> out;
  bool experimental = false;  // only with bluetoothd -E (bluez-5.66-api.md §0)
  std::string inSignature() const;
};

struct PropertySpec {
  std::string name;
  std::string type;
  bool writable = false;
  bool experimental = false;
};

struct SignalSpec {
  std::string name;
  std::vector<Arg> args;
};

struct InterfaceSpec {
  std::string name;
  std::vector<MethodSpec> methods;
  std::vector<PropertySpec> properties;
  std::vector<SignalSpec> signals;

  int method(absl::string_view wanted) const;    // -1 when unknown
  int property(absl::string_view wanted) const;  // -1 when unknown
};

// Shared by the tree and the calls it hands out, so that a call answered after its tree is gone
// (bluetoothd "restarted") is dropped instead of touching freed memory.
struct Outbox {
  ObjectTree* tree = nullptr;
};

// An incoming method call, answered once: now or later (BlueZ's delayed replies). Move-only. A
// call dropped without an answer leaves the caller waiting, as bluetoothd sometimes does.
class Call {
 public:
  Call() = default;
  Call(std::shared_ptr<Outbox> outbox, Message message)
      : outbox_(std::move(outbox)), message_(std::move(message)) {}
  Call(Call&&) = default;
  Call& operator=(Call&&) = default;

  explicit operator bool() const { return static_cast<bool>(message_); }
  sd_bus_message* message() const { return message_.get(); }
  // Reads the arguments (once, in order).
  Reader args() const { return Reader(message_.get()); }
  std::string sender() const;
  std::string path() const;

  // Each of these answers the call and empties it.
  void reply();
  template <typename F>
  void reply(F&& body) {
    Message r = newReply();
    if (!r) return;
    Writer w(r.get());
    body(w);
    finish(std::move(r));
  }
  void error(absl::string_view name, absl::string_view text);
  // Errors without a message (org.bluez.Error.Busy is sent that way).
  void errorWithoutMessage(absl::string_view name);

 private:
  Message newReply();
  void finish(Message reply);
  std::shared_ptr<Outbox> outbox_;
  Message message_;
};

class Interface {
 public:
  explicit Interface(const InterfaceSpec& spec) : spec_(spec) {}
  virtual ~Interface();
  Interface(const Interface&) = delete;
  Interface& operator=(const Interface&) = delete;

  const InterfaceSpec& spec() const { return spec_; }
  // The object path it is served at ("" until added to a tree).
  const std::string& path() const { return path_; }
  ObjectTree* tree() const { return tree_; }

  // Whether `property` exists now: BlueZ leaves absent optional properties out of GetAll and
  // InterfacesAdded, and lists them as invalidated when they stop existing.
  virtual bool has(int property) const;
  // Writes `property`'s value (the variant's content).
  virtual void get(int property, Writer& out) const = 0;
  // Properties.Set with the variant's content; the type is already checked. Default: read-only.
  virtual void set(int property, const Value& value, Call call);
  // A method call whose signature matched spec().methods[method].
  virtual void invoke(int method, Call call) = 0;

  // Queues PropertiesChanged for `property` (see ObjectTree::changed).
  void changed(int property, bool flush = false);

 private:
  friend class ObjectTree;
  const InterfaceSpec& spec_;
  std::string path_;
  ObjectTree* tree_ = nullptr;
};

}  // namespace gattway::sim::dbus
