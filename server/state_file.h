// The gateway's durable state in --state_dir: policies and persistent sessions, kept as a
// gattway.v1.GatewayConfig in JSON (the same schema as the config file, readable by people),
// written atomically: a temporary file, fsync, rename, fsync of the directory.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gattway/v1/config.pb.h"

namespace gattway::server {

class StateFile {
 public:
  // `dir` is created (mode 0700) when missing.
  explicit StateFile(std::string dir) : dir_(std::move(dir)) {}

  // The saved state; empty when none was saved yet. A corrupt file is an error naming it.
  absl::StatusOr<v1::GatewayConfig> load() const;
  // Replaces the saved state atomically: a crash leaves the old or the new file, never a mix.
  absl::Status save(const v1::GatewayConfig& state) const;

  std::string path() const { return dir_ + "/state.json"; }

 private:
  std::string dir_;
};

}  // namespace gattway::server
