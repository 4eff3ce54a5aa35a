"""What the benchmark scripts share: children whose log is kept, CPU time and memory of a process
from /proc, a free port, and a private bus with gattway-sim on it."""
import glob
import os
import re
import signal
import socket
import subprocess
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.path.join(HERE, "..", ".."))


def cpu_seconds(pid):
    """CPU time of every live thread of `pid` (schedstat: ns, far finer than /proc/pid/stat's ticks)."""
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    if total:
        return total / 1e9
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Proc:
    """A child whose stderr is kept; `wait_line` waits for a log line matching a pattern."""

    def __init__(self, cmd, env=None, ready=None, timeout=30, stdout=subprocess.DEVNULL):
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True, env=env)
        self.lines = []
        self._ready = threading.Event()
        self._pattern = re.compile(ready) if ready else None
        threading.Thread(target=self._read, daemon=True).start()
        if ready and (not self._ready.wait(timeout) or self.proc.poll() is not None):
            self.stop()
            raise RuntimeError(f"{cmd[0]} did not start:\n" + "\n".join(self.lines[-30:]))

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            if len(self.lines) > 2000:  # a soak runs for hours: keep the recent lines
                del self.lines[:1000]
            if self._pattern and self._pattern.search(line):
                self._ready.set()
        self._ready.set()

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()



def proc_status(pid):
    """VmRSS, VmHWM (KiB) and Threads of `pid`, from /proc/<pid>/status."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM", "Threads"):
                    out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def open_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def context_switches(pid):
    """Voluntary + involuntary context switches of every live thread of `pid` (its wake-ups)."""
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return total


def private_bus():
    """A dbus-daemon with the simulator's bus policy; returns (Proc, address)."""
    bus = Proc(["dbus-daemon", "--nofork", "--nopidfile", "--print-address=1",
                f"--config-file={SOURCE}/ble/sim/private-bus.conf"], stdout=subprocess.PIPE)
    return bus, bus.proc.stdout.readline().strip()


def write_figures(figures, path):
    """Writes `figures` as JSON to `path` (directories made as needed) and says where."""
    import json
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(figures, f, indent=1)
    print(f"\nfigures written to {path}")
