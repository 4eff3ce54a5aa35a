"""`gattwayd --simulate`, the README's run command: it starts a private dbus-daemon and the
simulated BlueZ, serves health, and cleans all of them up on SIGTERM, when a child dies, and (via
the children's parent-death signal) even when it is killed."""
import os
import re
import signal
import subprocess

import grpc
import pytest

from gattway_e2e import GATTWAYD, Gattwayd
from grpc.health.v1 import health_pb2, health_pb2_grpc
from sim_e2e import busctl, pid_alive, wait_until

_BUS = re.compile(r"event=simulate\.bus_started address=\"?([^\" ]+)\"? pid=(\d+)")
_SIM = re.compile(r"event=simulate\.ready simulator_pid=(\d+)")


class Simulated:
    def __init__(self, *args):
        self.gw = Gattwayd("--simulate", *args)
        assert wait_until(lambda: _SIM.search(self.gw.log_text()), timeout=10), self.gw.log_text()
        bus = _BUS.search(self.gw.log_text())
        self.bus_address, self.bus_pid = bus.group(1), int(bus.group(2))
        self.sim_pid = int(_SIM.search(self.gw.log_text()).group(1))

    class _Bus:
        def __init__(self, address):
            self.address = address


def health(address):
    with grpc.insecure_channel(address) as ch:
        reply = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
        return reply.status


def test_it_serves_health_against_a_simulated_bluez_and_cleans_up_on_sigterm():
    s = Simulated()
    assert health(s.gw.address) == health_pb2.HealthCheckResponse.SERVING
    # The simulated BlueZ is on the private bus, with its adapter.
    code, out, _ = busctl(Simulated._Bus(s.bus_address), "tree", "--list", "org.bluez")
    assert code == 0 and "/org/bluez/hci0" in out, out
    assert pid_alive(s.bus_pid) and pid_alive(s.sim_pid)
    code, seconds = s.gw.stop(signal.SIGTERM)
    assert code == 0, s.gw.log_text()
    assert seconds < 10
    assert wait_until(lambda: not pid_alive(s.bus_pid) and not pid_alive(s.sim_pid), timeout=5)
    assert "event=simulate.stopped" in s.gw.log_text()


def test_a_simulator_that_dies_stops_the_gateway_and_the_bus():
    s = Simulated()
    os.kill(s.sim_pid, signal.SIGKILL)
    assert wait_until(lambda: s.gw.proc.poll() is not None, timeout=10), s.gw.log_text()
    code, _ = s.gw.stop()  # exited already: joins the log reader, which may not have read the end
    assert code != 0
    assert "event=simulate.child_exited child=\"gattway-sim\"" in s.gw.log_text() or \
        "event=simulate.child_exited child=gattway-sim" in s.gw.log_text()
    assert wait_until(lambda: not pid_alive(s.bus_pid), timeout=5)


def test_a_killed_gateway_takes_its_children_with_it():
    s = Simulated()
    s.gw.proc.kill()
    s.gw.proc.wait(5)
    assert wait_until(lambda: not pid_alive(s.bus_pid) and not pid_alive(s.sim_pid), timeout=10)
    s.gw.stop()


def test_a_fleet_file_is_passed_to_the_simulator(tmp_path):
    fleet = tmp_path / "one.yaml"
    fleet.write_text("devices:\n  - name: Solo\n    address: \"AB:CD:EF:00:00:01\"\n")
    s = Simulated(f"--fleet={fleet}")
    code, out, _ = busctl(Simulated._Bus(s.bus_address), "call", "io.gattway.Sim", "/io/gattway/sim",
                          "io.gattway.Sim1", "Devices")
    assert code == 0 and "Solo" in out and "HRM-Strap" not in out, out
    s.gw.stop()


@pytest.mark.parametrize("args, message", [
    (["--simulate", "--dbus_address=unix:path=/tmp/x"], "do not give --dbus_address with it"),
    (["--fleet=x.yaml"], "--fleet needs --simulate"),
])
def test_contradictory_flags_are_refused(args, message):
    done = subprocess.run([GATTWAYD, *args], capture_output=True, text=True, timeout=20)
    assert done.returncode != 0
    assert message in done.stderr, done.stderr
