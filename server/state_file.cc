#include "server/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "server/config_file.h"

namespace gattway::server {
namespace {

absl::Status osError(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::Status makeDirs(const std::string& dir) {
  for (std::size_t i = 1; i <= dir.size(); ++i) {
    if (i == dir.size() || dir[i] == '/') {
      const std::string part = dir.substr(0, i);
      if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) return osError("cannot create", part);
    }
  }
  return absl::OkStatus();
}

absl::Status writeAll(int fd, const std::string& data, const std::string& path) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return osError("cannot write", path);
    }
    done += static_cast<std::size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::GatewayConfig> StateFile::load() const {
  std::ifstream in(path());
  if (!in) {
    if (errno == ENOENT) return v1::GatewayConfig();
    return osError("cannot read", path());
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parseConfig(text.str(), path());
}

absl::Status StateFile::save(const v1::GatewayConfig& state) const {
  if (auto s = makeDirs(dir_); !s.ok()) return s;
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  if (auto s = google::protobuf::util::MessageToJsonString(state, &json, options); !s.ok()) {
    return absl::InternalError(absl::StrCat("cannot encode the state: ", s.message().ToString()));
  }
  const std::string tmp = path() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return osError("cannot create", tmp);
  absl::Status s = writeAll(fd, json, tmp);
  if (s.ok() && ::fsync(fd) != 0) s = osError("cannot fsync", tmp);
  ::close(fd);
  if (s.ok() && ::rename(tmp.c_str(), path().c_str()) != 0) s = osError("cannot rename", tmp);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  // Make the rename itself durable.
  const int dirFd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd >= 0) {
    ::fsync(dirFd);
    ::close(dirFd);
  }
  return absl::OkStatus();
}

}  // namespace gattway::server
