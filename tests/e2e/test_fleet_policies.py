"""examples/python/fleet_policies.py against `gattwayd --simulate`: the policies are applied, the
cameras and sensors enrolled, the heart-rate strap onboarded by auto_connect, the whole demo
fleet connected with its policies and their kept subscriptions active; a dropped-and-restarted
gateway resumes it from its state, subscriptions included."""
import os
import subprocess
import sys

import grpc

from gattway_e2e import Gattwayd
from sim_e2e import wait_until

from gattway.v1 import session_pb2, session_pb2_grpc

SCRIPT = os.path.join(os.environ.get("GATTWAY_SOURCE_DIR", ""), "examples/python/fleet_policies.py")


def run_script(address, *args):
    return subprocess.run([sys.executable, SCRIPT, "--gateway", address, *args],
                          capture_output=True, text=True, timeout=120, env=os.environ.copy())


def rows(output):
    table = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0] in ("Cam-1", "Cam-2", "EnvSensor-1", "EnvSensor-2",
                                             "EnvSensor-3", "HRM-Strap"):
            table[parts[0]] = parts
    return table


def test_the_fleet_script_applies_policies_and_the_fleet_comes_up():
    gw = Gattwayd("--simulate")
    try:
        done = run_script(gw.address, "--once", "--duration", "60")
        assert done.returncode == 0, done.stdout + done.stderr + gw.log_text()[-4000:]
        table = rows(done.stdout)
        assert set(table) == {"Cam-1", "Cam-2", "EnvSensor-1", "EnvSensor-2", "EnvSensor-3",
                              "HRM-Strap"}, done.stdout
        for name, parts in table.items():
            assert parts[2] == "CONNECTED", done.stdout
        assert table["Cam-1"][3] == "cameras" and table["Cam-1"][4] == "80", done.stdout
        assert table["EnvSensor-2"][3] == "env-sensors", done.stdout
        assert table["HRM-Strap"][3] == "hr-straps", done.stdout
        # Kept subscriptions (active/kept): heart rate measurement on the strap, the status on
        # each camera; the sensors' policy keeps none.
        assert table["HRM-Strap"][7] == "1/1", done.stdout
        assert table["Cam-1"][7] == "1/1" and table["Cam-2"][7] == "1/1", done.stdout
        assert table["EnvSensor-1"][7] == "-", done.stdout
        assert "event=auto_connect.onboarding" in gw.log_text()
        # Cameras come first in the table: it is ordered by priority.
        names = [line.split()[0] for line in done.stdout.splitlines() if line.split()
                 and line.split()[0] in table]
        assert names[:2] == ["Cam-1", "Cam-2"], done.stdout

        # Running it again changes nothing (UpdatePolicy allow_missing, Connect returns the
        # existing sessions).
        again = run_script(gw.address, "--once", "--duration", "30", "--scan_seconds", "1")
        assert again.returncode == 0, again.stdout + again.stderr
    finally:
        gw.stop()


def test_a_restarted_gateway_resumes_the_fleet_from_its_state_directory():
    gw = Gattwayd("--simulate")
    state_dir = gw.state_dir
    try:
        done = run_script(gw.address, "--once", "--duration", "60")
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        code, _ = gw.stop()
    assert code == 0
    gw2 = Gattwayd("--simulate", f"--state_dir={state_dir}")
    try:
        with grpc.insecure_channel(gw2.address) as ch:
            stub = session_pb2_grpc.SessionServiceStub(ch)
            policies = {p.name: p for p in stub.ListPolicies(session_pb2.ListPoliciesRequest(),
                                                             timeout=5).policies}
            assert sorted(policies) == ["cameras", "env-sensors", "hr-straps"]
            assert [s.characteristic.characteristic_uuid
                    for s in policies["hr-straps"].subscriptions] == ["2A37"]

            def connected():
                r = stub.ListSessions(session_pb2.ListSessionsRequest(
                    filter=session_pb2.SessionFilter(states=[session_pb2.SESSION_STATE_CONNECTED])),
                    timeout=5)
                kept = [s for s in r.sessions if s.subscriptions]
                return len(r.sessions) == 6 and len(kept) == 3 and all(
                    k.active for s in kept for k in s.subscriptions)
            assert wait_until(connected, timeout=60), gw2.log_text()[-4000:]
    finally:
        gw2.stop()
