// peripheral register | unregister | show | advertise | stop-advertising | set-value | get-value |
// notify | writes | watch.
#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cmd/gattway/commands.h"
#include "cmd/gattway/flags.h"
#include "cmd/gattway/message_file.h"
#include "cmd/gattway/sig_values.h"
#include "cmd/gattway/table.h"
#include "cmd/gattway/views.h"
#include "gattway/v1/peripheral.grpc.pb.h"

namespace gattway::cli {
namespace {

using namespace gattway::v1;  // NOLINT

constexpr const char* kUsage =
    "peripheral register FILE | unregister | show | advertise [--name=N] [--service=UUID] "
    "[--id=ID] | stop-advertising [--id=ID] | set-value CHARACTERISTIC HEX [--notify] | get-value "
    "CHARACTERISTIC [--clear] | notify CHARACTERISTIC [HEX] [--central=ADDRESS] | writes | watch";

int needArgs(const Args& args, size_t min, size_t max, const std::string& usage) {
  return checkArgs(args, min, max, "peripheral " + usage);
}

std::string refText(const AttributeRef& r) {
  std::string s = r.service_uuid().empty() ? r.characteristic_uuid()
                                           : absl::StrCat(r.service_uuid(), "/", r.characteristic_uuid());
  if (!r.descriptor_uuid().empty()) absl::StrAppend(&s, "/", r.descriptor_uuid());
  return s;
}

template <typename Response, typename Call>
int unary(Client& client, Call call, const std::function<void(const Response&)>& print) {
  Response reply;
  auto ctx = client.unaryContext();
  auto stub = PeripheralService::NewStub(client.channel());
  grpc::Status status = call(*stub, ctx.get(), &reply);
  if (!status.ok()) return finish(client, status);
  if (client.json()) {
    outJson(reply);
  } else {
    print(reply);
  }
  return kExitOk;
}

int streamFor(absl::Duration* limit, int* count) {
  auto d = durationFlag(absl::GetFlag(FLAGS_duration), absl::ZeroDuration());
  if (!d.ok()) return usageError(std::string(d.status().message()));
  *limit = *d;
  *count = absl::GetFlag(FLAGS_count);
  return kExitOk;
}

int streamWrites(Client& client) {
  absl::Duration limit;
  int count = 0;
  if (int rc = streamFor(&limit, &count)) return rc;
  auto ctx = client.streamContext(limit);
  auto reader = PeripheralService::NewStub(client.channel())->StreamWrites(ctx.get(), {});
  StreamTable table({{"TIME", 12}, {"SEQ", 4}, {"CHARACTERISTIC", 14}, {"CENTRAL", 17},
                     {"HEX", 20}, {"VALUE", 10}});
  if (!client.json()) out(table.header());
  int seen = 0;
  StreamWritesResponse message;
  while (reader->Read(&message)) {
    if (client.json()) outJson(message);
    if (!client.json() && message.has_gap()) {
      out(absl::StrCat("# ", message.gap().dropped(), " writes dropped\n"));
    }
    for (const auto& w : message.writes()) {
      if (!client.json()) {
        out(table.row({clockTime(w.time()), absl::StrCat(w.sequence()), refText(w.characteristic()),
                       w.central(), toHex(w.value()), decoded(w.characteristic(), w.value())}));
      }
      ++seen;
    }
    if (count > 0 && seen >= count) {
      return stopStream(*ctx, *reader);
    }
  }
  return finish(client, reader->Finish(), true);
}

int watch(Client& client) {
  absl::Duration limit;
  int count = 0;
  if (int rc = streamFor(&limit, &count)) return rc;
  auto ctx = client.streamContext(limit);
  auto reader = PeripheralService::NewStub(client.channel())->WatchPeripheral(ctx.get(), {});
  StreamTable table({{"TIME", 12}, {"EVENT", 20}, {"CENTRAL", 17}, {"CHARACTERISTIC", 14},
                     {"DETAIL", 10}});
  if (!client.json()) out(table.header());
  int seen = 0;
  WatchPeripheralResponse e;
  while (reader->Read(&e)) {
    if (client.json()) {
      outJson(e);
    } else {
      std::string detail = e.detail();
      if (e.mtu()) detail = absl::StrCat("mtu ", e.mtu(), detail.empty() ? "" : "; ", detail);
      if (!e.advertisement_id().empty()) {
        detail = absl::StrCat("advertisement ", e.advertisement_id(), detail.empty() ? "" : "; ",
                              detail);
      }
      out(table.row({clockTime(e.time()),
                     absl::AsciiStrToLower(withoutPrefix(PeripheralEventType_Name(e.type()),
                                                         "PERIPHERAL_EVENT_TYPE_")),
                     e.central(), e.has_characteristic() ? refText(e.characteristic()) : "",
                     detail}));
    }
    if (count > 0 && ++seen >= count) {
      return stopStream(*ctx, *reader);
    }
  }
  return finish(client, reader->Finish(), true);
}

}  // namespace

int cmdPeripheral(Client& client, const Args& all) {
  if (all.empty()) return usageError(absl::StrCat("usage: gattway ", kUsage));
  const std::string verb = all[0];
  const Args args(all.begin() + 1, all.end());
  using Stub = PeripheralService::Stub;

  if (verb == "register") {
    if (int rc = needArgs(args, 1, 1, "register FILE (YAML or JSON RegisterServicesRequest)"))
      return rc;
    RegisterServicesRequest request;
    if (auto read = readMessageFile(args[0], &request); !read.ok()) {
      return usageError(std::string(read.message()));
    }
    if (!absl::GetFlag(FLAGS_adapter).empty()) request.set_adapter(absl::GetFlag(FLAGS_adapter));
    return unary<RegisterServicesResponse>(
        client,
        [&](Stub& s, grpc::ClientContext* c, RegisterServicesResponse* r) {
          return s.RegisterServices(c, request, r);
        },
        [](const RegisterServicesResponse& r) {
          out(absl::StrCat("registered on ", r.adapter(), "\n"));
          Table t({"SERVICE", "CHARACTERISTIC", "DESCRIPTOR", "INSTANCE", "OBJECT PATH"});
          for (const auto& a : r.attributes()) {
            t.addRow({a.service_uuid(), a.characteristic_uuid(), a.descriptor_uuid(),
                      absl::StrCat(a.instance()), a.object_path()});
          }
          out(t.render());
        });
  }
  if (verb == "unregister") {
    if (int rc = needArgs(args, 0, 0, "unregister")) return rc;
    return unary<UnregisterServicesResponse>(
        client,
        [](Stub& s, grpc::ClientContext* c, UnregisterServicesResponse* r) {
          return s.UnregisterServices(c, {}, r);
        },
        [](const UnregisterServicesResponse&) { out("unregistered the hosted database\n"); });
  }
  if (verb == "show") {
    if (int rc = needArgs(args, 0, 0, "show")) return rc;
    return unary<GetPeripheralResponse>(
        client,
        [](Stub& s, grpc::ClientContext* c, GetPeripheralResponse* r) {
          return s.GetPeripheral(c, {}, r);
        },
        [](const GetPeripheralResponse& r) {
          out(absl::StrCat("adapter: ", r.adapter().empty() ? "(no database)" : r.adapter(),
                           "\nadvertising: ", absl::StrJoin(r.advertisement_ids(), ", "), "\n"));
          Table t({"SERVICE", "CHARACTERISTIC", "HEX", "VALUE"});
          for (const auto& s : r.services()) {
            for (const auto& c : s.characteristics()) {
              t.addRow({s.uuid(), c.uuid(), toHex(c.initial_value()),
                        decodeValue(c.uuid(), c.initial_value()).value_or("")});
            }
          }
          out(t.render());
          Table centrals({"CENTRAL", "MTU"});
          for (const auto& c : r.centrals()) centrals.addRow({c.address(), absl::StrCat(c.mtu())});
          if (centrals.rows()) out(centrals.render());
        });
  }
  if (verb == "advertise") {
    if (int rc = needArgs(args, 0, 0, "advertise [--name=N] [--service=UUID] [--id=ID]")) return rc;
    StartAdvertisingRequest request;
    request.set_adapter(absl::GetFlag(FLAGS_adapter));
    request.set_id(absl::GetFlag(FLAGS_id));
    request.set_local_name(absl::GetFlag(FLAGS_name));
    if (!absl::GetFlag(FLAGS_service).empty()) request.add_service_uuids(absl::GetFlag(FLAGS_service));
    return unary<StartAdvertisingResponse>(
        client,
        [&](Stub& s, grpc::ClientContext* c, StartAdvertisingResponse* r) {
          return s.StartAdvertising(c, request, r);
        },
        [](const StartAdvertisingResponse& r) {
          out(absl::StrCat("advertising ", r.id(), " on ", r.adapter(), "\n"));
        });
  }
  if (verb == "stop-advertising") {
    if (int rc = needArgs(args, 0, 0, "stop-advertising [--id=ID]")) return rc;
    StopAdvertisingRequest request;
    request.set_id(absl::GetFlag(FLAGS_id));
    return unary<StopAdvertisingResponse>(
        client,
        [&](Stub& s, grpc::ClientContext* c, StopAdvertisingResponse* r) {
          return s.StopAdvertising(c, request, r);
        },
        [](const StopAdvertisingResponse& r) {
          out(absl::StrCat("stopped ", r.ids_size() ? absl::StrJoin(r.ids(), ", ") : "nothing",
                           "\n"));
        });
  }
  if (verb == "set-value" || verb == "notify") {
    const bool toCentral = verb == "notify" && !absl::GetFlag(FLAGS_central).empty();
    const size_t min = toCentral ? 1 : 2;
    if (int rc = needArgs(args, min, 2, verb == "notify"
                                            ? "notify CHARACTERISTIC HEX | notify CHARACTERISTIC "
                                              "[HEX] --central=ADDRESS"
                                            : "set-value CHARACTERISTIC HEX [--notify]"))
      return rc;
    std::string value;
    if (args.size() == 2) {
      auto parsed = parseHex(args[1]);
      if (!parsed.ok()) return usageError(std::string(parsed.status().message()));
      value = *parsed;
    }
    const AttributeRef ref = attributeFromFlags(args[0], false);
    if (toCentral) {
      NotifyRequest request;
      *request.mutable_characteristic() = ref;
      request.set_central(absl::GetFlag(FLAGS_central));
      request.set_value(value);
      return unary<NotifyResponse>(
          client,
          [&](Stub& s, grpc::ClientContext* c, NotifyResponse* r) { return s.Notify(c, request, r); },
          [&](const NotifyResponse&) {
            out(absl::StrCat("notified ", request.central(), "\n"));
          });
    }
    // `notify` without a central, and `set-value --notify`: store and send to every subscriber.
    SetValueRequest request;
    *request.mutable_characteristic() = ref;
    request.set_value(value);
    request.set_send_update(verb == "notify" || absl::GetFlag(FLAGS_notify));
    return unary<SetValueResponse>(
        client,
        [&](Stub& s, grpc::ClientContext* c, SetValueResponse* r) { return s.SetValue(c, request, r); },
        [&](const SetValueResponse& r) {
          std::string line = absl::StrCat("set ", refText(ref), " = ", toHex(value));
          if (auto d = decodeValue(ref.characteristic_uuid(), value)) absl::StrAppend(&line, " (", *d, ")");
          if (request.send_update()) absl::StrAppend(&line, "; notified ", r.centrals_updated(),
                                                     " central(s)");
          out(line + "\n");
        });
  }
  if (verb == "get-value") {
    if (int rc = needArgs(args, 1, 1, "get-value CHARACTERISTIC [--clear]")) return rc;
    GetValueRequest request;
    *request.mutable_characteristic() = attributeFromFlags(args[0], false);
    request.set_clear(absl::GetFlag(FLAGS_clear));
    return unary<GetValueResponse>(
        client,
        [&](Stub& s, grpc::ClientContext* c, GetValueResponse* r) { return s.GetValue(c, request, r); },
        [&](const GetValueResponse& r) {
          Table t({"CHARACTERISTIC", "HEX", "VALUE"});
          t.addRow({refText(request.characteristic()), toHex(r.value()),
                    decoded(request.characteristic(), r.value())});
          out(t.render());
        });
  }
  if (verb == "writes") {
    if (int rc = needArgs(args, 0, 0, "writes [--count=N] [--duration=D]")) return rc;
    return streamWrites(client);
  }
  if (verb == "watch") {
    if (int rc = needArgs(args, 0, 0, "watch [--count=N] [--duration=D]")) return rc;
    return watch(client);
  }
  return usageError(absl::StrCat("unknown peripheral command \"", verb, "\"; usage: gattway ", kUsage));
}

}  // namespace gattway::cli
