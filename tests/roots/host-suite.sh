#!/usr/bin/env bash
# The quick suite on another Debian release as its host: runs the test binaries `cargo test
# --no-run` built here inside an overlay of target/roots/SUITE (tests/roots/build.sh), with
# this checkout bind-mounted at the same path, so that "the host" is that release: its
# apparmor_parser, its stock profiles and abstraction, its libvirt C helper (with its own
# test XMLs for the differential: VAH_LIBVIRT_SRC), its qemu-img. The root itself is not
# changed (the overlay's upper layer is a temporary directory). The VM harnesses and the
# tests that change the host's packages are #[ignore]d and stay so.
# Usage: tests/roots/host-suite.sh SUITE   (as root; builds the test binaries if needed)
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
# The test executables, as cargo names them: `ls -t target/debug/deps/NAME-*` cannot tell the
# lib's unit-test binary from the helper itself (deps/virt_aa_helper-HASH is both), and picked
# the helper once, which read stdin and failed the run.
# Each line: the target's kind, name and executable (only the test profile's artifacts).
mapfile -t bins < <(cargo test --locked --no-run --message-format=json 2>/dev/null |
    grep -a '"test":true},"features"' |
    sed -n 's/.*"kind":\["\([^"]*\)"\].*"name":"\([^"]*\)".*"executable":"\([^"]*\)".*/\1 \2 \3/p')
[ "${#bins[@]}" -gt 0 ] || {
    echo "tests/roots/host-suite.sh: cargo test --no-run listed no test executables" >&2
    exit 1
}
failed=0 passed=0 t0=$SECONDS
for entry in "${bins[@]}"; do
    read -r kind name bin <<<"$entry"
    [ "$kind" = test ] || name="$name ($kind)"
    out=$(chroot "$M" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
        ${src:+VAH_LIBVIRT_SRC=$src} sh -c "cd '$PWD' && '$bin' 2>&1")
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
