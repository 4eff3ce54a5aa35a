"""The Go example (examples/go/scan_subscribe), built offline from Debian's Go packages with stubs
generated now, scans, connects and subscribes against `gattwayd --simulate`."""
import os
import re
import shutil
import subprocess

import pytest

from gattway_e2e import Gattwayd

SOURCE = os.environ.get("GATTWAY_SOURCE_DIR", ".")


@pytest.fixture(scope="module")
def binary(tmp_path_factory):
    if shutil.which("go") is None or shutil.which("protoc-gen-go-grpc") is None:
        pytest.fail("Go toolchain missing: run scripts/deps.sh --test")
    out = tmp_path_factory.mktemp("go")
    done = subprocess.run([os.path.join(SOURCE, "examples", "go", "build.sh"), str(out)],
                          capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stdout + done.stderr
    return out / "bin" / "scan_subscribe"


def test_scan_subscribe_finds_the_strap_and_prints_heart_rates(binary):
    with Gattwayd("--simulate") as gw:
        done = subprocess.run([str(binary), "-address", gw.address, "-count", "3"],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.search(r'^found C0:FF:EE:00:01:01 "HRM-Strap" rssi -\d+$', out, re.M), out
    assert "connected on hci0, state SESSION_STATE_CONNECTED" in out, out
    assert "event SUBSCRIPTION_EVENT_TYPE_STARTED" in out, out
    rates = re.findall(r"^#(\d+) heart rate (\d+) bpm$", out, re.M)
    assert [int(s) for s, _ in rates] == [1, 2, 3], out


def test_an_unreachable_gateway_fails_with_the_grpc_code(binary):
    done = subprocess.run([str(binary), "-address", "127.0.0.1:1", "-scan", "2s"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "scan: Unavailable" in done.stderr, done
