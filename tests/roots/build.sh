#!/usr/bin/env bash
# Builds a Debian root of another release for the tests, cached in target/roots/SUITE/
# (run as root; tests/setup.sh runs it for every suite in SUITES below; safe to run again):
#   target/roots/SUITE/       debootstrap --variant=minbase SUITE, plus libvirt's daemon and
#                             helper, AppArmor, qemu-utils, OVMF, procps, python3-minimal and
#                             strace (tests/it/lifecycle.rs traces dry runs on that host too):
#                             the C helper and apparmor_parser of that release run in it with
#                             chroot (tests/differential.rs), and tests/libvirtd.rs boots it as
#                             the guest's root
#   target/roots/SUITE-src/   libvirt's test XMLs of the same version (qemuxmlconfdata or
#                             qemuxml2argvdata, qemuhotplugtestdomains) and virt-aa-helper.c
#   target/roots/SUITE-kernel/ that release's kernel, unpacked, not installed
#   target/roots/SUITE.versions  what the root holds: one "package version" line each
# Usage: tests/roots/build.sh SUITE [SUITE...]   (trixie, sid)
# From an empty cache about 2 minutes and 700 MB a suite, all from Debian's archive.
set -euo pipefail
cd "$(dirname "$0")/../.."

# Bump when what a root holds changes, so that an old cache is rebuilt.
LAYOUT=3
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=(apparmor libvirt-daemon libvirt-daemon-system libvirt-clients qemu-utils
    qemu-system-x86 ovmf procps python3-minimal strace)
# The suites tests/libvirtd.rs boots, which need their kernel (sid's is split into
# linux-binary-* and linux-modules-* packages, and nothing boots it).
KERNEL_SUITES=(trixie)
# Kernel modules the libvirtd harness's guest loads (see tests/kernel/setup.sh).
MODULE_DIRS=(drivers/virtio fs/9p net/9p fs/netfs fs/fscache fs/overlayfs)
MODULE_FILES=(drivers/net/tun.ko)  # a prefix: tun.ko or tun.ko.xz

if [ "$(id -u)" -ne 0 ]; then
    echo "tests/roots/build.sh: run as root (debootstrap and chroot)" >&2
    exit 1
fi
[ $# -gt 0 ] || {
    echo "usage: tests/roots/build.sh SUITE [SUITE...]" >&2
    exit 2
}
need_tools=()
for t in debootstrap curl; do command -v "$t" >/dev/null 2>&1 || need_tools+=("$t"); done
if [ ${#need_tools[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_tools[@]}"
fi

# apt inside the root; an unstable suite's Release file may be past its Valid-Until on the
# mirror the machines reach, which is no reason to fail.
in_root() {
    chroot "$1" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "${@:2}"
}
APT=(apt-get -qq -o Acquire::Check-Valid-Until=false -o APT::Sandbox::User=root)

build() {
    local suite=$1 R=target/roots/$1 stamp=target/roots/$1.versions
    if [ -f "$stamp" ] && [ "$(sed -n 1p "$stamp")" = "layout $LAYOUT" ] &&
        [ -x "$R/usr/lib/libvirt/virt-aa-helper" ] &&
        { ! wants_kernel "$suite" || compgen -G "target/roots/$suite-kernel/boot/vmlinuz-*" >/dev/null; } &&
        { [ -f "target/roots/$suite-src/virt-aa-helper.c" ] || [ -f "target/roots/$suite-src/MISSING" ]; }; then
        echo "$suite root: $(cd "$R" && pwd) (cached)"
        return
    fi
    local t0=$SECONDS
    umount_root "$R"
    rm -rf "$R" "target/roots/$suite-src" "target/roots/$suite-kernel" "$stamp"
    mkdir -p target/roots
    debootstrap --variant=minbase "$suite" "$R" "$MIRROR" >"target/roots/$suite.debootstrap.log" 2>&1 || {
        tail -n 20 "target/roots/$suite.debootstrap.log" >&2
        echo "tests/roots/build.sh: debootstrap $suite failed" >&2
        exit 1
    }
    # No service may start inside the root while packages install.
    printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
    chmod +x "$R/usr/sbin/policy-rc.d"
    echo "deb-src $MIRROR $suite main" >"$R/etc/apt/sources.list.d/src.list"
    cp /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
    mount -t proc proc "$R/proc"
    trap 'umount_root "'"$R"'"' EXIT
    local log=target/roots/$suite.install.log
    {
        in_root "$R" "${APT[@]}" update &&
            in_root "$R" "${APT[@]}" install -y --no-install-recommends "${PACKAGES[@]}"
    } >"$log" 2>&1 || {
        tail -n 20 "$log" >&2
        echo "tests/roots/build.sh: installing ${PACKAGES[*]} in the $suite root failed" >&2
        exit 1
    }
    # libvirt's source of the installed version: only the test XMLs and the helper are kept.
    local v
    v=$(in_root "$R" dpkg-query -W -f='${source:Version}' libvirt-daemon)
    # Only the upstream tarball is fetched, checked against the sha256 the signed index
    # gives (the mirror the machines reach serves it, not always the .dsc or signatures).
    local uri file sum
    read -r uri file _ sum < <(in_root "$R" "${APT[@]}" source --print-uris "libvirt=$v" |
        awk '$2 ~ /\.orig\.tar\.[a-z0-9]+$/ {print; exit}')
    [ -n "${uri:-}" ] || {
        echo "tests/roots/build.sh: $suite: apt-get source --print-uris names no libvirt orig tarball" >&2
        exit 1
    }
    mkdir -p target/roots/dl "target/roots/$suite-src"
    local orig=target/roots/dl/$file
    if curl -fsS -o "$orig" "${uri//\'/}"; then
        echo "${sum#SHA256:}  $orig" | sha256sum -c --quiet
        tar -x -C "target/roots/$suite-src" --strip-components=1 -f "$orig" --wildcards \
            '*/tests/qemuxml*data/*' '*/tests/qemuhotplugtestdomains/*' \
            '*/src/security/virt-aa-helper.c'
        rm -f "$orig"
        cp "target/roots/$suite-src/src/security/virt-aa-helper.c" "target/roots/$suite-src/"
    else
        # Not fatal here: the mirror the machines reach serves sid's binaries but not
        # always its sources. Whoever needs the corpus reads this and says so.
        echo "libvirt $v: the mirror serves no ${file} (${uri//\'/})" >"target/roots/$suite-src/MISSING"
        echo "tests/roots/build.sh: $suite: libvirt $v's source is not on the mirror" >&2
    fi
    rm -rf "$R/tmp/src"
    local kpkg=- kver=-
    if wants_kernel "$suite"; then
        fetch_kernel "$suite" "$R"
    fi
    umount_root "$R"
    trap - EXIT
    {
        echo "layout $LAYOUT"
        in_root "$R" dpkg-query -W -f='${Package} ${Version}\n' libvirt-daemon apparmor \
            qemu-system-x86 ovmf
        [ "$kpkg" = - ] || echo "$kpkg $kver"
    } >"$stamp.new"
    mv "$stamp.new" "$stamp"
    echo "$suite root: $(cd "$R" && pwd) ($((SECONDS - t0)) s, $(du -sm "$R" | cut -f1) MB)"
}

wants_kernel() {
    local k
    for k in "${KERNEL_SUITES[@]}"; do [ "$k" = "$1" ] && return 0; done
    return 1
}

# Sets kpkg and kver (the caller's locals).
fetch_kernel() {
    local suite=$1 R=$2
    # The release's kernel (what linux-image-amd64 depends on), unpacked.
    local kdeb
    kpkg=$(in_root "$R" apt-cache depends linux-image-amd64 |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-/ {print $2; exit}')
    [ -n "$kpkg" ] || {
        echo "tests/roots/build.sh: $suite knows no linux-image-amd64" >&2
        exit 1
    }
    mkdir -p "$R/tmp/k"
    in_root "$R" sh -c "cd /tmp/k && ${APT[*]} download $kpkg" >/dev/null
    kdeb=$(ls "$R"/tmp/k/*.deb)
    kver=$(dpkg-deb -f "$kdeb" Version)
    mkdir -p "target/roots/$suite-kernel"
    # Since trixie the modules are under usr/lib/modules (usrmerge) and compressed (.ko.xz),
    # and fscache is part of netfs: take whatever of the wanted trees the package has.
    local want='^\./(usr/)?lib/modules/[^/]+/kernel/('
    want+=$(printf '%s/|' "${MODULE_DIRS[@]}")$(printf '%s|' "${MODULE_FILES[@]}")
    want="${want%|})"
    dpkg-deb --fsys-tarfile "$kdeb" | tar -t | grep -E "$want|^\./boot/(vmlinuz|config)-" |
        grep -v '/$' >"$R/tmp/k/members"
    dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "target/roots/$suite-kernel" -T "$R/tmp/k/members"
    rm -rf "$R/tmp/k"
    grep -qx 'CONFIG_SECURITY_APPARMOR=y' "target/roots/$suite-kernel"/boot/config-* || {
        echo "tests/roots/build.sh: $kpkg is built without AppArmor" >&2
        exit 1
    }
}

umount_root() {
    if mountpoint -q "$1/proc" 2>/dev/null; then umount -l "$1/proc"; fi
}

for s in "$@"; do
    build "$s"
    sed -n '2,$p' "target/roots/$s.versions"
done
