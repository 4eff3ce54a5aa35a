"""Helpers for end-to-end tests of the simulated BlueZ: a private dbus-daemon and the gattway-sim
binary, started as users start them.

Environment (set by ctest, see tests/CMakeLists.txt): GATTWAY_SIM (the binary),
GATTWAY_SOURCE_DIR.
"""
import os
import re
import signal
import subprocess
import threading
import time

from gattway_e2e import stop_process

GATTWAY_SIM = os.environ.get("GATTWAY_SIM", "gattway-sim")
SOURCE_DIR = os.environ.get("GATTWAY_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUS_CONF = os.path.join(SOURCE_DIR, "ble", "sim", "private-bus.conf")


class PrivateBus:
    """dbus-daemon with ble/sim/private-bus.conf; `address` is its D-Bus address."""

    def __init__(self):
        self.proc = subprocess.Popen(
            ["dbus-daemon", "--nofork", "--nopidfile", "--print-address=1",
             f"--config-file={BUS_CONF}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.address = self.proc.stdout.readline().strip()
        if not self.address:
            raise RuntimeError("dbus-daemon did not start")

    def env(self, **extra):
        """The environment of a D-Bus client that treats this bus as the system bus."""
        return dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address, **extra)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Sim:
    """gattway-sim on `bus`, ready when its log says so; its log lines are kept in `lines`."""

    def __init__(self, bus, *args, startup_timeout=20.0):
        self.proc = subprocess.Popen([GATTWAY_SIM, f"--bus_address={bus.address}", *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(startup_timeout) or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError("gattway-sim did not start:\n" + self.log_text())

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            if "event=sim.ready" in line:
                self._ready.set()
        self._ready.set()

    def log_text(self):
        return "\n".join(self.lines)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        return stop_process(self.proc, self._reader, sig, timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def busctl(bus, *args, timeout=20):
    """Runs busctl against the bus; returns (exit code, stdout, stderr)."""
    done = subprocess.run(["busctl", f"--address={bus.address}", *args],
                          capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout, done.stderr


def wait_until(predicate, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


STRIP_ANSI = re.compile(r"\x1b\[[0-9;]*m")
