#!/usr/bin/env bash
# A Debian 12 host with libvirt and this package, upgraded to Debian 13 (tests/upgrade.rs):
#   1. debootstrap --variant=minbase bookworm into a fresh directory, libvirt-daemon,
#      libvirt-daemon-system and apparmor from bookworm, then `dpkg -i` of our package;
#   2. the sources switched to trixie and `apt-get dist-upgrade`, with standard input closed
#      and no --force-conf* option: a conffile prompt fails the upgrade;
#   3. checks: our helper and our profile link still in place, both diversions still ours,
#      libvirt 11.3's helper and profile at the diverted names (the profile now a file of
#      libvirt-daemon-common), `dpkg --verify` clean, and `dpkg -P` giving libvirt 11.3's
#      files back with the checksums dpkg recorded for them.
# Usage: tests/upgrade/run.sh PACKAGE.deb WORKDIR   (as root; WORKDIR is emptied first)
# Prints one line per check ("ok ..." / "FAIL ...") and a closing line; exits 1 on a failure.
set -uo pipefail

DEB=$1
W=$2
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
R=$W/root
HELPER=/usr/lib/libvirt/virt-aa-helper
HELPER_DIVERTED=/usr/lib/libvirt/virt-aa-helper.distrib
PROFILE=/etc/apparmor.d/usr.lib.libvirt.virt-aa-helper
PROFILE_DIVERTED=/etc/apparmor.d/libvirt-distrib/usr.lib.libvirt.virt-aa-helper
PROFILE_OURS=/usr/share/virt-aa-helper/apparmor/usr.lib.libvirt.virt-aa-helper

passed=0 failed=0
ok() {
    echo "ok   $1"
    passed=$((passed + 1))
}
bad() {
    echo "FAIL $1: $2"
    failed=$((failed + 1))
}
check() {
    local what=$1 out
    shift
    if out=$("$@" 2>&1); then ok "$what"; else bad "$what" "$(printf '%s' "$out" | tail -n 5 | tr '\n' ' ')"; fi
}
in_root() {
    chroot "$R" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 \
        PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@" </dev/null
}
cleanup() {
    for m in proc; do
        mountpoint -q "$R/$m" 2>/dev/null && umount -l "$R/$m"
    done
}
trap cleanup EXIT
die() {
    echo "FAIL $1"
    echo "upgrade Debian 12 -> 13: $passed checks passed, $((failed + 1)) failed (stopped: $1)"
    exit 1
}

[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, chroot)"
[ -f "$DEB" ] || die "no package $DEB: cargo deb --locked"
cleanup
rm -rf "$W"
mkdir -p "$W"
t0=$SECONDS

# --- 1. Debian 12 with libvirt and our package. ---
debootstrap --variant=minbase bookworm "$R" "$MIRROR" >"$W/debootstrap.log" 2>&1 ||
    die "debootstrap bookworm (see $W/debootstrap.log)"
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod +x "$R/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
mount -t proc proc "$R/proc"
APT=(apt-get -q -y -o Acquire::Check-Valid-Until=false -o APT::Sandbox::User=root)
in_root "${APT[@]}" update >"$W/apt.log" 2>&1 || die "apt-get update (bookworm)"
in_root "${APT[@]}" install --no-install-recommends libvirt-daemon libvirt-daemon-system apparmor \
    >>"$W/apt.log" 2>&1 || die "install libvirt on bookworm (see $W/apt.log)"
before=$(in_root dpkg-query -W -f='${Version}' libvirt-daemon)
cp "$DEB" "$R/tmp/ours.deb"
in_root dpkg -i /tmp/ours.deb >"$W/dpkg-i.log" 2>&1 || die "dpkg -i of our package on bookworm (see $W/dpkg-i.log)"
ours_sum=$(sha256sum <"$R$HELPER")
ok "bookworm: libvirt $before and our package installed ($((SECONDS - t0)) s)"

# --- 2. The upgrade. ---
rm -f "$R"/etc/apt/sources.list.d/*
echo "deb $MIRROR trixie main" >"$R/etc/apt/sources.list"
t1=$SECONDS
in_root "${APT[@]}" update >>"$W/apt.log" 2>&1 || die "apt-get update (trixie)"
# No --force-confold/--force-confnew: with standard input closed, a conffile prompt is an error.
if in_root "${APT[@]}" dist-upgrade >"$W/dist-upgrade.log" 2>&1; then
    ok "apt-get dist-upgrade to trixie, no conffile prompt ($((SECONDS - t1)) s)"
else
    bad "apt-get dist-upgrade to trixie, no conffile prompt" "$(grep -iE 'conffile|error|E:' "$W/dist-upgrade.log" | head -n 3 | tr '\n' ' ')"
fi
after=$(in_root dpkg-query -W -f='${Version}' libvirt-daemon)
case $after in
11.*) ok "libvirt-daemon upgraded: $before -> $after" ;;
*) bad "libvirt-daemon upgraded to 11.x" "$after" ;;
esac
check "libvirt-daemon-common now owns $PROFILE (11.x moved it)" \
    sh -c "chroot '$R' dpkg -S '$PROFILE' | grep -q '^libvirt-daemon-common: '"

# --- 3. Our files and diversions survived. ---
check "$HELPER is still ours" sh -c "[ \"\$(sha256sum <'$R$HELPER')\" = '$ours_sum' ]"
check "$PROFILE is still the link to ours" sh -c "[ \"\$(readlink '$R$PROFILE')\" = '$PROFILE_OURS' ]"
for pair in "$HELPER:$HELPER_DIVERTED" "$PROFILE:$PROFILE_DIVERTED"; do
    f=${pair%%:*} to=${pair#*:}
    check "diversion of $f still ours, to $to" sh -c "
        [ \"\$(chroot '$R' dpkg-divert --listpackage '$f')\" = virt-aa-helper ] &&
        [ \"\$(chroot '$R' dpkg-divert --truename '$f')\" = '$to' ]"
done
# libvirt 11.3's own files went to the diverted names, as dpkg recorded them.
md5_of() { # PACKAGE PATH: the md5sum dpkg recorded
    grep -h " ${2#/}\$" "$R/var/lib/dpkg/info/$1.md5sums" 2>/dev/null | cut -d' ' -f1
}
check "libvirt 11.3's helper is at $HELPER_DIVERTED" sh -c "
    [ \"\$(md5sum <'$R$HELPER_DIVERTED' | cut -d' ' -f1)\" = '$(md5_of libvirt-daemon "$HELPER")' ]"
check "libvirt 11.3's helper profile is at $PROFILE_DIVERTED" sh -c "
    [ \"\$(md5sum <'$R$PROFILE_DIVERTED' | cut -d' ' -f1)\" = \"\$(chroot '$R' dpkg-query -W -f='\${Conffiles}' libvirt-daemon-common | awk '\$1 == \"$PROFILE\" {print \$2}')\" ]"
# dpkg --verify also checks conffiles a package no longer ships ("obsolete": libvirt 11.x
# moved usr.sbin.libvirtd and default/libvirtd from libvirt-daemon-system to libvirt-daemon,
# which now owns them with the new checksums); those entries are not what is installed.
obsolete=$(in_root dpkg-query -W -f='${Conffiles}\n' | awk '$3 == "obsolete" {print $1}')
verify=$(in_root dpkg --verify 2>&1 | while read -r flags kind path; do
    [ -z "$path" ] && path=$kind
    printf '%s\n' "$obsolete" | grep -qxF "$path" || echo "$flags $kind $path"
done)
if [ -z "$verify" ]; then
    ok "dpkg --verify is clean (obsolete conffiles aside: $(printf '%s' "$obsolete" | grep -c .))"
else
    bad "dpkg --verify is clean" "$(printf '%s' "$verify" | head -n 5 | tr '\n' ' ')"
fi
check "our helper runs on trixie (dry run of the example)" sh -c "
    chroot '$R' $HELPER -d -c -u libvirt-6f1f3c36-6a7e-4c54-9b2a-3d1e5f0a7b11 \
        <'$(dirname "$0")/../examples/demo.xml' >/dev/null 2>&1"

# --- 4. Purge: libvirt 11.3's files back. ---
if in_root dpkg -P virt-aa-helper >"$W/purge.log" 2>&1; then ok "dpkg -P virt-aa-helper"; else bad "dpkg -P virt-aa-helper" "$(tail -n 3 "$W/purge.log" | tr '\n' ' ')"; fi
check "after purge: no diversion left" sh -c "! chroot '$R' dpkg-divert --list | grep -q virt-aa-helper"
verify=$(in_root dpkg --verify libvirt-daemon libvirt-daemon-common 2>&1)
if [ -z "$verify" ] && [ -f "$R$HELPER" ] && [ -f "$R$PROFILE" ] && [ ! -L "$R$PROFILE" ]; then
    ok "after purge: libvirt 11.3's helper and profile back as dpkg installed them"
else
    bad "after purge: libvirt 11.3's helper and profile back as dpkg installed them" "$(printf '%s' "$verify" | head -n 3 | tr '\n' ' ')"
fi

echo "upgrade Debian 12 -> 13 (libvirt $before -> $after) with our package: $passed checks passed, $failed failed ($((SECONDS - t0)) s)"
[ "$failed" -eq 0 ]
