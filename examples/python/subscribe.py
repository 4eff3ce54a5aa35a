#!/usr/bin/python3
"""Connect to a heart-rate strap through a gattway gateway and print its notifications.

    python3 subscribe.py --address 127.0.0.1:50051 C0:FF:EE:00:01:01 [--count 5]

Subscribes to Heart Rate Measurement (2A37): a flags byte, then the rate as uint8 (flags bit 0
clear) or uint16. The open Subscribe stream keeps the ephemeral session alive.
"""
import argparse
import os
import sys

sys.path.insert(0, os.environ.get("GATTWAY_PY_STUBS", ""))
import grpc  # noqa: E402
from gattway.v1 import common_pb2, gatt_pb2, gatt_pb2_grpc, session_pb2, session_pb2_grpc  # noqa: E402


def heart_rate(value):
    if value[0] & 0x01:
        return int.from_bytes(value[1:3], "little")
    return value[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1:50051", help="gateway host:port")
    parser.add_argument("device", help="device address, e.g. C0:FF:EE:00:01:01")
    parser.add_argument("--characteristic", default="2A37", help="characteristic UUID")
    parser.add_argument("--count", type=int, default=5, help="values to print, 0: forever")
    args = parser.parse_args()

    with grpc.insecure_channel(args.address) as channel:
        session_pb2_grpc.SessionServiceStub(channel).Connect(
            session_pb2.ConnectRequest(address=args.device), timeout=30)
        gatt = gatt_pb2_grpc.GattServiceStub(channel)
        stream = gatt.Subscribe(gatt_pb2.SubscribeRequest(
            address=args.device,
            characteristic=common_pb2.AttributeRef(characteristic_uuid=args.characteristic)))
        received = 0
        for message in stream:
            if message.HasField("event"):
                print("event:", gatt_pb2.SubscriptionEventType.Name(message.event.type))
            if message.HasField("gap"):
                print(f"dropped {message.gap.dropped} values")
            for n in message.notifications:
                shown = f"{heart_rate(n.value)} bpm" if args.characteristic.upper() == "2A37" else ""
                print(f"#{n.sequence} {n.value.hex(' ')} {shown}".rstrip(), flush=True)
                received += 1
            if args.count and received >= args.count:
                stream.cancel()  # ends the stream; the gateway stops notifying when nobody listens
                break


if __name__ == "__main__":
    try:
        main()
    except grpc.RpcError as e:
        sys.exit(f"failed: {e.code().name}: {e.details()}")
