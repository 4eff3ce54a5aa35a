#include "server/scan_service.h"

#include "server/convert.h"
#include "server/reactors.h"
#include "server/stream_reactor.h"
#include "server/validate.h"

namespace gattway::server {
namespace {

// One Scan stream: a ScanHub subscriber whose results go out through the bounded queue.
class ScanStream final : public QueuedWriteReactor<v1::ScanResponse, ScanRecord>,
                         public ScanSink {
 public:
  ScanStream(ServiceContext& ctx, ScanStreamOptions options)
      : QueuedWriteReactor(ctx, Options{options.queueSize, options.maxBatchSize,
                                        options.batchInterval > absl::ZeroDuration(),
                                        &ctx.metrics.scanResultsDelivered,
                                        &ctx.metrics.scanResultsDropped, &ctx.metrics.scanStreams}),
        options_(std::move(options)) {}

  // Loop thread.
  void start() {
    if (!mayStart()) return;
    auto sub = ctx_.central.scanHub().subscribe(options_.scan, this);
    if (!sub.ok()) {
      end(sub.status(), false);
      return;
    }
    subscription_ = std::move(*sub);
    startBatching(options_.batchInterval);
  }

  // ScanSink, loop thread.
  void onScanResult(const ScanRecord& record) override { push(record); }
  void onScanEnded(const absl::Status& status) override { end(status, true); }

 private:
  void fill(std::vector<ScanRecord>& items, std::uint64_t gap, v1::ScanResponse* out) override {
    out->mutable_results()->Reserve(static_cast<int>(items.size()));
    for (const ScanRecord& r : items) toProto(r, out->add_results());
    if (gap > 0) out->mutable_gap()->set_dropped(gap);
  }

  void releaseOnLoop() override {
    stopBatching();
    subscription_.reset();
  }

  ScanStreamOptions options_;
  ScanSubscription subscription_;  // loop thread
};

}  // namespace

grpc::ServerWriteReactor<v1::ScanResponse>* ScanServiceImpl::Scan(grpc::CallbackServerContext* context,
                                                                  const v1::ScanRequest* request) {
  auto options = scanRequest(*request);
  if (!options.ok()) return new FinishedWriteReactor<v1::ScanResponse>(options.status());
  return ScanStream::launch<ScanStream>(ctx_, *context, std::move(*options));
}

grpc::ServerUnaryReactor* ScanServiceImpl::ListDevices(grpc::CallbackServerContext* context,
                                                       const v1::ListDevicesRequest* request,
                                                       v1::ListDevicesResponse* response) {
  auto adapter = adapterName(request->adapter(), "adapter", true);
  if (!adapter.ok()) return finishUnary(context, adapter.status());
  auto filter = scanFilter(request->filter(), "filter");
  if (!filter.ok()) return finishUnary(context, filter.status());
  auto* reactor = context->DefaultReactor();
  onLoop(ctx_, reactor, [this, reactor, response, adapter = *adapter,
                         filter = std::move(*filter)] {
    auto devices = ctx_.central.scanHub().knownDevices(adapter, filter);
    if (devices.ok()) {
      for (const auto& d : *devices) toProto(d, response->add_devices());
    }
    reactor->Finish(toGrpcStatus(devices.status()));
  });
  return reactor;
}

}  // namespace gattway::server
