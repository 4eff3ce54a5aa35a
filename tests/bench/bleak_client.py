"""bleak (Debian's python3-bleak 0.20) as the peer in tests/bench/compare.py: the BlueZ client a
user would pick instead of the gateway, on the same simulated BlueZ. Prints one JSON object.

  scan    BleakScanner detection callbacks counted in the window, and this process's CPU
  notify  connect --address, start_notify on its load characteristic; callbacks in the window,
          and the emit → callback latency from values stamped by gattway-sim --load_timestamps
  read    connect --address, then --count sequential read_gatt_char calls: p50/p99

The window is [--start_at, --start_at + --seconds] (Unix seconds), shared with the clients
started side by side. DBUS_SYSTEM_BUS_ADDRESS names the simulator's bus.
Run with /usr/bin/python3 (Debian's, which sees python3-bleak)."""
import argparse
import asyncio
import json
import struct
import sys
import time

LOAD_CHARACTERISTIC = "67617474-7761-7900-0000-006c6f616401"


def percentile(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(p * (len(values) - 1) + 0.5))]


async def sleep_until(t):
    delay = t - time.time()
    if delay > 0:
        await asyncio.sleep(delay)


async def scan(args):
    from bleak import BleakScanner
    state = {"counting": False, "n": 0}

    def on_detection(_device, _advertisement):
        if state["counting"]:
            state["n"] += 1

    async with BleakScanner(detection_callback=on_detection):
        late = time.time() > args.start_at
        await sleep_until(args.start_at)
        state["counting"] = True
        cpu0 = time.process_time()
        await sleep_until(args.start_at + args.seconds)
        state["counting"] = False
        cpu = time.process_time() - cpu0
    return {"mode": "scan", "ok": True, "late": late, "seconds": args.seconds,
            "per_second_total": state["n"] / args.seconds, "callbacks": state["n"], "cpu_s": cpu}


async def connect(address):
    from bleak import BleakClient, BleakScanner
    device = await BleakScanner.find_device_by_address(address, timeout=30)
    if device is None:
        raise RuntimeError(f"{address} not found")
    client = BleakClient(device, timeout=30)
    for attempt in range(20):
        try:
            await client.connect()
            return client
        except Exception as e:  # another client's connect holds the adapter (InProgress)
            if "InProgress" not in repr(e) or attempt == 19:
                raise
            await asyncio.sleep(0.1)


async def notify(args):
    client = await connect(args.address)
    state = {"counting": False, "n": 0, "latency": []}

    def on_value(_characteristic, data):
        if not state["counting"]:
            return
        state["n"] += 1
        if len(data) >= 12:
            stamp = struct.unpack_from("<Q", data, 4)[0]
            state["latency"].append((time.time_ns() - stamp) / 1e3)

    try:
        await client.start_notify(LOAD_CHARACTERISTIC, on_value)
        late = time.time() > args.start_at
        await sleep_until(args.start_at)
        state["counting"] = True
        cpu0 = time.process_time()
        await sleep_until(args.start_at + args.seconds)
        state["counting"] = False
        cpu = time.process_time() - cpu0
        await client.stop_notify(LOAD_CHARACTERISTIC)
    finally:
        await client.disconnect()
    lat = state["latency"]
    return {"mode": "notify", "ok": True, "late": late, "seconds": args.seconds,
            "per_second_total": state["n"] / args.seconds, "cpu_s": cpu, "latency_n": len(lat),
            "latency_p50_us": percentile(lat, 0.5), "latency_p99_us": percentile(lat, 0.99)}


async def read(args):
    client = await connect(args.address)
    times = []
    try:
        for _ in range(20):
            await client.read_gatt_char(LOAD_CHARACTERISTIC)
        for _ in range(args.count):
            t0 = time.perf_counter()
            await client.read_gatt_char(LOAD_CHARACTERISTIC)
            times.append((time.perf_counter() - t0) * 1e6)
    finally:
        await client.disconnect()
    return {"mode": "read", "ok": True, "count": args.count, "p50_us": percentile(times, 0.5),
            "p99_us": percentile(times, 0.99)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["scan", "notify", "read"], default="scan")
    parser.add_argument("--address", default="F0:00:00:00:00:03")
    parser.add_argument("--start_at", type=float, default=0)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    if args.start_at <= 0:
        args.start_at = time.time() + 1
    try:
        result = asyncio.run(asyncio.wait_for(
            {"scan": scan, "notify": notify, "read": read}[args.mode](args),
            args.seconds + max(0, args.start_at - time.time()) + 120))
    except Exception as e:  # a benchmark reports, it does not fail
        result = {"mode": args.mode, "ok": False, "error": repr(e)}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.exit(main())
