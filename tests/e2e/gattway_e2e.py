"""Helpers for end-to-end tests: start gattwayd as users do and talk to it over gRPC.

Environment (set by ctest, see tests/CMakeLists.txt): GATTWAYD (the binary), GATTWAY_PY_STUBS
(generated Python stubs), GATTWAY_SOURCE_DIR.
"""
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

_STUBS = os.environ.get("GATTWAY_PY_STUBS", "")
sys.path.insert(0, _STUBS)
# grpc-proto's health and reflection stubs are generated as grpc/health/..., grpc/reflection/...;
# `grpc` is grpcio's regular package, so let it find those submodules in the stubs directory too.
import grpc  # noqa: E402
grpc.__path__.append(os.path.join(_STUBS, "grpc"))

GATTWAYD = os.environ.get("GATTWAYD", "gattwayd")
_LISTENING = re.compile(r"event=grpc\.listening .*\bport=(\d+)")
_METRICS = re.compile(r"event=metrics\.listening .*\bport=(\d+)")


def stop_process(proc, reader, sig=None, timeout=10.0):
    """Signals `proc` (SIGTERM by default), kills it after `timeout`, joins its log `reader`;
    returns (exit code, seconds taken)."""
    import signal
    start = time.monotonic()
    if proc.poll() is None:
        proc.send_signal(sig or signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    reader.join(5)
    return proc.returncode, time.monotonic() - start


class Gattwayd:
    """A running gattwayd on an ephemeral port; its log lines are kept in `lines`."""

    def __init__(self, *args, env=None, startup_timeout=20.0):
        self.state_dir = tempfile.mkdtemp(prefix="gattway-state-")
        cmd = [GATTWAYD, "--grpc_address=127.0.0.1:0", "--metrics_address=127.0.0.1:0",
               f"--state_dir={self.state_dir}", *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, env=env)
        self.lines = []
        self.port = None
        self.metrics_port = None
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(startup_timeout) or self.port is None:
            self.stop()
            raise RuntimeError("gattwayd did not start:\n" + "\n".join(self.lines[-40:]))

    def _read(self):
        for line in self.proc.stderr:
            line = line.rstrip("\n")
            self.lines.append(line)
            m = _METRICS.search(line)
            if m and self.metrics_port is None:
                self.metrics_port = int(m.group(1))
            m = _LISTENING.search(line)
            if m and self.port is None:
                self.port = int(m.group(1))
                self._ready.set()
        self._ready.set()

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def log_text(self):
        return "\n".join(self.lines)

    def stop(self, sig=None, timeout=10.0):
        """Signals the process (SIGTERM by default) and returns (exit code, seconds taken)."""
        return stop_process(self.proc, self._reader, sig, timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def error_info(rpc_error):
    """The google.rpc.ErrorInfo of a failed call, or None."""
    from google.protobuf import any_pb2  # noqa: F401  (registers Any)
    from google.rpc import error_details_pb2, status_pb2
    for key, value in rpc_error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info
    return None
