// adapters, scan, devices, connect, disconnect, read, write, subscribe, sessions.
#include <set>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cmd/gattway/commands.h"
#include "cmd/gattway/flags.h"
#include "cmd/gattway/sig_values.h"
#include "cmd/gattway/table.h"
#include "cmd/gattway/views.h"
#include "gattway/v1/adapter.grpc.pb.h"
#include "gattway/v1/gatt.grpc.pb.h"
#include "gattway/v1/scan.grpc.pb.h"
#include "gattway/v1/session.grpc.pb.h"

namespace gattway::cli {
namespace {

using namespace gattway::v1;  // NOLINT: the API's message names read best unqualified here

std::string rssiText(const ScanResult& r) { return r.has_rssi() ? absl::StrCat(r.rssi()) : ""; }

std::vector<std::string> deviceRow(const ScanResult& r) {
  return {r.address(), rssiText(r), r.name(), absl::StrJoin(r.service_uuids(), ","),
          r.connected() ? "yes" : "no", r.adapter()};
}

ScanFilter filterFromFlags() {
  ScanFilter f;
  if (!absl::GetFlag(FLAGS_service).empty()) f.add_service_uuids(absl::GetFlag(FLAGS_service));
  f.set_name_prefix(absl::GetFlag(FLAGS_name_prefix));
  return f;
}

int needArgs(const Args& args, size_t n, const char* usage) {
  return checkArgs(args, n, n, usage);
}

}  // namespace

int checkArgs(const Args& args, size_t min, size_t max, const std::string& usage) {
  if (args.size() >= min && args.size() <= max) return kExitOk;
  return usageError(absl::StrCat(args.size() < min ? "missing arguments" : "too many arguments",
                                 "; usage: gattway ", usage));
}

int cmdAdapters(Client& client, const Args& args) {
  if (int rc = needArgs(args, 0, "adapters")) return rc;
  ListAdaptersResponse reply;
  auto ctx = client.unaryContext();
  auto status = AdapterService::NewStub(client.channel())->ListAdapters(ctx.get(), {}, &reply);
  if (!status.ok()) return finish(client, status);
  if (client.json()) {
    outJson(reply);
    return kExitOk;
  }
  Table t({"NAME", "ADDRESS", "POWERED", "DISCOVERING", "SLOTS", "ADVERTISING"});
  for (const auto& a : reply.adapters()) {
    t.addRow({a.name(), a.address(), a.powered() ? "yes" : "no", a.discovering() ? "yes" : "no",
              absl::StrCat(a.connection_slots_in_use(), "/", a.connection_slot_limit()),
              absl::StrCat(a.advertising_instances_active(), "/",
                           a.advertising_instances_supported())});
  }
  out(t.render());
  return kExitOk;
}

int cmdScan(Client& client, const Args& args) {
  if (int rc = needArgs(args, 0, "scan [--duration=10s] [--service=UUID] [--name_prefix=P]"))
    return rc;
  auto duration = durationFlag(absl::GetFlag(FLAGS_duration), absl::Seconds(10));
  if (!duration.ok()) return usageError(std::string(duration.status().message()));
  ScanRequest request;
  request.set_adapter(absl::GetFlag(FLAGS_adapter));
  *request.mutable_filter() = filterFromFlags();
  request.set_mode(absl::GetFlag(FLAGS_all) ? SCAN_MODE_ALL : SCAN_MODE_CHANGES);
  request.set_include_known(absl::GetFlag(FLAGS_include_known));
  const int64_t ms = absl::ToInt64Milliseconds(*duration);
  request.mutable_duration()->set_seconds(ms / 1000);
  request.mutable_duration()->set_nanos(static_cast<int32_t>((ms % 1000) * 1000000));
  const int count = absl::GetFlag(FLAGS_count);

  auto ctx = client.streamContext();
  auto reader = ScanService::NewStub(client.channel())->Scan(ctx.get(), request);
  StreamTable table({{"ADDRESS", 17}, {"RSSI", 4}, {"NAME", 16}, {"SERVICES", 24},
                     {"CONNECTED", 9}, {"ADAPTER", 7}});
  if (!client.json()) out(table.header());
  std::set<std::string> seen;
  bool enough = false;
  ScanResponse message;
  while (!enough && reader->Read(&message)) {
    if (client.json()) outJson(message);
    if (message.has_gap() && !client.json()) {
      out(absl::StrCat("# ", message.gap().dropped(), " results dropped (reading too slowly)\n"));
    }
    for (const auto& r : message.results()) {
      if (!client.json()) out(table.row(deviceRow(r)));
      seen.insert(r.address());
      if (count > 0 && seen.size() >= static_cast<size_t>(count)) enough = true;
    }
  }
  if (enough) {
    return stopStream(*ctx, *reader);
  }
  return finish(client, reader->Finish(), true);
}

int cmdDevices(Client& client, const Args& args) {
  if (int rc = needArgs(args, 0, "devices [--service=UUID] [--name_prefix=P]")) return rc;
  ListDevicesRequest request;
  request.set_adapter(absl::GetFlag(FLAGS_adapter));
  *request.mutable_filter() = filterFromFlags();
  ListDevicesResponse reply;
  auto ctx = client.unaryContext();
  auto status = ScanService::NewStub(client.channel())->ListDevices(ctx.get(), request, &reply);
  if (!status.ok()) return finish(client, status);
  if (client.json()) {
    outJson(reply);
    return kExitOk;
  }
  Table t({"ADDRESS", "RSSI", "NAME", "SERVICES", "CONNECTED", "ADAPTER"});
  for (const auto& d : reply.devices()) t.addRow(deviceRow(d));
  out(t.render());
  return kExitOk;
}

int cmdConnect(Client& client, const Args& args) {
  if (int rc = needArgs(args, 1, "connect ADDRESS [--persistent] [--policy=NAME] [--no_wait]"))
    return rc;
  ConnectRequest request;
  request.set_address(args[0]);
  request.set_adapter(absl::GetFlag(FLAGS_adapter));
  request.set_persistent(absl::GetFlag(FLAGS_persistent));
  request.set_policy(absl::GetFlag(FLAGS_policy));
  request.set_no_wait(absl::GetFlag(FLAGS_no_wait));
  ConnectResponse reply;
  auto ctx = client.unaryContext();
  auto status = SessionService::NewStub(client.channel())->Connect(ctx.get(), request, &reply);
  if (!status.ok()) return finish(client, status);
  if (client.json()) {
    outJson(reply);
    return kExitOk;
  }
  Table t(sessionColumns());
  t.addRow(sessionRow(reply.session()));
  out(t.render());
  return kExitOk;
}

int cmdDisconnect(Client& client, const Args& args) {
  if (int rc = needArgs(args, 1, "disconnect ADDRESS")) return rc;
  DisconnectRequest request;
  request.set_address(args[0]);
  DisconnectResponse reply;
  auto ctx = client.unaryContext();
  auto status = SessionService::NewStub(client.channel())->Disconnect(ctx.get(), request, &reply);
  if (!status.ok()) return finish(client, status);
  if (client.json()) {
    outJson(reply);
  } else {
    out(absl::StrCat("disconnected ", reply.session().address(), "\n"));
  }
  return kExitOk;
}

int cmdRead(Client& client, const Args& args) {
  if (int rc = needArgs(args, 2, "read ADDRESS CHARACTERISTIC [--service=UUID] [--descriptor=UUID]"))
    return rc;
  ReadRequest request;
  request.set_address(args[0]);
  *request.mutable_attribute() = attributeFromFlags(args[1], true);
  ReadResponse reply;
  auto ctx = client.unaryContext();
  auto status = GattService::NewStub(client.channel())->Read(ctx.get(), request, &reply);
  if (!status.ok()) return finish(client, status);
  if (client.json()) {
    outJson(reply);
    return kExitOk;
  }
  const auto& ref = request.attribute();
  std::string what = shortUuid(ref.descriptor_uuid().empty() ? ref.characteristic_uuid()
                                                             : ref.descriptor_uuid());
  if (auto name = characteristicName(what); !name.empty() && ref.descriptor_uuid().empty()) {
    absl::StrAppend(&what, " (", name, ")");
  }
  Table t({"ATTRIBUTE", "HANDLE", "HEX", "VALUE"});
  t.addRow({what, absl::StrFormat("0x%04x", reply.handle()), toHex(reply.value()),
            decoded(ref, reply.value())});
  out(t.render());
  return kExitOk;
}

int cmdWrite(Client& client, const Args& args) {
  if (int rc = needArgs(args, 3, "write ADDRESS CHARACTERISTIC HEX [--mode=auto|with_response|"
                                 "without_response|reliable]"))
    return rc;
  auto value = parseHex(args[2]);
  if (!value.ok()) return usageError(std::string(value.status().message()));
  const std::string mode = absl::AsciiStrToLower(absl::GetFlag(FLAGS_mode));
  WriteMode m;
  if (mode.empty() || mode == "auto") {
    m = WRITE_MODE_AUTO;
  } else if (mode == "with_response") {
    m = WRITE_MODE_WITH_RESPONSE;
  } else if (mode == "without_response") {
    m = WRITE_MODE_WITHOUT_RESPONSE;
  } else if (mode == "reliable") {
    m = WRITE_MODE_RELIABLE;
  } else {
    return usageError(absl::StrCat("--mode=", mode,
                                   ": expected auto, with_response, without_response or reliable"));
  }
  WriteRequest request;
  request.set_address(args[0]);
  *request.mutable_attribute() = attributeFromFlags(args[1], true);
  request.set_value(*value);
  request.set_mode(m);
  WriteResponse reply;
  auto ctx = client.unaryContext();
  auto status = GattService::NewStub(client.channel())->Write(ctx.get(), request, &reply);
  if (!status.ok()) return finish(client, status);
  if (client.json()) {
    outJson(reply);
  } else {
    out(absl::StrFormat("wrote %d bytes to handle 0x%04x (%s)\n", value->size(), reply.handle(),
                        absl::AsciiStrToLower(withoutPrefix(WriteMode_Name(reply.mode()),
                                                            "WRITE_MODE_"))));
  }
  return kExitOk;
}

int cmdSubscribe(Client& client, const Args& args) {
  if (int rc = needArgs(args, 2, "subscribe ADDRESS CHARACTERISTIC [--count=N] [--duration=D] "
                                 "[--mode=auto|notify|indicate]"))
    return rc;
  auto duration = durationFlag(absl::GetFlag(FLAGS_duration), absl::ZeroDuration());
  if (!duration.ok()) return usageError(std::string(duration.status().message()));
  const std::string mode = absl::AsciiStrToLower(absl::GetFlag(FLAGS_mode));
  SubscribeRequest request;
  if (mode.empty() || mode == "auto") {
    request.set_mode(SUBSCRIBE_MODE_AUTO);
  } else if (mode == "notify") {
    request.set_mode(SUBSCRIBE_MODE_NOTIFY);
  } else if (mode == "indicate") {
    request.set_mode(SUBSCRIBE_MODE_INDICATE);
  } else {
    return usageError(absl::StrCat("--mode=", mode, ": expected auto, notify or indicate"));
  }
  request.set_address(args[0]);
  *request.mutable_characteristic() = attributeFromFlags(args[1], false);
  const int count = absl::GetFlag(FLAGS_count);

  auto ctx = client.streamContext(*duration);
  auto reader = GattService::NewStub(client.channel())->Subscribe(ctx.get(), request);
  StreamTable table({{"TIME", 12}, {"SEQ", 5}, {"HEX", 20}, {"VALUE", 12}});
  if (!client.json()) out(table.header());
  int values = 0;
  SubscribeResponse message;
  while (reader->Read(&message)) {
    if (client.json()) {
      outJson(message);
    } else {
      if (message.has_gap()) {
        out(absl::StrCat("# ", message.gap().dropped(), " values dropped (reading too slowly)\n"));
      }
      if (message.has_event()) {
        const auto& e = message.event();
        std::string text = absl::AsciiStrToLower(
            withoutPrefix(SubscriptionEventType_Name(e.type()), "SUBSCRIPTION_EVENT_TYPE_"));
        if (!e.method().empty()) absl::StrAppend(&text, " (", e.method(), ")");
        if (!e.reason().empty()) absl::StrAppend(&text, ": ", e.reason());
        if (e.has_interruption()) absl::StrAppend(&text, " after ", durationText(e.interruption()));
        out(absl::StrCat("# ", clockTime(e.time()), " subscription ", text, "\n"));
      }
      for (const auto& n : message.notifications()) {
        out(table.row({clockTime(n.time()), absl::StrCat(n.sequence()), toHex(n.value()),
                       decoded(request.characteristic(), n.value())}));
      }
    }
    values += message.notifications_size();
    if (count > 0 && values >= count) {
      return stopStream(*ctx, *reader);
    }
  }
  return finish(client, reader->Finish(), true);
}

int cmdSessions(Client& client, const Args& args) {
  if (int rc = needArgs(args, 0, "sessions [--once] [--count=N] [--duration=D]")) return rc;
  auto stub = SessionService::NewStub(client.channel());
  if (absl::GetFlag(FLAGS_once)) {
    ListSessionsResponse reply;
    auto ctx = client.unaryContext();
    auto status = stub->ListSessions(ctx.get(), {}, &reply);
    if (!status.ok()) return finish(client, status);
    if (client.json()) {
      outJson(reply);
      return kExitOk;
    }
    Table t(sessionColumns());
    for (const auto& s : reply.sessions()) t.addRow(sessionRow(s));
    out(t.render());
    return kExitOk;
  }
  auto duration = durationFlag(absl::GetFlag(FLAGS_duration), absl::ZeroDuration());
  if (!duration.ok()) return usageError(std::string(duration.status().message()));
  const int count = absl::GetFlag(FLAGS_count);
  WatchSessionsRequest request;
  request.set_include_initial(true);
  auto ctx = client.streamContext(*duration);
  auto reader = stub->WatchSessions(ctx.get(), request);
  // Live: the current sessions first, then one row per change, with the state it left.
  StreamTable table({{"TIME", 12}, {"ADDRESS", 17}, {"STATE", 18}, {"FROM", 18}, {"KIND", 10},
                     {"ADAPTER", 7}, {"NAME", 12}, {"POLICY", 8}, {"KEPT", 4}, {"REASON", 10}});
  if (!client.json()) out(table.header());
  int changes = 0;
  WatchSessionsResponse message;
  while (reader->Read(&message)) {
    if (client.json()) {
      outJson(message);
    } else {
      if (message.has_gap()) out(absl::StrCat("# ", message.gap().dropped(), " events dropped\n"));
      auto row = sessionRow(message.session());
      std::string from = message.initial() ? "(current)" : "";
      if (message.previous_state() != SESSION_STATE_UNSPECIFIED) {
        from = withoutPrefix(SessionState_Name(message.previous_state()), "SESSION_STATE_");
      }
      row.insert(row.begin() + 2, from);
      row.insert(row.begin(), clockTime(message.session().state_time()));
      out(table.row(row));
    }
    if (!message.initial() && count > 0 && ++changes >= count) {
      return stopStream(*ctx, *reader);
    }
  }
  return finish(client, reader->Finish(), true);
}

}  // namespace gattway::cli
