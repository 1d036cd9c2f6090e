#!/bin/sh
# Reloading every VM's profile after an abstraction or template change, with real compiles,
# timed with hyperfine: ours `--reload-all` (one apparmor_parser run over all profiles, in
# parallel) against one `-r` per VM, run in sequence, by libvirt 9.0's C helper and by ours.
#
#   bench/reload-all.sh          (as root; needs hyperfine, qemu-img, libvirt-daemon)
#   N=50 RUNS=1 bench/reload-all.sh
#
# As in bench/start-sequence.sh: both helpers run on the real paths in a private mount
# namespace, /etc/apparmor.d/libvirt a tmpfs, /sbin/apparmor_parser a wrapper that compiles
# for real without loading (-Q, with the packaged kernel features so the cache works without
# an AppArmor kernel). Every run starts with ours' parser cache empty, as after an include
# changed (ours never reads the cache then): every profile is compiled in every row.
#
# Each of the N VMs is a typical domain: two qcow2 disks, a virtio NIC, a serial console
# and VNC.
set -eu
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
HERE=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${VAH_IN_NS:-}" ]; then
    cd "$HERE" && cargo build --release --locked -q
    exec env VAH_IN_NS=1 unshare -m "$0" "$@"
fi
N=${N:-200}

OURS=$HERE/target/release/virt-aa-helper
# libvirt's helper (where dpkg-divert moved it if this project's package is installed).
C=$(dpkg-divert --truename /usr/lib/libvirt/virt-aa-helper)
W=$(mktemp -d /var/lib/libvirt/images/bench-reload.XXXXXX)
trap 'rm -rf "$W"' EXIT
# shellcheck source=namespace.sh
. "$HERE/bench/namespace.sh"
mkdir "$W/xml" "$W/img"

qemu-img create -q -f qcow2 "$W/img/base.qcow2" 16M
i=1
while [ "$i" -le "$N" ]; do
    uuid=$(printf '6e0c5e5a-0f3a-4d7c-9a51-%012d' "$i")
    qemu-img create -q -f qcow2 -F qcow2 -b base.qcow2 "$W/img/vm$i.qcow2"
    qemu-img create -q -f qcow2 "$W/img/data$i.qcow2" 1M
    cat > "$W/xml/$i.xml" <<XML
<domain type='kvm' id='$i'>
  <name>bench-vm$i</name>
  <uuid>$uuid</uuid>
  <memory>524288</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$W/img/vm$i.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$W/img/data$i.qcow2'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <interface type='network'><source network='default'/><model type='virtio'/></interface>
    <serial type='pty'/>
    <graphics type='vnc' port='-1'/>
  </devices>
</domain>
XML
    "$OURS" -c --no-load -u "libvirt-$uuid" < "$W/xml/$i.xml"
    i=$((i + 1))
done
cp -a /etc/apparmor.d/libvirt "$W/profiles"

cat > "$W/sequential.sh" <<SH
#!/bin/sh
set -e
i=1
while [ "\$i" -le $N ]; do
    \$1 -r -u "libvirt-\$(printf '6e0c5e5a-0f3a-4d7c-9a51-%012d' "\$i")" < $W/xml/\$i.xml
    i=\$((i + 1))
done
SH
# The profiles as ours created them (the C helper's -r rewrites .files its own way), and an
# empty cache.
cat > "$W/reset.sh" <<SH
#!/bin/sh
rm -rf /etc/apparmor.d/libvirt/* $W/cache/*
cp -a $W/profiles/. /etc/apparmor.d/libvirt/
SH
chmod +x "$W"/*.sh

"$W/reset.sh"
"$OURS" --reload-all | tail -n 1
"$W/reset.sh"
sh "$W/sequential.sh" "$C"

hyperfine -N --runs "${RUNS:-3}" --prepare "$W/reset.sh" --export-markdown "$W/reload.md" \
    -n "C: $N sequential -r" "sh $W/sequential.sh $C" \
    -n "ours: $N sequential -r" "sh $W/sequential.sh $OURS" \
    -n "ours: --reload-all of $N" "$OURS --reload-all"
cat "$W/reload.md"
