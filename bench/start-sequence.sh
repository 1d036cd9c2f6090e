#!/bin/sh
# libvirt's AppArmor calls with real compiles, libvirt 9.0's C helper beside ours, timed
# with hyperfine: what a VM start and a hotplug cost in helper plus apparmor_parser time.
#
#   bench/start-sequence.sh          (as root; needs hyperfine, qemu-img, libvirt-daemon)
#
# Both helpers run as libvirtd runs them, on the real paths (/etc/apparmor.d/libvirt), in a
# private mount namespace so the host is not touched: /etc/apparmor.d/libvirt is a tmpfs
# (ours keeps its parser cache in the work directory), and /sbin/apparmor_parser is a wrapper that compiles for real but
# does not load into the kernel (-Q; -M gives the packaged kernel features, so the parser's
# cache works without an AppArmor kernel). The C helper has no --parser option, hence the
# bind mount.
#
# Scenarios (libvirtd 9.0's calls, security_apparmor.c):
#   start:   -c, then -r -F of the domain's directory subtree, its channel subtree and
#            master-key.aes (4 runs; C compiles 4 times)
#   hotplug: -r -F of each layer of a depth-10 qcow2 chain already granted (10 runs, as
#            AppArmorSetSecurityImageLabel walks the chain)
set -eu
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
HERE=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${VAH_IN_NS:-}" ]; then
    cd "$HERE" && cargo build --release --locked -q
    exec env VAH_IN_NS=1 unshare -m "$0" "$@"
fi

OURS=$HERE/target/release/virt-aa-helper
# libvirt's helper (where dpkg-divert moved it if this project's package is installed).
C=$(dpkg-divert --truename /usr/lib/libvirt/virt-aa-helper)
W=$(mktemp -d /var/lib/libvirt/images/bench-start.XXXXXX)
trap 'rm -rf "$W"' EXIT
# shellcheck source=namespace.sh
. "$HERE/bench/namespace.sh"

UUID=6e0c5e5a-0f3a-4d7c-9a51-5d2b1c0b7a10
P=libvirt-$UUID
NAME=bench-start
# A depth-10 chain behind a symlinked directory.
mkdir -p "$W/real"
ln -s real "$W/link"
prev=""
for i in 0 1 2 3 4 5 6 7 8 9; do
    if [ -z "$prev" ]; then
        qemu-img create -q -f qcow2 "$W/real/l$i.qcow2" 16M
    else
        qemu-img create -q -f qcow2 -F qcow2 -b "l$prev.qcow2" "$W/real/l$i.qcow2"
    fi
    prev=$i
done
cat > "$W/dom.xml" <<XML
<domain type='kvm' id='1'>
  <name>$NAME</name>
  <uuid>$UUID</uuid>
  <memory>524288</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$W/link/l9.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='network'><source network='default'/><model type='virtio'/></interface>
  </devices>
</domain>
XML

D=/var/lib/libvirt/qemu/domain-1-$NAME
CH=/var/lib/libvirt/qemu/channel/target/domain-1-$NAME
cat > "$W/start.sh" <<SH
#!/bin/sh
set -e
H=\$1
\$H -c -u $P < $W/dom.xml
\$H -r -u $P -F '$D/{,**}' < $W/dom.xml
\$H -r -u $P -F '$CH/{,**}' < $W/dom.xml
\$H -r -u $P -F '$D/master-key.aes' < $W/dom.xml
SH
cat > "$W/hotplug.sh" <<SH
#!/bin/sh
set -e
H=\$1
for i in 9 8 7 6 5 4 3 2 1 0; do
    \$H -r -u $P -F $W/real/l\$i.qcow2 < $W/dom.xml
done
SH
cat > "$W/reset.sh" <<SH
#!/bin/sh
rm -f /etc/apparmor.d/libvirt/$P /etc/apparmor.d/libvirt/$P.files /etc/apparmor.d/libvirt/$P.lock
SH
chmod +x "$W"/*.sh

# Each helper once, checked, and the number of parser runs it makes per scenario.
count() { # helper scenario
    "$W/reset.sh"
    [ "$2" = hotplug ] && sh "$W/start.sh" "$1" >/dev/null 2>&1
    strace -f -qq -e trace=execve -o "$W/trace" sh "$W/$2.sh" "$1" >/dev/null 2>"$W/err" || {
        echo "$1 $2 failed:" >&2; cat "$W/err" >&2; exit 1; }
    grep -c 'apparmor_parser.real' "$W/trace" || true
}
for h in "$C" "$OURS"; do
    for s in start hotplug; do
        printf '%s %s: %s parser runs\n' "$h" "$s" "$(count "$h" "$s")"
    done
done

hyperfine -N --warmup 2 --runs "${RUNS:-10}" --export-markdown "$W/start.md" \
    --prepare "$W/reset.sh" \
    -n "C start (4 calls)" "sh $W/start.sh $C" \
    -n "ours start (4 calls)" "sh $W/start.sh $OURS"
"$W/reset.sh"; sh "$W/start.sh" "$C" >/dev/null 2>&1
hyperfine -N --warmup 1 --runs "${RUNS:-10}" --export-markdown "$W/hotplug-c.md" \
    -n "C hotplug of a granted depth-10 chain (10 calls)" "sh $W/hotplug.sh $C"
"$W/reset.sh"; sh "$W/start.sh" "$OURS" >/dev/null 2>&1
hyperfine -N --warmup 1 --runs "${RUNS:-10}" --export-markdown "$W/hotplug-ours.md" \
    -n "ours hotplug of a granted depth-10 chain (10 calls)" "sh $W/hotplug.sh $OURS"
cat "$W/start.md" "$W/hotplug-c.md" "$W/hotplug-ours.md"
