#include "server/rpc_metrics.h"

namespace gattway::server {
namespace {

using grpc::experimental::InterceptionHookPoints;

// Lives as long as its call: counts the stream while it is open and the status it ends with.
class RpcMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcMetricsInterceptor(RpcMetrics& metrics, grpc::experimental::ServerRpcInfo* info)
      : metrics_(metrics),
        method_(info->method()),
        streaming_(info->type() != grpc::experimental::ServerRpcInfo::Type::UNARY) {
    if (streaming_) metrics_.openStreams.add(1);
  }
  ~RpcMetricsInterceptor() override {
    if (streaming_) metrics_.openStreams.add(-1);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      metrics_.countCall(method_, methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  RpcMetrics& metrics_;
  std::string method_;
  bool streaming_;
};

class RpcMetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsInterceptorFactory(RpcMetrics& metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcMetricsInterceptor(metrics_, info);
  }

 private:
  RpcMetrics& metrics_;
};

}  // namespace

void RpcMetrics::countCall(const std::string& method, grpc::StatusCode code) {
  std::lock_guard lock(mu_);
  ++calls_[{method, static_cast<int>(code)}];
}

std::vector<RpcMetrics::CallCount> RpcMetrics::calls() const {
  std::lock_guard lock(mu_);
  std::vector<CallCount> out;
  out.reserve(calls_.size());
  for (const auto& [key, count] : calls_) {
    out.push_back({key.first, static_cast<grpc::StatusCode>(key.second), count});
  }
  return out;
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcMetrics::interceptorFactory() {
  return std::make_unique<RpcMetricsInterceptorFactory>(*this);
}

const char* statusCodeName(int code) {
  static constexpr const char* kNames[] = {
      "OK",        "CANCELLED",         "UNKNOWN",          "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND",  "ALREADY_EXISTS",   "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",       "UNAVAILABLE",      "DATA_LOSS",
      "UNAUTHENTICATED"};
  if (code < 0 || code > 16) return "UNKNOWN";
  return kNames[code];
}

}  // namespace gattway::server
