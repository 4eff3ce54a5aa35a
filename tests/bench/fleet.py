#!/usr/bin/python3
"""gattwayd keeping a fleet of persistent sessions on gattway-sim: the fleet benchmark (issue 10).

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

Prints a table, writes JSON; never fails on speed (--smoke exits 1 only when a measurement could
not be taken, so that ctest notices a broken bench).

  /usr/bin/python3 tests/bench/fleet.py [--sessions 1000 --adapters 16 --idle 20] [--smoke]

The soak (tests/bench/soak.py) runs the same stack under churn for half an hour.
"""
import argparse
import datetime
import os
import sys
import tempfile
import time

from benchlib import context_switches, cpu_seconds, open_fds, proc_status, write_figures
from fleetlib import (SIM_CONNECT_MS, add_options, api, bring_up, check_options, connect_request, in_progress,
                      in_progress_attempts, machine, tally, tear_down)


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


# --- main ---------------------------------------------------------------------------------------

def options(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="a small fleet, seconds (ctest)")
    add_options(p, "persistent sessions (1000; smoke 40)")
    p.add_argument("--idle", type=float, default=None, help="idle CPU window, seconds (20; smoke 1)")
    p.add_argument("--pause_ms", type=int, default=500, help="how long bluetoothd stays away")
    p.add_argument("--callers", type=int, default=None, help="Connect calls waiting through the restart (100)")
    p.add_argument("--restart_timeout", type=float, default=300)
    p.add_argument("--events", action="store_true", help="write every session event of the restart to the JSON")
    a = p.parse_args(argv)
    if a.sessions is None:
        a.sessions = 40 if a.smoke else 1000
    if a.singles is None:
        a.singles = 3 if a.smoke else 20
    if a.idle is None:
        a.idle = 1.0 if a.smoke else 20.0
    if a.settle is None:
        a.settle = 0.5 if a.smoke else 3.0
    if a.callers is None:
        a.callers = 5 if a.smoke else 100
    check_options(p, a, 2 if a.smoke else 4)
    return a


def main():
    a = options()
    build = os.path.abspath(a.build)
    g = api(build)
    fig = run_fleet(a, g)
    m = fig["machine"]
    print(f"\n{m['date']}, {m['cores']} cores, load average {m['loadavg_start'][0]:.1f} at start,"
          f" {m['loadavg_end'][0]:.1f} at end\n")
    print_rows(fleet_rows(fig))
    write_figures(fig, a.json or os.path.join(build, "bench", "fleet-smoke.json" if a.smoke else "fleet.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
