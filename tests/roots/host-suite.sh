#!/usr/bin/env bash
# The quick suite on another Debian release as its host: runs the test binaries `cargo test
# --no-run` built here inside an overlay of target/roots/SUITE (tests/roots/build.sh), with
# this checkout bind-mounted at the same path, so that "the host" is that release: its
# apparmor_parser, its stock profiles and abstraction, its libvirt C helper (with its own
# test XMLs for the differential: VAH_LIBVIRT_SRC), its qemu-img. The root itself is not
# changed (the overlay's upper layer is a temporary directory). The VM harnesses and the
# tests that change the host's packages are #[ignore]d and stay so.
# Usage: tests/roots/host-suite.sh SUITE   (as root, after cargo test --no-run)
# Prints each test binary's result line and a closing line; exits 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
suite=${1:?usage: tests/roots/host-suite.sh SUITE}
ROOT=$PWD/target/roots/$suite
[ -x "$ROOT/usr/lib/libvirt/virt-aa-helper" ] || {
    echo "tests/roots/host-suite.sh: no $suite root: run tests/roots/build.sh $suite" >&2
    exit 1
}
T=$(mktemp -d /tmp/host-suite.XXXXXX)
M=$T/merged
cleanup() {
    umount -R "$M" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/upper" "$T/work" "$M"
mount -t overlay overlay -o "lowerdir=$ROOT,upperdir=$T/upper,workdir=$T/work" "$M"
mkdir -p "$M$PWD"
mount --bind "$PWD" "$M$PWD"
mount -t proc proc "$M/proc"
mount --rbind /dev "$M/dev"
mount --rbind /sys "$M/sys"
mount -t tmpfs tmpfs "$M/tmp"

src=
[ -d "$PWD/target/roots/$suite-src/tests/qemuxmlconfdata" ] && src=$PWD/target/roots/$suite-src
failed=0 passed=0 t0=$SECONDS
for f in tests/*.rs src/lib.rs; do
    name=$(basename "$f" .rs)
    [ "$name" = lib ] && name=virt_aa_helper
    bin=$(ls -t target/debug/deps/"$name"-* 2>/dev/null | grep -v '\.d$' | head -n 1)
    [ -n "$bin" ] || {
        echo "FAIL $name: no test binary (cargo test --locked --no-run first)"
        failed=$((failed + 1))
        continue
    }
    out=$(chroot "$M" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
        ${src:+VAH_LIBVIRT_SRC=$src} sh -c "cd '$PWD' && '$PWD/$bin' 2>&1")
    rc=$?
    line=$(printf '%s\n' "$out" | grep -a '^test result' | tail -n 1)
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
        echo "ok   $name: $line"
    else
        failed=$((failed + 1))
        echo "FAIL $name: $line"
        printf '%s\n' "$out" | grep -a -A3 'panicked at' | head -n 20
    fi
done
v=$(chroot "$M" dpkg-query -W -f='${Version}' libvirt-daemon)
a=$(chroot "$M" dpkg-query -W -f='${Version}' apparmor)
echo "quick suite on a Debian $suite host (libvirt $v, apparmor $a): $passed test binaries passed, $failed failed ($((SECONDS - t0)) s)"
[ "$failed" -eq 0 ]
