#!/usr/bin/env bash
# Fetches what tests/kernel.rs boots, into target/kernel/ (run as root; tests/setup.sh runs it;
# safe to run again: a complete cache is kept and nothing is fetched):
#   kernel/   Debian's kernel (the package linux-image-amd64 depends on: AppArmor on by default):
#             vmlinuz and the virtio-pci, 9p, overlay and tun modules, unpacked, not installed
#   busybox   busybox-static, for the guest's initramfs
#   qemu/     qemu-system-x86 (the binary), qemu-system-common (for its TCG module), seabios and
#             qemu-system-data (firmware), plus only the libraries this machine lacks, unpacked
#             privately: installing Debian's qemu-system-x86 would replace a newer qemu-utils
# Nothing is installed. apt-get update runs only if a download fails (empty or stale lists).
# From an empty cache this takes about 15 s (mostly unpacking the kernel package).
set -euo pipefail
cd "$(dirname "$0")/../.."

K=target/kernel
STAMP=$K/ready
# Bump when the layout of target/kernel changes, so that an old cache is rebuilt.
LAYOUT=3
# Kernel modules the guest loads, with their dependencies (tests/kernel.rs orders them).
MODULE_DIRS=(drivers/virtio fs/9p net/9p fs/netfs fs/fscache fs/overlayfs)
# Single modules, outside those directories: tun (tests/libvirtd.rs: a VM's tap NIC).
MODULE_FILES=(drivers/net/tun.ko)

if [ -f "$STAMP" ] && [ "$(sed -n 1p "$STAMP")" = "layout $LAYOUT" ] &&
    [ -x "$K/qemu/usr/bin/qemu-system-x86_64" ] && [ -x "$K/busybox" ] &&
    compgen -G "$K/kernel/boot/vmlinuz-*" >/dev/null; then
    sed -n '2,$p' "$STAMP"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "tests/kernel/setup.sh: run as root (it downloads Debian packages with apt-get)" >&2
    exit 1
fi

rm -rf "$K"
mkdir -p "$K/debs"
DEBS=$(cd "$K/debs" && pwd)

updated=
# apt-get download, as root into target/ (the _apt sandbox user cannot write there); on a
# failure (no lists yet, or lists naming versions the mirror dropped) update once and retry.
download() {
    local args=(apt-get download -qq -o APT::Sandbox::User=root "$@")
    if ! (cd "$DEBS" && "${args[@]}") >/dev/null 2>&1; then
        if [ -n "$updated" ]; then
            (cd "$DEBS" && "${args[@]}")
            return
        fi
        apt-get update -qq
        updated=1
        (cd "$DEBS" && "${args[@]}") >/dev/null
    fi
}
candidate() {
    apt-cache depends "$1" 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ {print $2; exit}'
}

# --- The kernel: the package linux-image-amd64 depends on. ---
kpkg=$(candidate linux-image-amd64)
if [ -z "$kpkg" ]; then
    apt-get update -qq
    updated=1
    kpkg=$(candidate linux-image-amd64)
fi
[ -n "$kpkg" ] || {
    echo "tests/kernel/setup.sh: apt-cache knows no linux-image-amd64" >&2
    exit 1
}
download "$kpkg"
kdeb=$(ls "$DEBS"/"${kpkg}"_*.deb)
kver=$(dpkg-deb -f "$kdeb" Version)
mkdir -p "$K/kernel"
# Only vmlinuz, the config and the module directories the guest needs.
dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$K/kernel" --wildcards './boot/vmlinuz-*' './boot/config-*' \
    $(for d in "${MODULE_DIRS[@]}"; do printf "./lib/modules/*/kernel/%s/\n" "$d"; done) \
    $(for f in "${MODULE_FILES[@]}"; do printf "./lib/modules/*/kernel/%s\n" "$f"; done)
grep -qx 'CONFIG_SECURITY_APPARMOR=y' "$K"/kernel/boot/config-* || {
    echo "tests/kernel/setup.sh: $kpkg is built without AppArmor" >&2
    exit 1
}

# --- busybox-static. ---
download busybox-static
dpkg-deb -x "$DEBS"/busybox-static_*.deb "$K/busybox-deb"
cp "$K/busybox-deb/bin/busybox" "$K/busybox"

# --- qemu-system-x86, privately: the package, its firmware, the TCG accelerator module (in
# qemu-system-common, whose own dependencies are display and sound libraries the guest does not
# use), and every library dependency of qemu-system-x86 (recursively) that is not installed
# here. ipxe-qemu (NIC option ROMs) is not needed: the guest has no NIC.
installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}
declare -A seen=([qemu-system-common]=1 [ipxe-qemu]=1)
fetch=(qemu-system-x86 qemu-system-common qemu-system-data seabios)
queue=(qemu-system-x86)
for p in "${fetch[@]}"; do seen[$p]=1; done
while [ ${#queue[@]} -gt 0 ]; do
    p=${queue[0]}
    queue=("${queue[@]:1}")
    for d in $(apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
        --no-replaces --no-enhances "$p" | awk '$1 ~ /Depends:$/ && $2 !~ /^</ {print $2}'); do
        d=${d%:any}
        [ -z "${seen[$d]:-}" ] || continue
        seen[$d]=1
        if ! installed "$d"; then
            fetch+=("$d")
            queue+=("$d")
        fi
    done
done
download "${fetch[@]}"
mkdir -p "$K/qemu"
for p in "${fetch[@]}"; do
    dpkg-deb -x "$(ls "$DEBS"/"${p}"_*.deb | head -n 1)" "$K/qemu"
done
QEMU=$K/qemu/usr/bin/qemu-system-x86_64
QEMU_LIBS=$K/qemu/usr/lib/x86_64-linux-gnu:$K/qemu/lib/x86_64-linux-gnu
if ! out=$(LD_LIBRARY_PATH=$QEMU_LIBS "$QEMU" --version 2>&1); then
    echo "tests/kernel/setup.sh: the unpacked qemu-system-x86_64 does not run:" >&2
    echo "$out" >&2
    LD_LIBRARY_PATH=$QEMU_LIBS ldd "$QEMU" | grep 'not found' >&2 || true
    exit 1
fi

rm -rf "$DEBS" "$K/busybox-deb"
{
    echo "layout $LAYOUT"
    echo "kernel: $K/kernel/boot/$(basename "$K"/kernel/boot/vmlinuz-*) ($kpkg $kver)"
    echo "qemu: $(echo "$out" | head -n 1) (unpacked with ${#fetch[@]} packages: ${fetch[*]})"
    echo "busybox: $("$K/busybox" | head -n 1)"
} >"$STAMP.tmp"
mv "$STAMP.tmp" "$STAMP"
sed -n '2,$p' "$STAMP"
