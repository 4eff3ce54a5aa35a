"""The Python examples (examples/python: scan, connect+read, subscribe, batch) run as a user runs
them, against `gattwayd --simulate`."""
import os
import re
import subprocess
import sys

import pytest

from gattway_e2e import Gattwayd

EXAMPLES = os.path.join(os.environ.get("GATTWAY_SOURCE_DIR", "."), "examples", "python")


@pytest.fixture(scope="module")
def gw():
    with Gattwayd("--simulate") as g:
        yield g


def run(gw, script, *args):
    done = subprocess.run([sys.executable, os.path.join(EXAMPLES, script),
                           "--address", gw.address, *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{script}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_scan_lists_the_fleet(gw):
    out = run(gw, "scan.py", "--duration", "3")
    assert re.search(r"^C0:FF:EE:00:00:01\s+-?\d+\s+EnvSensor-1$", out, re.M), out
    assert re.search(r"^C0:FF:EE:00:01:01\s+-?\d+\s+HRM-Strap$", out, re.M), out
    only_hrm = run(gw, "scan.py", "--duration", "2", "--service", "180D")
    assert "HRM-Strap" in only_hrm and "EnvSensor" not in only_hrm, only_hrm


def test_connect_read_decodes_temperature_and_battery(gw):
    out = run(gw, "connect_read.py", "C0:FF:EE:00:00:01")
    assert "connected C0:FF:EE:00:00:01 on hci0" in out, out
    m = re.search(r"^2A6E = ([0-9a-f]{2}) ([0-9a-f]{2})  (-?\d+\.\d\d) °C$", out, re.M)
    assert m, out
    raw = int.from_bytes(bytes([int(m.group(1), 16), int(m.group(2), 16)]), "little", signed=True)
    assert float(m.group(3)) == pytest.approx(raw / 100), out
    battery = run(gw, "connect_read.py", "C0:FF:EE:00:00:02", "2A19")
    m = re.search(r"^2A19 = ([0-9a-f]{2})  (\d+) %$", battery, re.M)
    assert m and int(m.group(1), 16) == int(m.group(2)), battery


def test_connect_read_reports_an_error_and_fails(gw):
    done = subprocess.run([sys.executable, os.path.join(EXAMPLES, "connect_read.py"),
                           "--address", gw.address, "C0:FF:EE:00:00:01", "2A99"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "NOT_FOUND" in done.stderr, done


def test_subscribe_prints_heart_rate_values(gw):
    out = run(gw, "subscribe.py", "C0:FF:EE:00:01:01", "--count", "3")
    assert "event: SUBSCRIPTION_EVENT_TYPE_STARTED" in out, out
    values = re.findall(r"^#(\d+) [0-9a-f ]+ (\d+) bpm$", out, re.M)
    assert [int(seq) for seq, _ in values] == [1, 2, 3], out
    assert all(30 <= int(bpm) <= 220 for _, bpm in values), out


def test_batch_runs_every_step_in_order(gw):
    out = run(gw, "batch.py", "C0:FF:EE:00:00:03")
    lines = out.splitlines()
    assert re.match(r"step 0 discover: \d+ services", lines[0]), out
    assert re.match(r"step 1 battery: [0-9a-f]{2} \(\d+ ms\)", lines[1]), out
    assert re.match(r"step 2 temperature: [0-9a-f]{2} [0-9a-f]{2} ", lines[2]), out
    assert re.match(r"step 3 humidity: [0-9a-f]{2} [0-9a-f]{2} ", lines[3]), out
    assert lines[-1] == "batch complete", out
