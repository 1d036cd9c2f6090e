#!/usr/bin/env bash
# Installs what the test suite needs on Debian (run as root; safe to run again):
#   apparmor        the real apparmor_parser compiles every profile the tests generate
#   qemu-utils      qemu-img makes real qcow2 chains
#   libvirt-daemon  libvirt's C virt-aa-helper, the oracle of tests/differential.rs
#   libvirt-daemon-system, libvirt-clients
#                   Debian's libvirtd with its AppArmor profiles (usr.sbin.libvirtd and the
#                   helper's own usr.lib.libvirt.virt-aa-helper, which tests/it/helper_profile.rs
#                   compares ours with) and virsh: tests/libvirtd.rs runs them in the guest
#   libvirt source  its tests/qemuxml2argvdata/*.xml corpus, unpacked into target/libvirt-src/
#   target/kernel/  Debian's kernel, busybox-static and qemu-system-x86, unpacked (not
#                   installed) for tests/kernel.rs by tests/kernel/setup.sh
#   python3-minimal tests/libvirtd/guest.sh sends frames into a VM's tap (AF_PACKET)
#   ovmf            UEFI firmware: tests/libvirtd.rs starts a VM with a writable copy of it
#   strace          tests/it/lifecycle.rs checks that a dry run writes and runs nothing
#   target/roots/  Debian 13 (trixie) and sid roots made by tests/roots/build.sh (debootstrap):
#                   their libvirt's C helper, apparmor_parser and stock profiles, libvirt's
#                   test XMLs of that version, and trixie's kernel for the libvirtd harness
#   lintian, cargo-deb (crates.io, pinned)
#                   build and check the Debian package (tests/package.rs)
#   target/libvirt-debs/
#                   libvirt-daemon and libvirt-daemon-system at the installed versions,
#                   downloaded: tests/package.rs installs them again over our package
# apt-get update runs at most once, and only when something must be installed or fetched.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
C_HELPER=/usr/lib/libvirt/virt-aa-helper
SRC_DIR=target/libvirt-src

if [ "$(id -u)" -ne 0 ]; then
    echo "tests/setup.sh: run as root (it installs Debian packages)" >&2
    exit 1
fi

updated=
apt_update() {
    if [ -z "$updated" ]; then
        apt-get update -qq
        updated=1
    fi
}
apt_install() {
    apt_update
    # No recommends: libvirt-daemon would otherwise pull in qemu-system, swtpm, lvm2...
    apt-get install -y -qq --no-install-recommends "$@"
}

# libvirt 9.0's layout (Debian 12), or 10.x's (Debian 13 and later).
have_corpus() {
    compgen -G "$SRC_DIR/*/tests/qemuxml2argvdata/*.xml" >/dev/null ||
        compgen -G "$SRC_DIR/*/tests/qemuxmlconfdata/*.xml" >/dev/null
}

need=()
command -v apparmor_parser >/dev/null 2>&1 || [ -x /usr/sbin/apparmor_parser ] || need+=(apparmor)
command -v qemu-img >/dev/null 2>&1 || need+=(qemu-utils)
[ -x "$C_HELPER" ] || need+=(libvirt-daemon)
[ -f /etc/apparmor.d/usr.lib.libvirt.virt-aa-helper ] && [ -x /usr/sbin/libvirtd ] ||
    need+=(libvirt-daemon-system)
command -v virsh >/dev/null 2>&1 || need+=(libvirt-clients)
command -v lintian >/dev/null 2>&1 || need+=(lintian)
# tests/it/lifecycle.rs traces every dry run: it must open nothing for writing and run nothing.
command -v strace >/dev/null 2>&1 || need+=(strace)
# The libvirtd harness's guest sends frames into the VM's tap with Debian's python3.
[ -x /usr/bin/python3 ] || need+=(python3-minimal)
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || need+=(ovmf)
# tests/vm/mod.rs decompresses trixie's kernel modules (.ko.xz) for the guest's initramfs.
command -v xz >/dev/null 2>&1 || need+=(xz-utils)
fetch=
if ! have_corpus; then
    fetch=1
    # apt-get source unpacks with dpkg-source.
    command -v dpkg-source >/dev/null 2>&1 || need+=(dpkg-dev)
    # Source indexes: add deb-src entries mirroring the binary ones, unless some exist.
    # (Before the one apt-get update, which then fetches them.)
    if ! grep -qsE '^[[:space:]]*(Types:.*deb-src|deb-src[[:space:]])' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; then
        if [ -f /etc/apt/sources.list.d/debian.sources ]; then
            sed 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
                >/etc/apt/sources.list.d/debian-src.sources
            echo "tests/setup.sh: wrote /etc/apt/sources.list.d/debian-src.sources"
        elif grep -qsE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list; then
            sed -nE 's/^[[:space:]]*deb([[:space:]])/deb-src\1/p' /etc/apt/sources.list \
                >/etc/apt/sources.list.d/debian-src.list
            echo "tests/setup.sh: wrote /etc/apt/sources.list.d/debian-src.list"
        else
            echo "tests/setup.sh: no Debian apt source found to derive deb-src entries from" >&2
            exit 1
        fi
    fi
fi

if [ ${#need[@]} -gt 0 ]; then
    apt_install "${need[@]}"
fi
# On some machines installing libvirt-daemon replaces a newer, non-Debian qemu-utils.
if ! command -v qemu-img >/dev/null 2>&1; then
    apt_install --reinstall qemu-utils
fi

if [ -n "$fetch" ]; then
    apt_update
    # The source of the installed C helper, so that corpus and oracle are the same release.
    version=$(dpkg-query -W -f='${source:Version}' libvirt-daemon)
    # Start clean: a half-unpacked tree from an interrupted run would make dpkg-source fail.
    rm -rf "$SRC_DIR"
    mkdir -p "$SRC_DIR"
    (
        cd "$SRC_DIR"
        # dpkg-source lists every patch it applies on stdout. The download runs as root
        # anyway (the _apt user cannot write here): say so instead of warning about it.
        src=(apt-get source -qq -o APT::Sandbox::User=root)
        "${src[@]}" "libvirt=$version" >/dev/null || "${src[@]}" libvirt >/dev/null
    )
    have_corpus || {
        echo "tests/setup.sh: apt-get source libvirt left no $SRC_DIR/*/tests/qemuxml{2argv,conf}data" >&2
        exit 1
    }
fi

# libvirt's own packages, for tests/package.rs's "libvirt upgrade" over our package.
DEB_DIR=target/libvirt-debs
for p in libvirt-daemon libvirt-daemon-system; do
    v=$(dpkg-query -W -f='${Version}' "$p")
    if [ ! -f "$DEB_DIR/${p}_${v//:/%3a}_$(dpkg --print-architecture).deb" ]; then
        apt_update
        mkdir -p "$DEB_DIR"
        (cd "$DEB_DIR" && apt-get download -qq -o APT::Sandbox::User=root "$p=$v")
    fi
done

# cargo-deb builds the package (Cargo.toml [package.metadata.deb]); pinned, as the lock file
# pins the crates.
CARGO_DEB_VERSION=3.8.0
if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $CARGO_DEB_VERSION" ]; then
    cargo install --locked --version "$CARGO_DEB_VERSION" cargo-deb
fi

# Debian 13 and sid: their libvirt, AppArmor and kernel (tests/differential.rs,
# tests/libvirtd.rs, and the tests that hold our files against each release's).
bash tests/roots/build.sh trixie sid

# The guest that tests/kernel.rs boots (apparmor's aa-exec and qemu-utils' qemu-io run in it).
bash tests/kernel/setup.sh

apparmor_parser --version | head -n 1
qemu-img --version | head -n 1
cargo deb --version
echo "C helper: $C_HELPER (libvirt-daemon $(dpkg-query -W -f='${Version}' libvirt-daemon))"
for d in "$SRC_DIR"/*/tests/qemuxml2argvdata "$SRC_DIR"/*/tests/qemuxmlconfdata; do
    if [ -d "$d" ]; then
        echo "libvirt source: $(cd "${d%/tests/*}" && pwd)"
    fi
done
