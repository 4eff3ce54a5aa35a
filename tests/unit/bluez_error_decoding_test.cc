// BlueZ 5.66's errors as the code sends them (bluez-5.66-api.md §0, §2, §3, §8), decoded by the
// one table in ble/error.cc.
#include "ble/error.h"
#include "gtest/gtest.h"

namespace gattway::err {
namespace {

struct Case {
  const char* name;
  const char* message;
  absl::StatusCode code;
  Reason reason;
  const char* attError;  // nullptr: none
};

void PrintTo(const Case& c, std::ostream* out) { *out << c.name << " \"" << c.message << "\""; }

class BluezErrors : public ::testing::TestWithParam<Case> {};

TEST_P(BluezErrors, DecodeToTheirCodeReasonAndAttError) {
  const Case& c = GetParam();
  const absl::Status s = fromBluez(c.name, c.message, "op");
  EXPECT_EQ(s.code(), c.code) << s;
  EXPECT_EQ(reasonOf(s), c.reason) << s;
  EXPECT_EQ(metadata(s, kMetaAttError),
            c.attError ? std::optional<std::string>(c.attError) : std::nullopt);
  EXPECT_EQ(metadata(s, kMetaBluezError), c.name);
  EXPECT_EQ(metadata(s, kMetaBluezMessage), c.message);
}

using C = absl::StatusCode;
INSTANTIATE_TEST_SUITE_P(
    FromTheNotes, BluezErrors,
    ::testing::Values(
        // ATT errors as create_gatt_dbus_error sends them.
        Case{"org.bluez.Error.NotPermitted", "Read not permitted", C::kFailedPrecondition,
             Reason::kAttError, "0x02"},
        Case{"org.bluez.Error.NotPermitted", "Write not permitted", C::kFailedPrecondition,
             Reason::kAttError, "0x03"},
        Case{"org.bluez.Error.NotPermitted", "Not paired", C::kPermissionDenied,
             Reason::kBluezError, nullptr},
        Case{"org.bluez.Error.InvalidArguments", "Invalid offset", C::kInvalidArgument,
             Reason::kAttError, "0x07"},
        Case{"org.bluez.Error.InvalidArguments", "Invalid Length", C::kInvalidArgument,
             Reason::kAttError, "0x0d"},
        Case{"org.bluez.Error.NotAuthorized", "Operation Not Authorized", C::kPermissionDenied,
             Reason::kAttError, "0x08"},
        Case{"org.bluez.Error.Failed", "Operation failed with ATT error: 0x0e", C::kAborted,
             Reason::kAttError, "0x0e"},
        Case{"org.bluez.Error.Failed", "Operation failed with ATT error: 0x80", C::kAborted,
             Reason::kAttError, "0x80"},
        Case{"org.bluez.Error.Failed", "Operation failed", C::kUnavailable,
             Reason::kDisconnected, nullptr},
        Case{"org.bluez.Error.Failed", "Not connected", C::kUnavailable, Reason::kDisconnected,
             nullptr},
        Case{"org.bluez.Error.NotSupported", "Operation is not supported",
             C::kFailedPrecondition, Reason::kOperationNotSupported, nullptr},
        // Busy: a second GATT read at another offset, a second write, a second connect.
        Case{"org.bluez.Error.InProgress", "In Progress", C::kAborted, Reason::kInProgress,
             nullptr},
        Case{"org.bluez.Error.InProgress", "Operation already in progress", C::kAborted,
             Reason::kInProgress, nullptr},
        Case{"org.bluez.Error.Failed", "Operation already in progress", C::kAborted,
             Reason::kInProgress, nullptr},
        // Links.
        Case{"org.bluez.Error.Failed", "le-connection-abort-by-local", C::kUnavailable,
             Reason::kBluezError, nullptr},
        Case{"org.bluez.Error.Failed", "br-connection-canceled", C::kUnavailable,
             Reason::kBluezError, nullptr},
        Case{"org.bluez.Failed", "", C::kUnavailable, Reason::kBluezError, nullptr},
        Case{"org.bluez.Error.AlreadyExists", "Already Exists", C::kAlreadyExists,
             Reason::kBluezError, nullptr},
        // Adapters and the bus.
        Case{"org.bluez.Error.NotReady", "Resource Not Ready", C::kFailedPrecondition,
             Reason::kAdapterOff, nullptr},
        Case{"org.bluez.Error.DoesNotExist", "Does Not Exist", C::kNotFound,
             Reason::kAttributeNotFound, nullptr},
        Case{"org.freedesktop.DBus.Error.ServiceUnknown",
             "The name org.bluez was not provided by any .service files", C::kUnavailable,
             Reason::kBluezUnavailable, nullptr},
        Case{"org.freedesktop.DBus.Error.NoReply", "Method call timed out",
             C::kDeadlineExceeded, Reason::kTimeout, nullptr}),
    // Readable test names: the error name's last part and the case's position.
    [](const ::testing::TestParamInfo<Case>& param) {
      std::string name = param.param.name;
      name = name.substr(name.rfind('.') + 1);
      return name + "_" + std::to_string(param.index);
    });

}  // namespace
}  // namespace gattway::err
