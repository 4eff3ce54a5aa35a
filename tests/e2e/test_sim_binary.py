"""gattway-sim as users run it: BlueZ's shape under busctl (tree and introspect), its flags, and its
life cycle (SIGTERM, the bus going away)."""
import signal
import subprocess

import pytest

from sim_e2e import GATTWAY_SIM, PrivateBus, Sim, busctl, wait_until

HRM = "/org/bluez/hci0/dev_C0_FF_EE_00_01_01"


# Holds a bleak connection to the heart-rate strap until stdin closes (bleak is a test dependency
# already; it is also what a user would connect with).
_HOLD_CONNECTION = """
import asyncio, sys
from bleak import BleakClient, BleakScanner
async def main():
    dev = await BleakScanner.find_device_by_address("C0:FF:EE:00:01:01", timeout=10)
    async with BleakClient(dev) as client:
        print("connected", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
asyncio.run(main())
"""


@pytest.fixture(scope="module")
def connected_sim():
    """The demo fleet with the heart-rate strap connected by a BlueZ client."""
    with PrivateBus() as bus, Sim(bus, "--disconnect_grace=100ms") as sim:
        holder = subprocess.Popen(["/usr/bin/python3", "-c", _HOLD_CONNECTION], env=bus.env(),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert holder.stdout.readline().strip() == "connected", sim.log_text()
        yield bus, sim
        holder.stdin.close()
        holder.wait(15)


def test_busctl_tree_shows_bluezs_object_paths(connected_sim):
    bus, _ = connected_sim
    code, out, err = busctl(bus, "tree", "--list", "org.bluez")
    assert code == 0, err
    paths = set(out.split())
    for p in ["/org/bluez", "/org/bluez/hci0", HRM, f"{HRM}/service000a",
              f"{HRM}/service000a/char000b", f"{HRM}/service000a/char000b/desc000d",
              f"{HRM}/service0006"]:
        assert p in paths, out
    assert f"{HRM}/service0001" not in paths  # GAP is not exported


def test_busctl_introspect_shows_bluezs_interfaces(connected_sim):
    bus, _ = connected_sim
    code, out, _ = busctl(bus, "introspect", "org.bluez", f"{HRM}/service000a/char000b")
    assert code == 0
    for member in [".ReadValue", ".WriteValue", ".StartNotify", ".StopNotify", ".AcquireNotify",
                   ".AcquireWrite", ".Flags", ".Notifying", ".MTU", ".Service", ".UUID"]:
        assert member in out, out
    assert "org.bluez.GattCharacteristic1" in out
    code, out, _ = busctl(bus, "introspect", "org.bluez", HRM, "org.bluez.Device1")
    assert code == 0
    for member in [".Connect", ".Disconnect", ".Pair", ".CancelPairing", ".Alias", ".RSSI",
                   ".ServicesResolved", ".ManufacturerData", ".AdvertisingFlags"]:
        assert member in out, out
    code, out, _ = busctl(bus, "get-property", "org.bluez", HRM, "org.bluez.Device1", "Connected")
    assert out.strip() == "b true"


def test_busctl_reaches_the_control_interface(connected_sim):
    bus, _ = connected_sim
    code, out, err = busctl(bus, "call", "io.gattway.Sim", "/io/gattway/sim", "io.gattway.Sim1",
                            "GetStats")
    assert code == 0, err
    assert "AdvertisingReports" in out


def test_help_describes_the_flags():
    done = subprocess.run([GATTWAY_SIM, "--help"], capture_output=True, text=True, timeout=20)
    text = done.stdout + done.stderr
    for flag in ("--bus_address", "--fleet", "--ordering", "--adapters", "--connection_slots",
                 "--advertising_interval", "--notification_interval", "--load_devices"):
        assert flag in text, flag


@pytest.mark.parametrize("args, message", [
    (["--ordering=sloppy"], "--ordering must be tidy or real"),
    (["--adapters=0"], "--adapters must be 1..16"),
    (["--advertising_interval=soon"], "is not a duration"),
    (["--fleet=/nonexistent.yaml"], "cannot read /nonexistent.yaml"),
])
def test_bad_flags_exit_non_zero_with_a_clear_message(args, message):
    done = subprocess.run([GATTWAY_SIM, *args], capture_output=True, text=True, timeout=20)
    assert done.returncode != 0
    assert message in done.stderr, done.stderr


def test_a_bad_fleet_file_names_the_key(tmp_path):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("devices:\n  - name: x\n    address: \"AA:BB:CC:DD:EE:FF\"\n    rssi: 99\n")
    done = subprocess.run([GATTWAY_SIM, f"--fleet={fleet}"], capture_output=True, text=True, timeout=20)
    assert done.returncode != 0
    assert "devices[0].rssi" in done.stderr, done.stderr


def test_without_arguments_it_serves_the_demo_fleet_on_the_system_bus():
    """The system bus is wherever DBUS_SYSTEM_BUS_ADDRESS says, as for every D-Bus client."""
    with PrivateBus() as bus:
        proc = subprocess.Popen([GATTWAY_SIM], env=bus.env(), stderr=subprocess.PIPE, text=True)
        try:
            assert wait_until(lambda: "org.bluez" in busctl(bus, "list", "--acquired")[1], timeout=10)
            code, out, _ = busctl(bus, "call", "io.gattway.Sim", "/io/gattway/sim", "io.gattway.Sim1", "Devices")
            assert code == 0 and "HRM-Strap" in out and "Cam-2" in out, out
        finally:
            proc.terminate()
            proc.wait(10)
        assert proc.returncode == 0


def test_sigterm_stops_it_and_releases_the_name():
    with PrivateBus() as bus:
        sim = Sim(bus)
        code, seconds = sim.stop(signal.SIGTERM)
        assert code == 0, sim.log_text()
        assert seconds < 5
        _, out, _ = busctl(bus, "list", "--acquired")
        assert "org.bluez" not in out


def test_it_exits_when_the_bus_goes_away():
    bus = PrivateBus()
    sim = Sim(bus)
    bus.stop()
    assert wait_until(lambda: sim.proc.poll() is not None, timeout=10), sim.log_text()
    code, _ = sim.stop()  # exited already: joins the log reader, which may not have read the end
    assert code != 0
    assert "event=sim.bus_lost" in sim.log_text()
