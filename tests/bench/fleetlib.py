"""The fleet's stack, shared by the fleet benchmark (fleet.py) and the soak (soak.py): a private
dbus-daemon, gattway-sim with load devices on several adapters, gattwayd with a config file
declaring half the sessions; a WatchSessions reader; bringing the fleet up and down."""
import argparse
import datetime
import os
import subprocess
import sys
import threading
import time

from benchlib import SOURCE, Proc, cpu_seconds, free_port, private_bus

LOAD_SERVICE = "67617474-7761-7900-0000-006c6f616400"  # ble/sim/fleet.cc, loadDevices
LOAD_CHAR = "67617474-7761-7900-0000-006c6f616401"
SIM = ["io.gattway.Sim", "/io/gattway/sim", "io.gattway.Sim1"]
# The simulator's connect: the device's connect_latency (default 20 ms) plus the wait for its next
# advertising event, uniform over min(interval, 100 ms) (ble/sim/device.cc); load devices
# advertise every 100 ms.
SIM_CONNECT_MS = 20 + 100 / 2
MAX_SLOTS = 64  # connection_slot_limit's upper bound (config.proto)


def load_address(n):
    """The address of load device `n` (1-based): F0:00 and n as 32 bits (ble/sim/fleet.cc)."""
    return "F0:00:" + ":".join(f"{(n >> s) & 0xFF:02X}" for s in (24, 16, 8, 0))


def api(build):
    """The generated gattway.v1 stubs of `build`, as a namespace."""
    stubs = os.path.join(build, "tests", "python")
    if stubs not in sys.path:
        sys.path.insert(0, stubs)
    import grpc
    from gattway.v1 import (common_pb2, gatt_pb2, gatt_pb2_grpc, metrics_pb2, metrics_pb2_grpc, scan_pb2,
                            scan_pb2_grpc, session_pb2, session_pb2_grpc)
    return argparse.Namespace(grpc=grpc, common=common_pb2, gatt=gatt_pb2, gatt_grpc=gatt_pb2_grpc,
                              metrics=metrics_pb2, metrics_grpc=metrics_pb2_grpc, scan=scan_pb2,
                              scan_grpc=scan_pb2_grpc, session=session_pb2, session_grpc=session_pb2_grpc)


def error_reason(rpc_error):
    """The google.rpc.ErrorInfo reason of a failed call ("IN_PROGRESS"), or ""."""
    from google.protobuf import any_pb2  # noqa: F401  (registers Any)
    from google.rpc import error_details_pb2, status_pb2
    for key, value in rpc_error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info.reason
    return ""


def in_progress(text):
    t = (text or "").lower()
    return "inprogress" in t or "in progress" in t or "in_progress" in t


def seconds_of(ts):
    return ts.seconds + ts.nanos / 1e9


# --- the stack ----------------------------------------------------------------------------------

class FleetStack:
    """dbus-daemon + gattway-sim (`devices` load devices on `adapters` adapters) + gattwayd with a
    config file declaring the sessions `declared` and a state directory."""

    def __init__(self, a, devices, declared, workdir, fast_reconnect=False):
        self.a = a
        self.build = os.path.abspath(a.build)
        self.workdir = workdir
        self.bus, self.address = private_bus()
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address)
        self.sim = self.gw = None
        try:
            self.sim = Proc([f"{self.build}/cmd/gattway-sim", f"--bus_address={self.address}", "--no_fleet",
                             f"--load_devices={devices}", f"--adapters={a.adapters}",
                             f"--connection_slots={a.slots}", "--temporary_timeout=600s",
                             "--disconnect_grace=100ms"], ready=r"event=sim\.ready", timeout=60)
            self._start_gateway(declared, fast_reconnect)
        except Exception:
            self.stop()
            raise

    def _start_gateway(self, declared, fast_reconnect):
        config = os.path.join(self.workdir, "gattway.yaml")
        with open(config, "w") as f:
            f.write("adapters:\n")
            for i in range(self.a.adapters):
                f.write(f"  - {{name: hci{i}, connection_slot_limit: {self.a.slots}}}\n")
            # Churn wants quick returns; the benchmark keeps the defaults (1 s .. 60 s).
            if fast_reconnect:
                f.write("policies:\n  - name: fleet\n    selector: {labels: {fleet: bench}}\n"
                        "    reconnect: {initial_backoff: 0.2s, max_backoff: 5s}\n")
            f.write("sessions:\n" if declared else "sessions: []\n")
            for addr in declared:
                f.write(f'  - {{address: "{addr}", address_type: ADDRESS_TYPE_RANDOM, labels: {{fleet: bench}}}}\n')
        port = free_port()
        self.target = f"127.0.0.1:{port}"
        self.gw = Proc([self.a.gattwayd or f"{self.build}/cmd/gattwayd", f"--dbus_address={self.address}",
                        f"--grpc_address={self.target}", "--metrics_address=", f"--config={config}",
                        f"--state_dir={os.path.join(self.workdir, 'state')}", "--log_level=warn"])

    def sim_call(self, method, signature, *args, timeout=30):
        r = subprocess.run(["busctl", f"--address={self.address}", "call", *SIM, method, signature,
                            *[str(x) for x in args]], capture_output=True, text=True, timeout=timeout)
        return r.returncode == 0

    def pids(self):
        return {"gattwayd": self.gw.pid, "dbus-daemon": self.bus.pid, "gattway-sim": self.sim.pid}

    def stop(self):
        for p in (self.gw, self.sim, self.bus):
            if p:
                p.stop()


class Watcher:
    """A WatchSessions stream (include_initial) read on its own thread: the current state of every
    session, and every event after `mark()` with the time it arrived."""

    def __init__(self, g, channel):
        self.g = g
        self.state = {}
        self.events = []  # (arrival, address, state name, reason name, detail, adapter, state_time, connects)
        self.gaps = 0
        self.in_progress = []
        self._mu = threading.Lock()
        self._recording = False
        stub = g.session_grpc.SessionServiceStub(channel)
        self.call = stub.WatchSessions(g.session.WatchSessionsRequest(include_initial=True))
        self.call.initial_metadata()  # the watch is in place
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        S = self.g.session
        try:
            for e in self.call:
                now = time.time()
                with self._mu:
                    if e.HasField("gap"):
                        self.gaps += e.gap.dropped
                    s = e.session
                    name = S.SessionState.Name(s.state)
                    if name == "SESSION_STATE_REMOVED":
                        self.state.pop(s.address, None)
                    else:
                        self.state[s.address] = name
                    if in_progress(s.detail):
                        self.in_progress.append((s.address, name, s.detail))
                    if self._recording:
                        self.events.append((now, s.address, name, S.SessionReason.Name(s.reason), s.detail,
                                            s.adapter, seconds_of(s.state_time), s.connects))
        except self.g.grpc.RpcError:
            pass

    def mark(self):
        with self._mu:
            self.events = []
            self._recording = True

    def recorded(self):
        with self._mu:
            return list(self.events)

    def count(self, state="SESSION_STATE_CONNECTED"):
        with self._mu:
            return sum(1 for v in self.state.values() if v == state)

    def census(self):
        with self._mu:
            out = {}
            for v in self.state.values():
                out[v] = out.get(v, 0) + 1
            return out

    def wait(self, pred, timeout):
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            if pred():
                return True
            time.sleep(0.02)
        return pred()

    def close(self):
        self.call.cancel()
        self.thread.join(5)


def in_progress_attempts(g, channel):
    reply = g.metrics_grpc.MetricsServiceStub(channel).GetMetrics(g.metrics.GetMetricsRequest(), timeout=30)
    return sum(c.value for c in reply.sessions.connect_attempts if c.labels.get("result") == "in_progress")


def connect_request(g, address, wait=True, timeout_s=300):
    from google.protobuf import duration_pb2
    return g.session.ConnectRequest(address=address, address_type=g.common.ADDRESS_TYPE_RANDOM, persistent=True,
                                    labels={"fleet": "bench"}, no_wait=not wait,
                                    timeout=duration_pb2.Duration(seconds=timeout_s))


def tally(futures, g):
    """Outcomes of Connect futures: {"ok": n, "<CODE> <REASON>": n}, and how many were InProgress."""
    out, inprog = {}, 0
    for f in futures:
        try:
            f.result()
            key = "ok"
        except g.grpc.RpcError as e:
            reason = error_reason(e)
            key = f"{e.code().name} {reason}".strip()
            if reason == "IN_PROGRESS" or in_progress(e.details()):
                inprog += 1
        out[key] = out.get(key, 0) + 1
    return out, inprog


def bring_up(a, g, workdir, advertisers=0, fast_reconnect=False):
    """Starts the stack and connects the fleet: half declared in the config file, a few single
    Connect calls one after another (the per-connect time), the rest with concurrent Connect
    calls. Returns (stack, channel, watcher, figures)."""
    addresses = [load_address(i + 1) for i in range(a.sessions)]
    half = a.sessions // 2
    stack = FleetStack(a, a.sessions + advertisers, addresses[:half], workdir, fast_reconnect)
    fig = {"sessions": a.sessions, "adapters": a.adapters, "slots_per_adapter": a.slots}
    try:
        channel = g.grpc.insecure_channel(stack.target, options=[("grpc.max_receive_message_length", 64 << 20)])
        g.grpc.channel_ready_future(channel).result(timeout=30)
        t0 = time.monotonic()
        cpu0 = {k: cpu_seconds(p) for k, p in stack.pids().items()}
        watcher = Watcher(g, channel)
        stub = g.session_grpc.SessionServiceStub(channel)
        if not watcher.wait(lambda: watcher.count() >= half, 600):
            raise RuntimeError(f"the declared sessions did not connect: {watcher.census()}")
        # Single connects on the idle fleet: how long a connect holds its adapter's turn.
        singles = addresses[half:half + a.singles]
        watcher.mark()
        rpc_ms = []
        for addr in singles:
            t = time.monotonic()
            stub.Connect(connect_request(g, addr), timeout=120)
            rpc_ms.append((time.monotonic() - t) * 1e3)
        turns = turn_times(watcher.recorded(), set(singles))
        fig["single_connect_rpc_ms"] = sorted(rpc_ms)[len(rpc_ms) // 2] if rpc_ms else 0
        fig["single_connect_turn_ms_each"] = turns
        fig["per_connect_ms"] = sum(turns) / len(turns) if turns else 0
        fig["per_connect_ms_sim"] = SIM_CONNECT_MS
        # The rest at once, as many clients would.
        futures = [stub.Connect.future(connect_request(g, addr), timeout=900) for addr in addresses[half + a.singles:]]
        fig["initial_connect_results"], _ = tally(futures, g)
        if not watcher.wait(lambda: watcher.count() >= a.sessions, 600):
            raise RuntimeError(f"the fleet did not connect: {watcher.census()}")
        fig["initial_connect_s"] = time.monotonic() - t0
        fig["initial_connect_cpu_s"] = {k: cpu_seconds(p) - cpu0[k] for k, p in stack.pids().items()}
        return stack, channel, watcher, fig
    except Exception:
        stack.stop()
        raise


def turn_times(events, addresses):
    """CONNECTING → RESOLVING_SERVICES (gateway clock) of each of `addresses`' first connect, ms."""
    since, out = {}, []
    for _, addr, state, *_rest in events:
        if addr not in addresses:
            continue
        t = _rest[3]
        if state == "SESSION_STATE_CONNECTING":
            since[addr] = t
        elif state == "SESSION_STATE_RESOLVING_SERVICES" and addr in since:
            out.append((t - since.pop(addr)) * 1e3)
    return out


def tear_down(stack, channel, watcher):
    watcher.close()
    channel.close()
    stack.stop()


def machine(load0):
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "cores": os.cpu_count(), "loadavg_start": load0, "loadavg_end": os.getloadavg()}



def add_options(p, sessions_help):
    """The options of the stack and of bringing the fleet up."""
    p.add_argument("--build", default=os.environ.get("GATTWAY_BUILD_DIR", os.path.join(SOURCE, "build")))
    p.add_argument("--gattwayd", default=None, help="another gattwayd binary (before/after comparisons)")
    p.add_argument("--json", default=None, help="where to write the figures (default BUILD/bench/...)")
    p.add_argument("--sessions", type=int, default=None, help=sessions_help)
    p.add_argument("--adapters", type=int, default=None,
                   help="adapters (default: the fewest that hold the sessions at 64 links each)")
    p.add_argument("--slots", type=int, default=MAX_SLOTS, help="connection slots per adapter, 1..64")
    p.add_argument("--singles", type=int, default=None, help="single connects timed for the per-connect time (20)")
    p.add_argument("--settle", type=float, default=None, help="quiet seconds before measuring (3)")


def check_options(p, a, min_adapters):
    if a.adapters is None:
        a.adapters = max(min_adapters, -(-a.sessions // a.slots))
    if a.sessions > a.adapters * a.slots:
        p.error(f"{a.sessions} sessions do not fit {a.adapters} adapters x {a.slots} slots")
