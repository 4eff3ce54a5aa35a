// The CLI's commands. Each takes its positional arguments (after the command's name), reads its
// flags (flags.h), prints tables or JSON, and returns the process exit code (client.h).
#pragma once

#include <string>
#include <vector>

#include "cmd/gattway/client.h"

namespace gattway::cli {

using Args = std::vector<std::string>;

// kExitOk when `args` has min..max entries; otherwise prints "missing/too many arguments; usage:
// gattway <usage>" and returns kExitUsage.
int checkArgs(const Args& args, size_t min, size_t max, const std::string& usage);

// Ends a stream the client chose to stop (enough values): cancels it and reports success.
template <typename Reader>
int stopStream(grpc::ClientContext& context, Reader& reader) {
  context.TryCancel();
  (void)reader.Finish();
  return kExitOk;
}

int cmdAdapters(Client& client, const Args& args);
int cmdScan(Client& client, const Args& args);
int cmdDevices(Client& client, const Args& args);
int cmdConnect(Client& client, const Args& args);
int cmdDisconnect(Client& client, const Args& args);
int cmdRead(Client& client, const Args& args);
int cmdWrite(Client& client, const Args& args);
int cmdSubscribe(Client& client, const Args& args);
int cmdSessions(Client& client, const Args& args);
int cmdMetrics(Client& client, const Args& args);
int cmdPolicy(Client& client, const Args& args);
int cmdPeripheral(Client& client, const Args& args);

}  // namespace gattway::cli
