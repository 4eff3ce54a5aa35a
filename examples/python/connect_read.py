#!/usr/bin/python3
"""Connect to a device through a gattway gateway and read a characteristic.

    python3 connect_read.py --address 127.0.0.1:50051 C0:FF:EE:00:00:01 [2A6E]

Temperature (2A6E), humidity (2A6F) and battery level (2A19) are decoded; other values are
printed in hex. The session is ephemeral: the gateway closes the link once it is idle.
"""
import argparse
import os
import struct
import sys

sys.path.insert(0, os.environ.get("GATTWAY_PY_STUBS", ""))
import grpc  # noqa: E402
from gattway.v1 import common_pb2, gatt_pb2, gatt_pb2_grpc, session_pb2, session_pb2_grpc  # noqa: E402

DECODERS = {
    "2A6E": lambda v: f"{struct.unpack('<h', v)[0] / 100:.2f} °C",
    "2A6F": lambda v: f"{struct.unpack('<H', v)[0] / 100:.2f} %",
    "2A19": lambda v: f"{v[0]} %",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1:50051", help="gateway host:port")
    parser.add_argument("device", help="device address, e.g. C0:FF:EE:00:00:01")
    parser.add_argument("characteristic", nargs="?", default="2A6E", help="characteristic UUID")
    args = parser.parse_args()

    with grpc.insecure_channel(args.address) as channel:
        sessions = session_pb2_grpc.SessionServiceStub(channel)
        session = sessions.Connect(session_pb2.ConnectRequest(address=args.device), timeout=30).session
        print(f"connected {session.address} on {session.adapter} (mtu {session.mtu})")

        gatt = gatt_pb2_grpc.GattServiceStub(channel)
        reply = gatt.Read(gatt_pb2.ReadRequest(
            address=args.device,
            attribute=common_pb2.AttributeRef(characteristic_uuid=args.characteristic)), timeout=15)
        decode = DECODERS.get(args.characteristic.upper())
        shown = decode(reply.value) if decode else ""
        print(f"{args.characteristic.upper()} = {reply.value.hex(' ')}  {shown}".rstrip())


if __name__ == "__main__":
    try:
        main()
    except grpc.RpcError as e:
        sys.exit(f"failed: {e.code().name}: {e.details()}")
