// The fault matrix's catalog (fault_matrix_test.cc): the faults the simulated BlueZ injects, the
// operations they meet, which combinations are cells and why the others are not, and the names the
// printed matrix uses.
#pragma once

namespace gattway::testing::matrix {

enum class Fault {
  kLinkDropRemote,     // the device ends the link (HCI 0x13)
  kLinkDropTimeout,    // supervision timeout (HCI 0x08)
  kAdapterPowerOff,    // the adapter is powered off (then on again)
  kBluetoothdRestart,  // org.bluez leaves the bus and comes back
  kBluezFailed,        // the GATT call fails with org.bluez.Error.Failed
  kAttError,           // the device answers with an ATT error (0x0E Unlikely Error)
  kBluezInProgress,    // the GATT call fails with org.bluez.Error.InProgress
  kSlowPastDeadline,   // the device answers after the caller's deadline (or the batch budget)
  kConnectAbort,       // the connect fails: le-connection-abort-by-local
  kConnectTimeout,     // the device never answers the connect
  kConnectFailed,      // the connect fails at once: Input/output error
  kConnectInProgress,  // the controller is busy with another connect
  kConnectHang,        // the connect never answers until cancelled
};
inline constexpr Fault kFaults[] = {
    Fault::kLinkDropRemote,    Fault::kLinkDropTimeout,  Fault::kAdapterPowerOff,
    Fault::kBluetoothdRestart, Fault::kBluezFailed,      Fault::kAttError,
    Fault::kBluezInProgress,   Fault::kSlowPastDeadline, Fault::kConnectAbort,
    Fault::kConnectTimeout,    Fault::kConnectFailed,    Fault::kConnectInProgress,
    Fault::kConnectHang};

enum class Op {
  kScan, kConnect, kDiscover, kRead, kWrite, kSubscribe, kBatch,
  kPeripheralRead, kPeripheralWrite, kPeripheralNotify,
};
inline constexpr Op kOps[] = {Op::kScan,      Op::kConnect,        Op::kDiscover,
                              Op::kRead,      Op::kWrite,          Op::kSubscribe,
                              Op::kBatch,     Op::kPeripheralRead, Op::kPeripheralWrite,
                              Op::kPeripheralNotify};

const char* name(Fault f);
const char* name(Op op);  // the RPC's name ("Execute", "HandleReads", ...)

// Queued on the device's next GATT request (not injected while an operation is in flight).
bool isGattFault(Fault f);
// Queued on the next connect.
bool isConnectFault(Fault f);
bool isLinkDrop(Fault f);
bool isPeripheral(Op op);

// Why the combination is not a cell; nullptr when it is one.
const char* notACell(Fault f, Op op);

}  // namespace gattway::testing::matrix
