#!/bin/bash
# The cost benchmark: the three input shapes of the security review,
# scaled to the domain XML cap (10 MiB, libvirt's MAX_FILE_LEN), this helper against
# libvirt's C helper side by side in one run, one dry run of `-c` each.
#
#   bench/cost.sh                  # all three shapes, as root on a Debian host
#   SHAPES="A C" bench/cost.sh     # some of them
#   BYTES=1000000 bench/cost.sh    # smaller XMLs (about this many bytes each)
#
# The shapes (docs/testing.md "Benchmark"):
#   A  long paths folded by `..`: every <disk> names d<i>/a/../a/../.../disk.img, up to
#      just under PATH_MAX, each through its own directory (the canonicalization cache once
#      kept every prefix of every path: memory quadratic in a path's length)
#   B  one qcow2 chain of 200 layers (the most either helper follows) under every disk, as
#      many <disk>s as fit (the chain was read again for each disk)
#   C  deep directories: every disk's image lies 1,900 directories down (d/d/.../d), named
#      through its own symlink to the top of the tree (every path walked to the bottom)
#
# Environment:
#   OURS     the helper to measure (default: target/release/virt-aa-helper, built first)
#   C_HELPER libvirt's helper (default /usr/lib/libvirt/virt-aa-helper, or where the
#            package diverted it)
#   ROOT     where the shapes' files live (default /var/lib/libvirt/images/bench-vah: a
#            directory both helpers accept images in; kept and reused)
#   BYTES    the size each domain XML is filled to (default 10 MiB less 16 KiB)
#   SHAPES   which shapes (default "A B C")
#   RUNS     runs of ours (default 3; the median's figures are shown)
#   C_RUNS   runs of the C helper (default 1: it takes minutes on some shapes)
#   MEM_LIMIT address space each helper may use, KiB (default 8 GiB: the C helper's grows
#            with the chain's layers times the disks, past the host's memory on shape B;
#            one stopped by it is marked "!" with the time and memory it had reached)
#
# Needs GNU time (/usr/bin/time) and qemu-img (Debian: time, qemu-utils). Each helper runs
# `-d -c -u libvirt-<uuid> < dom.xml` under `/usr/bin/time -f '%e %M'` (wall seconds, peak
# resident KiB) and must exit 0.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
C_HELPER=${C_HELPER:-$(dpkg-divert --truename /usr/lib/libvirt/virt-aa-helper)}
ROOT=${ROOT:-/var/lib/libvirt/images/bench-vah}
BYTES=${BYTES:-$((10 * 1024 * 1024 - 16 * 1024))}
SHAPES=${SHAPES:-"A B C"}
RUNS=${RUNS:-3}
C_RUNS=${C_RUNS:-1}
MEM_LIMIT=${MEM_LIMIT:-$((8 * 1024 * 1024))}
UUID=6f1f3c36-6a7e-4c54-9b2a-3d1e5f0a7b12
profile=libvirt-$UUID
# The kernel's PATH_MAX less its NUL: the longest path either helper can open.
PATH_LIMIT=4095

for tool in qemu-img /usr/bin/time; do
    command -v "$tool" >/dev/null || {
        echo "cost: $tool is missing (apt-get install time qemu-utils)" >&2
        exit 1
    }
done
if [[ -z ${OURS:-} ]]; then
    (cd "$repo" && cargo build --release --locked -q)
    OURS=$repo/target/release/virt-aa-helper
    ours_label="$OURS (built from $(cd "$repo" && git describe --always --dirty))"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Target names vda..vdz, vdaa..: base 26 like libvirt's virDiskNameToIndex.
dev() {
    local n=$1 s="" c
    while :; do
        printf -v c "\\x$(printf %x $((97 + n % 26)))"
        s=$c$s
        n=$((n / 26 - 1))
        ((n < 0)) && break
    done
    printf 'vd%s' "$s"
}

head_xml() {
    cat <<XML
<domain type='kvm' id='7'>
  <name>cost</name>
  <uuid>$UUID</uuid>
  <memory unit='KiB'>1048576</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
XML
}

tail_xml() {
    printf '  </devices>\n</domain>\n'
}

# disk_xml INDEX FORMAT PATH [EXTRA]: one <disk>.
disk_xml() {
    printf "    <disk type='file' device='disk'>\n      <driver name='qemu' type='%s'/>\n      <source file='%s'/>\n      <target dev='%s' bus='virtio'/>%s\n    </disk>\n" \
        "$2" "$3" "$(dev "$1")" "${4:-}"
}

# fill FILE MAKE: writes the head, then `MAKE i` for i = 0, 1, ... while the XML stays
# under BYTES, then the tail. Prints the number of disks.
fill() {
    local out=$1 make=$2 i=0 size disk
    head_xml >"$out"
    size=$(($(stat -c %s "$out") + 20))
    while :; do
        disk=$("$make" "$i")
        ((size + ${#disk} + 1 > BYTES)) && break
        printf '%s\n' "$disk" >>"$out"
        size=$((size + ${#disk} + 1))
        i=$((i + 1))
    done
    tail_xml >>"$out"
    echo "$i"
}

# Shape A: d<i>/a/../a/../.../disk.img, as long as PATH_LIMIT allows.
shape_A_disk() {
    local base=$dirA/d$1
    mkdir -p "$base/a"
    local tail=/disk.img reps=$(((PATH_LIMIT - ${#base} - 8) / 5))
    local p
    printf -v p '%*s' "$reps" ''
    p=${p// //a/..}
    disk_xml "$1" raw "$base$p$tail" "
      <readonly/>"
}

# Shape B: the top of the 200-layer chain under every disk (read-only: shared).
shape_B_disk() {
    disk_xml "$1" qcow2 "$dirB/top.qcow2" "
      <readonly/>"
}

# Shape C: l<i> -> tree, then d/d/.../d/disk.img down to just under PATH_LIMIT.
shape_C_disk() {
    ln -sfn tree "$dirC/l$1"
    local base=$dirC/l$1
    disk_xml "$1" raw "$base$deepC/disk.img" "
      <readonly/>"
}

make_A() {
    dirA=$ROOT/cost-A
    [[ -e $dirA/.done-$BYTES ]] && return
    rm -rf "$dirA" && mkdir -p "$dirA"
    fill "$dirA/dom.xml" shape_A_disk >"$dirA/disks"
    touch "$dirA/.done-$BYTES"
}

make_B() {
    dirB=$ROOT/cost-B
    [[ -e $dirB/.done-$BYTES ]] && return
    rm -rf "$dirB" && mkdir -p "$dirB"
    # 200 images: the top and 199 below it (libvirt's and QEMU's limit is 200 layers).
    local j prev=""
    for ((j = 0; j < 200; j++)); do
        local img=$dirB/l$j.qcow2
        ((j == 199)) && img=$dirB/top.qcow2
        if [[ -z $prev ]]; then
            echo "-f qcow2 $img 1M"
        else
            echo "-f qcow2 -F qcow2 -u -b $prev $img 1M"
        fi
        prev=$img
    done | xargs -P "$(nproc)" -L 1 qemu-img create -q
    fill "$dirB/dom.xml" shape_B_disk >"$dirB/disks"
    touch "$dirB/.done-$BYTES"
}

make_C() {
    dirC=$ROOT/cost-C
    # d/d/.../d: 2 bytes a level, as deep as a path through l<99999> allows.
    local levels=$(((PATH_LIMIT - ${#dirC} - 7 - 9) / 2))
    printf -v deepC '%*s' "$levels" ''
    deepC=${deepC// //d}
    [[ -e $dirC/.done-$BYTES ]] && return
    rm -rf "$dirC" && mkdir -p "$dirC/tree$deepC"
    : >"$dirC/tree$deepC/disk.img"
    fill "$dirC/dom.xml" shape_C_disk >"$dirC/disks"
    echo "$levels" >"$dirC/levels"
    touch "$dirC/.done-$BYTES"
}

# measure WHO HELPER DIR RUNS: prints "seconds kib cpu status" of the median-time run (cpu:
# user + system seconds, which a loaded host inflates less than wall time); status
# is "ok", or "!" when the helper was stopped by MEM_LIMIT (or failed otherwise: its last
# lines go to stderr).
measure() {
    local who=$1 helper=$2 d=$3 runs=$4 r rc
    for ((r = 0; r < runs; r++)); do
        rc=0
        (ulimit -v "$MEM_LIMIT" && exec /usr/bin/time -f '%e %M %U %S' -o "$work/time" "$helper" \
            -d -c -u "$profile" <"$d/dom.xml" >/dev/null 2>"$work/err") || rc=$?
        if ((rc != 0)); then
            echo "cost: $who exited $rc on $d/dom.xml:" >&2
            grep -v '^Command exited' "$work/err" | tail -n 3 >&2
            grep -v '^Command' "$work/time" | tail -n 1 | awk '{ print $1, $2, $3 + $4, "!" }'
        else
            tail -n 1 "$work/time" | awk '{ print $1, $2, $3 + $4, "ok" }'
        fi
    done | sort -n | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'
}

rows=$work/rows
for s in $SHAPES; do
    echo "cost: shape $s: making it under $ROOT" >&2
    "make_$s"
    d=$ROOT/cost-$s
    echo "cost: shape $s: $(cat "$d/disks") disks, $(stat -c %s "$d/dom.xml") bytes; ours" >&2
    read -r ot om oc os < <(measure ours "$OURS" "$d" "$RUNS")
    echo "cost: shape $s: C (one run can take minutes)" >&2
    read -r ct cm cc cs < <(measure C "$C_HELPER" "$d" "$C_RUNS")
    echo "$s $(cat "$d/disks") $(stat -c %s "$d/dom.xml") $ot $ct $om $cm $os $cs $oc $cc" >>"$rows"
done

echo
echo "ours: ${ours_label:-$OURS}"
echo "C:    $C_HELPER"
echo "runs: ours $RUNS, C $C_RUNS (the C helper takes minutes on some shapes: one run of it"
echo "is enough); the median run's figures: wall time, CPU time (user + system) and peak RSS"
echo "from /usr/bin/time. On a shared host wall time grows with the load; CPU time less so."
echo
awk '
    BEGIN {
        printf "| %-5s | %6s | %9s | %9s | %9s | %7s | %9s | %9s | %7s | %12s | %12s |\n", "shape", "disks", "XML bytes", "ours s", "C s", "ratio", "ours CPU s", "C CPU s", "ratio", "ours max RSS", "C max RSS"
        print "|-------|-------:|----------:|----------:|----------:|--------:|-----------:|----------:|--------:|-------------:|-------------:|"
    }
    {
        o = ($8 == "ok" ? " " : "!"); c = ($9 == "ok" ? " " : "!")
        if ($9 != "ok") stopped = 1
        printf "| %-5s | %6d | %9d | %8.2f%s | %8.2f%s | %6.3fx | %9.2f%s | %8.2f%s | %6.3fx | %7.1f MiB%s | %7.1f MiB%s |\n", $1, $2, $3, $4, o, $5, c, ($5 > 0 ? $4 / $5 : 0), $10, o, $11, c, ($11 > 0 ? $10 / $11 : 0), $6 / 1024, o, $7 / 1024, c
    }
    END {
        if (stopped) printf "\n! stopped (MEM_LIMIT %d KiB, or an error: see above) after that time, at that\n  memory: it had not finished\n", limit
    }' limit="$MEM_LIMIT" "$rows"
echo
echo "A: d<i>/a/../a/../.../disk.img to just under PATH_MAX; B: one 200-layer qcow2 chain"
echo "under every disk; C: every image about 2,000 directories down, through a symlink of its own."
