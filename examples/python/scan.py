#!/usr/bin/python3
"""Scan for devices through a gattway gateway and print each one once.

    python3 scan.py --address 127.0.0.1:50051 [--duration 5] [--service 180D]

Stubs: generate them as tests/CMakeLists.txt does (protoc with grpc_python_plugin) and put their
directory on PYTHONPATH (or in GATTWAY_PY_STUBS).
"""
import argparse
import os
import sys

sys.path.insert(0, os.environ.get("GATTWAY_PY_STUBS", ""))
import grpc  # noqa: E402
from google.protobuf import duration_pb2  # noqa: E402
from gattway.v1 import scan_pb2, scan_pb2_grpc  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1:50051", help="gateway host:port")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds to scan")
    parser.add_argument("--service", action="append", default=[], help="only this service UUID")
    args = parser.parse_args()

    with grpc.insecure_channel(args.address) as channel:
        scan = scan_pb2_grpc.ScanServiceStub(channel)
        request = scan_pb2.ScanRequest(
            filter=scan_pb2.ScanFilter(service_uuids=args.service),
            duration=duration_pb2.Duration(seconds=int(args.duration),
                                           nanos=int(args.duration % 1 * 1e9)))
        print(f"{'ADDRESS':<17}  {'RSSI':>4}  NAME")
        # The stream ends by itself (status OK) when the duration has passed.
        for message in scan.Scan(request):
            for result in message.results:
                rssi = result.rssi if result.HasField("rssi") else ""
                print(f"{result.address:<17}  {rssi:>4}  {result.name}", flush=True)


if __name__ == "__main__":
    try:
        main()
    except grpc.RpcError as e:
        sys.exit(f"scan failed: {e.code().name}: {e.details()}")
