"""The README's environmental-sensing peripheral against the simulated BlueZ (gattwayd --simulate):
one of the simulator's remote centrals connects to the gateway's advertisement, reads the
temperature and subscribes, and receives the example's once-a-second notifications.

Skipped where gattwayd has no --simulate yet."""
import os
import re
import subprocess
import sys
import time

import pytest

import gattway_e2e

SOURCE = os.environ.get("GATTWAY_SOURCE_DIR", "")
EXAMPLE = os.path.join(SOURCE, "examples", "python", "env_sensor_peripheral.py")
_BUS = re.compile(r'event=simulate\.ready .*\bbus="?([^" ]+)"?')


def _has_simulate():
    out = subprocess.run([gattway_e2e.GATTWAYD, "--help"], capture_output=True, text=True)
    return "--simulate" in out.stdout + out.stderr


pytestmark = pytest.mark.skipif(not _has_simulate(), reason="gattwayd has no --simulate yet")


def sim(bus, method, signature, *args):
    """Calls io.gattway.Sim1 on the simulator's bus with busctl; returns busctl's output."""
    out = subprocess.run(["busctl", f"--address={bus}", "call", "io.gattway.Sim", "/io/gattway/sim",
                          "io.gattway.Sim1", method, signature, *map(str, args)],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, f"{method}: {out.stderr}"
    return out.stdout.split()


def test_a_simulated_central_receives_the_example_s_notifications():
    with gattway_e2e.Gattwayd("--simulate") as gw:
        bus = None
        for _ in range(100):
            bus = next((m.group(1) for m in map(_BUS.search, gw.lines) if m), None)
            if bus:
                break
            time.sleep(0.1)
        assert bus, gw.log_text()
        example = subprocess.Popen(
            [sys.executable, EXAMPLE, f"--gateway={gw.address}", "--count=6"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
        try:
            for _ in range(100):  # until the example advertises
                if "a(qqsas) 0" not in " ".join(sim(bus, "HostedAttributes", "s", "hci0")):
                    break
                time.sleep(0.1)
            time.sleep(0.3)
            central = sim(bus, "CentralConnect", "ss", "hci0", "11:22:33:44:55:66")[1].strip('"')
            value = sim(bus, "CentralRead", "ssq", central, "2A6E", 0)
            assert value[:2] == ["ay", "2"], value
            sim(bus, "CentralSubscribe", "ssb", central, "2A6E", "false")
            time.sleep(2.5)
            received = sim(bus, "CentralReceived", "ss", central, "2A6E")
            assert received[0] == "tay" and int(received[1]) >= 2, received
            last = bytes(int(b) for b in received[3:5])
            assert 19.0 <= int.from_bytes(last, "little", signed=True) / 100 <= 24.0, received
        finally:
            out, err = example.communicate(timeout=30)
        assert example.returncode == 0, err + gw.log_text()
        assert "event: central_connected 11:22:33:44:55:66" in out, out
        assert "-> 1 central(s)" in out, out
