#!/bin/bash
# Makes a synthetic host for the benchmark: DISKS disks, each a qcow2 chain of DEPTH images
# (the top one included), all behind a symlinked directory, and the domain XML both helpers
# read.
#
#   bench/mkhost.sh DIR DISKS DEPTH UUID
#
# DIR/real/d<i>-<j>.qcow2 are the images (j = 0 is the base); DIR/disks is a symlink to
# DIR/real, and every name (the XML's <source file>, each header's backing name) goes
# through it, so every path has a symlink to resolve. Backing names are absolute and record
# their format (-F qcow2), so both helpers follow the whole chain. Images are made with
# `qemu-img create -u` (the backing file is not opened: a chain of 1,000 is made in linear
# time). DIR/dom.xml is the domain; DIR/.done marks a complete host, which is reused.
set -euo pipefail

dir=$1 disks=$2 depth=$3 uuid=$4
if [[ -e $dir/.done ]]; then
    exit 0
fi
rm -rf "$dir"
mkdir -p "$dir/real"
ln -s real "$dir/disks"

# One `qemu-img create` per image, in parallel (-u: no dependency between them).
for ((i = 0; i < disks; i++)); do
    for ((j = 0; j < depth; j++)); do
        if ((j == 0)); then
            echo "-f qcow2 $dir/real/d$i-$j.qcow2 1M"
        else
            echo "-f qcow2 -F qcow2 -u -b $dir/disks/d$i-$((j - 1)).qcow2 $dir/real/d$i-$j.qcow2 1M"
        fi
    done
done | xargs -P "$(nproc)" -L 1 qemu-img create -q

# Target names vda..vdz, vdaa..: base 26 like libvirt's virDiskNameToIndex.
dev() {
    local n=$1 s=""
    while :; do
        s=$(printf "\\x$(printf %x $((97 + n % 26)))")$s
        n=$((n / 26 - 1))
        ((n < 0)) && break
    done
    echo "vd$s"
}

{
    cat <<XML
<domain type='kvm' id='7'>
  <name>bench</name>
  <uuid>$uuid</uuid>
  <memory unit='KiB'>1048576</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
XML
    for ((i = 0; i < disks; i++)); do
        cat <<XML
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$dir/disks/d$i-$((depth - 1)).qcow2'/>
      <target dev='$(dev "$i")' bus='virtio'/>
    </disk>
XML
    done
    cat <<XML
  </devices>
</domain>
XML
} >"$dir/dom.xml"
touch "$dir/.done"
