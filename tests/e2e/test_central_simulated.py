"""The central API as users run it: `gattwayd --simulate` and Python clients generated from the
proto. The README's heart-rate example prints beats from the simulated strap, and every kind of
bad input gets the documented code and a message naming the field, without disturbing the
gateway."""
import os
import re
import subprocess
import sys

import grpc
import pytest

import gattway_e2e
from gattway.v1 import adapter_pb2, adapter_pb2_grpc, common_pb2, gatt_pb2, gatt_pb2_grpc
from gattway.v1 import scan_pb2, scan_pb2_grpc, session_pb2, session_pb2_grpc
from google.protobuf import duration_pb2

SOURCE = os.environ.get("GATTWAY_SOURCE_DIR", "")
EXAMPLE = os.path.join(SOURCE, "examples", "python", "heart_rate_monitor.py")
HRM = "C0:FF:EE:00:01:01"
CAM = "00:1B:DC:0C:A0:01"
UNKNOWN = "AA:BB:CC:DD:EE:FF"
C = grpc.StatusCode


def test_the_heart_rate_example_prints_heart_rates_from_the_simulated_strap():
    with gattway_e2e.Gattwayd("--simulate") as gw:
        env = dict(os.environ, GATTWAY_ADDRESS=gw.address)  # the address from the environment
        done = subprocess.run([sys.executable, EXAMPLE, "--count=3"], capture_output=True,
                              text=True, timeout=60, env=env)
        assert done.returncode == 0, done.stdout + done.stderr + gw.log_text()[-3000:]
        assert f"found HRM-Strap {HRM}" in done.stdout, done.stdout
        beats = [int(b) for b in re.findall(r"^heart rate: (\d+) bpm$", done.stdout, re.M)]
        assert len(beats) >= 3, done.stdout
        # The simulated strap beats around 72 bpm (demo fleet: bpm 72, variability 6).
        assert all(40 <= b <= 110 for b in beats), beats
        assert done.stdout.rstrip().endswith("disconnected"), done.stdout


def test_the_heart_rate_example_takes_its_address_from_a_flag_and_explains_an_unreachable_one():
    done = subprocess.run([sys.executable, EXAMPLE, "--gateway=127.0.0.1:1", "--count=1",
                           "--scan-seconds=1"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "gattway: UNAVAILABLE" in done.stderr, done.stderr


@pytest.fixture(scope="module")
def gateway():
    with gattway_e2e.Gattwayd("--simulate") as gw:
        with grpc.insecure_channel(gw.address) as channel:
            stubs = _Stubs(channel)
            stubs.sessions.Connect(session_pb2.ConnectRequest(address=HRM), timeout=20)
            yield stubs


class _Stubs:
    def __init__(self, channel):
        self.adapters = adapter_pb2_grpc.AdapterServiceStub(channel)
        self.scan = scan_pb2_grpc.ScanServiceStub(channel)
        self.sessions = session_pb2_grpc.SessionServiceStub(channel)
        self.gatt = gatt_pb2_grpc.GattServiceStub(channel)


def ref(characteristic="2A38", service="", **kw):
    return common_pb2.AttributeRef(characteristic_uuid=characteristic, service_uuid=service, **kw)


def dur(seconds=0, nanos=0):
    return duration_pb2.Duration(seconds=seconds, nanos=nanos)


def read(**kw):
    return lambda g: g.gatt.Read(gatt_pb2.ReadRequest(**{"address": HRM, "attribute": ref(), **kw}),
                                 timeout=10)


def write(**kw):
    return lambda g: g.gatt.Write(
        gatt_pb2.WriteRequest(**{"address": CAM, "attribute": ref("67617474-7761-7900-0000-0063616d0001"),
                                 "value": b"\x01", **kw}), timeout=10)


def stream(method, request):
    """Calls a server-streaming RPC and reads it to its end (errors surface while reading)."""
    def call(g):
        for _ in method(g)(request, timeout=10):
            pass
    return call


def scan(**kw):
    kw.setdefault("duration", dur(0, 100_000_000))
    return stream(lambda g: g.scan.Scan, scan_pb2.ScanRequest(**kw))


def subscribe(**kw):
    return stream(lambda g: g.gatt.Subscribe,
                  gatt_pb2.SubscribeRequest(**{"address": HRM, "characteristic": ref("2A37"), **kw}))


def execute(operations, **kw):
    return stream(lambda g: g.gatt.Execute,
                  gatt_pb2.ExecuteRequest(address=HRM, operations=operations, **kw))


def connect(**kw):
    return lambda g: g.sessions.Connect(session_pb2.ConnectRequest(**kw), timeout=20)


def read_op(**kw):
    return gatt_pb2.GattOperation(read=gatt_pb2.ReadOperation(attribute=ref(), **kw))


# (name, call, code, reason, words the message must contain)
CASES = [
    # Malformed addresses.
    ("short address", connect(address="C0:FF:EE:00:01"), C.INVALID_ARGUMENT, "INVALID_FIELD",
     ["address", "AA:BB:CC:DD:EE:FF"]),
    ("non-hex address", read(address="C0:FF:EE:00:01:ZZ"), C.INVALID_ARGUMENT, "INVALID_FIELD",
     ["address"]),
    ("address in a scan filter", scan(filter=scan_pb2.ScanFilter(addresses=[HRM, "nope"])),
     C.INVALID_ARGUMENT, "INVALID_FIELD", ["filter.addresses[1]"]),
    ("empty address", lambda g: g.sessions.GetSession(session_pb2.GetSessionRequest(), timeout=5),
     C.INVALID_ARGUMENT, "INVALID_FIELD", ["address"]),
    # Malformed UUIDs.
    ("3-digit characteristic uuid", read(attribute=ref("2A3")), C.INVALID_ARGUMENT,
     "INVALID_FIELD", ["attribute.characteristic_uuid"]),
    ("non-hex service uuid", read(attribute=ref("2A38", "18OD")), C.INVALID_ARGUMENT,
     "INVALID_FIELD", ["attribute.service_uuid"]),
    ("uuid in a scan filter", scan(filter=scan_pb2.ScanFilter(service_uuids=["180D", "x"])),
     C.INVALID_ARGUMENT, "INVALID_FIELD", ["filter.service_uuids[1]"]),
    ("uuid in a discover", lambda g: g.gatt.Discover(
        gatt_pb2.DiscoverRequest(address=HRM, service_uuid="not-a-uuid"), timeout=10),
     C.INVALID_ARGUMENT, "INVALID_FIELD", ["service_uuid"]),
    # Unknown device and characteristic.
    ("read on a device without a session", read(address=UNKNOWN), C.NOT_FOUND,
     "DEVICE_NOT_FOUND", [UNKNOWN]),
    ("get an unknown session", lambda g: g.sessions.GetSession(
        session_pb2.GetSessionRequest(address=UNKNOWN), timeout=5), C.NOT_FOUND,
     "DEVICE_NOT_FOUND", [UNKNOWN]),
    ("disconnect an unknown session", lambda g: g.sessions.Disconnect(
        session_pb2.DisconnectRequest(address=UNKNOWN), timeout=5), C.NOT_FOUND,
     "DEVICE_NOT_FOUND", [UNKNOWN]),
    ("unknown characteristic", read(attribute=ref("2A99")), C.NOT_FOUND, "ATTRIBUTE_NOT_FOUND",
     ["2A99"]),
    ("unknown handle", read(attribute=common_pb2.AttributeRef(handle=0x0500)), C.NOT_FOUND,
     "ATTRIBUTE_NOT_FOUND", ["attribute (handle 0x0500) does not exist"]),
    ("connect to a device that never answers", connect(address=UNKNOWN, timeout=dur(1)),
     C.DEADLINE_EXCEEDED, "TIMEOUT", [UNKNOWN, "did not finish within 1s"]),
    ("unknown adapter", scan(adapter="hci9"), C.NOT_FOUND, "ADAPTER_NOT_FOUND", ["hci9"]),
    # Values and offsets.
    ("value over 512 bytes", write(value=bytes(513)), C.INVALID_ARGUMENT, "INVALID_FIELD",
     ["value", "512"]),
    ("offset beyond 511", read(offset=600), C.INVALID_ARGUMENT, "INVALID_FIELD", ["offset"]),
    # Negative and absurd durations.
    ("negative read timeout", read(timeout=dur(-1)), C.INVALID_ARGUMENT, "INVALID_FIELD",
     ["timeout", "-1s is negative", "leave it unset for the default"]),
    ("hour-long read timeout", read(timeout=dur(3600)), C.INVALID_ARGUMENT, "INVALID_FIELD",
     ["timeout"]),
    ("negative scan duration", scan(duration=dur(-5)), C.INVALID_ARGUMENT, "INVALID_FIELD",
     ["duration"]),
    ("scan for a year", scan(duration=dur(365 * 86400)), C.INVALID_ARGUMENT, "INVALID_FIELD",
     ["duration"]),
    ("negative connect timeout", connect(address=CAM, timeout=dur(-1)), C.INVALID_ARGUMENT,
     "INVALID_FIELD", ["timeout"]),
    ("day-long connect timeout", connect(address=CAM, timeout=dur(86400)), C.INVALID_ARGUMENT,
     "INVALID_FIELD", ["timeout"]),
    ("negative batch budget", execute([read_op()], budget=dur(-1)), C.INVALID_ARGUMENT,
     "INVALID_FIELD", ["budget"]),
    ("negative wait step", execute([gatt_pb2.GattOperation(
        wait=gatt_pb2.WaitOperation(duration=dur(-1)))]), C.INVALID_ARGUMENT, "INVALID_FIELD",
     ["operations[0]"]),
    # Batches.
    ("empty batch", execute([]), C.INVALID_ARGUMENT, "INVALID_FIELD", ["operations"]),
    ("65 steps", execute([read_op()] * 65), C.INVALID_ARGUMENT, "INVALID_FIELD", ["64"]),
    ("step without an operation", execute([read_op(), gatt_pb2.GattOperation()]),
     C.INVALID_ARGUMENT, "INVALID_FIELD", ["operations[1]"]),
    # Unknown enum values (proto3 enums are open: a newer client may send them).
    ("unknown write mode", write(mode=42), C.INVALID_ARGUMENT, "INVALID_FIELD", ["mode"]),
    ("unknown scan mode", scan(mode=7), C.INVALID_ARGUMENT, "INVALID_FIELD", ["mode"]),
    ("unknown scan type", scan(scan_type=9), C.INVALID_ARGUMENT, "INVALID_FIELD", ["scan_type"]),
    ("unknown subscribe mode", subscribe(mode=5), C.INVALID_ARGUMENT, "INVALID_FIELD", ["mode"]),
    ("unknown address type", connect(address=CAM, address_type=3), C.INVALID_ARGUMENT,
     "INVALID_FIELD", ["address_type"]),
    ("unknown session state", lambda g: g.sessions.ListSessions(session_pb2.ListSessionsRequest(
        filter=session_pb2.SessionFilter(states=[99])), timeout=5), C.INVALID_ARGUMENT,
     "INVALID_FIELD", ["filter.states[0]"]),
    # What BlueZ cannot honour, and operations the characteristic does not support.
    ("scan interval", scan(interval=dur(0, 100_000_000)), C.FAILED_PRECONDITION,
     "BACKEND_LIMITATION", ["interval"]),
    ("subscribe to a read-only characteristic", subscribe(characteristic=ref("2A38")),
     C.FAILED_PRECONDITION, "OPERATION_NOT_SUPPORTED", ["2A38"]),
    ("rssi out of range", scan(filter=scan_pb2.ScanFilter(min_rssi=50)), C.INVALID_ARGUMENT,
     "INVALID_FIELD", ["filter.min_rssi"]),
]


@pytest.mark.parametrize("name, call, code, reason, words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_the_right_code_and_a_clear_message(gateway, name, call, code, reason,
                                                            words):
    with pytest.raises(grpc.RpcError) as caught:
        call(gateway)
    e = caught.value
    assert e.code() == code, f"{name}: {e.code()} {e.details()}"
    info = gattway_e2e.error_info(e)
    assert info is not None and info.reason == reason, f"{name}: {info} {e.details()}"
    for w in words:
        assert w in e.details(), f"{name}: {w!r} not in {e.details()!r}"
    # The gateway keeps serving: the strap's session is intact and reads still work.
    value = gateway.gatt.Read(gatt_pb2.ReadRequest(address=HRM, attribute=ref()), timeout=10)
    assert value.value == b"\x01"
