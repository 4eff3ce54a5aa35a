#!/usr/bin/python3
"""gattway against the D-Bus ceiling and against bleak, side by side, in one run (issue 10).

One private dbus-daemon, gattway-sim with load devices, gattwayd on that bus, and three kinds of
consumers reading the same simulated BlueZ at the same moment:
  - the ceiling: a bare sd-bus listener (build/tests/gattway_dbus_listener_bench), bytes in bulk
  - gattway: a C++ gRPC client (build/tests/gattway_grpc_clients_bench), batched Scan streams,
    a Subscribe stream, Read and Execute calls
  - bleak: tests/bench/bleak_client.py (Debian's python3-bleak), one process per consumer
Then the fleet (tests/bench/fleet.py, on its own stack): 1,000 persistent sessions, gattwayd's
RSS and idle CPU, and the recovery after a bluetoothd restart against the ideal.
Rates are ratios measured in the same window, so they hold on a noisy machine. CPU is read from
/proc (gattwayd, dbus-daemon, gattway-sim: every thread's schedstat) and from bleak's own
process_time. Prints a table, writes JSON; never fails on speed (exit code 1 only when a
measurement could not be taken at all, in --smoke mode, so that ctest notices a broken bench).

  /usr/bin/python3 tests/bench/compare.py [--smoke] [--build build] [--json FILE] [--seconds 3]
"""
import argparse
import datetime
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import fleet
from benchlib import Proc, cpu_seconds, free_port, private_bus, write_figures

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.path.join(HERE, "..", ".."))
PYTHON = "/usr/bin/python3"
LOAD_DEVICES = 100
GW_DEVICE, BARE_DEVICE, BLEAK_DEVICE = "F0:00:00:00:00:01", "F0:00:00:00:00:02", "F0:00:00:00:00:03"
BATCH_MS = 10  # the batched consumers' batch_interval (ScanRequest, SubscribeRequest)
MAX_RATE = 0  # "as fast as the bus carries": the simulator is offered far more and sheds


# --- processes ----------------------------------------------------------------------------------

def run_clients(cmds, env, timeout):
    """Starts every command at once; returns their parsed JSON results (stdout's last line)."""
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for c in cmds]
    return procs, lambda: [collect(p, timeout) for p in procs]


def collect(p, timeout):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    for line in reversed(out.strip().splitlines()):
        try:
            result = json.loads(line)
        except ValueError:
            continue
        if not result.get("ok", True):
            result["stderr"] = (err or "")[-400:]
        return result
    return {"ok": False, "error": (err or "")[-400:]}


# --- the stack ----------------------------------------------------------------------------------

class Stack:
    """dbus-daemon + gattway-sim (load devices of `size` bytes) + gattwayd, all on one private bus."""

    def __init__(self, build, size, state_dir, gattwayd=None):
        self.build = build
        self.gattwayd = gattwayd or f"{build}/cmd/gattwayd"
        self.size = size
        self.bus, self.address = private_bus()
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address)
        self.gw = None
        self.sim = None
        try:
            self._start_sim(size)
        except Exception:
            self.stop()
            raise
        self.state_dir = state_dir
        self.startup_ms = []

    def _start_sim(self, size):
        self.sim = Proc([f"{self.build}/cmd/gattway-sim", f"--bus_address={self.address}", "--no_fleet",
                         f"--load_devices={LOAD_DEVICES}", f"--load_value_size={size}", "--load_timestamps",
                         "--connection_slots=16", "--att_latency=0s", "--disconnect_grace=100ms",
                         "--temporary_timeout=600s"],
                        ready=r"event=sim\.ready")

    def start_gateway(self):
        """Execs gattwayd and returns the ms until its health service answers SERVING."""
        import grpc
        from grpc.health.v1 import health_pb2, health_pb2_grpc
        port = free_port()
        self.target = f"127.0.0.1:{port}"
        t0 = time.monotonic()
        self.gw = Proc([self.gattwayd, f"--dbus_address={self.address}",
                        f"--grpc_address={self.target}", "--metrics_address=", f"--state_dir={self.state_dir}",
                        "--log_level=warn"])
        ms = None
        # Poll the port with plain connects (a gRPC channel that failed once backs off for seconds),
        # then ask the health service, waiting for it to say SERVING.
        while time.monotonic() - t0 < 20 and self.gw.proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.05).close()
            except OSError:
                time.sleep(0.0005)
                continue
            with grpc.insecure_channel(self.target) as channel:
                stub = health_pb2_grpc.HealthStub(channel)
                try:
                    reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=2, wait_for_ready=True)
                except grpc.RpcError:
                    continue
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    ms = (time.monotonic() - t0) * 1e3
                    break
        if ms is None:
            raise RuntimeError("gattwayd did not serve:\n" + "\n".join(self.gw.lines[-30:]))
        self.startup_ms.append(ms)
        return ms

    def stop_gateway(self):
        if self.gw:
            self.gw.stop()
            self.gw = None

    def set_rates(self, adv_us, notify_us):
        subprocess.run(["busctl", f"--address={self.address}", "call", "io.gattway.Sim", "/io/gattway/sim",
                        "io.gattway.Sim1", "SetRates", "tt", str(adv_us), str(notify_us)],
                       check=True, capture_output=True, timeout=20)

    def stop(self):
        self.stop_gateway()
        if self.sim:
            self.sim.stop()
        self.bus.stop()


# --- measurements -------------------------------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.bare = f"{self.build}/tests/gattway_dbus_listener_bench"
        self.grpc = f"{self.build}/tests/gattway_grpc_clients_bench"
        self.bleak = [PYTHON, os.path.join(HERE, "bleak_client.py")]
        self.results = {"scan": [], "notify": [], "read": {}, "startup_ms": [], "errors": []}

    def window(self, stack, cmds, margin, rates, watch=()):
        """Runs `cmds` (with {start} filled in) side by side over one window at `rates` (the
        simulator's advertising and notification intervals, µs); returns (results, CPU seconds of
        each watched pid over the window, window seconds). The clients set up at a gentle rate (so
        that 16 Python processes starting up are not flooded), the load starts 1 s before the window."""
        seconds = self.args.seconds
        stack.set_rates(1000000, 1000000)
        start = time.time() + margin
        cmds = [[a.replace("{start}", f"{start:.3f}") for a in c] for c in cmds]
        procs, wait = run_clients(cmds, stack.env, timeout=margin + seconds + 180)
        pids = {"gattwayd": stack.gw.pid, "dbus-daemon": stack.bus.pid, "gattway-sim": stack.sim.pid, **dict(watch)}
        time.sleep(max(0.0, start - 1.0 - time.time()))
        stack.set_rates(*rates)
        time.sleep(max(0.0, start - time.time()))
        cpu0 = {k: cpu_seconds(p) for k, p in pids.items()}
        time.sleep(max(0.0, start + seconds - time.time()))
        cpu = {k: cpu_seconds(p) - cpu0[k] for k, p in pids.items()}
        results = wait()
        for c, r in zip(cmds, results):
            if not r.get("ok", False) or r.get("late"):
                self.results["errors"].append({"cmd": " ".join(c[:4]), "result": r})
        return results, cpu, seconds

    def bare_cmd(self, stack, mode, **kw):
        cmd = [self.bare, f"--bus_address={stack.address}", f"--mode={mode}", "--start_at={start}",
               f"--seconds={self.args.seconds}"]
        return cmd + [f"--{k}={v}" for k, v in kw.items()]

    def grpc_cmd(self, stack, mode, **kw):
        cmd = [self.grpc, f"--target={stack.target}", f"--mode={mode}", "--start_at={start}",
               f"--seconds={self.args.seconds}"]
        return cmd + [f"--{k}={v}" for k, v in kw.items()]

    def bleak_cmd(self, mode, **kw):
        cmd = self.bleak + [f"--mode={mode}", "--start_at={start}", f"--seconds={self.args.seconds}"]
        return cmd + [f"--{k}={v}" for k, v in kw.items()]

    def scan(self, stack, rate, consumers):
        adv_us = max(1, int(LOAD_DEVICES * 1e6 / rate)) if rate else 10
        rates = (adv_us, 1000000)
        row = {"size": stack.size, "rate": rate or "max"}
        # 1 consumer each: the ceiling, one gattway Scan stream and one bleak scanner, same signals.
        res, cpu, s = self.window(stack, [self.bare_cmd(stack, "scan"), self.grpc_cmd(stack, "scan", streams=1),
                                          self.bleak_cmd("scan")], margin=3.0, rates=rates)
        bare, gw, bl = res
        row["ceiling"] = bare.get("per_second_total", 0)
        row["gw1"] = gw.get("per_second_total", 0)
        row["gw1_dropped"] = gw.get("dropped", 0)
        row["bleak1"] = bl.get("per_second_total", 0)
        row["gw1_cpu_us"] = us_per(cpu["gattwayd"], row["gw1"] * s)
        row["bleak1_cpu_us"] = us_per(bl.get("cpu_s", 0), bl.get("callbacks", 0))
        row["daemon_cpu_1"] = cpu["dbus-daemon"] / s
        # The same with server-side batching (batch_interval), the knob for CPU at low rates.
        res, cpu, s = self.window(stack, [self.bare_cmd(stack, "scan"),
                                          self.grpc_cmd(stack, "scan", streams=1, batch_interval_ms=BATCH_MS)],
                                  margin=3.0, rates=rates)
        row["gw1b"] = res[1].get("per_second_total", 0)
        row["gw1b_cpu_us"] = us_per(cpu["gattwayd"], row["gw1b"] * s)
        # 16 consumers of the gateway (one process, 16 connections) beside the ceiling listener.
        res, cpu, s = self.window(stack, [self.bare_cmd(stack, "scan"),
                                          self.grpc_cmd(stack, "scan", streams=consumers)], margin=3.0, rates=rates)
        bare, gw = res
        each = gw.get("per_second_each", []) or [0]
        row["ceiling_16gw"] = bare.get("per_second_total", 0)
        row["gw16_each_mean"] = sum(each) / len(each)
        row["gw16_each_min"] = min(each)
        row["gw16_cpu_s"] = cpu["gattwayd"] / s
        row["gw16_cpu_us"] = us_per(cpu["gattwayd"], sum(each) * s)
        row["gw16_client_cpu_s"] = gw.get("client_cpu_s", 0) / s
        row["daemon_cpu_16gw"] = cpu["dbus-daemon"] / s
        res, cpu, s = self.window(stack, [self.bare_cmd(stack, "scan"),
                                          self.grpc_cmd(stack, "scan", streams=consumers,
                                                        batch_interval_ms=BATCH_MS)], margin=3.0, rates=rates)
        each = res[1].get("per_second_each", []) or [0]
        row["gw16b_each_mean"] = sum(each) / len(each)
        row["gw16b_cpu_s"] = cpu["gattwayd"] / s
        # 16 separate D-Bus listeners: bleak processes, beside the ceiling listener.
        res, cpu, s = self.window(stack, [self.bare_cmd(stack, "scan")] +
                                  [self.bleak_cmd("scan") for _ in range(consumers)],
                                  margin=3.0 + 0.8 * consumers, rates=rates)
        bare, bleaks = res[0], res[1:]
        each = [b.get("per_second_total", 0) for b in bleaks]
        row["ceiling_16bleak"] = bare.get("per_second_total", 0)
        row["bleak16_each_mean"] = sum(each) / len(each)
        row["bleak16_each_min"] = min(each)
        row["bleak16_cpu_s"] = sum(b.get("cpu_s", 0) for b in bleaks) / s
        row["daemon_cpu_16bleak"] = cpu["dbus-daemon"] / s
        self.results["scan"].append(row)
        print(f"  scan {stack.size:3d} B {row['rate']!s:>6}: ceiling {row['ceiling']:8.0f}/s  gattway {row['gw1']:8.0f}/s"
              f"  bleak {row['bleak1']:8.0f}/s  | 16: gattway {row['gw16_each_mean']:7.0f}/s each,"
              f" bleak {row['bleak16_each_mean']:7.0f}/s each", flush=True)

    def notify(self, stack, rate):
        notify_us = max(1, int(1e6 / rate)) if rate else 1
        res, cpu, s = self.window(stack, [self.bare_cmd(stack, "notify", address=BARE_DEVICE),
                                          self.grpc_cmd(stack, "subscribe", address=GW_DEVICE),
                                          self.bleak_cmd("notify", address=BLEAK_DEVICE)], margin=6.0,
                                  rates=(1000000, notify_us))
        bare, gw, bl = res
        row = {"size": stack.size, "rate": rate or "max",
               "ceiling": bare.get("per_second_total", 0), "gw": gw.get("per_second_total", 0),
               "gw_dropped": gw.get("dropped", 0), "bleak": bl.get("per_second_total", 0),
               "gw_cpu_us": us_per(cpu["gattwayd"], gw.get("per_second_total", 0) * s),
               "bleak_cpu_us": us_per(bl.get("cpu_s", 0), bl.get("per_second_total", 0) * s),
               "bare_latency_p50_us": bare.get("latency_p50_us", 0), "bare_latency_p99_us": bare.get("latency_p99_us", 0),
               "gw_latency_p50_us": gw.get("latency_p50_us", 0), "gw_latency_p99_us": gw.get("latency_p99_us", 0),
               "bleak_latency_p50_us": bl.get("latency_p50_us", 0), "bleak_latency_p99_us": bl.get("latency_p99_us", 0)}
        # The same with server-side batching (SubscribeRequest.batch_interval).
        res, cpu, s = self.window(stack, [self.bare_cmd(stack, "notify", address=BARE_DEVICE),
                                          self.grpc_cmd(stack, "subscribe", address=GW_DEVICE,
                                                        batch_interval_ms=BATCH_MS)],
                                  margin=6.0, rates=(1000000, notify_us))
        row["gwb"] = res[1].get("per_second_total", 0)
        row["gwb_cpu_us"] = us_per(cpu["gattwayd"], row["gwb"] * s)
        self.results["notify"].append(row)
        print(f"  notify {stack.size:3d} B {row['rate']!s:>6}: ceiling {row['ceiling']:8.0f}/s  gattway {row['gw']:8.0f}/s"
              f"  bleak {row['bleak']:8.0f}/s  latency p50 bare {row['bare_latency_p50_us']:.0f} us,"
              f" gattway {row['gw_latency_p50_us']:.0f} us", flush=True)

    def reads(self, stack, count):
        stack.set_rates(1000000, 1000000)
        out = {}
        for name, cmd in [("raw", [self.bare, f"--bus_address={stack.address}", "--mode=read",
                                   f"--address={BARE_DEVICE}", f"--count={count}"]),
                          ("grpc", [self.grpc, f"--target={stack.target}", "--mode=read", f"--address={GW_DEVICE}",
                                    f"--count={count}"]),
                          ("bleak", self.bleak + ["--mode=read", f"--address={BLEAK_DEVICE}",
                                                  f"--count={max(20, count // 2)}"]),
                          ("execute", [self.grpc, f"--target={stack.target}", "--mode=execute",
                                       f"--address={GW_DEVICE}", f"--count={max(5, count // 10)}"])]:
            r = collect(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                         env=stack.env), timeout=300)
            if not r.get("ok", True) or r.get("failed", 0):
                self.results["errors"].append({"cmd": name, "result": r})
            out[name] = r
        self.results["read"] = out
        print(f"  read: raw p50 {out['raw'].get('p50_us', 0):.0f} us, gRPC {out['grpc'].get('p50_us', 0):.0f} us,"
              f" bleak {out['bleak'].get('p50_us', 0):.0f} us", flush=True)

    def fleet(self):
        """1,000 persistent sessions (tests/bench/fleet.py; smoke: a few dozen)."""
        argv = ["--build", self.build] + (["--smoke"] if self.args.smoke else [])
        argv += ["--gattwayd", self.args.gattwayd] if self.args.gattwayd else []
        try:
            self.results["fleet"] = fleet.run_fleet(fleet.options(argv), fleet.api(self.build))
        except Exception as e:  # noqa: BLE001  (reported, and fails the smoke)
            self.results["errors"].append({"cmd": "fleet", "result": {"ok": False, "error": str(e)[-600:]}})

    def run(self):
        a = self.args
        sizes = [20] if a.smoke else [int(x) for x in a.sizes.split(",")]
        rates = [1000] if a.smoke else [MAX_RATE if x == "max" else int(x) for x in a.rates.split(",")]
        consumers = 2 if a.smoke else 16
        state = tempfile.mkdtemp(prefix="gattway-bench-")
        load0 = os.getloadavg()
        for i, size in enumerate(sizes if a.only != "fleet" else []):
            stack = Stack(self.build, size, state, a.gattwayd)
            try:
                stack.start_gateway()
                if i == 0:  # startup: exec → health SERVING, a few times on a quiet stack
                    for _ in range(1 if a.smoke else 4):
                        stack.stop_gateway()
                        time.sleep(0.3)
                        stack.start_gateway()
                print(f"payload {size} B (startup {stack.startup_ms[-1]:.0f} ms)", flush=True)
                for rate in rates if a.only in ("", "scan") else []:
                    self.scan(stack, rate, consumers)
                for rate in rates if a.only in ("", "notify") else []:
                    if size >= 12:
                        self.notify(stack, rate)
                if i == 0 and a.only in ("", "read"):
                    self.reads(stack, 100 if a.smoke else 2000)
                self.results["startup_ms"] += stack.startup_ms
            finally:
                stack.stop()
        if a.only in ("", "fleet"):
            self.fleet()
        self.results["machine"] = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                                   "cores": os.cpu_count(), "loadavg_start": load0, "loadavg_end": os.getloadavg(),
                                   "seconds_per_window": a.seconds, "smoke": a.smoke, "consumers": consumers}


def us_per(cpu_s, events):
    return cpu_s * 1e6 / events if events else 0.0


def ratio(a, b):
    return a / b if b else 0.0


# --- the table ----------------------------------------------------------------------------------

def table(results):
    rows = []  # (figure, measured, ratio text, target, meets)

    def add(figure, measured, r=None, target="", meets=None):
        rows.append((figure, measured, "" if r is None else f"{r:.2f}x", target,
                     "" if meets is None else ("yes" if meets else "NO")))

    for s in results["scan"]:
        k = f"scan {s['size']}B @{s['rate']}"
        add(f"{k}: ceiling (bare sd-bus listener)", f"{s['ceiling']:.0f}/s")
        r = ratio(s["gw1"], s["ceiling"])
        add(f"{k}: gattway, 1 Scan stream", f"{s['gw1']:.0f}/s", r, ">= 0.9x ceiling", r >= 0.9)
        add(f"{k}: bleak, 1 BleakScanner", f"{s['bleak1']:.0f}/s", ratio(s["bleak1"], s["ceiling"]), "(vs ceiling)")
        r = ratio(s["gw1_cpu_us"], s["bleak1_cpu_us"])
        add(f"{k}: CPU/event gattway vs bleak", f"{s['gw1_cpu_us']:.1f} vs {s['bleak1_cpu_us']:.1f} us", r,
            "<= 1.0x bleak", r <= 1.0 if s["bleak1_cpu_us"] else None)
        r = ratio(s["gw1b_cpu_us"], s["bleak1_cpu_us"])
        add(f"{k}: CPU/event gattway batched {BATCH_MS}ms vs bleak", f"{s['gw1b_cpu_us']:.1f} vs {s['bleak1_cpu_us']:.1f} us",
            r, "<= 1.0x bleak", r <= 1.0 if s["bleak1_cpu_us"] else None)
        r = ratio(s["gw16_each_mean"], s["bleak16_each_mean"])
        add(f"{k}: 16 streams each vs 16 bleak each", f"{s['gw16_each_mean']:.0f} vs {s['bleak16_each_mean']:.0f}/s",
            r, ">= 3x", r >= 3)
        add(f"{k}: 16 streams each vs ceiling", f"min {s['gw16_each_min']:.0f}/s",
            ratio(s["gw16_each_min"], s["ceiling_16gw"]), "(vs ceiling)")
        r = ratio(s["bleak16_cpu_s"], s["gw16_cpu_s"])
        add(f"{k}: total CPU 16 bleak / gattway (16)", f"{s['bleak16_cpu_s']*100:.0f}% vs {s['gw16_cpu_s']*100:.0f}%",
            r, ">= 3x less", r >= 3)
        r = ratio(s["bleak16_cpu_s"], s["gw16b_cpu_s"])
        add(f"{k}: total CPU 16 bleak / gattway (16, batched {BATCH_MS}ms)",
            f"{s['bleak16_cpu_s']*100:.0f}% vs {s['gw16b_cpu_s']*100:.0f}%", r, ">= 3x less", r >= 3)
    for n in results["notify"]:
        k = f"notify {n['size']}B @{n['rate']}"
        add(f"{k}: ceiling (bare listener)", f"{n['ceiling']:.0f}/s")
        r = ratio(n["gw"], n["ceiling"])
        add(f"{k}: gattway Subscribe", f"{n['gw']:.0f}/s", r, ">= 0.9x ceiling", r >= 0.9)
        add(f"{k}: bleak start_notify", f"{n['bleak']:.0f}/s", ratio(n["bleak"], n["ceiling"]), "(vs ceiling)")
        r = ratio(n["gw_cpu_us"], n["bleak_cpu_us"])
        add(f"{k}: CPU/event gattway vs bleak", f"{n['gw_cpu_us']:.1f} vs {n['bleak_cpu_us']:.1f} us", r,
            "<= 1.0x bleak", r <= 1.0 if n["bleak_cpu_us"] else None)
        r = ratio(n["gwb_cpu_us"], n["bleak_cpu_us"])
        add(f"{k}: CPU/event gattway (batched {BATCH_MS}ms, {n['gwb']:.0f}/s) vs bleak",
            f"{n['gwb_cpu_us']:.1f} vs {n['bleak_cpu_us']:.1f} us", r, "<= 1.0x bleak",
            r <= 1.0 if n["bleak_cpu_us"] else None)
        if n["rate"] == 1000:
            p50 = n["gw_latency_p50_us"] - n["bare_latency_p50_us"]
            p99 = n["gw_latency_p99_us"] - n["bare_latency_p99_us"]
            add(f"{k}: added latency p50 (gw {n['gw_latency_p50_us']:.0f} - bare {n['bare_latency_p50_us']:.0f})",
                f"{p50:.0f} us", None, "<= 150 us", p50 <= 150)
            add(f"{k}: added latency p99 (gw {n['gw_latency_p99_us']:.0f} - bare {n['bare_latency_p99_us']:.0f})",
                f"{p99:.0f} us", None, "<= 1000 us", p99 <= 1000)
            add(f"{k}: bleak latency p50/p99", f"{n['bleak_latency_p50_us']:.0f}/{n['bleak_latency_p99_us']:.0f} us")
    rd = results.get("read") or {}
    if rd:
        raw, g, b, e = (rd.get(x, {}) for x in ("raw", "grpc", "bleak", "execute"))
        add("read: raw ReadValue p50/p99", f"{raw.get('p50_us', 0):.0f}/{raw.get('p99_us', 0):.0f} us")
        add("read: bleak read_gatt_char p50/p99", f"{b.get('p50_us', 0):.0f}/{b.get('p99_us', 0):.0f} us",
            ratio(b.get("p50_us", 0), raw.get("p50_us", 0)), "(vs raw)")
        r = ratio(g.get("p50_us", 0), b.get("p50_us", 0))
        add("read: gRPC Read p50/p99", f"{g.get('p50_us', 0):.0f}/{g.get('p99_us', 0):.0f} us", r,
            "p50 <= 1.0x bleak", r <= 1.0 if g.get("p50_us") else None)
        add("read: Execute(10 reads) vs 10 Read p50",
            f"{e.get('execute10_p50_us', 0):.0f} vs {e.get('read10_p50_us', 0):.0f} us",
            ratio(e.get("execute10_p50_us", 0), e.get("read10_p50_us", 0)), "(lower is better)")
    st = sorted(results.get("startup_ms", []))
    if st:
        med = st[len(st) // 2]
        add(f"startup: exec -> health SERVING (median of {len(st)})", f"{med:.0f} ms", None, "<= 200 ms", med <= 200)
    if results.get("fleet"):
        rows += fleet.fleet_rows(results["fleet"])
    w = max(len(r[0]) for r in rows)
    m = max(len(r[1]) for r in rows)
    lines = [f"{'figure':<{w}}  {'measured':>{m}}  {'ratio':>7}  {'target':<20} meets"]
    lines += [f"{f:<{w}}  {v:>{m}}  {r:>7}  {t:<20} {ok}" for f, v, r, t, ok in rows]
    return "\n".join(lines), rows


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="one short pass of every measurement (ctest)")
    p.add_argument("--build", default=os.environ.get("GATTWAY_BUILD_DIR", os.path.join(SOURCE, "build")))
    p.add_argument("--json", default=None, help="where to write the figures (default BUILD/bench/compare.json)")
    p.add_argument("--seconds", type=float, default=None, help="measured seconds per window (3; smoke 0.5)")
    p.add_argument("--sizes", default="20,244", help="payload sizes, bytes (comma-separated)")
    p.add_argument("--rates", default="1000,10000,max", help="offered rates per second, or max")
    p.add_argument("--only", default="", choices=["", "scan", "notify", "read", "fleet"], help="one part only")
    p.add_argument("--gattwayd", default=None, help="another gattwayd binary (before/after comparisons)")
    args = p.parse_args()
    if args.seconds is None:
        args.seconds = 0.5 if args.smoke else 3.0
    build = os.path.abspath(args.build)
    stubs = os.path.join(build, "tests", "python")
    sys.path.insert(0, stubs)
    import grpc
    grpc.__path__.append(os.path.join(stubs, "grpc"))  # grpc-proto's health stubs live there
    bench = Bench(args)
    bench.run()
    text, rows = table(bench.results)
    m = bench.results["machine"]
    print(f"\n{m['date']}, {m['cores']} cores, load average {m['loadavg_start'][0]:.1f} at start,"
          f" {m['loadavg_end'][0]:.1f} at end; {args.seconds:g} s windows\n")
    print(text)
    for e in bench.results["errors"]:
        print(f"error: {e['cmd']}: {json.dumps(e['result'])[:300]}", file=sys.stderr)
    bench.results["table"] = [dict(zip(("figure", "measured", "ratio", "target", "meets"), r)) for r in rows]
    path = args.json or os.path.join(build, "bench", "compare.json")
    write_figures(bench.results, path)
    with open(os.path.splitext(path)[0] + ".md", "w") as f:  # the same table for the README
        f.write("| figure | measured | ratio | target | meets |\n|---|---|---|---|---|\n")
        f.writelines(f"| {' | '.join(r)} |\n" for r in rows)
    print(f"the table as Markdown beside it: {os.path.splitext(path)[0]}.md")
    # Speed never fails the run; a measurement that could not be taken does, in smoke mode.
    return 1 if args.smoke and bench.results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
