// The fault matrix (issue 10): every fault the simulated BlueZ can inject × every operation in
// flight, through the production backend and real gRPC. Each cell checks that the operation ends
// with its documented status (or, where the fault does not concern it, carries on), within a
// bound (no stuck call or stream), and that the gateway serves afterwards. After every cell no
// session, stream or subscription is left; after the whole matrix the process holds no more file
// descriptors than after the first cell. The matrix and its size are printed.
//
// Cells are the combinations where the fault can meet the operation; the others are listed with
// the reason they are not cells (matrix/faults.cc). Discover has no in-flight window (it answers
// from the gateway's mirror of BlueZ's objects): its cells run the call right after the fault.
// matrix/fault_driver.cc drives the faults and operations; this file holds what each cell must end
// with (the RPCs' proto comments) and the checks after each cell.
#include <dirent.h>

#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/rpc_metrics.h"
#include "tests/integration/matrix/fault_driver.h"

namespace gattway::testing::matrix {
namespace {

using namespace std::chrono_literals;
using grpc::StatusCode;

// How a cell may end. OK means the operation was not disturbed: the stream delivered again after
// the fault, or the call succeeded.
struct Expect {
  std::set<StatusCode> codes;
  std::string reason;  // the ErrorInfo reason, when one is documented; empty: not checked
};

// The documented outcome of each cell (the proto comments of each RPC).
Expect expected(Fault f, Op op) {
  const Expect unavailable{{StatusCode::UNAVAILABLE}, ""};
  switch (op) {
    case Op::kScan:
      // A link drop does not concern discovery; the stream carries on. With the only adapter
      // off or BlueZ gone the stream ends UNAVAILABLE (scan.proto).
      if (isLinkDrop(f)) return {{StatusCode::OK}, ""};
      return unavailable;
    case Op::kConnect:
      switch (f) {
        case Fault::kAdapterPowerOff: return unavailable;
        case Fault::kBluetoothdRestart: return unavailable;
        case Fault::kConnectAbort:
        case Fault::kConnectTimeout:
        case Fault::kConnectFailed: return {{StatusCode::UNAVAILABLE}, "BLUEZ_ERROR"};
        // Busy with a connect the gateway did not start; one is no wedge (session.proto, Connect).
        case Fault::kConnectInProgress: return {{StatusCode::ABORTED}, "IN_PROGRESS"};
        case Fault::kConnectHang: return {{StatusCode::DEADLINE_EXCEEDED}, "TIMEOUT"};
        default: break;
      }
      break;
    case Op::kDiscover:
      // After the link is gone the ephemeral session is gone: NOT_FOUND; while BlueZ is away the
      // call may meet UNAVAILABLE first.
      if (f == Fault::kBluetoothdRestart) {
        return {{StatusCode::NOT_FOUND, StatusCode::UNAVAILABLE}, ""};
      }
      return {{StatusCode::NOT_FOUND}, "DEVICE_NOT_FOUND"};
    case Op::kRead:
    case Op::kWrite:
    case Op::kSubscribe:
    case Op::kBatch:
      switch (f) {
        case Fault::kLinkDropRemote:
        case Fault::kLinkDropTimeout:
        case Fault::kAdapterPowerOff: return {{StatusCode::UNAVAILABLE}, "DISCONNECTED"};
        case Fault::kBluetoothdRestart: return unavailable;
        case Fault::kBluezFailed: return {{StatusCode::UNAVAILABLE}, "BLUEZ_ERROR"};
        case Fault::kAttError: return {{StatusCode::ABORTED}, "ATT_ERROR"};
        case Fault::kBluezInProgress: return {{StatusCode::ABORTED}, "IN_PROGRESS"};
        case Fault::kSlowPastDeadline:
          return {{StatusCode::DEADLINE_EXCEEDED}, op == Op::kBatch ? "BUDGET_EXHAUSTED" : ""};
        default: break;
      }
      break;
    case Op::kPeripheralRead:
    case Op::kPeripheralWrite:
      // The caller's stream does not depend on one central's link, on the adapter's power or on
      // bluetoothd (the database is registered again when BlueZ is back): it carries on.
      return {{StatusCode::OK}, ""};
    case Op::kPeripheralNotify:
      // The value is stored and served once the database is back; nobody is updated.
      return {{StatusCode::OK}, ""};
  }
  ADD_FAILURE() << "no expectation for " << name(f) << " × " << name(op);
  return {};
}

std::string codeName(StatusCode code) { return server::statusCodeName(static_cast<int>(code)); }

std::size_t openFds() {
  std::size_t n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d) != nullptr) ++n;
    closedir(d);
  }
  return n;
}

class TheFaultMatrix : public FaultDriver {
 protected:
  int sessionCount() {
    v1::ListSessionsResponse list;
    grpc::ClientContext ctx;
    ctx.set_deadline(in(2000ms));
    return sessions->ListSessions(&ctx, v1::ListSessionsRequest(), &list).ok()
               ? list.sessions_size()
               : -1;
  }
  bool noSessions() {
    for (int i = 0; i < 250; ++i) {
      if (sessionCount() == 0) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  // The gateway serves: a fresh connect and read succeed; then nothing is left open.
  void expectServingAndClean(const std::string& cell) {
    SCOPED_TRACE(cell);
    // A failed call may answer before the gateway has handled the link's end: let the sessions
    // the cell left end first, so that the connect below opens a fresh one.
    for (const char* a : {kHrmAddress, kCamAddress}) disconnect(a);
    EXPECT_TRUE(noSessions());
    auto s = connect(kHrmAddress);
    ASSERT_TRUE(s.ok()) << s.error_message();
    v1::ReadResponse r;
    s = read(kHrmAddress, attribute(kBodySensorLocation), &r);
    EXPECT_TRUE(s.ok()) << s.error_message();
    for (const char* a : {kHrmAddress, kCamAddress}) disconnect(a);
    // No session, stream or subscription is left (bounded wait: ends are asynchronous).
    bool clean = false;
    for (int i = 0; i < 250 && !clean; ++i) {
      clean = sessionCount() == 0 && gateway->metrics().scanStreams.value() == 0 &&
              gateway->metrics().subscribeStreams.value() == 0 && openStreams() == 0;
      if (!clean) std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(clean) << "scan streams " << gateway->metrics().scanStreams.value()
                       << ", subscribe streams " << gateway->metrics().subscribeStreams.value()
                       << ", open gRPC streams " << openStreams();
  }

};

TEST_P(TheFaultMatrix, EndsEveryOperationWithItsDocumentedStatusAndKeepsServing) {
  std::map<Op, std::map<Fault, std::string>> table;
  std::vector<std::string> notCells;
  std::size_t cells = 0;
  std::size_t fdsAfterFirst = 0;
  for (Op op : kOps) {
    for (Fault f : kFaults) {
      if (const char* why = notACell(f, op)) {
        notCells.push_back(absl::StrCat(name(f), " × ", name(op), ": ", why));
        continue;
      }
      const std::string cell = absl::StrCat(name(f), " × ", name(op));
      SCOPED_TRACE(cell);
      std::printf("fault matrix: cell %s\n", cell.c_str());
      std::fflush(stdout);
      const Expect want = expected(f, op);
      const Outcome got = run(f, op);
      EXPECT_FALSE(stuck()) << "the operation did not end within its bound";
      EXPECT_TRUE(want.codes.count(got.code) == 1)
          << "got " << codeName(got.code) << " (" << got.reason << "): " << got.message;
      if (!want.reason.empty() && got.code != StatusCode::OK) {
        EXPECT_EQ(got.reason, want.reason) << got.message;
      }
      table[op][f] = got.reason.empty() ? codeName(got.code)
                                        : absl::StrCat(codeName(got.code), "/", got.reason);
      ++cells;
      expectServingAndClean(cell);
      if (cells == 1) fdsAfterFirst = openFds();
    }
  }
  // Descriptors: back to what the process held after the first cell (a little slack for gRPC's
  // and D-Bus's own pooled sockets).
  EXPECT_LE(openFds(), fdsAfterFirst + 4);

  std::printf("fault matrix: %zu cells (%zu faults × %zu operations; %zu combinations are not "
              "cells)\n", cells, std::size(kFaults), std::size(kOps), notCells.size());
  for (const auto& [op, row] : table) {
    std::vector<std::string> parts;
    for (const auto& [f, outcome] : row) parts.push_back(absl::StrCat(name(f), "=", outcome));
    std::printf("  %-16s %s\n", name(op), absl::StrJoin(parts, ", ").c_str());
  }
  RecordProperty("cells", static_cast<int>(cells));
}

INSTANTIATE_TEST_SUITE_P(Orderings, TheFaultMatrix,
                         ::testing::Values(sim::Ordering::kTidy, sim::Ordering::kReal),
                         orderingName);

}  // namespace
}  // namespace gattway::testing::matrix
