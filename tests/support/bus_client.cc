#include "tests/support/bus_client.h"

#include <memory>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace gattway::testing {

Reply::Reply(Reply&& o) noexcept
    : errorName(std::move(o.errorName)), errorMessage(std::move(o.errorMessage)), message(o.message) {
  o.message = nullptr;
}

Reply& Reply::operator=(Reply&& o) noexcept {
  if (this != &o) {
    if (message != nullptr) sd_bus_message_unref(message);
    errorName = std::move(o.errorName);
    errorMessage = std::move(o.errorMessage);
    message = o.message;
    o.message = nullptr;
  }
  return *this;
}

Reply::~Reply() {
  if (message != nullptr) sd_bus_message_unref(message);
}

BusClient::BusClient(const std::string& address) {
  int r = sd_bus_new(&bus_);
  if (r >= 0) r = sd_bus_set_address(bus_, address.c_str());
  if (r >= 0) r = sd_bus_set_bus_client(bus_, 1);
  if (r >= 0) r = sd_bus_negotiate_fds(bus_, 1);
  if (r >= 0) r = sd_bus_start(bus_);
  if (r < 0) throw std::runtime_error("cannot connect to the test bus");
}

BusClient::~BusClient() {
  for (sd_bus_slot* s : slots_) sd_bus_slot_unref(s);
  sd_bus_flush_close_unref(bus_);
}

std::string BusClient::uniqueName() const {
  const char* u = nullptr;
  sd_bus_get_unique_name(bus_, &u);
  return u != nullptr ? u : "";
}

Reply BusClient::call(const std::string& dest, const std::string& path, const std::string& iface,
                      const std::string& member, const std::function<void(sd_bus_message*)>& append,
                      absl::Duration timeout) {
  sd_bus_message* m = nullptr;
  sd_bus_message_new_method_call(bus_, &m, dest.c_str(), path.c_str(), iface.c_str(), member.c_str());
  if (append) append(m);
  sd_bus_error error = SD_BUS_ERROR_NULL;
  Reply reply;
  const int r = sd_bus_call(bus_, m, static_cast<std::uint64_t>(absl::ToInt64Microseconds(timeout)),
                            &error, &reply.message);
  sd_bus_message_unref(m);
  if (r < 0) {
    reply.errorName = error.name != nullptr ? error.name : "sd-bus";
    reply.errorMessage = error.message != nullptr ? error.message : "";
  }
  sd_bus_error_free(&error);
  return reply;
}

void BusClient::callAsync(const std::string& dest, const std::string& path, const std::string& iface,
                          const std::string& member, const std::function<void(sd_bus_message*)>& append,
                          std::function<void(sd_bus_message*)> onReply) {
  sd_bus_message* m = nullptr;
  sd_bus_message_new_method_call(bus_, &m, dest.c_str(), path.c_str(), iface.c_str(), member.c_str());
  if (append) append(m);
  pending_.push_back(std::make_unique<Pending>(Pending{this, member, std::move(onReply)}));
  sd_bus_call_async(bus_, nullptr, m, &BusClient::onAsyncReply, pending_.back().get(), 30'000'000);
  sd_bus_message_unref(m);
}

int BusClient::onAsyncReply(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* p = static_cast<Pending*>(userdata);
  BusEvent e;
  const sd_bus_error* err = sd_bus_message_get_error(m);
  e.kind = err != nullptr ? BusEvent::kError : BusEvent::kReply;
  e.member = p->member;
  if (err != nullptr) {
    e.errorName = err->name != nullptr ? err->name : "";
    e.errorMessage = err->message != nullptr ? err->message : "";
  }
  p->self->events_.push_back(e);
  if (p->onReply) p->onReply(m);
  return 1;
}

void BusClient::watch(const std::string& rule) {
  sd_bus_slot* slot = nullptr;
  sd_bus_add_match(bus_, &slot, rule.c_str(), &BusClient::onSignal, this);
  slots_.push_back(slot);
}

int BusClient::onSignal(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* self = static_cast<BusClient*>(userdata);
  BusEvent e;
  e.kind = BusEvent::kSignal;
  e.path = sd_bus_message_get_path(m) ? sd_bus_message_get_path(m) : "";
  e.interface = sd_bus_message_get_interface(m) ? sd_bus_message_get_interface(m) : "";
  e.member = sd_bus_message_get_member(m) ? sd_bus_message_get_member(m) : "";
  e.sender = sd_bus_message_get_sender(m) ? sd_bus_message_get_sender(m) : "";
  if (e.member == "PropertiesChanged") {
    const char* iface = nullptr;
    sd_bus_message_read(m, "s", &iface);
    e.interface = iface != nullptr ? iface : "";
    sd_bus_message_enter_container(m, 'a', "{sv}");
    while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
      const char* key = nullptr;
      sd_bus_message_read(m, "s", &key);
      e.keys.push_back(key);
      e.values[key] = variantText(m);
      sd_bus_message_exit_container(m);
    }
    sd_bus_message_exit_container(m);
    sd_bus_message_enter_container(m, 'a', "s");
    const char* inv = nullptr;
    while (sd_bus_message_read(m, "s", &inv) > 0) e.invalidated.push_back(inv);
    sd_bus_message_exit_container(m);
  } else if (e.member == "InterfacesAdded") {
    const char* obj = nullptr;
    sd_bus_message_read(m, "o", &obj);
    e.object = obj != nullptr ? obj : "";
    sd_bus_message_enter_container(m, 'a', "{sa{sv}}");
    while (sd_bus_message_enter_container(m, 'e', "sa{sv}") > 0) {
      const char* name = nullptr;
      sd_bus_message_read(m, "s", &name);
      e.keys.push_back(name);
      sd_bus_message_skip(m, "a{sv}");
      sd_bus_message_exit_container(m);
    }
  } else if (e.member == "InterfacesRemoved") {
    const char* obj = nullptr;
    sd_bus_message_read(m, "o", &obj);
    e.object = obj != nullptr ? obj : "";
    sd_bus_message_enter_container(m, 'a', "s");
    const char* name = nullptr;
    while (sd_bus_message_read(m, "s", &name) > 0) e.keys.push_back(name);
  }
  self->events_.push_back(std::move(e));
  return 0;
}

bool BusClient::waitFor(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    const int r = sd_bus_process(bus_, nullptr);
    if (r < 0) return done();
    if (r > 0) continue;
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return done();
    sd_bus_wait(bus_, static_cast<std::uint64_t>(absl::ToInt64Microseconds(std::min(left, absl::Milliseconds(50)))));
  }
  return true;
}

void BusClient::pump(absl::Duration d) {
  waitFor([] { return false; }, d);
}

int BusClient::find(const std::function<bool(const BusEvent&)>& pred, int from) const {
  for (int i = std::max(from, 0); i < static_cast<int>(events_.size()); ++i) {
    if (pred(events_[static_cast<std::size_t>(i)])) return i;
  }
  return -1;
}

namespace {
Reply getProperty(BusClient& c, const std::string& path, const std::string& iface, const std::string& name) {
  return c.call("org.bluez", path, "org.freedesktop.DBus.Properties", "Get", [&](sd_bus_message* m) {
    sd_bus_message_append(m, "ss", iface.c_str(), name.c_str());
  });
}
}  // namespace

std::optional<bool> BusClient::getBool(const std::string& path, const std::string& iface,
                                       const std::string& name) {
  Reply r = getProperty(*this, path, iface, name);
  int v = 0;
  if (!r.ok() || sd_bus_message_read(r.message, "v", "b", &v) < 0) return std::nullopt;
  return v != 0;
}

std::optional<std::string> BusClient::getString(const std::string& path, const std::string& iface,
                                                const std::string& name) {
  Reply r = getProperty(*this, path, iface, name);
  const char* v = nullptr;
  if (!r.ok()) return std::nullopt;
  if (sd_bus_message_read(r.message, "v", "s", &v) < 0) {
    sd_bus_message_rewind(r.message, 1);
    if (sd_bus_message_read(r.message, "v", "o", &v) < 0) return std::nullopt;
  }
  return std::string(v);
}

std::optional<std::int64_t> BusClient::getInt(const std::string& path, const std::string& iface,
                                              const std::string& name) {
  Reply r = getProperty(*this, path, iface, name);
  if (!r.ok()) return std::nullopt;
  char type = 0;
  const char* contents = nullptr;
  sd_bus_message_peek_type(r.message, &type, &contents);
  sd_bus_message_enter_container(r.message, 'v', contents);
  std::int64_t out = 0;
  switch (contents[0]) {
    case 'y': { std::uint8_t x; sd_bus_message_read_basic(r.message, 'y', &x); out = x; break; }
    case 'n': { std::int16_t x; sd_bus_message_read_basic(r.message, 'n', &x); out = x; break; }
    case 'q': { std::uint16_t x; sd_bus_message_read_basic(r.message, 'q', &x); out = x; break; }
    case 'i': { std::int32_t x; sd_bus_message_read_basic(r.message, 'i', &x); out = x; break; }
    case 'u': { std::uint32_t x; sd_bus_message_read_basic(r.message, 'u', &x); out = x; break; }
    default: return std::nullopt;
  }
  return out;
}

std::map<std::string, std::vector<std::string>> BusClient::managedObjects() {
  std::map<std::string, std::vector<std::string>> out;
  Reply r = call("org.bluez", "/", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects");
  if (!r.ok()) return out;
  sd_bus_message* m = r.message;
  sd_bus_message_enter_container(m, 'a', "{oa{sa{sv}}}");
  while (sd_bus_message_enter_container(m, 'e', "oa{sa{sv}}") > 0) {
    const char* path = nullptr;
    sd_bus_message_read(m, "o", &path);
    auto& ifaces = out[path];
    sd_bus_message_enter_container(m, 'a', "{sa{sv}}");
    while (sd_bus_message_enter_container(m, 'e', "sa{sv}") > 0) {
      const char* name = nullptr;
      sd_bus_message_read(m, "s", &name);
      ifaces.push_back(name);
      sd_bus_message_skip(m, "a{sv}");
      sd_bus_message_exit_container(m);
    }
    sd_bus_message_exit_container(m);
    sd_bus_message_exit_container(m);
  }
  return out;
}

std::string variantText(sd_bus_message* m) {
  char type = 0;
  const char* contents = nullptr;
  if (sd_bus_message_peek_type(m, &type, &contents) <= 0 || type != 'v') return "?";
  sd_bus_message_enter_container(m, 'v', contents);
  std::string out;
  const std::string c = contents;
  if (c == "b") {
    int v = 0;
    sd_bus_message_read_basic(m, 'b', &v);
    out = v ? "true" : "false";
  } else if (c == "n") {
    std::int16_t v = 0;
    sd_bus_message_read_basic(m, 'n', &v);
    out = absl::StrCat(v);
  } else if (c == "q") {
    std::uint16_t v = 0;
    sd_bus_message_read_basic(m, 'q', &v);
    out = absl::StrCat(v);
  } else if (c == "y") {
    std::uint8_t v = 0;
    sd_bus_message_read_basic(m, 'y', &v);
    out = absl::StrCat(v);
  } else if (c == "s" || c == "o") {
    const char* v = nullptr;
    sd_bus_message_read_basic(m, c[0], &v);
    out = absl::StrCat("\"", v, "\"");
  } else if (c == "ay") {
    const void* p = nullptr;
    std::size_t n = 0;
    sd_bus_message_read_array(m, 'y', &p, &n);
    const auto* b = static_cast<const std::uint8_t*>(p);
    out = "[";
    for (std::size_t i = 0; i < n; ++i) absl::StrAppend(&out, i ? " " : "", absl::StrFormat("%02x", b[i]));
    out += "]";
  } else {
    sd_bus_message_skip(m, contents);
    out = absl::StrCat("<", c, ">");
  }
  sd_bus_message_exit_container(m);
  return out;
}

}  // namespace gattway::testing
