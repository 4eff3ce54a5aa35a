#include "tests/integration/matrix/faults.h"

namespace gattway::testing::matrix {

const char* name(Fault f) {
  switch (f) {
    case Fault::kLinkDropRemote: return "link drop (remote)";
    case Fault::kLinkDropTimeout: return "link drop (timeout)";
    case Fault::kAdapterPowerOff: return "adapter power off";
    case Fault::kBluetoothdRestart: return "bluetoothd restart";
    case Fault::kBluezFailed: return "BlueZ Failed";
    case Fault::kAttError: return "ATT error";
    case Fault::kBluezInProgress: return "BlueZ InProgress";
    case Fault::kSlowPastDeadline: return "slow past deadline";
    case Fault::kConnectAbort: return "connect abort";
    case Fault::kConnectTimeout: return "connect timeout";
    case Fault::kConnectFailed: return "connect failed";
    case Fault::kConnectInProgress: return "connect InProgress";
    case Fault::kConnectHang: return "connect hang";
  }
  return "?";
}

const char* name(Op op) {
  switch (op) {
    case Op::kScan: return "Scan";
    case Op::kConnect: return "Connect";
    case Op::kDiscover: return "Discover";
    case Op::kRead: return "Read";
    case Op::kWrite: return "Write";
    case Op::kSubscribe: return "Subscribe";
    case Op::kBatch: return "Execute";
    case Op::kPeripheralRead: return "HandleReads";
    case Op::kPeripheralWrite: return "StreamWrites";
    case Op::kPeripheralNotify: return "SetValue+notify";
  }
  return "?";
}

bool isGattFault(Fault f) {
  return f == Fault::kBluezFailed || f == Fault::kAttError || f == Fault::kBluezInProgress ||
         f == Fault::kSlowPastDeadline;
}
bool isConnectFault(Fault f) { return f >= Fault::kConnectAbort && f <= Fault::kConnectHang; }
bool isLinkDrop(Fault f) { return f == Fault::kLinkDropRemote || f == Fault::kLinkDropTimeout; }
bool isPeripheral(Op op) { return op >= Op::kPeripheralRead; }

const char* notACell(Fault f, Op op) {
  if (isConnectFault(f) && op != Op::kConnect) {
    return "a connect fault only meets a connect";
  }
  if (isGattFault(f) && (op == Op::kScan || op == Op::kConnect || op == Op::kDiscover)) {
    return "no GATT request to the device in this operation";
  }
  if (isGattFault(f) && isPeripheral(op)) {
    return "the simulator's GATT faults are on the device side; the hosted peripheral's own "
           "errors are the application's (tested in peripheral_sim_test)";
  }
  if (f == Fault::kLinkDropTimeout && isPeripheral(op)) {
    return "a remote central's link ends one way in the simulator (disconnectCentral)";
  }
  if (isLinkDrop(f) && op == Op::kConnect) return "no link while the connect is in flight";
  return nullptr;
}

}  // namespace gattway::testing::matrix
