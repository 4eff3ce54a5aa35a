"""The README's environmental-sensing peripheral, end to end: gattwayd hosting the database and
advertisement on a private bus, examples/python/env_sensor_peripheral.py driving it over gRPC,
and a stand-in bluetoothd (tests/tools/fake_bluetoothd_main.cc) subscribed as a central, printing
every notification it receives."""
import os
import subprocess
import sys
import time

import pytest

import gattway_e2e

SOURCE = os.environ.get("GATTWAY_SOURCE_DIR", "")
FAKE_BLUETOOTHD = os.environ.get("GATTWAY_FAKE_BLUETOOTHD", "")
BUS_CONF = os.environ.get("GATTWAY_PRIVATE_BUS_CONF", "")
EXAMPLE = os.path.join(SOURCE, "examples", "python", "env_sensor_peripheral.py")


@pytest.fixture
def private_bus():
    proc = subprocess.Popen(["dbus-daemon", "--nofork", "--nopidfile", "--print-address=1",
                             f"--config-file={BUS_CONF}"], stdout=subprocess.PIPE, text=True)
    address = proc.stdout.readline().strip()
    yield address
    proc.terminate()
    proc.wait(5)


@pytest.fixture
def bluetoothd(private_bus):
    proc = subprocess.Popen([FAKE_BLUETOOTHD, private_bus], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    yield proc
    proc.stdin.close()
    proc.wait(10)


def test_env_sensor_example_notifies_a_subscribed_central_once_a_second(private_bus, bluetoothd):
    with gattway_e2e.Gattwayd(f"--dbus_address={private_bus}") as gw:
        env = dict(os.environ, GATTWAY_PY_STUBS=os.environ["GATTWAY_PY_STUBS"])
        start = time.monotonic()
        out = subprocess.run([sys.executable, EXAMPLE, f"--gateway={gw.address}", "--count=3"],
                             capture_output=True, text=True, timeout=60, env=env)
        took = time.monotonic() - start
        assert out.returncode == 0, out.stderr + gw.log_text()
        lines = out.stdout.splitlines()
        assert lines[0] == "hosting on hci0: 2A6E, 2A6F", lines
        assert lines[1] == "advertising 'gattway-env' on hci0", lines
        updates = [l for l in lines if l.startswith("temperature ")]
        assert len(updates) == 3, lines
        # The stand-in subscribed as soon as the database was registered: every update reached it.
        assert updates[-1].endswith("-> 1 central(s)"), lines
        assert took >= 2.0  # once a second
    bluetoothd.stdin.close()
    seen = bluetoothd.stdout.read().splitlines()
    assert "advertising gattway-env" in seen, seen
    notified = [l for l in seen if l.startswith("notified ")]
    assert len(notified) >= 2, seen
    for line in notified:
        value = bytes.fromhex(line.split()[1])
        celsius = int.from_bytes(value, "little", signed=True) / 100
        assert 19.0 <= celsius <= 24.0, line
