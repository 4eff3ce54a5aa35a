#!/usr/bin/python3
"""Run a batch of GATT operations on one device under one time budget (GattService.Execute).

    python3 batch.py --address 127.0.0.1:50051 C0:FF:EE:00:00:01 [--budget 5]

Reads an environmental sensor's temperature, humidity and battery level in one call: the gateway
runs the steps in order and streams one result per step; the call's status is the batch outcome.
"""
import argparse
import os
import sys

sys.path.insert(0, os.environ.get("GATTWAY_PY_STUBS", ""))
import grpc  # noqa: E402
from google.protobuf import duration_pb2  # noqa: E402
from gattway.v1 import common_pb2, gatt_pb2, gatt_pb2_grpc, session_pb2, session_pb2_grpc  # noqa: E402

STEPS = [("180F", "2A19", "battery"), ("181A", "2A6E", "temperature"),
         ("181A", "2A6F", "humidity")]


def read(service, characteristic):
    return gatt_pb2.GattOperation(read=gatt_pb2.ReadOperation(attribute=common_pb2.AttributeRef(
        service_uuid=service, characteristic_uuid=characteristic)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1:50051", help="gateway host:port")
    parser.add_argument("device", help="device address, e.g. C0:FF:EE:00:00:01")
    parser.add_argument("--budget", type=float, default=5.0, help="seconds for the whole batch")
    args = parser.parse_args()

    with grpc.insecure_channel(args.address) as channel:
        session_pb2_grpc.SessionServiceStub(channel).Connect(
            session_pb2.ConnectRequest(address=args.device), timeout=30)
        request = gatt_pb2.ExecuteRequest(
            address=args.device,
            operations=[gatt_pb2.GattOperation(discover=gatt_pb2.DiscoverOperation())] +
                       [read(s, c) for s, c, _ in STEPS],
            budget=duration_pb2.Duration(seconds=int(args.budget)))
        names = ["discover"] + [name for _, _, name in STEPS]
        for step in gatt_pb2_grpc.GattServiceStub(channel).Execute(request):
            ms = step.elapsed.seconds * 1000 + step.elapsed.nanos // 1_000_000
            if step.status.code != 0:
                print(f"step {step.index} {names[step.index]}: failed, code {step.status.code}: "
                      f"{step.status.message}")
            elif step.HasField("discover"):
                print(f"step {step.index} discover: {len(step.discover.services)} services ({ms} ms)")
            else:
                print(f"step {step.index} {names[step.index]}: {step.read.value.hex(' ')} ({ms} ms)")
        print("batch complete")


if __name__ == "__main__":
    try:
        main()
    except grpc.RpcError as e:
        sys.exit(f"batch failed: {e.code().name}: {e.details()}")
