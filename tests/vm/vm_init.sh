#!/bin/sh
# PID 1 of the real-BlueZ VM (started by init-stage1 from the 9p share, /share). Brings up the
# real stack — two btvirt controllers, D-Bus, bluetoothd — runs gattwayd against the system bus,
# then the scenario driver, leaves everything in /share/out and powers off. The host
# (tests/vm/run_vm.py) asserts on /share/out/results.json.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LANG=C.UTF-8
S=/share
OUT=$S/out
mkdir -p "$OUT"

mount -t proc proc /proc
mount -t sysfs sys /sys
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /var/lib/bluetooth
mount -t tmpfs tmpfs /var/lib/bluetooth  # no bond or GATT cache survives a run

uptime_s() { cut -d' ' -f1 /proc/uptime; }
log() { echo "vm: [$(uptime_s)] $*"; }
stage() { echo "$1 $(uptime_s)" >> "$OUT/stages"; log "$1"; }
finish() {
  log "powering off"
  [ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null && sleep 1
  [ -n "$MON_PID" ] && kill "$MON_PID" 2>/dev/null
  sync
  echo o > /proc/sysrq-trigger
  sleep 30
}
fail() { echo "$*" > "$OUT/failure"; log "FAILED: $*"; finish; }
stage boot

# Loopback, without iproute2: SIOCGIFFLAGS / SIOCSIFFLAGS(IFF_UP) on "lo".
python3 -c '
import fcntl, socket, struct
s = socket.socket()
flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, struct.pack("16sH", b"lo", 0)))[1]
fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 1))' || fail "cannot bring lo up"

modprobe bluetooth || fail "modprobe bluetooth"
modprobe hci_vhci || fail "modprobe hci_vhci"

# btvirt first, before anything else touches the controllers. The kernel gives a new controller
# 2 s to answer HCI_Reset and btvirt answers hci0 only after creating hci1: under load the first
# init sometimes times out (Opcode 0x0c03 failed: -110) and hci0 never appears. Then restart it.
controller_up() { btmgmt --index "$1" info 2>/dev/null | grep -q "addr "; }
attempt=1
while :; do
  btvirt -l2 >> "$OUT/btvirt.log" 2>&1 &
  BTVIRT_PID=$!
  i=0
  while [ $i -lt 50 ] && ! { controller_up 0 && controller_up 1; }; do sleep 0.2; i=$((i + 1)); done
  controller_up 0 && controller_up 1 && break
  log "btvirt attempt $attempt: hci0/hci1 not both up; $(dmesg | grep -i 'hci' | tail -3 | tr '\n' ' ')"
  kill "$BTVIRT_PID"; wait "$BTVIRT_PID" 2>/dev/null; sleep 0.5
  attempt=$((attempt + 1))
  [ $attempt -le 4 ] || fail "btvirt: hci0 and hci1 not both initialised after 4 attempts"
done
echo "$attempt" > "$OUT/btvirt_attempts"
stage controllers

mkdir -p /run/dbus
[ -s /etc/machine-id ] || dbus-uuidgen --ensure=/etc/machine-id
dbus-daemon --system --fork || fail "dbus-daemon"
btmon -w "$OUT/hci.btsnoop" > /dev/null 2>&1 &
MON_PID=$!
/usr/libexec/bluetooth/bluetoothd -n -d > "$OUT/bluetoothd.log" 2>&1 &
i=0
until dbus-send --system --print-reply --dest=org.bluez / \
        org.freedesktop.DBus.ObjectManager.GetManagedObjects > /dev/null 2>&1; do
  i=$((i + 1)); [ $i -lt 100 ] || fail "bluetoothd not on the system bus after 20 s"; sleep 0.2
done
stage bluetoothd

for idx in 0 1; do
  btmgmt --index $idx le on > /dev/null || fail "btmgmt --index $idx le on"
  btmgmt --index $idx power on > /dev/null || fail "btmgmt --index $idx power on"
done
btmgmt --index 0 info > "$OUT/controllers.txt" 2>&1
btmgmt --index 1 info >> "$OUT/controllers.txt" 2>&1
stage powered

mkdir -p /tmp/gattway
"$S/bin/gattwayd" --grpc_address=127.0.0.1:50051 --metrics_address=127.0.0.1:9469 \
  --state_dir=/tmp/gattway --log_level=debug > "$OUT/gattwayd.log" 2>&1 &
GW_PID=$!
i=0
until grep -q "event=grpc.listening" "$OUT/gattwayd.log"; do
  kill -0 "$GW_PID" 2>/dev/null || fail "gattwayd exited: $(tail -5 "$OUT/gattwayd.log")"
  # An ASan build takes about 30 s to start under TCG.
  i=$((i + 1)); [ $i -lt 450 ] || fail "gattwayd not listening after 90 s"; sleep 0.2
done
stage gattwayd

GATTWAY_PY_STUBS=$S/stubs timeout 200 python3 "$S/scenario.py" --gateway=127.0.0.1:50051 \
  --out="$OUT/results.json" > "$OUT/scenario.log" 2>&1
echo "$?" > "$OUT/scenario.rc"
stage scenario
finish
