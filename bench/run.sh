#!/bin/bash
# The benchmark: this helper against libvirt's C helper, side by side in one run.
#
#   bench/run.sh                      # everything, as root on a Debian host (docs/testing.md "Benchmark")
#   SIZES="1x1 100x10" bench/run.sh   # some hosts only
#
# Environment:
#   OURS     the helper to measure (default: target/release/virt-aa-helper, built first)
#   C_HELPER libvirt's helper (default /usr/lib/libvirt/virt-aa-helper, or where the
#            package diverted it)
#   ROOT     where the synthetic hosts live (default /var/lib/libvirt/images/bench-vah: a
#            directory both helpers accept images in; the hosts are kept and reused)
#   SIZES    hosts, DISKSxDEPTH (default "1x1 10x5 100x10 500x2 1x200 1x1000")
#   RUNS     hyperfine runs per command (default: hyperfine's own choice, at least 10)
#   SCENARIOS scenario functions to run (default: all of "${ALL_SCENARIOS[@]}")
#
# Needs hyperfine, strace, GNU time (/usr/bin/time) and qemu-img (Debian: hyperfine, strace,
# time, qemu-utils).
#
# Each scenario is a shell function `scenario_NAME HOST DISKS DEPTH` that measures one thing
# on one host and calls `row` once per line of the final table; add one and list it in
# ALL_SCENARIOS. The helpers, the host's directory, XML and profile name are in $OURS,
# $C_HELPER, $dir, $dir/dom.xml and $profile.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
C_HELPER=${C_HELPER:-$(dpkg-divert --truename /usr/lib/libvirt/virt-aa-helper)}
ROOT=${ROOT:-/var/lib/libvirt/images/bench-vah}
SIZES=${SIZES:-"1x1 10x5 100x10 500x2 1x200 1x1000"}
RUNS=${RUNS:-}
UUID=6f1f3c36-6a7e-4c54-9b2a-3d1e5f0a7b11
profile=libvirt-$UUID

ALL_SCENARIOS=(dry_run_create)
# Hooks for more rows (libvirt's VM-start sequence, a hotplug, --reload-all): define
# scenario_<name> below and add <name> here.
read -r -a scenarios <<<"${SCENARIOS:-${ALL_SCENARIOS[*]}}"

for tool in hyperfine strace qemu-img /usr/bin/time; do
    command -v "$tool" >/dev/null || {
        echo "bench: $tool is missing (apt-get install hyperfine strace time qemu-utils)" >&2
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
rows=$work/rows

# row SCENARIO HOST IMAGES OURS_MS C_MS OURS_SYS C_SYS OURS_FS C_FS OURS_KIB C_KIB
row() {
    printf '%s\n' "$*" >>"$rows"
}

# The median wall time in ms of each command, from hyperfine's CSV (command,mean,stddev,
# median,...), in the order given.
medians() {
    awk -F, 'NR > 1 { printf "%.2f\n", $4 * 1000 }' "$1"
}

# syscalls per image: "TOTAL FS" where FS counts the calls that examine or read files
# (stat family, open, read, close, readlink), from `strace -f -c`.
syscalls() {
    local images=$1
    shift
    strace -f -c -o "$work/strace" "$@" >/dev/null 2>&1 || true
    awk -v n="$images" '
        $NF ~ /^[a-z_0-9]+$/ && $(NF-1) ~ /^[0-9]+$/ && $NF != "total" {
            # calls are the 4th column; an "errors" column may follow it
            calls = $4; name = $NF; total += calls
            if (name ~ /^(statx|newfstatat|fstat|lstat|stat|openat|open|read|pread64|close|readlink|readlinkat)$/) fs += calls
        }
        END { printf "%.1f %.1f\n", total / n, fs / n }' "$work/strace"
}

# Peak resident memory in KiB.
max_rss() {
    /usr/bin/time -f %M -o "$work/time" "$@" >/dev/null 2>&1 || true
    tail -n 1 "$work/time"
}

# Deepest backing chain this helper follows (src/resolve/fs.rs MAX_CHAIN_DEPTH, QEMU's and
# libvirt's limit): a deeper one is refused (exit 3), where libvirt 9.0's helper silently
# stops writing rules after 200 layers. On such a host the row is marked "*" and ours is
# checked to refuse.
MAX_CHAIN_DEPTH=200

# Runs HELPER on the host's XML and fails the benchmark if it does not accept it.
check_accepts() {
    local who=$1
    shift
    if ! "$@" <"$dir/dom.xml" >"$work/out" 2>"$work/err"; then
        echo "bench: $who refuses $dir/dom.xml (exit $?):" >&2
        tail -n 5 "$work/err" >&2
        return 1
    fi
}

scenario_dry_run_create() {
    # Images whose header is read: a chain ends after MAX_CHAIN_DEPTH + 1 of them.
    local host=$1 disks=$2 depth=$3
    local images=$((disks * (depth > MAX_CHAIN_DEPTH ? MAX_CHAIN_DEPTH + 1 : depth)))
    local ours=("$OURS" -d -c -u "$profile") c=("$C_HELPER" -d -c -u "$profile")
    local name="dry-run -c" ignore=()
    if ((depth > MAX_CHAIN_DEPTH)); then
        if "${ours[@]}" <"$dir/dom.xml" >/dev/null 2>"$work/err" || ! grep -q "deeper than $MAX_CHAIN_DEPTH layers" "$work/err"; then
            echo "bench: ours does not refuse a chain of $depth layers" >&2
            return 1
        fi
        name="dry-run -c*" ignore=(-i)
    else
        check_accepts ours "${ours[@]}"
    fi
    check_accepts C "${c[@]}"
    # Through the shell for the redirection (hyperfine 1.15, Debian 12's, has no --input):
    # hyperfine measures the shell's own start and subtracts it from both.
    hyperfine "${ignore[@]}" --warmup 3 ${RUNS:+--runs "$RUNS"} --style none --export-csv "$work/hf.csv" \
        -n ours "${ours[*]} < $dir/dom.xml" -n C "${c[*]} < $dir/dom.xml" >/dev/null
    local m
    mapfile -t m < <(medians "$work/hf.csv")
    local so sc
    read -r -a so < <(syscalls "$images" sh -c '"$@" < "$0"' "$dir/dom.xml" "${ours[@]}")
    read -r -a sc < <(syscalls "$images" sh -c '"$@" < "$0"' "$dir/dom.xml" "${c[@]}")
    local ro rc
    ro=$(max_rss sh -c 'exec "$@" < "$0"' "$dir/dom.xml" "${ours[@]}")
    rc=$(max_rss sh -c 'exec "$@" < "$0"' "$dir/dom.xml" "${c[@]}")
    row "$name" "$host" "$images" "${m[0]}" "${m[1]}" "${so[0]}" "${sc[0]}" "${so[1]}" "${sc[1]}" "$ro" "$rc"
}

for size in $SIZES; do
    disks=${size%x*} depth=${size#*x}
    dir=$ROOT/$size
    echo "bench: host $size ($disks disks x depth $depth) in $dir" >&2
    "$here/mkhost.sh" "$dir" "$disks" "$depth" "$UUID"
    for s in "${scenarios[@]}"; do
        echo "bench:   $s" >&2
        "scenario_$s" "$size" "$disks" "$depth"
    done
done

echo
echo "ours: ${ours_label:-$OURS}"
echo "C:    $C_HELPER"
echo
awk '
    BEGIN {
        printf "| %-12s | %-7s | %6s | %9s | %9s | %6s | %15s | %15s | %15s |\n", "scenario", "host", "images", "ours ms", "C ms", "ratio", "syscalls/img", "fs calls/img", "max RSS KiB"
        printf "| %-12s | %-7s | %6s | %9s | %9s | %6s | %15s | %15s | %15s |\n", "", "", "", "median", "median", "", "ours / C", "ours / C", "ours / C"
        print "|--------------|---------|-------:|----------:|----------:|-------:|----------------:|----------------:|----------------:|"
    }
    {
        # the scenario name may hold a space: the last 10 fields are fixed
        n = NF; name = $1; for (i = 2; i <= n - 10; i++) name = name " " $i
        host = $(n-9); img = $(n-8); o = $(n-7); c = $(n-6)
        printf "| %-12s | %-7s | %6s | %9.2f | %9.2f | %5.2fx | %7s / %-6s | %7s / %-6s | %7s / %-6s |\n", name, host, img, o, c, (c > 0 ? o / c : 0), $(n-5), $(n-4), $(n-3), $(n-2), $(n-1), $n
    }' "$rows"
if grep -q '^dry-run -c\*' "$rows"; then
    echo
    echo "* deeper than $MAX_CHAIN_DEPTH layers: ours refuses the domain (exit 3) after reading"
    echo "  $((MAX_CHAIN_DEPTH + 1)) headers (the images column); libvirt 9.0's helper writes rules for the top $MAX_CHAIN_DEPTH images and exits 0."
fi
