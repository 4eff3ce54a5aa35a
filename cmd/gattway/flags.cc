#include "cmd/gattway/flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, address, "",
          "Gateway address, host:port or unix:path. Default: $GATTWAY_ADDRESS, else "
          "127.0.0.1:50051.");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA bundle: connect with TLS and verify the gateway's certificate against it.");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM client certificate for mTLS (with --tls_key; needs --tls_ca).");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, tls_server_name, "",
          "Name to verify in the gateway's certificate, when it differs from the address's host.");
ABSL_FLAG(std::string, token, "",
          "Bearer token sent as \"authorization: Bearer <token>\". Default: $GATTWAY_TOKEN.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(30), "Deadline of each unary call.");
ABSL_FLAG(bool, json, false,
          "Print protobuf JSON instead of tables: one object per line (one per message for "
          "streams); errors as one JSON object on stderr.");
ABSL_FLAG(std::string, duration, "",
          "scan: how long to scan (default 10s); subscribe, sessions, peripheral writes|watch: how "
          "long to stay (default: until interrupted). 0: until interrupted.");
ABSL_FLAG(int, count, 0,
          "subscribe: stop after this many values; sessions, peripheral writes|watch: after this "
          "many events; scan: after this many devices. 0: no limit.");
ABSL_FLAG(std::string, adapter, "", "Adapter (\"hci0\"). Default: the gateway chooses.");
ABSL_FLAG(std::string, service, "",
          "scan, devices: only devices advertising this service UUID. read, write, subscribe, "
          "peripheral: the characteristic's service UUID.");
ABSL_FLAG(std::string, descriptor, "", "read, write: a descriptor UUID of the characteristic.");
ABSL_FLAG(std::string, name_prefix, "", "scan, devices: only devices whose name starts so.");
ABSL_FLAG(bool, all, false, "scan: report every advertisement, not only changes.");
ABSL_FLAG(bool, include_known, false, "scan: report the devices already known first.");
ABSL_FLAG(std::string, mode, "",
          "write: auto (default), with_response, without_response, reliable. subscribe: auto "
          "(default), notify, indicate.");
ABSL_FLAG(bool, persistent, false, "connect: keep the link up (reconnect after drops).");
ABSL_FLAG(std::string, policy, "", "connect: the reconnection policy to use.");
ABSL_FLAG(bool, no_wait, false, "connect: return once the session exists, not linked yet.");
ABSL_FLAG(bool, once, false, "sessions: print the current sessions and exit (no live watch).");
ABSL_FLAG(bool, allow_missing, false, "policy update: create the policy when it does not exist.");
ABSL_FLAG(std::string, name, "", "peripheral advertise: the local name to advertise.");
ABSL_FLAG(std::string, id, "", "peripheral advertise, stop-advertising: the advertisement id.");
ABSL_FLAG(bool, notify, false, "peripheral set-value: also notify every subscribed central.");
ABSL_FLAG(std::string, central, "", "peripheral notify: notify only this central.");
ABSL_FLAG(bool, clear, false, "peripheral get-value: empty the stored value after reading.");
