// The CLI's flags. absl flags are global, so every command's flags are declared here once; each
// command's help says which of them it reads.
#pragma once

#include <string>

#include "absl/flags/declare.h"
#include "absl/time/time.h"

// Connection
ABSL_DECLARE_FLAG(std::string, address);
ABSL_DECLARE_FLAG(std::string, tls_ca);
ABSL_DECLARE_FLAG(std::string, tls_cert);
ABSL_DECLARE_FLAG(std::string, tls_key);
ABSL_DECLARE_FLAG(std::string, tls_server_name);
ABSL_DECLARE_FLAG(std::string, token);
ABSL_DECLARE_FLAG(absl::Duration, timeout);
// Output
ABSL_DECLARE_FLAG(bool, json);
// Commands
ABSL_DECLARE_FLAG(std::string, duration);
ABSL_DECLARE_FLAG(int, count);
ABSL_DECLARE_FLAG(std::string, adapter);
ABSL_DECLARE_FLAG(std::string, service);
ABSL_DECLARE_FLAG(std::string, descriptor);
ABSL_DECLARE_FLAG(std::string, name_prefix);
ABSL_DECLARE_FLAG(bool, all);
ABSL_DECLARE_FLAG(bool, include_known);
ABSL_DECLARE_FLAG(std::string, mode);
ABSL_DECLARE_FLAG(bool, persistent);
ABSL_DECLARE_FLAG(std::string, policy);
ABSL_DECLARE_FLAG(bool, no_wait);
ABSL_DECLARE_FLAG(bool, once);
ABSL_DECLARE_FLAG(bool, allow_missing);
ABSL_DECLARE_FLAG(std::string, name);
ABSL_DECLARE_FLAG(std::string, id);
ABSL_DECLARE_FLAG(bool, notify);
ABSL_DECLARE_FLAG(std::string, central);
ABSL_DECLARE_FLAG(bool, clear);
