#!/usr/bin/python3
"""gattwayd keeping a fleet of persistent sessions on gattway-sim: the fleet benchmark and the soak
(issue 10).

Fleet: one private dbus-daemon, gattway-sim with N load devices on A adapters, gattwayd on that
bus with a config file declaring half the sessions (as an operator does) while the other half are
opened with Connect(persistent=true) (as a client does). With every session CONNECTED it measures
gattwayd's RSS (VmRSS, VmHWM) and its idle CPU over a window in which nothing happens (% of one
core, from /proc/<pid>/task/*/schedstat; wake-ups from the threads' context switches). Then
bluetoothd restarts (io.gattway.Sim1.RestartBluetoothd) and it measures the time from bluetoothd's
return until every session is CONNECTED again, against the ideal: per-connect time x sessions /
adapters (connects run one at a time per adapter). The per-connect time is measured on the idle
fleet: single Connect calls one after another, from CONNECTING to RESOLVING_SERVICES (how long a
connect holds its adapter's turn; the simulator's own figure is connect_latency 20 ms + the wait
for the device's next advertising event, uniform 0..100 ms). InProgress errors surfacing to callers
are counted in three places: the results of Connect calls waiting through the restart, the details
of WatchSessions events, and the gateway's connect_attempts{result="in_progress"}.

Soak (--soak 30m, bounded, not in CI): the fleet under churn for the given time (links dropped,
connects failing, GATT operations failing and late, bluetoothd restarting) while Scan streams,
Subscribe streams and Read calls come and go. gattwayd's RSS and open fds are sampled every
--sample seconds; the summary gives the least-squares slope (KiB/min, fds/min).

Prints a table, writes JSON; never fails on speed (--smoke exits 1 only when a measurement could
not be taken, so that ctest notices a broken bench).

  /usr/bin/python3 tests/bench/fleet.py [--sessions 1000 --adapters 16 --idle 20] [--smoke]
  /usr/bin/python3 tests/bench/fleet.py --soak 30m [--sessions 200 --adapters 4 --sample 10]
"""
import argparse
import datetime
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import (SOURCE, Proc, context_switches, cpu_seconds, free_port, open_fds, private_bus,
                      proc_status)

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


def slope(points):
    """Least-squares slope of (x, y) points; 0 with fewer than two distinct x."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0


# --- the stack ----------------------------------------------------------------------------------

class FleetStack:
    """dbus-daemon + gattway-sim (`devices` load devices on `adapters` adapters) + gattwayd with a
    config file declaring the sessions `declared` and a state directory."""

    def __init__(self, a, devices, declared, workdir):
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
            self._start_gateway(declared)
        except Exception:
            self.stop()
            raise

    def _start_gateway(self, declared):
        config = os.path.join(self.workdir, "gattway.yaml")
        with open(config, "w") as f:
            f.write("adapters:\n")
            for i in range(self.a.adapters):
                f.write(f"  - {{name: hci{i}, connection_slot_limit: {self.a.slots}}}\n")
            # The soak's churn wants quick returns; the benchmark keeps the defaults (1 s .. 60 s).
            if self.a.soak:
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


# --- the fleet benchmark ------------------------------------------------------------------------

def bring_up(a, g, workdir, advertisers=0):
    """Starts the stack and connects the fleet: half declared in the config file, a few single
    Connect calls one after another (the per-connect time), the rest with concurrent Connect
    calls. Returns (stack, channel, watcher, figures)."""
    addresses = [load_address(i + 1) for i in range(a.sessions)]
    half = a.sessions // 2
    stack = FleetStack(a, a.sessions + advertisers, addresses[:half], workdir)
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


def sim_log_time(lines, event):
    """Unix time of the last `event` in a log (ts=2026-11-21T13:31:21.123Z ... event=...), or None."""
    for line in reversed(lines):
        if f"event={event}" in line and line.startswith("ts="):
            stamp = line[3:].split()[0].rstrip("Z")
            return datetime.datetime.fromisoformat(stamp).replace(tzinfo=datetime.timezone.utc).timestamp()
    return None


def max_in_flight(events):
    """The most sessions ever CONNECTING at once on one adapter."""
    on, per, most = {}, {}, 0
    for _, addr, state, _r, _d, adapter, _t, _c in events:
        if addr in on:
            per[on[addr]] -= 1
            del on[addr]
        if state == "SESSION_STATE_CONNECTING":
            on[addr] = adapter
            per[adapter] = per.get(adapter, 0) + 1
            most = max(most, per[adapter])
    return most


def idle(a, stack, fig):
    time.sleep(a.settle)
    st = proc_status(stack.gw.pid)
    fig["rss_kib"], fig["hwm_kib"], fig["threads"] = st.get("VmRSS", 0), st.get("VmHWM", 0), st.get("Threads", 0)
    fig["open_fds"] = open_fds(stack.gw.pid)
    pids = stack.pids()
    cpu0 = {k: cpu_seconds(p) for k, p in pids.items()}
    sw0, t0 = context_switches(stack.gw.pid), time.monotonic()
    time.sleep(a.idle)
    s = time.monotonic() - t0
    fig["idle_s"] = s
    fig["idle_cpu_pct"] = {k: (cpu_seconds(p) - cpu0[k]) / s * 100 for k, p in pids.items()}
    fig["idle_wakeups_per_s"] = (context_switches(stack.gw.pid) - sw0) / s


def restart(a, g, stack, channel, watcher, fig):
    """bluetoothd restarts; callers wait on Connect through it; until every session is back."""
    stub = g.session_grpc.SessionServiceStub(channel)
    addresses = sorted(watcher.state)
    inprog0 = in_progress_attempts(g, channel)
    gaps0 = watcher.gaps
    pids = stack.pids()
    cpu0 = {k: cpu_seconds(p) for k, p in pids.items()}
    watcher.mark()
    t_call = time.time()
    if not stack.sim_call("RestartBluetoothd", "u", a.pause_ms):
        raise RuntimeError("RestartBluetoothd failed")
    back = t_call + a.pause_ms / 1e3
    # Callers that want their device during the restart: Connect on the existing sessions waits
    # until each is CONNECTED again (or tells why its attempt failed).
    step = max(1, len(addresses) // max(1, a.callers))
    callers = [stub.Connect.future(connect_request(g, addr), timeout=300) for addr in addresses[::step][:a.callers]]

    def back_up():
        seen = {}
        for _, addr, state, *_ in watcher.recorded():
            seen[addr] = state
        return len(seen) >= len(addresses) and all(v == "SESSION_STATE_CONNECTED" for v in seen.values()) \
            and watcher.count() >= len(addresses)
    ok = watcher.wait(back_up, a.restart_timeout)
    events = watcher.recorded()
    # When bluetoothd was back: the simulator's own log line, else the call plus the pause.
    up = sim_log_time(stack.sim.lines, "sim.bluetoothd.up")
    fig["restart_back_from"] = "sim log" if up and up > t_call else "call + pause"
    back = up if up and up > t_call else back
    fig["restart_cpu_s"] = {k: cpu_seconds(p) - cpu0[k] for k, p in pids.items()}
    if a.events:
        fig["restart_timeline"] = [(round(e[6] - back, 4), e[1], e[2][14:], e[3][15:], e[5]) for e in events]
    fig["restart_all_back"] = ok
    fig["restart_census"] = watcher.census()
    connected = [e[6] for e in events if e[2] == "SESSION_STATE_CONNECTED"]
    queued = [e[6] for e in events if e[2] == "SESSION_STATE_QUEUED"]
    connecting = [e[6] for e in events if e[2] == "SESSION_STATE_CONNECTING"]
    last = max(connected) if connected else time.time()
    fig["restart_pause_ms"] = a.pause_ms
    fig["restart_s"] = last - back
    fig["restart_first_queued_s"] = min(queued) - back if queued else 0
    fig["restart_first_connecting_s"] = min(connecting) - back if connecting else 0
    per_adapter = {}
    for e in events:
        if e[2] == "SESSION_STATE_CONNECTED":
            per_adapter[e[5]] = per_adapter.get(e[5], 0) + 1
    fig["restart_per_adapter_max"] = max(per_adapter.values()) if per_adapter else 0
    fig["restart_per_adapter_min"] = min(per_adapter.values()) if per_adapter else 0
    fig["ideal_s"] = fig["per_connect_ms"] / 1e3 * len(addresses) / a.adapters
    fig["ratio"] = fig["restart_s"] / fig["ideal_s"] if fig["ideal_s"] else 0
    fig["ratio_vs_sim_figure"] = fig["restart_s"] / (SIM_CONNECT_MS / 1e3 * len(addresses) / a.adapters)
    fig["restart_max_in_flight"] = max_in_flight(events)
    fig["restart_connect_failed_events"] = sum(1 for e in events if e[3] == "SESSION_REASON_CONNECT_FAILED")
    fig["restart_events"] = len(events)
    results, inprog_rpc = tally(callers, g)
    fig["restart_callers"] = len(callers)
    fig["restart_caller_results"] = results
    fig["in_progress_connect_rpc"] = inprog_rpc
    fig["in_progress_watch"] = sum(1 for e in events if in_progress(e[4]))
    fig["in_progress_metric"] = in_progress_attempts(g, channel) - inprog0
    fig["in_progress_metric_total"] = in_progress_attempts(g, channel)
    fig["watch_gaps"] = watcher.gaps
    fig["restart_watch_gaps"] = watcher.gaps - gaps0  # events this client missed during the restart


def tear_down(stack, channel, watcher):
    watcher.close()
    channel.close()
    stack.stop()


def machine(load0):
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "cores": os.cpu_count(), "loadavg_start": load0, "loadavg_end": os.getloadavg()}


def run_fleet(a, g):
    workdir = tempfile.mkdtemp(prefix="gattway-fleet-")
    load0 = os.getloadavg()
    stack, channel, watcher, fig = bring_up(a, g, workdir)
    try:
        print(f"fleet: {a.sessions} sessions on {a.adapters} adapters connected in {fig['initial_connect_s']:.1f} s;"
              f" per-connect {fig['per_connect_ms']:.0f} ms (simulator's figure {SIM_CONNECT_MS:.0f} ms)", flush=True)
        idle(a, stack, fig)
        print(f"  idle: RSS {fig['rss_kib'] / 1024:.1f} MiB (HWM {fig['hwm_kib'] / 1024:.1f}),"
              f" CPU {fig['idle_cpu_pct']['gattwayd']:.2f} % of a core, {fig['idle_wakeups_per_s']:.0f} wake-ups/s",
              flush=True)
        restart(a, g, stack, channel, watcher, fig)
        print(f"  bluetoothd restart: all back in {fig['restart_s']:.2f} s, ideal {fig['ideal_s']:.2f} s"
              f" ({fig['ratio']:.2f}x); InProgress: {fig['in_progress_connect_rpc']} Connect results,"
              f" {fig['in_progress_watch']} WatchSessions events, {fig['in_progress_metric']} connect attempts",
              flush=True)
        st = proc_status(stack.gw.pid)
        fig["rss_after_restart_kib"], fig["hwm_after_restart_kib"] = st.get("VmRSS", 0), st.get("VmHWM", 0)
    finally:
        tear_down(stack, channel, watcher)
    fig["machine"] = machine(load0)
    return fig


def fleet_rows(f):
    """The fleet's rows of the table: (figure, measured, ratio, target, meets)."""
    def yes(ok):
        return "yes" if ok else "NO"
    n, ad = f["sessions"], f["adapters"]
    k = f"fleet {n} sessions / {ad} adapters"
    inprog = f["in_progress_connect_rpc"] + f["in_progress_watch"] + f["in_progress_metric"]
    return [
        (f"{k}: gattwayd RSS all connected (VmRSS / VmHWM)",
         f"{f['rss_kib'] / 1024:.1f} / {f['hwm_kib'] / 1024:.1f} MiB", "", "<= 100 MB", yes(f["hwm_kib"] * 1024 <= 100e6)),
        (f"{k}: gattwayd idle CPU over {f['idle_s']:.0f} s", f"{f['idle_cpu_pct']['gattwayd']:.2f} %", "",
         "<= 2 % of a core", yes(f["idle_cpu_pct"]["gattwayd"] <= 2)),
        (f"{k}: per-connect time (measured turn; sim {f['per_connect_ms_sim']:.0f} ms)",
         f"{f['per_connect_ms']:.0f} ms", "", "", ""),
        (f"{k}: all back after bluetoothd restart vs ideal {f['ideal_s']:.2f} s",
         f"{f['restart_s']:.2f} s", f"{f['ratio']:.2f}x", "<= 1.2x", yes(f["restart_all_back"] and f["ratio"] <= 1.2)),
        (f"{k}: InProgress to callers (Connect / watch / metric)",
         f"{f['in_progress_connect_rpc']} / {f['in_progress_watch']} / {f['in_progress_metric']}", "", "0", yes(inprog == 0)),
    ]


def print_rows(rows):
    w = max(len(r[0]) for r in rows)
    m = max(len(r[1]) for r in rows)
    print(f"{'figure':<{w}}  {'measured':>{m}}  {'ratio':>7}  {'target':<20} meets")
    for f, v, r, t, ok in rows:
        print(f"{f:<{w}}  {v:>{m}}  {r:>7}  {t:<20} {ok}")


# --- the soak -----------------------------------------------------------------------------------

class Soak:
    """Churn, streams and reads against the fleet for `seconds`; samples RSS and fds."""

    def __init__(self, a, g, stack, channel, watcher, advertisers):
        self.a, self.g, self.stack, self.channel, self.watcher = a, g, stack, channel, watcher
        self.addresses = [load_address(i + 1) for i in range(a.sessions)]
        self.advertisers = advertisers
        self.stop_at = 0.0
        self.counts = {}
        self.samples = []
        self._mu = threading.Lock()
        self.rng = random.Random(1)

    def count(self, key, n=1):
        with self._mu:
            self.counts[key] = self.counts.get(key, 0) + n

    def running(self):
        return time.monotonic() < self.stop_at

    def sleep(self, s):
        time.sleep(max(0.0, min(s, self.stop_at - time.monotonic())))

    def churn(self):
        """Faults, each on its own schedule."""
        rng = random.Random(2)
        next_restart = time.monotonic() + self.a.restart_every
        while self.running():
            for addr in rng.sample(self.addresses, max(1, len(self.addresses) // 100)):
                if self.stack.sim_call("DropLink", "ss", addr, rng.choice(["remote", "timeout", "local"])):
                    self.count("links_dropped")
            addr = rng.choice(self.addresses)
            kind = rng.choice(["abort-by-local", "timeout", "failed", "in-progress"])
            if self.stack.sim_call("FailConnect", "sssuu", addr, kind, "", 500, 1):
                self.stack.sim_call("DropLink", "ss", addr, "timeout")
                self.count(f"connect_fault_{kind}")
            addr = rng.choice(self.addresses)
            if self.stack.sim_call("FailGatt", "sqssyuu", addr, 0, "org.bluez.Error.Failed", "Operation failed",
                                   0, rng.choice([0, 300]), 2):
                self.count("gatt_faults")
            if time.monotonic() >= next_restart:
                if self.stack.sim_call("RestartBluetoothd", "u", 500):
                    self.count("bluetoothd_restarts")
                next_restart = time.monotonic() + self.a.restart_every
            self.sleep(2.0)

    def scans(self):
        g = self.g
        stub = g.scan_grpc.ScanServiceStub(self.channel)
        from google.protobuf import duration_pb2
        while self.running():
            req = g.scan.ScanRequest(duration=duration_pb2.Duration(seconds=3), include_known=True)
            try:
                n = sum(len(r.results) for r in stub.Scan(req, timeout=30))
                self.count("scan_streams")
                self.count("scan_results", n)
            except g.grpc.RpcError as e:
                self.count(f"scan_error_{e.code().name}")
                self.sleep(1.0)

    def subscribes(self, rng):
        g = self.g
        stub = g.gatt_grpc.GattServiceStub(self.channel)
        ref = g.common.AttributeRef(service_uuid=LOAD_SERVICE, characteristic_uuid=LOAD_CHAR)
        while self.running():
            call = stub.Subscribe(g.gatt.SubscribeRequest(address=rng.choice(self.addresses), characteristic=ref),
                                  timeout=60)
            until = time.monotonic() + rng.uniform(1, 8)
            timer = threading.Timer(max(0.0, until - time.monotonic()), call.cancel)
            timer.start()
            try:
                for r in call:
                    if r.notifications:
                        self.count("notifications", len(r.notifications))
                self.count("subscribe_ended")
            except g.grpc.RpcError as e:
                self.count("subscribe_cancelled" if e.code() == g.grpc.StatusCode.CANCELLED
                           else f"subscribe_error_{e.code().name}")
                if e.code() != g.grpc.StatusCode.CANCELLED:
                    self.sleep(0.5)
            timer.cancel()
            self.count("subscribe_streams")

    def reads(self, rng):
        g = self.g
        stub = g.gatt_grpc.GattServiceStub(self.channel)
        ref = g.common.AttributeRef(service_uuid=LOAD_SERVICE, characteristic_uuid=LOAD_CHAR)
        while self.running():
            try:
                stub.Read(g.gatt.ReadRequest(address=rng.choice(self.addresses), attribute=ref), timeout=30)
                self.count("reads_ok")
            except g.grpc.RpcError as e:
                self.count(f"read_error_{e.code().name}")
            self.sleep(1.0 / self.a.read_rate)

    def sample(self, t0):
        pid = self.stack.gw.pid
        st = proc_status(pid)
        self.samples.append({"t_s": time.monotonic() - t0, "rss_kib": st.get("VmRSS", 0), "fds": open_fds(pid),
                             "threads": st.get("Threads", 0), "connected": self.watcher.count(),
                             "cpu_s": cpu_seconds(pid)})

    def run(self, seconds):
        t0 = time.monotonic()
        self.stop_at = t0 + seconds
        workers = [threading.Thread(target=self.churn, daemon=True)]
        workers += [threading.Thread(target=self.scans, daemon=True) for _ in range(self.a.scan_streams)]
        workers += [threading.Thread(target=self.subscribes, args=(random.Random(10 + i),), daemon=True)
                    for i in range(self.a.subscribe_streams)]
        workers += [threading.Thread(target=self.reads, args=(random.Random(100 + i),), daemon=True)
                    for i in range(2)]
        self.sample(t0)
        for w in workers:
            w.start()
        while self.running():
            self.sleep(self.a.sample)
            self.sample(t0)
            s = self.samples[-1]
            print(f"  {s['t_s'] / 60:5.1f} min: RSS {s['rss_kib'] / 1024:6.1f} MiB, {s['fds']} fds,"
                  f" {s['threads']} threads, {s['connected']}/{self.a.sessions} connected", flush=True)
        for w in workers:
            w.join(90)
        # Quiet: faults cleared, every session back, then the last sample.
        self.stack.sim_call("ClearFaults", "")
        back = self.watcher.wait(lambda: self.watcher.count() >= self.a.sessions, 300)
        time.sleep(self.a.settle)
        self.sample(t0)
        return back


def summarize(samples):
    pts = [(s["t_s"] / 60, s) for s in samples]
    half = [p for p in pts if p[0] >= pts[-1][0] / 2]
    out = {"samples": len(samples)}
    for key, unit in (("rss_kib", "KiB/min"), ("fds", "fds/min"), ("threads", "threads/min")):
        ys = [s[key] for s in samples]
        out[key] = {"first": ys[0], "last": ys[-1], "min": min(ys), "max": max(ys),
                    "slope": slope([(x, s[key]) for x, s in pts]),
                    "slope_second_half": slope([(x, s[key]) for x, s in half]), "unit": unit}
    return out


def parse_duration(text):
    units = {"s": 1, "m": 60, "h": 3600}
    text = text.strip()
    if text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def run_soak(a, g):
    workdir = tempfile.mkdtemp(prefix="gattway-soak-")
    load0 = os.getloadavg()
    advertisers = 50  # load devices without a session: what the Scan streams see
    seconds = parse_duration(a.soak)
    stack, channel, watcher, fig = bring_up(a, g, workdir, advertisers)
    try:
        print(f"soak: {a.sessions} sessions on {a.adapters} adapters (+{advertisers} advertising),"
              f" {seconds / 60:.1f} min; sampling every {a.sample:g} s", flush=True)
        soak = Soak(a, g, stack, channel, watcher, advertisers)
        back = soak.run(seconds)
        fig["soak_s"] = seconds
        fig["all_back_at_end"] = back
        fig["counts"] = dict(sorted(soak.counts.items()))
        fig["samples"] = soak.samples
        fig["summary"] = summarize(soak.samples)
        fig["watch_gaps"] = watcher.gaps
        fig["in_progress_metric_total"] = in_progress_attempts(g, channel)
    finally:
        tear_down(stack, channel, watcher)
    fig["machine"] = machine(load0)
    return fig


def print_soak(fig):
    s = fig["summary"]
    print(f"\nsoak summary ({fig['soak_s'] / 60:.1f} min, {s['samples']} samples;"
          f" every session back at the end: {fig['all_back_at_end']})")
    for key in ("rss_kib", "fds", "threads"):
        v = s[key]
        print(f"  {key:8s} first {v['first']:>8} last {v['last']:>8} min {v['min']:>8} max {v['max']:>8}"
              f"  slope {v['slope']:+9.2f} {v['unit']} (second half {v['slope_second_half']:+9.2f})")
    print("  activity: " + ", ".join(f"{k} {v}" for k, v in fig["counts"].items()))


# --- main ---------------------------------------------------------------------------------------

def options(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="a small fleet, seconds (ctest)")
    p.add_argument("--build", default=os.environ.get("GATTWAY_BUILD_DIR", os.path.join(SOURCE, "build")))
    p.add_argument("--gattwayd", default=None, help="another gattwayd binary (before/after comparisons)")
    p.add_argument("--json", default=None, help="where to write the figures (default BUILD/bench/fleet.json)")
    p.add_argument("--sessions", type=int, default=None, help="persistent sessions (1000; smoke 40; soak 200)")
    p.add_argument("--adapters", type=int, default=None,
                   help="adapters (default: the fewest that hold the sessions at 64 links each)")
    p.add_argument("--slots", type=int, default=MAX_SLOTS, help="connection slots per adapter, 1..64")
    p.add_argument("--singles", type=int, default=None, help="single connects timed for the per-connect time (20)")
    p.add_argument("--idle", type=float, default=None, help="idle CPU window, seconds (20; smoke 1)")
    p.add_argument("--settle", type=float, default=None, help="quiet seconds before the idle window (3)")
    p.add_argument("--pause_ms", type=int, default=500, help="how long bluetoothd stays away")
    p.add_argument("--callers", type=int, default=None, help="Connect calls waiting through the restart (100)")
    p.add_argument("--restart_timeout", type=float, default=300)
    p.add_argument("--events", action="store_true", help="write every session event of the restart to the JSON")
    p.add_argument("--soak", default=None, help="soak for this long (e.g. 30m, 600s) instead of the benchmark")
    p.add_argument("--sample", type=float, default=10, help="soak: seconds between samples")
    p.add_argument("--restart_every", type=float, default=120, help="soak: seconds between bluetoothd restarts")
    p.add_argument("--scan_streams", type=int, default=2, help="soak: Scan streams at once")
    p.add_argument("--subscribe_streams", type=int, default=4, help="soak: Subscribe streams at once")
    p.add_argument("--read_rate", type=float, default=20, help="soak: Read calls per second per reader (2 readers)")
    a = p.parse_args(argv)
    if a.sessions is None:
        a.sessions = 40 if a.smoke else 200 if a.soak else 1000
    if a.adapters is None:
        a.adapters = max(2 if a.smoke else 4, -(-a.sessions // a.slots))
    if a.singles is None:
        a.singles = 3 if a.smoke else 20
    if a.idle is None:
        a.idle = 1.0 if a.smoke else 20.0
    if a.settle is None:
        a.settle = 0.5 if a.smoke else 3.0
    if a.callers is None:
        a.callers = 5 if a.smoke else 100
    if a.sessions > a.adapters * a.slots:
        p.error(f"{a.sessions} sessions do not fit {a.adapters} adapters x {a.slots} slots")
    return a


def main():
    a = options()
    build = os.path.abspath(a.build)
    g = api(build)
    if a.soak:
        fig = run_soak(a, g)
        print_soak(fig)
        default = "soak.json"
    else:
        fig = run_fleet(a, g)
        m = fig["machine"]
        print(f"\n{m['date']}, {m['cores']} cores, load average {m['loadavg_start'][0]:.1f} at start,"
              f" {m['loadavg_end'][0]:.1f} at end\n")
        print_rows(fleet_rows(fig))
        default = "fleet-smoke.json" if a.smoke else "fleet.json"
    path = a.json or os.path.join(build, "bench", default)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(fig, f, indent=1)
    print(f"\nfigures written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
