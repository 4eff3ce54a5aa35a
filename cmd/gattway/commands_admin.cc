// metrics and policy.
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "cmd/gattway/commands.h"
#include "cmd/gattway/flags.h"
#include "cmd/gattway/message_file.h"
#include "cmd/gattway/table.h"
#include "cmd/gattway/views.h"
#include "gattway/v1/metrics.grpc.pb.h"
#include "gattway/v1/session.grpc.pb.h"
#include "google/protobuf/util/json_util.h"

namespace gattway::cli {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using namespace gattway::v1;  // NOLINT

std::string histogramText(const Histogram& h) {
  return absl::StrFormat("count=%d sum=%g", h.count(), h.sum());
}

std::string scalarText(const Message& m, const FieldDescriptor* f) {
  const auto* r = m.GetReflection();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_BOOL: return r->GetBool(m, f) ? "true" : "false";
    case FieldDescriptor::CPPTYPE_INT32: return absl::StrCat(r->GetInt32(m, f));
    case FieldDescriptor::CPPTYPE_INT64: return absl::StrCat(r->GetInt64(m, f));
    case FieldDescriptor::CPPTYPE_UINT32: return absl::StrCat(r->GetUInt32(m, f));
    case FieldDescriptor::CPPTYPE_UINT64: return absl::StrCat(r->GetUInt64(m, f));
    case FieldDescriptor::CPPTYPE_DOUBLE: return absl::StrFormat("%g", r->GetDouble(m, f));
    case FieldDescriptor::CPPTYPE_FLOAT: return absl::StrFormat("%g", r->GetFloat(m, f));
    case FieldDescriptor::CPPTYPE_STRING: return r->GetString(m, f);
    case FieldDescriptor::CPPTYPE_ENUM: return r->GetEnum(m, f)->name();
    default: return "";
  }
}

// "{kind=read,code=OK}" from a LabeledCount's or LabeledHistogram's labels (sorted by key).
std::string labelsText(const google::protobuf::Map<std::string, std::string>& labels) {
  std::map<std::string, std::string> sorted(labels.begin(), labels.end());
  return absl::StrCat("{", absl::StrJoin(sorted, ",", absl::PairFormatter("=")), "}");
}

// One row per figure, named by its path in GetMetricsResponse ("scan.results_received").
void metricRows(const Message& m, const std::string& prefix, Table* t) {
  const auto* d = m.GetDescriptor();
  const auto* r = m.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const std::string name = prefix + f->name();
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
      t->addRow({name, scalarText(m, f)});
      continue;
    }
    if (!f->is_repeated()) {
      const Message& sub = r->GetMessage(m, f);
      if (const auto* ts = dynamic_cast<const google::protobuf::Timestamp*>(&sub)) {
        t->addRow({name, absl::FormatTime(absl::FromUnixSeconds(ts->seconds()))});
      } else if (const auto* du = dynamic_cast<const google::protobuf::Duration*>(&sub)) {
        t->addRow({name, durationText(*du)});
      } else if (const auto* h = dynamic_cast<const Histogram*>(&sub)) {
        t->addRow({name, histogramText(*h)});
      } else {
        metricRows(sub, name + ".", t);
      }
      continue;
    }
    for (int k = 0; k < r->FieldSize(m, f); ++k) {
      const Message& item = r->GetRepeatedMessage(m, f, k);
      if (const auto* c = dynamic_cast<const LabeledCount*>(&item)) {
        t->addRow({name + labelsText(c->labels()), absl::StrCat(c->value())});
      } else if (const auto* lh = dynamic_cast<const LabeledHistogram*>(&item)) {
        t->addRow({name + labelsText(lh->labels()), histogramText(lh->histogram())});
      } else if (const auto* a = dynamic_cast<const AdapterSlots*>(&item)) {
        metricRows(*a, absl::StrCat(name, "{adapter=", a->adapter(), "}."), t);
      } else {
        metricRows(item, absl::StrCat(name, "[", k, "]."), t);
      }
    }
  }
}

int needArgs(const Args& args, size_t n, const std::string& usage) {
  return checkArgs(args, n, n, usage);
}

std::string selectorText(const DeviceSelector& s) {
  std::vector<std::string> parts;
  if (s.addresses_size()) parts.push_back(absl::StrCat("addresses=", absl::StrJoin(s.addresses(), ",")));
  if (!s.name_prefix().empty()) parts.push_back(absl::StrCat("name_prefix=", s.name_prefix()));
  if (s.service_uuids_size()) {
    parts.push_back(absl::StrCat("services=", absl::StrJoin(s.service_uuids(), ",")));
  }
  if (s.manufacturer_ids_size()) {
    parts.push_back(absl::StrCat("manufacturers=", absl::StrJoin(s.manufacturer_ids(), ",")));
  }
  if (s.labels_size()) parts.push_back(absl::StrCat("labels=", labelsText(s.labels())));
  return parts.empty() ? "(every device)" : absl::StrJoin(parts, " ");
}

void printPolicies(const Client& client, const google::protobuf::RepeatedPtrField<Policy>& ps) {
  Table t({"NAME", "PRIORITY", "AUTO_CONNECT", "SELECTOR", "DESCRIPTION"});
  for (const auto& p : ps) {
    t.addRow({p.name(), absl::StrCat(p.priority()), p.auto_connect() ? "yes" : "no",
              selectorText(p.selector()), p.description()});
  }
  (void)client;
  out(t.render());
}

// A policy in full, for people: protobuf JSON, indented.
void printPolicy(const Client& client, const Policy& p) {
  if (client.json()) {
    outJson(p);
    return;
  }
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(p, &json, options);
  out(json);
}

constexpr const char* kPolicyUsage =
    "policy list | get NAME | create FILE | update FILE [--allow_missing] | delete NAME | "
    "resolve ADDRESS";

}  // namespace

int cmdMetrics(Client& client, const Args& args) {
  if (int rc = needArgs(args, 0, "metrics")) return rc;
  GetMetricsResponse reply;
  auto ctx = client.unaryContext();
  auto status = MetricsService::NewStub(client.channel())->GetMetrics(ctx.get(), {}, &reply);
  if (!status.ok()) return finish(client, status);
  if (client.json()) {
    outJson(reply);
    return kExitOk;
  }
  Table t({"METRIC", "VALUE"});
  metricRows(reply, "", &t);
  out(t.render());
  return kExitOk;
}

int cmdPolicy(Client& client, const Args& all) {
  if (all.empty()) return usageError(absl::StrCat("usage: gattway ", kPolicyUsage));
  const std::string verb = all[0];
  const Args args(all.begin() + 1, all.end());
  auto stub = SessionService::NewStub(client.channel());
  auto ctx = client.unaryContext();
  grpc::Status status;
  if (verb == "list") {
    if (int rc = needArgs(args, 0, "policy list")) return rc;
    ListPoliciesResponse reply;
    status = stub->ListPolicies(ctx.get(), {}, &reply);
    if (!status.ok()) return finish(client, status);
    if (client.json()) {
      outJson(reply);
    } else {
      printPolicies(client, reply.policies());
    }
    return kExitOk;
  }
  if (verb == "get") {
    if (int rc = needArgs(args, 1, "policy get NAME")) return rc;
    GetPolicyRequest request;
    request.set_name(args[0]);
    GetPolicyResponse reply;
    status = stub->GetPolicy(ctx.get(), request, &reply);
    if (!status.ok()) return finish(client, status);
    printPolicy(client, reply.policy());
    return kExitOk;
  }
  if (verb == "create" || verb == "update") {
    if (int rc = needArgs(args, 1, absl::StrCat("policy ", verb, " FILE (YAML or JSON Policy)")))
      return rc;
    Policy policy;
    if (auto read = readMessageFile(args[0], &policy); !read.ok()) {
      return usageError(std::string(read.message()));
    }
    Policy stored;
    if (verb == "create") {
      CreatePolicyRequest request;
      *request.mutable_policy() = policy;
      CreatePolicyResponse reply;
      status = stub->CreatePolicy(ctx.get(), request, &reply);
      stored = reply.policy();
    } else {
      UpdatePolicyRequest request;
      *request.mutable_policy() = policy;
      request.set_allow_missing(absl::GetFlag(FLAGS_allow_missing));
      UpdatePolicyResponse reply;
      status = stub->UpdatePolicy(ctx.get(), request, &reply);
      stored = reply.policy();
    }
    if (!status.ok()) return finish(client, status);
    printPolicy(client, stored);
    return kExitOk;
  }
  if (verb == "delete") {
    if (int rc = needArgs(args, 1, "policy delete NAME")) return rc;
    DeletePolicyRequest request;
    request.set_name(args[0]);
    DeletePolicyResponse reply;
    status = stub->DeletePolicy(ctx.get(), request, &reply);
    if (!status.ok()) return finish(client, status);
    if (client.json()) {
      outJson(reply);
    } else {
      out(absl::StrCat("deleted policy ", args[0], "\n"));
    }
    return kExitOk;
  }
  if (verb == "resolve") {
    if (int rc = needArgs(args, 1, "policy resolve ADDRESS")) return rc;
    ResolvePolicyRequest request;
    request.set_address(args[0]);
    ResolvePolicyResponse reply;
    status = stub->ResolvePolicy(ctx.get(), request, &reply);
    if (!status.ok()) return finish(client, status);
    if (client.json()) {
      outJson(reply);
      return kExitOk;
    }
    out(absl::StrCat("policy: ", reply.has_policy() ? reply.policy().name() : "(built-in defaults)",
                     "\nreason: ", reply.reason(), "\n"));
    Table t({"CANDIDATE", "MATCHES", "SPECIFICITY", "EXPLANATION"});
    for (const auto& c : reply.candidates()) {
      t.addRow({c.policy(), c.matches() ? "yes" : "no", absl::StrCat(c.specificity()),
                c.explanation()});
    }
    if (t.rows()) out(t.render());
    return kExitOk;
  }
  return usageError(absl::StrCat("unknown policy command \"", verb, "\"; usage: gattway ",
                                 kPolicyUsage));
}

}  // namespace gattway::cli
