#!/usr/bin/python3
"""The real-BlueZ tier: boots the cached VM image (tests/vm/build_image.sh) with qemu (TCG), shares
the host-built gattwayd, the Python stubs and the scenario into it over 9p, and asserts on the
results the VM leaves there.

Exit codes: 0 every scenario step passed (or was skipped for a stated reason); 1 a step failed or
the VM produced no results (the serial log and excerpts of bluetoothd's and gattwayd's logs are
printed); 77 skipped: qemu or debootstrap missing, or the mirror unreachable for a cold build.

Environment: GATTWAYD (binary), GATTWAY_PY_STUBS (stubs directory), GATTWAY_VM_CACHE (image cache,
default build/vm-cache), GATTWAY_VM_RUN (share directory, default build/vm-run),
GATTWAY_VM_TIMEOUT (seconds for the whole boot, default 300).
"""
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
# Steps that may report "skipped", and the reason they may give (none may, now: every step runs).
MAY_SKIP = {}


def skip(why):
    print(f"skipped: {why}")
    sys.exit(77)


def tail(path, lines=40, grep=None):
    try:
        with open(path, errors="replace") as f:
            text = f.read().splitlines()
    except OSError as e:
        return f"({e})"
    if grep:
        text = [line for line in text if any(g in line for g in grep)] or text
    return "\n".join(text[-lines:])


def main():
    wall = time.monotonic()
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        skip("qemu-system-x86_64 is not installed (scripts/deps.sh --test installs qemu-system-x86)")
    if not shutil.which("debootstrap"):
        skip("debootstrap is not installed")
    build = os.path.join(SOURCE, "build")
    gattwayd = os.environ.get("GATTWAYD", os.path.join(build, "cmd", "gattwayd"))
    stubs = os.environ.get("GATTWAY_PY_STUBS", os.path.join(build, "tests", "python"))
    cache = os.environ.get("GATTWAY_VM_CACHE", os.path.join(build, "vm-cache"))
    run = os.environ.get("GATTWAY_VM_RUN", os.path.join(os.path.dirname(gattwayd), "..", "vm-run"))
    run = os.path.abspath(run)
    timeout = float(os.environ.get("GATTWAY_VM_TIMEOUT", "300"))
    for path in (gattwayd, os.path.join(stubs, "gattway")):
        if not os.path.exists(path):
            print(f"FAIL: {path} is missing: build gattwayd and gattway_python_stubs first")
            return 1

    t = time.monotonic()
    image = subprocess.run([os.path.join(HERE, "build_image.sh"), cache])
    if image.returncode == 77:
        sys.exit(77)
    if image.returncode != 0:
        print("FAIL: the VM image build failed (output above)")
        return 1
    image_s = time.monotonic() - t

    # The share: what the VM runs, and where it leaves its results.
    shutil.rmtree(run, ignore_errors=True)
    os.makedirs(os.path.join(run, "bin"))
    os.makedirs(os.path.join(run, "out"))
    shutil.copy2(gattwayd, os.path.join(run, "bin", "gattwayd"))
    shutil.copytree(stubs, os.path.join(run, "stubs"))
    for name in ("vm_init.sh", "scenario.py"):
        shutil.copy2(os.path.join(HERE, name), os.path.join(run, name))
    out = os.path.join(run, "out")
    serial = os.path.join(run, "serial.log")

    cmd = [qemu, "-accel", "tcg,thread=multi", "-cpu", "max", "-smp", "2", "-m", "1024",
           "-nodefaults", "-display", "none", "-no-reboot", "-serial", f"file:{serial}",
           "-kernel", os.path.join(cache, "vmlinuz"), "-initrd", os.path.join(cache, "initrd.gz"),
           "-append", "console=ttyS0 panic=-1 loglevel=4",
           "-drive", f"file={os.path.join(cache, 'root.img')},format=raw,if=virtio,snapshot=on",
           "-fsdev", f"local,id=share,path={run},security_model=passthrough",
           "-device", "virtio-9p-pci,fsdev=share,mount_tag=share"]
    t = time.monotonic()
    try:
        vm = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=timeout)
        vm_note = f"qemu exited {vm.returncode} {vm.stderr.strip()}"
    except subprocess.TimeoutExpired:
        vm_note = f"qemu killed after {timeout:.0f} s"
    boot_s = time.monotonic() - t

    results_path = os.path.join(out, "results.json")
    results = None
    if os.path.exists(results_path):
        with open(results_path) as f:
            results = json.load(f)

    failures = []
    if results is None:
        failures.append("the VM left no results.json: " + tail(os.path.join(out, "failure"), 5))
    else:
        for s in results["steps"]:
            if s["status"] == "failed":
                failures.append(f"{s['name']}: {s['detail']}")
            elif s["status"] == "skipped" and not s["detail"].startswith(MAY_SKIP.get(s["name"], "\0")):
                failures.append(f"{s['name']} was skipped: {s['detail']}")
        if not results["steps"]:
            failures.append("no steps ran")

    print(f"vm: image {image_s:.1f} s (cache {cache}), boot to results {boot_s:.1f} s ({vm_note})")
    stages = tail(os.path.join(out, "stages"), 20)
    print("vm: stages (seconds since the kernel started):\n  " + stages.replace("\n", "\n  "))
    if results:
        for s in results["steps"]:
            print(f"  {s['status']:7} {s['ms']:9.1f} ms  {s['name']}: {s['detail'].splitlines()[0] if s['detail'] else ''}")
        print("vm: figures " + json.dumps(results["figures"]))
    print(f"vm: wall time {time.monotonic() - wall:.1f} s")

    if failures:
        print("\nFAIL: the scenario against real BlueZ did not pass:")
        for f in failures:
            print("  - " + f)
        print("\n--- serial log (last 60 lines) ---\n" + tail(serial, 60))
        print("\n--- bluetoothd log (errors and the last lines) ---\n"
              + tail(os.path.join(out, "bluetoothd.log"), 40,
                     grep=("rror", "fail", "Fail", "src/device.c", "gatt", "adv")))
        print("\n--- gattwayd log (last 40 lines) ---\n" + tail(os.path.join(out, "gattwayd.log"), 40))
        print("\n--- scenario log (last 40 lines) ---\n" + tail(os.path.join(out, "scenario.log"), 40))
        print(f"\n(all logs and an HCI trace, hci.btsnoop: {out})")
        return 1
    print("PASS: the scenario passed against real BlueZ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
