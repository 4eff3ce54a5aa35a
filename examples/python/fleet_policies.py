#!/usr/bin/python3
"""Fleet policies: tell gattway how to keep a fleet of devices connected, then watch it.

Applies three reconnection policies (idempotently, with UpdatePolicy allow_missing):

  cameras      devices named "Cam-*": fast reconnect (0.2 s .. 5 s), high priority (80), and
               the camera status characteristic kept subscribed
  env-sensors  devices named "EnvSensor-*": back off up to 5 minutes, low priority (-10)
  hr-straps    every heart-rate strap (service 180D): auto_connect, so the gateway opens a
               persistent session to each one its background scan sees (fleet onboarding), and
               Heart Rate Measurement (2A37) kept subscribed on every link

then enrols the cameras and sensors a short scan finds as persistent sessions, and watches the
fleet with WatchSessions, printing a live table (state, policy, priority, links, kept
subscriptions active/kept, next attempt).

    python3 fleet_policies.py --gateway 127.0.0.1:50051            # watch until Ctrl-C
    python3 fleet_policies.py --gateway ... --duration 30           # watch for 30 s
    python3 fleet_policies.py --gateway ... --once                  # print the settled table once

Try it against the simulated fleet: `gattwayd --simulate` (Cam-1, Cam-2, EnvSensor-1..3,
HRM-Strap). Stubs: generate them as tests/CMakeLists.txt does and put their directory on
PYTHONPATH (or in GATTWAY_PY_STUBS).
"""
import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.environ.get("GATTWAY_PY_STUBS", ""))
import grpc  # noqa: E402
from google.protobuf import duration_pb2  # noqa: E402
from gattway.v1 import common_pb2, scan_pb2, scan_pb2_grpc  # noqa: E402
from gattway.v1 import session_pb2, session_pb2_grpc  # noqa: E402

HEART_RATE = "180D"
HEART_RATE_MEASUREMENT = "2A37"
CAMERA_SERVICE = "67617474-7761-7900-0000-0063616d0000"
CAMERA_STATUS = "67617474-7761-7900-0000-0063616d0002"


def seconds(s):
    d = duration_pb2.Duration()
    d.FromNanoseconds(int(s * 1e9))
    return d


def kept(service, characteristic):
    """A subscription the policy keeps on every link of its persistent sessions."""
    return session_pb2.PolicySubscription(
        characteristic=common_pb2.AttributeRef(service_uuid=service,
                                               characteristic_uuid=characteristic),
        mode=common_pb2.SUBSCRIBE_MODE_NOTIFY)


def policies():
    return [
        session_pb2.Policy(
            name="cameras", description="Cameras: fast reconnect, high priority",
            selector=session_pb2.DeviceSelector(name_prefix="Cam-"),
            priority=80,
            reconnect=session_pb2.ReconnectSettings(
                initial_backoff=seconds(0.2), max_backoff=seconds(5), multiplier=2.0, jitter=0.2,
                connect_timeout=seconds(10)),
            subscriptions=[kept(CAMERA_SERVICE, CAMERA_STATUS)]),
        session_pb2.Policy(
            name="env-sensors", description="Environmental sensors: back off up to 5 minutes",
            selector=session_pb2.DeviceSelector(name_prefix="EnvSensor-"),
            priority=-10,
            reconnect=session_pb2.ReconnectSettings(
                initial_backoff=seconds(2), max_backoff=seconds(300), multiplier=3.0)),
        session_pb2.Policy(
            name="hr-straps", description="Auto-connect every heart-rate strap",
            selector=session_pb2.DeviceSelector(service_uuids=[HEART_RATE]),
            priority=20, auto_connect=True,
            reconnect=session_pb2.ReconnectSettings(initial_backoff=seconds(0.5),
                                                    max_backoff=seconds(30)),
            subscriptions=[kept(HEART_RATE, HEART_RATE_MEASUREMENT)]),
    ]


def apply_policies(sessions):
    for p in policies():
        stored = sessions.UpdatePolicy(
            session_pb2.UpdatePolicyRequest(policy=p, allow_missing=True), timeout=10).policy
        keeps = ",".join(short(s.characteristic.characteristic_uuid) for s in stored.subscriptions)
        print(f"policy {stored.name:12} priority {stored.priority:4}  "
              f"auto_connect={stored.auto_connect}  keeps={keeps or '-'}  {stored.description}")


def enrol(scan, sessions, scan_seconds):
    """Opens persistent sessions to the cameras and sensors a short scan hears."""
    wanted = ("Cam-", "EnvSensor-")
    seen = {}
    request = scan_pb2.ScanRequest(duration=seconds(scan_seconds), include_known=True,
                                   mode=scan_pb2.SCAN_MODE_CHANGES)
    for response in scan.Scan(request, timeout=scan_seconds + 10):
        for r in response.results:
            if r.name.startswith(wanted):
                seen[r.address] = (r.name, r.address_type)
    for address, (name, address_type) in sorted(seen.items()):
        s = sessions.Connect(session_pb2.ConnectRequest(
            address=address, address_type=address_type, persistent=True, no_wait=True,
            labels={"fleet": "demo"}), timeout=10).session
        why = sessions.ResolvePolicy(session_pb2.ResolvePolicyRequest(address=address),
                                     timeout=10).reason
        print(f"enrolled {name:12} {address}  policy {s.policy or '(defaults)'}: {why}")


def short(uuid):
    """A 128-bit custom UUID shortened for the table: its last 4 hex digits."""
    return uuid if len(uuid) <= 4 else "…" + uuid[-4:]


def kept_column(session):
    """Kept subscriptions: active/kept, e.g. "1/1"; "-" when the policy keeps none."""
    subs = session.subscriptions
    if not subs:
        return "-"
    return f"{sum(1 for s in subs if s.active)}/{len(subs)}"


STATE = {v: k.replace("SESSION_STATE_", "") for k, v in session_pb2.SessionState.items()}
REASON = {v: k.replace("SESSION_REASON_", "").lower() for k, v in session_pb2.SessionReason.items()}


class Fleet:
    """The latest snapshot of every session, kept by a WatchSessions stream."""

    def __init__(self, sessions):
        self.rows = {}
        self.lock = threading.Lock()
        self.changed = threading.Event()
        self.call = sessions.WatchSessions(session_pb2.WatchSessionsRequest(include_initial=True))
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            for event in self.call:
                with self.lock:
                    s = event.session
                    if s.state == session_pb2.SESSION_STATE_REMOVED:
                        self.rows.pop(s.address, None)
                    else:
                        self.rows[s.address] = s
                self.changed.set()
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED:
                print(f"watch ended: {e.code().name} {e.details()}", file=sys.stderr)

    def close(self):
        self.call.cancel()

    def all_connected(self, expected):
        """Every session connected, with every subscription its policy keeps active."""
        with self.lock:
            rows = list(self.rows.values())
        return len(rows) >= expected and all(
            r.state == session_pb2.SESSION_STATE_CONNECTED
            and all(s.active for s in r.subscriptions) for r in rows)

    def table(self):
        with self.lock:
            rows = sorted(self.rows.values(), key=lambda r: (-r.priority, r.name, r.address))
        now = time.time()
        lines = [f"{'device':12} {'address':17} {'state':19} {'policy':12} {'prio':>4} "
                 f"{'links':>5} {'fails':>5} {'kept':>4}  why"]
        for r in rows:
            why = REASON.get(r.reason, "")
            if r.detail:
                why += f": {r.detail}"
            if r.HasField("next_attempt_time"):
                wait = r.next_attempt_time.ToNanoseconds() / 1e9 - now
                why += f" (next attempt in {max(wait, 0):.1f} s)"
            # A kept subscription that is not active says why (when the session is connected).
            for s in r.subscriptions:
                if not s.active and r.state == session_pb2.SESSION_STATE_CONNECTED:
                    why += f"; {short(s.characteristic.characteristic_uuid)}: {s.detail}"
            lines.append(f"{(r.name or '?'):12} {r.address:17} {STATE.get(r.state, '?'):19} "
                         f"{(r.policy or '-'):12} {r.priority:4} {r.connects:5} "
                         f"{r.failed_attempts:5} {kept_column(r):>4}  {why}")
        return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gateway", default="127.0.0.1:50051", help="gattwayd's gRPC address")
    ap.add_argument("--scan_seconds", type=float, default=3.0,
                    help="how long to scan for cameras and sensors to enrol")
    ap.add_argument("--duration", type=float, default=0.0,
                    help="watch this many seconds, then exit (0: until Ctrl-C)")
    ap.add_argument("--once", action="store_true",
                    help="wait (up to --duration, default 60 s) until the fleet is connected and "
                         "its kept subscriptions active, print the table once and exit; exit "
                         "status 1 if it did not settle")
    ap.add_argument("--expect", type=int, default=6,
                    help="with --once: how many sessions make the fleet complete")
    args = ap.parse_args()

    with grpc.insecure_channel(args.gateway) as channel:
        sessions = session_pb2_grpc.SessionServiceStub(channel)
        apply_policies(sessions)
        enrol(scan_pb2_grpc.ScanServiceStub(channel), sessions, args.scan_seconds)
        fleet = Fleet(sessions)
        deadline = time.monotonic() + (args.duration or (60.0 if args.once else float("inf")))
        try:
            if args.once:
                while time.monotonic() < deadline and not fleet.all_connected(args.expect):
                    fleet.changed.wait(0.2)
                    fleet.changed.clear()
                print(fleet.table())
                return 0 if fleet.all_connected(args.expect) else 1
            live = sys.stdout.isatty()
            while time.monotonic() < deadline:
                if fleet.changed.wait(1.0):
                    fleet.changed.clear()
                if live:
                    print("\033[2J\033[H", end="")
                print(fleet.table() + "\n", flush=True)
        except KeyboardInterrupt:
            pass
        finally:
            fleet.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
