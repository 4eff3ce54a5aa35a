#!/usr/bin/python3
"""An environmental-sensing peripheral hosted by gattway, driven from Python.

The gateway hosts the GATT database (Environmental Sensing 0x181A with Temperature 0x2A6E, read +
notify) and advertises it; this script sets a new temperature once a second with send_update, so
every subscribed central is notified, and prints what centrals do.

    python3 env_sensor_peripheral.py --gateway 127.0.0.1:50051 [--count 10] [--adapter hci1]

Stubs: generate them as tests/CMakeLists.txt does (protoc with grpc_python_plugin) and put their
directory on PYTHONPATH (or in GATTWAY_PY_STUBS).
"""
import argparse
import math
import os
import struct
import sys
import threading
import time

sys.path.insert(0, os.environ.get("GATTWAY_PY_STUBS", ""))
import grpc  # noqa: E402
from gattway.v1 import common_pb2, peripheral_pb2, peripheral_pb2_grpc  # noqa: E402

ENV_SERVICE = "181A"  # Environmental Sensing
TEMPERATURE = "2A6E"  # sint16, 0.01 degC, little-endian
HUMIDITY = "2A6F"     # uint16, 0.01 %, little-endian


def encode_temperature(celsius):
    return struct.pack("<h", round(celsius * 100))


def encode_humidity(percent):
    return struct.pack("<H", round(percent * 100))


def read_sensor(t):
    """A made-up sensor: a slow swing around 21.5 degC and 45 %."""
    return 21.5 + 2.0 * math.sin(t / 30.0), 45.0 + 5.0 * math.cos(t / 45.0)


def database(adapter):
    return peripheral_pb2.RegisterServicesRequest(
        adapter=adapter,
        services=[peripheral_pb2.LocalService(
            uuid=ENV_SERVICE,
            characteristics=[
                peripheral_pb2.LocalCharacteristic(
                    uuid=TEMPERATURE, read=True, notify=True,
                    initial_value=encode_temperature(21.5)),
                peripheral_pb2.LocalCharacteristic(
                    uuid=HUMIDITY, read=True, notify=True, initial_value=encode_humidity(45.0)),
            ])])


def watch(stub, stop):
    """Prints centrals connecting and subscribing until `stop` is set."""
    names = peripheral_pb2.PeripheralEventType
    try:
        for event in stub.WatchPeripheral(peripheral_pb2.WatchPeripheralRequest()):
            what = names.Name(event.type).replace("PERIPHERAL_EVENT_TYPE_", "").lower()
            print(f"event: {what} {event.central} {event.characteristic.characteristic_uuid} "
                  f"{event.detail}".rstrip(), flush=True)
            if stop.is_set():
                return
    except grpc.RpcError:
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", default="127.0.0.1:50051", help="gattwayd's gRPC address")
    parser.add_argument("--adapter", default="", help="adapter to host on (default: first powered)")
    parser.add_argument("--name", default="gattway-env", help="advertised local name")
    parser.add_argument("--count", type=int, default=0, help="updates to send (0: forever)")
    args = parser.parse_args()

    channel = grpc.insecure_channel(args.gateway)
    stub = peripheral_pb2_grpc.PeripheralServiceStub(channel)
    # A gateway that has just started may not have found BlueZ yet: UNAVAILABLE, try again.
    deadline = time.monotonic() + 10
    while True:
        try:
            registered = stub.RegisterServices(database(args.adapter), timeout=10)
            break
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    print(f"hosting on {registered.adapter}: "
          + ", ".join(a.characteristic_uuid for a in registered.attributes if not a.descriptor_uuid),
          flush=True)
    advertising = stub.StartAdvertising(peripheral_pb2.StartAdvertisingRequest(
        id="env", local_name=args.name, service_uuids=[ENV_SERVICE], appearance=0x0540),
        timeout=10)
    print(f"advertising '{args.name}' on {advertising.adapter}", flush=True)

    stop = threading.Event()
    threading.Thread(target=watch, args=(stub, stop), daemon=True).start()
    temperature = common_pb2.AttributeRef(service_uuid=ENV_SERVICE, characteristic_uuid=TEMPERATURE)
    humidity = common_pb2.AttributeRef(service_uuid=ENV_SERVICE, characteristic_uuid=HUMIDITY)
    sent = 0
    try:
        while args.count == 0 or sent < args.count:
            celsius, percent = read_sensor(time.time())
            reply = stub.SetValue(peripheral_pb2.SetValueRequest(
                characteristic=temperature, value=encode_temperature(celsius), send_update=True),
                timeout=5)
            stub.SetValue(peripheral_pb2.SetValueRequest(
                characteristic=humidity, value=encode_humidity(percent), send_update=True),
                timeout=5)
            sent += 1
            print(f"temperature {celsius:.2f} C, humidity {percent:.1f} % -> "
                  f"{reply.centrals_updated} central(s)", flush=True)
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        stub.StopAdvertising(peripheral_pb2.StopAdvertisingRequest(id="env"), timeout=5)
        stub.UnregisterServices(peripheral_pb2.UnregisterServicesRequest(), timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
