#!/usr/bin/python3
"""The canonical central program: scan for a heart-rate sensor, connect, subscribe, print beats.

Scans for a device advertising the Heart Rate service (0x180D), connects to the first one found,
subscribes to Heart Rate Measurement (0x2A37) and prints each notification as beats per minute.

    python3 heart_rate_monitor.py [--gateway 127.0.0.1:50051] [--count 10] [--scan-seconds 10]

The gateway address also comes from $GATTWAY_ADDRESS. Try it against the simulated BlueZ, whose
demo fleet has a heart-rate strap:  gattwayd --simulate  (then run this script).

Stubs: generate them as tests/CMakeLists.txt does (protoc with grpc_python_plugin) and put their
directory on PYTHONPATH (or in GATTWAY_PY_STUBS).
"""
import argparse
import os
import sys

sys.path.insert(0, os.environ.get("GATTWAY_PY_STUBS", ""))
import grpc  # noqa: E402
from gattway.v1 import common_pb2, gatt_pb2, gatt_pb2_grpc  # noqa: E402
from gattway.v1 import scan_pb2, scan_pb2_grpc, session_pb2, session_pb2_grpc  # noqa: E402
from google.protobuf import duration_pb2  # noqa: E402

HEART_RATE_SERVICE = "180D"
HEART_RATE_MEASUREMENT = "2A37"


def decode_heart_rate(value):
    """Heart Rate Measurement (GATT Specification Supplement 3.113): a flags byte, then the rate as
    uint8, or uint16 little-endian when flags bit 0 is set."""
    if len(value) < 2:
        raise ValueError(f"heart rate measurement too short: {value.hex()}")
    if value[0] & 0x01:
        if len(value) < 3:
            raise ValueError(f"heart rate measurement too short: {value.hex()}")
        return int.from_bytes(value[1:3], "little")
    return value[1]


def find_heart_rate_sensor(channel, seconds):
    """The first device advertising the Heart Rate service, or None after `seconds`."""
    scanner = scan_pb2_grpc.ScanServiceStub(channel)
    request = scan_pb2.ScanRequest(
        filter=scan_pb2.ScanFilter(service_uuids=[HEART_RATE_SERVICE]),
        duration=duration_pb2.Duration(seconds=seconds))
    stream = scanner.Scan(request)
    try:
        for message in stream:
            for result in message.results:
                return result
    finally:
        stream.cancel()
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", default=os.environ.get("GATTWAY_ADDRESS", "127.0.0.1:50051"),
                        help="gattwayd's gRPC address (default: $GATTWAY_ADDRESS or "
                             "127.0.0.1:50051)")
    parser.add_argument("--count", type=int, default=0,
                        help="stop after this many notifications (default 0: until Ctrl-C)")
    parser.add_argument("--scan-seconds", type=int, default=10,
                        help="give up when no heart-rate sensor is heard this long (default 10)")
    args = parser.parse_args()

    with grpc.insecure_channel(args.gateway) as channel:
        print(f"scanning for a heart-rate sensor via {args.gateway} ...", flush=True)
        device = find_heart_rate_sensor(channel, args.scan_seconds)
        if device is None:
            print("no heart-rate sensor found", file=sys.stderr)
            return 1
        print(f"found {device.name or '(unnamed)'} {device.address} rssi {device.rssi} dBm",
              flush=True)

        sessions = session_pb2_grpc.SessionServiceStub(channel)
        session = sessions.Connect(session_pb2.ConnectRequest(
            address=device.address, address_type=device.address_type)).session
        print(f"connected to {session.address} on {session.adapter}, mtu {session.mtu}",
              flush=True)

        gatt = gatt_pb2_grpc.GattServiceStub(channel)
        stream = gatt.Subscribe(gatt_pb2.SubscribeRequest(
            address=device.address,
            characteristic=common_pb2.AttributeRef(service_uuid=HEART_RATE_SERVICE,
                                                   characteristic_uuid=HEART_RATE_MEASUREMENT),
            mode=common_pb2.SUBSCRIBE_MODE_NOTIFY))
        received = 0
        try:
            for message in stream:
                if message.HasField("gap"):
                    print(f"(missed {message.gap.dropped} notifications)", flush=True)
                for n in message.notifications:
                    print(f"heart rate: {decode_heart_rate(n.value)} bpm", flush=True)
                    received += 1
                if args.count and received >= args.count:
                    break
        except KeyboardInterrupt:
            pass
        finally:
            stream.cancel()
            sessions.Disconnect(session_pb2.DisconnectRequest(address=device.address))
        print("disconnected", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except grpc.RpcError as e:
        print(f"gattway: {e.code().name}: {e.details()}", file=sys.stderr)
        sys.exit(2)
