"""The Node example (examples/node/scan_subscribe.js, @grpc/grpc-js + @grpc/proto-loader) scans,
connects and subscribes against `gattwayd --simulate`."""
import os
import re
import subprocess

from gattway_e2e import Gattwayd

SOURCE = os.environ.get("GATTWAY_SOURCE_DIR", ".")
NODE_PATH = os.path.join(os.environ.get("GATTWAY_NPM_DIR", ""), "node_modules")


def run(*args):
    return subprocess.run(["node", os.path.join(SOURCE, "examples", "node", "scan_subscribe.js"),
                           *args], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, NODE_PATH=NODE_PATH))


def test_scan_subscribe_finds_the_strap_and_prints_heart_rates():
    with Gattwayd("--simulate") as gw:
        done = run("--address", gw.address, "--count", "3")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.search(r'^found C0:FF:EE:00:01:01 "HRM-Strap" rssi -\d+$', out, re.M), out
    assert "connected on hci0, state SESSION_STATE_CONNECTED" in out, out
    rates = re.findall(r"^#(\d+) heart rate (\d+) bpm$", out, re.M)
    assert [int(s) for s, _ in rates] == [1, 2, 3], out


def test_an_unreachable_gateway_fails_with_the_grpc_code():
    done = run("--address", "127.0.0.1:1", "--scan", "2")
    assert done.returncode == 1 and "scan: UNAVAILABLE" in done.stderr, done
