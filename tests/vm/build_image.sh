#!/usr/bin/env bash
# Builds what the real-BlueZ VM boots, from Debian's packages, into a cache directory:
#   vmlinuz     the kernel of the package linux-image-amd64 depends on (apt-get download, unpacked)
#   initrd.gz   busybox-static + the modules to reach the root disk and the 9p share + init-stage1
#   root.img    ext4 image of a debootstrap'd bookworm (packages.txt) with the kernel's modules
#   inputs.sha  hash of the inputs (packages.txt, this script, init-stage1): a matching cache is reused
# Usage: tests/vm/build_image.sh [CACHE_DIR]   (default: $GATTWAY_VM_CACHE or build/vm-cache)
# Exit 77 when the tools (debootstrap, mkfs.ext4, apt-get) or the mirror are not available.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${1:-${GATTWAY_VM_CACHE:-$here/../../build/vm-cache}}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

inputs_hash=$(cat "$here/packages.txt" "$here/build_image.sh" "$here/init-stage1" | sha256sum | cut -d' ' -f1)
if [[ -f $cache/inputs.sha && $(cat "$cache/inputs.sha") == "$inputs_hash" \
      && -f $cache/vmlinuz && -f $cache/initrd.gz && -f $cache/root.img ]]; then
  echo "vm-image: cache is up to date ($cache)"
  exit 0
fi

skip() { echo "skipped: $*"; exit 77; }
for tool in debootstrap mkfs.ext4 apt-get dpkg-deb depmod modprobe; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed"
done
[[ $(id -u) == 0 ]] || skip "building the VM image needs root (debootstrap, chroot)"

# The mirror the machine's apt uses (deb822 or one-line sources).
mirror=$(grep -hs -E '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list \
           /etc/apt/sources.list.d/*.list 2>/dev/null \
         | grep -oE 'https?://[^ ]+/debian/?' | grep -v security | head -1 || true)
[[ -n $mirror ]] || skip "no Debian mirror in the apt sources"
curl_ok=1
if command -v curl >/dev/null; then
  curl -fsS -m 20 -o /dev/null "${mirror%/}/dists/bookworm/Release" || curl_ok=0
fi
((curl_ok)) || skip "the mirror $mirror is unreachable"

start=$(date +%s)
# Remove a build directory, never crossing into a file system mounted inside it (debootstrap
# mounts /proc and /sys in the target while it installs).
remove() {
  awk -v d="$1/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l
  rm -rf --one-file-system "$1"
}
for old in "$cache"/.build.*; do [[ -d $old ]] && remove "$old"; done  # an interrupted build's
work=$(mktemp -d "$cache/.build.XXXXXX")
trap 'remove "$work"' EXIT
chmod 755 "$work"  # apt-get download runs as _apt
echo "vm-image: building in $work (mirror $mirror)"

# --- kernel and busybox: downloaded, unpacked, never installed on the host -----------------------
kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[[ -n $kpkg ]] || skip "apt-cache does not know linux-image-amd64 (apt-get update?)"
(cd "$work" && apt-get download -qq "$kpkg" busybox-static) || skip "apt-get download $kpkg failed"
mkdir "$work/kernel" "$work/busybox"
dpkg-deb -x "$work"/linux-image-*.deb "$work/kernel"
dpkg-deb -x "$work"/busybox-static_*.deb "$work/busybox"
kver=${kpkg#linux-image-}
kmods=$work/kernel/lib/modules/$kver
[[ -d $kmods ]] || { echo "vm-image: no modules for $kver in $kpkg" >&2; exit 1; }
cp "$work/kernel/boot/vmlinuz-$kver" "$work/vmlinuz"
depmod -b "$work/kernel" "$kver"  # the package leaves modules.dep to its postinst

# --- root filesystem -------------------------------------------------------------------------------
include=$(grep -vE '^\s*(#|$)' "$here/packages.txt" | tr '\n' ',' | sed 's/,$//')
root=$work/root
echo "vm-image: debootstrap bookworm ($include)"
if ! debootstrap --variant=minbase --include="$include" bookworm "$root" "$mirror" \
     >"$work/debootstrap.log" 2>&1; then
  tail -30 "$work/debootstrap.log" >&2
  grep -qiE 'Failed getting release|Temporary failure|Could not resolve|unable to fetch' \
    "$work/debootstrap.log" && skip "debootstrap could not reach $mirror"
  echo "vm-image: debootstrap failed (log above)" >&2; exit 1
fi
mkdir -p "$root/lib/modules"
cp -a "$kmods" "$root/lib/modules/"
chroot "$root" depmod -a "$kver"
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc "$root"/usr/share/man "$root"/usr/share/locale
mkdir -p "$root/share"
echo "$kver" > "$root/etc/gattway-vm-kernel"
size_mb=$(( $(du -sm "$root" | cut -f1) + 400 ))
mkfs.ext4 -q -F -L gattway-vm -d "$root" "$work/root.img" "${size_mb}M"

# --- initramfs: busybox, the modules for virtio disk + 9p, and init-stage1 --------------------------
ini=$work/initramfs
mkdir -p "$ini"/{bin,dev,proc,sys,newroot,lib/modules}
cp "$work/busybox/bin/busybox" "$ini/bin/busybox"
for applet in sh mount umount switch_root insmod mkdir sleep cat echo ls cpio; do
  ln -s busybox "$ini/bin/$applet"
done
# Modules (with their dependencies, in load order) needed before the root disk is mounted.
: > "$ini/modules.order"
for m in virtio_pci virtio_blk ext4 9pnet_virtio 9p; do
  modprobe -d "$work/kernel" -S "$kver" --show-depends "$m" 2>/dev/null | awk '$1=="insmod" {print $2}'
done | awk '!seen[$0]++' | while read -r ko; do
  cp "$ko" "$ini/lib/modules/"
  basename "$ko" >> "$ini/modules.order"
done
cp "$here/init-stage1" "$ini/init"
chmod +x "$ini/init"
(cd "$ini" && "$ini/bin/busybox" find . | "$ini/bin/busybox" cpio -o -H newc 2>/dev/null) \
  | gzip -1 > "$work/initrd.gz"

mv "$work/vmlinuz" "$work/initrd.gz" "$work/root.img" "$cache/"
echo "$kver" > "$cache/kernel-version"
echo "$inputs_hash" > "$cache/inputs.sha"
echo "vm-image: built in $(( $(date +%s) - start )) s (kernel $kver, root $(du -h --apparent-size "$cache/root.img" | cut -f1), cache $cache)"
