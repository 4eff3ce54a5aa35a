// Errors several parts of the central domain give, worded once (built with ble/error.h).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "ble/error.h"

namespace gattway::central_errors {

inline absl::Status bluezDown() {
  return err::make(err::Reason::kBluezUnavailable,
                   "BlueZ (org.bluez) is not on the D-Bus; is bluetoothd running?");
}

inline absl::Status adapterNotFound(const std::string& adapter) {
  return err::make(err::Reason::kAdapterNotFound,
                   absl::StrCat("no adapter \"", adapter,
                                "\"; AdapterService.ListAdapters lists the ones BlueZ has"),
                   {{err::kMetaAdapter, adapter}});
}

inline absl::Status adapterOff(const std::string& adapter) {
  return err::make(err::Reason::kAdapterOff,
                   absl::StrCat("adapter ", adapter,
                                " is powered off; power it with AdapterService.UpdateAdapter"),
                   {{err::kMetaAdapter, adapter}});
}

// `field`: where the caller named it ("policy", "name").
inline absl::Status policyNotFound(const std::string& name, const std::string& field = "name") {
  return err::make(err::Reason::kPolicyNotFound,
                   absl::StrCat(field, ": no policy named \"", name,
                                "\"; SessionService.ListPolicies lists them"),
                   {{"policy", name}});
}

// `code`: FAILED_PRECONDITION to a request, UNAVAILABLE to a stream that cannot go on.
inline absl::Status noAdapterPowered(absl::StatusCode code) {
  return err::make(code, err::Reason::kAdapterOff, "no adapter is powered");
}

}  // namespace gattway::central_errors
