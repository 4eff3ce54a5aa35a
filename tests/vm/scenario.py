#!/usr/bin/python3
"""The real-BlueZ scenario, run inside the VM against one gattwayd that uses both of btvirt's
controllers: the gateway's peripheral on hci1, its central on hci0.

Writes one JSON document to --out: {"steps": [{"name", "status": "ok"|"failed"|"skipped", "ms",
"detail"}...], "figures": {...}}. Every step is recorded even when an earlier one failed (those that
depend on it are recorded as failed with "not run: ..."), so the host sees the whole picture.

Stubs: GATTWAY_PY_STUBS (generated on the host with protoc and grpc_python_plugin).
"""
import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
import traceback

sys.path.insert(0, os.environ.get("GATTWAY_PY_STUBS", ""))
import grpc  # noqa: E402
from google.protobuf import duration_pb2  # noqa: E402
from gattway.v1 import (adapter_pb2, adapter_pb2_grpc, common_pb2, gatt_pb2,  # noqa: E402
                        gatt_pb2_grpc, peripheral_pb2, peripheral_pb2_grpc, scan_pb2,
                        scan_pb2_grpc, session_pb2, session_pb2_grpc)

CENTRAL, PERIPHERAL = "hci0", "hci1"
PERIPHERAL_ADDRESS = "00:AA:01:01:00:01"  # btvirt's fixed address for the second controller
ENV = "181A"                               # Environmental Sensing
TEMPERATURE = "2A6E"
COMMAND = "6a1e0001-0000-4000-8000-00805f9b34fb"   # writable, captured
HANDLED = "6a1e0002-0000-4000-8000-00805f9b34fb"   # read answered by HandleReads
REFUSED = "6a1e0003-0000-4000-8000-00805f9b34fb"   # read refused by HandleReads with REFUSE_CODE
REFUSE_CODE = 0x80
HANDLED_VALUE = b"from-handler"


def short(uuid):
    """'0000181a-0000-1000-8000-00805f9b34fb' and '181A' both as '181a'."""
    u = uuid.lower()
    return u[4:8] if u.startswith("0000") and u.endswith("-0000-1000-8000-00805f9b34fb") else u


def ref(uuid):
    return common_pb2.AttributeRef(service_uuid=ENV, characteristic_uuid=uuid)


def dur(seconds):
    d = duration_pb2.Duration()
    d.FromMilliseconds(int(seconds * 1000))
    return d


def _varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def _fields(buf):
    """(field number, wire type, value) of a protobuf message (varint and length-delimited only)."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i:i + n], i + n
        else:
            raise ValueError(f"wire type {wire}")
        yield number, wire, value


def error_metadata(rpc_error):
    """The metadata map of the google.rpc.ErrorInfo in a failed call's status details (decoded by
    hand: Debian packages no Python google.rpc protos)."""
    meta = {}
    for key, value in rpc_error.trailing_metadata() or ():
        if key != "grpc-status-details-bin":
            continue
        for number, _, detail in _fields(value):          # Status.details (Any) = 3
            if number != 3:
                continue
            parts = {n: v for n, _, v in _fields(detail)}  # Any: type_url = 1, value = 2
            if not parts.get(1, b"").endswith(b"google.rpc.ErrorInfo"):
                continue
            for n, _, entry in _fields(parts.get(2, b"")):  # ErrorInfo.metadata = 3
                if n == 3:
                    kv = {k: v.decode() for k, _, v in _fields(entry)}
                    meta[kv.get(1, "")] = kv.get(2, "")
    return meta


class Scenario:
    def __init__(self, gateway):
        self.channel = grpc.insecure_channel(gateway)
        self.adapters = adapter_pb2_grpc.AdapterServiceStub(self.channel)
        self.peripheral = peripheral_pb2_grpc.PeripheralServiceStub(self.channel)
        self.scan = scan_pb2_grpc.ScanServiceStub(self.channel)
        self.sessions = session_pb2_grpc.SessionServiceStub(self.channel)
        self.gatt = gatt_pb2_grpc.GattServiceStub(self.channel)
        self.steps = []
        self.figures = {}
        self.failed = set()
        self.writes = queue.Queue()
        self.reads_seen = queue.Queue()

    def step(self, name, fn, needs=()):
        missing = [n for n in needs if n in self.failed]
        if missing:
            self.steps.append({"name": name, "status": "failed", "ms": 0,
                               "detail": "not run: needs " + ", ".join(missing)})
            self.failed.add(name)
            return
        start = time.monotonic()
        try:
            detail = fn() or ""
            status = "ok"
            if isinstance(detail, tuple):
                status, detail = detail
        except grpc.RpcError as e:
            status, detail = "failed", f"{e.code().name}: {e.details()} {error_metadata(e)}"
        except Exception as e:  # an assertion or anything else: the step failed, carry on
            status, detail = "failed", f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"
        ms = round((time.monotonic() - start) * 1000, 1)
        if status == "failed":
            self.failed.add(name)
        print(f"scenario: {name}: {status} ({ms} ms) {detail}", flush=True)
        self.steps.append({"name": name, "status": status, "ms": ms, "detail": str(detail)})

    # --- peripheral on hci1 ---------------------------------------------------------------------
    def wait_gateway(self):
        grpc.channel_ready_future(self.channel).result(timeout=30)
        deadline = time.monotonic() + 30
        while True:  # until the gateway sees both adapters powered
            try:
                names = {a.name: a.powered for a in self.adapters.ListAdapters(
                    adapter_pb2.ListAdaptersRequest(), timeout=5).adapters}
                if names.get(CENTRAL) and names.get(PERIPHERAL):
                    return f"adapters {names}"
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
                names = e.details()
            if time.monotonic() > deadline:
                raise AssertionError(f"both adapters not powered after 30 s: {names}")
            time.sleep(0.2)

    def register(self):
        reply = self.peripheral.RegisterServices(peripheral_pb2.RegisterServicesRequest(
            adapter=PERIPHERAL,
            services=[peripheral_pb2.LocalService(uuid=ENV, characteristics=[
                peripheral_pb2.LocalCharacteristic(uuid=TEMPERATURE, read=True, notify=True,
                                                   initial_value=b"\x66\x08"),
                peripheral_pb2.LocalCharacteristic(uuid=COMMAND, write=True, capture=True),
                peripheral_pb2.LocalCharacteristic(uuid=HANDLED, read=True,
                                                   initial_value=b"stored"),
                peripheral_pb2.LocalCharacteristic(uuid=REFUSED, read=True,
                                                   initial_value=b"stored"),
            ])]), timeout=15)
        assert reply.adapter == PERIPHERAL, reply
        return f"{len(reply.attributes)} attributes on {reply.adapter}"

    def open_write_stream(self):
        stream = self.peripheral.StreamWrites(peripheral_pb2.StreamWritesRequest(
            characteristics=[ref(COMMAND)]))
        stream.initial_metadata()  # the subscription is in place

        def pump():
            try:
                for message in stream:
                    for w in message.writes:
                        self.writes.put((time.monotonic(), w))
            except grpc.RpcError:
                pass
        threading.Thread(target=pump, daemon=True).start()
        self.write_stream = stream

    def open_read_handler(self):
        answers = queue.Queue()
        answers.put(peripheral_pb2.HandleReadsRequest(register=peripheral_pb2.ReadHandlerRegistration(
            characteristics=[ref(HANDLED), ref(REFUSED)], answer_timeout=dur(5))))

        def requests():
            while True:
                item = answers.get()
                if item is None:
                    return
                yield item
        stream = self.peripheral.HandleReads(requests())
        first = next(stream)
        assert first.WhichOneof("message") == "registered", first

        def pump():
            try:
                for message in stream:
                    read = message.read
                    self.reads_seen.put(read)
                    if short(read.characteristic.characteristic_uuid) == REFUSED:
                        answer = peripheral_pb2.ReadAnswer(request_id=read.request_id,
                                                           att_error=REFUSE_CODE)
                    else:
                        answer = peripheral_pb2.ReadAnswer(request_id=read.request_id,
                                                           value=HANDLED_VALUE)
                    answers.put(peripheral_pb2.HandleReadsRequest(answer=answer))
            except grpc.RpcError:
                pass
        threading.Thread(target=pump, daemon=True).start()
        self.read_handler = (stream, answers)
        return "registered for 2 characteristics"

    def open_streams(self):
        self.open_write_stream()
        return self.open_read_handler()

    # --- central on hci0 ------------------------------------------------------------------------
    def scan_then_advertise(self):
        found = queue.Queue()
        stream = self.scan.Scan(scan_pb2.ScanRequest(
            adapter=CENTRAL, filter=scan_pb2.ScanFilter(service_uuids=[ENV]), duration=dur(30)))

        def pump():
            try:
                for message in stream:
                    for r in message.results:
                        found.put(r)
            except grpc.RpcError as e:
                found.put(e)
        threading.Thread(target=pump, daemon=True).start()
        # BlueZ drops advertising reports that arrive before discovery is in place, and btvirt
        # sends a report only when advertising or scanning starts: advertise once hci0 discovers.
        deadline = time.monotonic() + 15
        while not self.adapters.GetAdapter(adapter_pb2.GetAdapterRequest(name=CENTRAL),
                                           timeout=5).adapter.discovering:
            assert time.monotonic() < deadline, "hci0 not discovering 15 s after Scan"
            time.sleep(0.1)
        discovering_at = time.monotonic()
        adv = self.peripheral.StartAdvertising(peripheral_pb2.StartAdvertisingRequest(
            adapter=PERIPHERAL, id="env", local_name="gattway-vm", service_uuids=[ENV]), timeout=15)
        assert adv.adapter == PERIPHERAL, adv
        advertising_at = time.monotonic()
        try:
            while True:
                r = found.get(timeout=max(0.1, advertising_at + 20 - time.monotonic()))
                if isinstance(r, Exception):
                    raise r
                if r.address.upper() == PERIPHERAL_ADDRESS:
                    break
        except queue.Empty:
            raise AssertionError("no scan result for the advertising hci1 within 20 s")
        finally:
            stream.cancel()
        self.figures["scan_found_after_advertising_ms"] = round(
            (time.monotonic() - advertising_at) * 1000, 1)
        self.figures["advertising_started_ms"] = round((advertising_at - discovering_at) * 1000, 1)
        assert short(ENV) in [short(u) for u in r.service_uuids], r
        return f"found {r.address} '{r.name}' services {list(r.service_uuids)} rssi {r.rssi}"

    def connect(self):
        reply = self.sessions.Connect(session_pb2.ConnectRequest(
            address=PERIPHERAL_ADDRESS, adapter=CENTRAL, timeout=dur(30)), timeout=40)
        s = reply.session
        assert s.state == session_pb2.SESSION_STATE_CONNECTED, s
        return f"{session_pb2.SessionState.Name(s.state)} on {s.adapter}, mtu {s.mtu}"

    def discover(self):
        reply = self.gatt.Discover(gatt_pb2.DiscoverRequest(address=PERIPHERAL_ADDRESS), timeout=15)
        env = [s for s in reply.services if short(s.uuid) == short(ENV)]
        assert env, [s.uuid for s in reply.services]
        uuids = {c.uuid.lower() for c in env[0].characteristics}
        for u in (COMMAND, HANDLED, REFUSED):
            assert u in uuids, uuids
        return f"{len(reply.services)} services; 181A has {len(uuids)} characteristics"

    def read(self):
        times = []
        for _ in range(10):
            start = time.monotonic()
            reply = self.gatt.Read(gatt_pb2.ReadRequest(address=PERIPHERAL_ADDRESS,
                                                        attribute=ref(TEMPERATURE)), timeout=10)
            times.append((time.monotonic() - start) * 1000)
            assert reply.value == b"\x66\x08", reply.value
        self.figures["read_round_trip_ms_median"] = round(statistics.median(times), 1)
        self.figures["read_round_trip_ms_max"] = round(max(times), 1)
        return f"10 reads, median {statistics.median(times):.1f} ms"

    def write(self):
        start = time.monotonic()
        self.gatt.Write(gatt_pb2.WriteRequest(address=PERIPHERAL_ADDRESS, attribute=ref(COMMAND),
                                              value=b"\x01start",
                                              mode=common_pb2.WRITE_MODE_WITH_RESPONSE), timeout=10)
        acked = time.monotonic()
        at, w = self.writes.get(timeout=10)
        assert w.value == b"\x01start", w
        assert w.central.upper() == "00:AA:01:00:00:00", w.central
        self.figures["write_acknowledged_ms"] = round((acked - start) * 1000, 1)
        return f"seen on StreamWrites from {w.central} seq {w.sequence}"

    def subscribe(self):
        stream = self.gatt.Subscribe(gatt_pb2.SubscribeRequest(
            address=PERIPHERAL_ADDRESS, characteristic=ref(TEMPERATURE),
            mode=common_pb2.SUBSCRIBE_MODE_NOTIFY))
        got = queue.Queue()

        def pump():
            try:
                for message in stream:
                    if message.HasField("event"):
                        got.put(("event", message.event.type, time.monotonic()))
                    for n in message.notifications:
                        got.put(("value", n.value, time.monotonic()))
            except grpc.RpcError as e:
                got.put(("error", e, time.monotonic()))
        threading.Thread(target=pump, daemon=True).start()
        kind, what, _ = got.get(timeout=15)
        assert (kind, what) == ("event", gatt_pb2.SUBSCRIPTION_EVENT_TYPE_STARTED), (kind, what)
        latencies = []
        values = [bytes([i, 0x09]) for i in range(3)]
        for v in values:
            sent = time.monotonic()
            reply = self.peripheral.SetValue(peripheral_pb2.SetValueRequest(
                characteristic=ref(TEMPERATURE), value=v, send_update=True), timeout=5)
            assert reply.centrals_updated >= 1, reply
            while True:
                kind, what, at = got.get(timeout=10)
                if kind == "error":
                    raise what
                if kind == "value":
                    break
            assert what == v, (what, v)
            latencies.append((at - sent) * 1000)
        self.subscription = (stream, got)
        self.figures["notification_latency_ms_median"] = round(statistics.median(latencies), 1)
        return f"3 values in order, latency median {statistics.median(latencies):.1f} ms"

    def handled_read(self):
        reply = self.gatt.Read(gatt_pb2.ReadRequest(address=PERIPHERAL_ADDRESS,
                                                    attribute=ref(HANDLED)), timeout=10)
        assert reply.value == HANDLED_VALUE, reply.value
        read = self.reads_seen.get(timeout=5)
        return f"handler answered read {read.request_id} from {read.central} (mtu {read.mtu})"

    def refused_read(self):
        try:
            reply = self.gatt.Read(gatt_pb2.ReadRequest(address=PERIPHERAL_ADDRESS,
                                                        attribute=ref(REFUSED)), timeout=10)
        except grpc.RpcError as e:
            meta = error_metadata(e)
            assert e.code() == grpc.StatusCode.ABORTED, (e.code(), e.details(), meta)
            assert int(meta.get("att_error", "0"), 16) == REFUSE_CODE, meta
            return f"{e.code().name} att_error {meta.get('att_error')} ({e.details()})"
        raise AssertionError(f"the refused read returned {reply.value!r}")

    def execute(self):
        ops = [
            gatt_pb2.GattOperation(read=gatt_pb2.ReadOperation(attribute=ref(TEMPERATURE))),
            gatt_pb2.GattOperation(write=gatt_pb2.WriteOperation(
                attribute=ref(COMMAND), value=b"\x02batch",
                mode=common_pb2.WRITE_MODE_WITH_RESPONSE)),
            gatt_pb2.GattOperation(read=gatt_pb2.ReadOperation(attribute=ref(HANDLED))),
        ]
        start = time.monotonic()
        results = list(self.gatt.Execute(gatt_pb2.ExecuteRequest(
            address=PERIPHERAL_ADDRESS, operations=ops, budget=dur(10)), timeout=20))
        took = (time.monotonic() - start) * 1000
        assert [r.index for r in results] == [0, 1, 2], results
        assert all(r.status.code == 0 for r in results), results
        _, w = self.writes.get(timeout=10)
        assert w.value == b"\x02batch", w
        # The same batch with a wait that cannot fit the budget: DEADLINE_EXCEEDED, later steps
        # not run.
        over = ops[:1] + [gatt_pb2.GattOperation(wait=gatt_pb2.WaitOperation(duration=dur(5)))] \
            + ops[2:]
        got = []
        try:
            for r in self.gatt.Execute(gatt_pb2.ExecuteRequest(
                    address=PERIPHERAL_ADDRESS, operations=over, budget=dur(1)), timeout=20):
                got.append(r)
            raise AssertionError(f"a 5 s wait under a 1 s budget finished: {got}")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.DEADLINE_EXCEEDED, (e.code(), e.details())
            assert error_metadata(e).get("steps_completed") == "1", error_metadata(e)
        self.figures["execute_3_steps_ms"] = round(took, 1)
        return f"3 steps in {took:.0f} ms; over budget: DEADLINE_EXCEEDED after step 0"

    # --- persistent session (issue 7 step 3) -----------------------------------------------------
    def persistent(self):
        # The kernel removes hci1's advertising instance at power-off and bluetoothd 5.66 does not
        # send it again at power-on: the session comes back only because the gateway's peripheral
        # registers its advertisement again (ble/peripheral/advertiser.h, lostToPowerOff).
        reply = self.sessions.Connect(session_pb2.ConnectRequest(
            address=PERIPHERAL_ADDRESS, adapter=CENTRAL, persistent=True, timeout=dur(30)),
            timeout=40)
        assert reply.session.persistent, reply.session
        stream, got = self.subscription
        btmgmt = ["btmgmt", "--index", PERIPHERAL[3:]]
        off = time.monotonic()
        subprocess.run(btmgmt + ["power", "off"], check=True, capture_output=True, timeout=10)
        interrupted = resumed = powered_on = None
        deadline = off + 60
        while resumed is None:
            try:
                kind, what, at = got.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    "no RESUMED within 60 s of the power-off (INTERRUPTED "
                    + ("seen" if interrupted else "not seen") + ")") from None
            if kind == "error":
                raise what
            if kind == "event" and what == gatt_pb2.SUBSCRIPTION_EVENT_TYPE_INTERRUPTED:
                interrupted = at
                subprocess.run(btmgmt + ["power", "on"], check=True, capture_output=True,
                               timeout=10)
                powered_on = time.monotonic()
            elif kind == "event" and what == gatt_pb2.SUBSCRIPTION_EVENT_TYPE_RESUMED:
                resumed = at
        assert interrupted and powered_on, "RESUMED before INTERRUPTED"
        self.peripheral.SetValue(peripheral_pb2.SetValueRequest(
            characteristic=ref(TEMPERATURE), value=b"\x77\x07", send_update=True), timeout=5)
        while True:
            kind, what, _ = got.get(timeout=15)
            if kind == "value":
                assert what == b"\x77\x07", what
                break
        self.figures["persistent_interrupted_after_power_off_ms"] = round((interrupted - off) * 1000, 1)
        self.figures["persistent_resume_after_power_on_ms"] = round((resumed - powered_on) * 1000, 1)
        return (f"interrupted {(interrupted - off):.1f} s after power off, resumed "
                f"{(resumed - powered_on):.1f} s after power on, notification received")

    def run(self):
        self.step("gateway ready, both adapters powered", self.wait_gateway)
        g = ["gateway ready, both adapters powered"]
        self.step("peripheral: RegisterServices on hci1", self.register, g)
        reg = g + ["peripheral: RegisterServices on hci1"]
        self.step("peripheral: StreamWrites and HandleReads open", self.open_streams, reg)
        self.step("central: Scan (service filter) before StartAdvertising finds hci1",
                  self.scan_then_advertise, reg)
        self.step("central: Connect", self.connect,
                  ["central: Scan (service filter) before StartAdvertising finds hci1"])
        c = ["central: Connect"]
        self.step("central: Discover", self.discover, c)
        self.step("central: Read", self.read, c)
        self.step("central: Write seen on StreamWrites", self.write,
                  c + ["peripheral: StreamWrites and HandleReads open"])
        self.step("central: Subscribe receives SetValue(send_update)", self.subscribe, c)
        self.step("central: Read answered by HandleReads", self.handled_read,
                  c + ["peripheral: StreamWrites and HandleReads open"])
        self.step("central: Read refused by HandleReads with ATT 0x80", self.refused_read,
                  c + ["peripheral: StreamWrites and HandleReads open"])
        self.step("central: Execute batch under a budget", self.execute,
                  c + ["peripheral: StreamWrites and HandleReads open"])
        self.step("persistent session survives hci1 power off/on", self.persistent,
                  c + ["central: Subscribe receives SetValue(send_update)"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateway", default="127.0.0.1:50051")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    scenario = Scenario(args.gateway)
    start = time.monotonic()
    try:
        scenario.run()
    finally:
        scenario.figures["scenario_ms"] = round((time.monotonic() - start) * 1000, 1)
        with open(args.out + ".tmp", "w") as f:
            json.dump({"steps": scenario.steps, "figures": scenario.figures}, f, indent=1)
        os.replace(args.out + ".tmp", args.out)
    return 0


if __name__ == "__main__":
    os._exit(main())  # streams' threads and the channel need not be torn down
