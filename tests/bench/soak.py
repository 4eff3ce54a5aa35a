#!/usr/bin/python3
"""The soak (issue 10; bounded, never in CI): the fleet of fleet.py under churn for the given time —
links dropped, connects failing, GATT operations failing and late, bluetoothd restarting — while
Scan streams, Subscribe streams and Read calls come and go. gattwayd's RSS, open fds and threads are
sampled every --sample seconds; the summary gives the least-squares slope (KiB/min, fds/min) over
the whole run and over its second half (warm-up excluded). Writes JSON.

  /usr/bin/python3 tests/bench/soak.py 30m [--sessions 200 --adapters 4 --sample 10]
"""
import argparse
import os
import random
import sys
import tempfile
import threading
import time

from benchlib import cpu_seconds, open_fds, proc_status, write_figures
from fleetlib import (LOAD_CHAR, LOAD_SERVICE, add_options, api, bring_up, check_options, in_progress_attempts,
                      load_address, machine, tear_down)


def slope(points):
    """Least-squares slope of (x, y) points; 0 with fewer than two distinct x."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0


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
    seconds = parse_duration(a.duration)
    stack, channel, watcher, fig = bring_up(a, g, workdir, advertisers, fast_reconnect=True)
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
    p.add_argument("duration", help="how long to soak (e.g. 30m, 600s)")
    add_options(p, "persistent sessions (200)")
    p.add_argument("--sample", type=float, default=10, help="seconds between samples")
    p.add_argument("--restart_every", type=float, default=120, help="seconds between bluetoothd restarts")
    p.add_argument("--scan_streams", type=int, default=2, help="Scan streams at once")
    p.add_argument("--subscribe_streams", type=int, default=4, help="Subscribe streams at once")
    p.add_argument("--read_rate", type=float, default=20, help="Read calls per second per reader (2 readers)")
    a = p.parse_args(argv)
    a.sessions = 200 if a.sessions is None else a.sessions
    a.singles = 20 if a.singles is None else a.singles
    a.settle = 3.0 if a.settle is None else a.settle
    check_options(p, a, 4)
    return a


def main():
    a = options()
    build = os.path.abspath(a.build)
    fig = run_soak(a, api(build))
    print_soak(fig)
    write_figures(fig, a.json or os.path.join(build, "bench", "soak.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
