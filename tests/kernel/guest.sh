#!/bin/sh
# The guest side of tests/kernel.rs: PID 1 after the initramfs (tests/kernel/init.sh) has
# switch_root'ed into the host's / (read-only 9p) under a tmpfs overlay, in a kernel with
# AppArmor enforcing. Argument: the run directory, whose run.env sets PROJECT (the source
# tree), VAH_REAL_HELPER (our built helper) and SCENARIOS ("NAME=HELPER" words: the helper
# under test, then the negative controls).
#
# For each scenario (side by side), with that helper, in its own policy tree, profile and
# image tree: the libvirt AppArmor test plan. Profiles are created, replaced, removed and deleted in the
# kernel; QEMU is played by qemu-io run under the profile (aa-exec -p libvirt-<uuid>), and by
# a confined long-running shell for what a running QEMU sees when a disk is hotplugged.
#
# Writes to the second serial port (/dev/ttyS1, a file on the host):
#   == kernel VERSION | == scenario NAME HELPER
#   PASS <check>            or    FAIL <check>: <why>
#   -- NAME: N passed, N failed
# and "== end" last. The host test judges: every check passes with our helper; each negative
# control fails some. Check names are the same in every scenario.

# shellcheck source=../vm/guest-lib.sh
. "$(dirname "$0")/../vm/guest-lib.sh"
export VAH_REAL_HELPER

# The guest's own /etc/shadow: a stand-in on the overlay (the host's is never read), which the
# profile must deny like the real one.
rm -f /etc/shadow
printf 'root:*:19000:0:99999:7:::\n' >/etc/shadow
chmod 640 /etc/shadow

# --- The kernel ------------------------------------------------------------------------------
kernel_checks() {
    out "== kernel $(uname -r)"
    if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ] &&
        grep -qw apparmor /sys/kernel/security/lsm; then
        ok "kernel: AppArmor is enabled (lsm: $(cat /sys/kernel/security/lsm))"
    else
        bad "kernel: AppArmor is enabled" "enabled=$(cat /sys/module/apparmor/parameters/enabled 2>&1), lsm=$(cat /sys/kernel/security/lsm 2>&1)"
    fi
    if [ -r "$AA/profiles" ] && [ -w "$AA/.replace" ]; then
        ok "kernel: $AA/profiles and .replace are there"
    else
        bad "kernel: $AA is usable" "$(ls "$AA" 2>&1 | tr '\n' ' ')"
    fi
    # The root is the overlay, mounted at "/" (switch_root, not chroot): the paths AppArmor
    # sees are the paths the helper resolves.
    if [ "$(awk '$2 == "/" {print $3}' /proc/self/mounts | tail -n 1)" = overlay ]; then
        ok "kernel: / is the overlay on the host's root"
    else
        bad "kernel: / is the overlay on the host's root" "$(grep ' / ' /proc/self/mounts | tr '\n' ' ')"
    fi
    out "-- kernel: $pass passed, $fail failed"
}

# --- QEMU, played by qemu-io under the profile -------------------------------------------------
confined() {
    aa-exec -p "$PROFILE" -- "$@" 3>&-
}

# qio FMT PATH CMD [-r]: qemu-io under the profile; sets $o (its output), returns its status.
qio() {
    o=$(confined qemu-io $4 -f "$1" -c "$3" "$2" 2>&1)
}

# can_read CHECK FMT PATH PATTERN: a confined read of the first 64 KiB finds the pattern.
can_read() {
    if qio "$2" "$3" "read -P $4 0 64k" -r && ! printf '%s' "$o" | grep -q 'verification failed'; then
        ok "$1"
    else
        bad "$1" "$(last "$o")"
    fi
}

# can_write CHECK FMT PATH: a confined write succeeds.
can_write() {
    if qio "$2" "$3" "write -P 0x5a 512k 4k"; then
        ok "$1"
    else
        bad "$1" "$(last "$o")"
    fi
}

# denied CHECK FMT PATH read|write: unconfined, the file is there and readable (as root, DAC
# allows anything); under the profile, opening it fails with EACCES.
denied() {
    if ! o=$(head -c 512 "$3" 2>&1 >/dev/null); then
        bad "$1" "fixture broken: unconfined read fails: $(last "$o")"
        return
    fi
    if [ "$4" = write ]; then
        qio "$2" "$3" "write -P 0xee 0 512"
    else
        qio "$2" "$3" "read 0 512" -r
    fi
    st=$?
    if [ "$st" -eq 0 ]; then
        bad "$1" "the confined $4 succeeded"
    elif printf '%s' "$o" | grep -q 'Permission denied'; then
        ok "$1"
    else
        bad "$1" "failed, but not with EACCES: $(last "$o")"
    fi
}

# --- QEMU, played by a running confined shell --------------------------------------------------
# A QEMU process lives across hotplug and unplug: the profile is replaced under it. A confined
# dash plays it: it opens each path it is sent (as QEMU opens a hotplugged disk) and answers
# "ok PATH" or "denied PATH". Its input and output are pipes from and to unconfined processes
# (files it inherited would be revalidated against the profile at exec); the feeder sends
# the contents of $RQ/go<N> once it appears.
running_start() {
    RQ=$B/running
    mkdir -p "$RQ"
    : >"$RQ/answers"
    (
        for n in 1 2 3; do
            i=0
            while [ ! -e "$RQ/go$n" ] && [ $i -lt 1500 ]; do
                sleep 0.2
                i=$((i + 1))
            done
            cat "$RQ/go$n" 2>/dev/null
        done
    ) | confined /bin/dash -c 'echo "pid $$"
        while read -r f; do
            if (: <"$f") 2>/dev/null; then echo "ok $f"; else echo "denied $f"; fi
        done' 2>&1 | while read -r line; do
        printf '%s\n' "$line" >>"$RQ/answers"
    done &
}
# running_ask N PATH: sends PATH as request N, waits for answer N+1 (the first line is the pid);
# sets $answer.
running_ask() {
    printf '%s\n' "$2" >"$RQ/go$1.tmp" && mv "$RQ/go$1.tmp" "$RQ/go$1"
    i=0
    while [ "$(wc -l <"$RQ/answers")" -le "$1" ] && [ $i -lt 300 ]; do
        sleep 0.2
        i=$((i + 1))
    done
    answer=$(sed -n "$(($1 + 1))p" "$RQ/answers")
}
running_label() {
    i=0
    while ! grep -q '^pid ' "$RQ/answers" && [ $i -lt 300 ]; do
        sleep 0.2
        i=$((i + 1))
    done
    pid=$(sed -n 's/^pid //p' "$RQ/answers")
    label=$(cat "/proc/$pid/attr/current" 2>&1)
    if [ -n "$pid" ] && [ "$label" = "$PROFILE (enforce)" ]; then
        ok "running: the long-running process is confined by the profile (enforce)"
    else
        bad "running: the long-running process is confined by the profile (enforce)" "pid '${pid:-none}': $label; $(head -n 3 "$RQ/answers" | tr '\n' ' ')"
    fi
}
# running_expect CHECK N PATH ok|denied
running_expect() {
    running_ask "$2" "$3"
    if [ "$answer" = "$4 $3" ]; then
        ok "$1"
    else
        bad "$1" "asked for $3, got '${answer:-no answer}'"
    fi
}
running_stop() {
    for n in 1 2 3; do
        [ -e "$RQ/go$n" ] || : >"$RQ/go$n"
    done
}

# --- The helper ----------------------------------------------------------------------------------
# helper CHECK ARGS...: the scenario's helper with the scenario's policy tree; stdin is
# $XML_FILE (or nothing); sets $o and returns its status.
helper() {
    shift
    # The broken helpers are shell scripts: run them with sh, whatever their mode.
    case $HELPER in
    *.sh) set -- sh "$HELPER" "$@" ;;
    *) set -- "$HELPER" "$@" ;;
    esac
    o=$(VAH_SCENARIO=$NAME "$@" -u "$PROFILE" --apparmor-dir "$POL" <"${XML_FILE:-/dev/null}" 2>&1)
}
helper_ok() {
    if helper "$@"; then
        ok "$1"
    else
        bad "$1" "exit $?: $(last "$o")"
    fi
}

# The kernel's view: the mode in the profile's line of $AA/profiles, or nothing.
kernel_mode() {
    sed -n "s/^$PROFILE (\(.*\))\$/\1/p" "$AA/profiles"
}
loaded() {
    m=$(kernel_mode)
    if [ "$m" = enforce ]; then
        ok "$1"
    else
        bad "$1" "the kernel lists ${m:-nothing} for $PROFILE"
    fi
}
unloaded() {
    m=$(kernel_mode)
    if [ -z "$m" ]; then
        ok "$1"
    else
        bad "$1" "the kernel still lists $PROFILE ($m)"
    fi
}

# disk DEV PATH FMT: a <disk> element; domain DISKS: the domain XML.
disk() {
    printf "    <disk type='file' device='disk'>\n      <driver name='qemu' type='%s'/>\n      <source file='%s'/>\n      <target dev='%s' bus='virtio'/>\n    </disk>\n" "$3" "$2" "$1"
}
domain() {
    printf "<domain type='kvm'>\n  <name>vah-%s</name>\n  <uuid>%s</uuid>\n  <memory>524288</memory>\n  <vcpu>1</vcpu>\n  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n  </os>\n  <devices>\n    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n%s\n  </devices>\n</domain>\n" "$NAME" "$UUID" "$1"
}


# --- One scenario ----------------------------------------------------------------------------------
scenario() {
    NAME=$1
    HELPER=$2
    UUID=$3
    PROFILE=libvirt-$UUID
    pass=0
    fail=0
    out "== scenario $NAME $HELPER"
    B=/srv/vah/$NAME
    POL=$B/policy
    XML_FILE=
    RQ=
    plan
    [ -z "$RQ" ] || running_stop
    out "-- $NAME: $pass passed, $fail failed"
}

plan() {
    # A policy tree: the system's tunables, abi and abstractions (symlinked: copying over 9p
    # is slow), the project's abstractions in their place, an empty libvirt/ (so the built-in
    # template is used).
    setup mkdir -p "$POL/libvirt" "$POL/abstractions" || return
    for d in tunables abi; do
        [ ! -d "/etc/apparmor.d/$d" ] || setup ln -s "/etc/apparmor.d/$d" "$POL/$d" || return
    done
    setup ln -s /etc/apparmor.d/abstractions/* "$POL/abstractions/" || return
    setup cp --remove-destination "$PROJECT"/abstractions/* "$POL/abstractions/" || return

    # The disk: a qcow2 overlay in real/store/images whose backing file is the relative name
    # "base.img", a raw image that alone holds 0xab.
    R=$B/real/store
    setup mkdir -p "$R/images" "$R/deep" "$R/hot" "$B/vms/images" "$B/other" "$B/real/d2" || return
    setup raw "$R/images/base.img" 253 || return
    setup qemu-img create -q -f qcow2 -b base.img -F raw "$R/images/overlay.qcow2" || return
    # Named through vms/link -> ../real/store/deep, /./ and /../: the kernel follows the
    # symlink before "..", so vms/./link/../images is real/store/images. Folding ".."
    # lexically gives vms/images instead, where a decoy sits.
    setup ln -s ../real/store/deep "$B/vms/link" || return
    DISK=$B/vms/./link/../images/overlay.qcow2
    DECOY=$B/vms/images/overlay.qcow2
    setup qemu-img create -q -f qcow2 "$DECOY" 1M || return
    # Another VM's disk.
    OTHER=$B/other/vm2.img
    setup raw "$OTHER" 253 || return
    # The disk hotplugged later (0xcd), named through the same symlink and "..".
    setup raw "$R/hot/plug.img" 315 || return
    HOT=$B/vms/link/../hot/plug.img
    # Paths that do not exist when the profile is made: a dangling symlink (its target's
    # directory is missing too), and dir/missing/../x.img.
    setup ln -s ../real/later/target.img "$B/vms/later.img" || return
    LATER=$B/vms/later.img
    MISSING=$B/real/d2/missing/../x.img
    # The disk a failing replace tries to add (0x33).
    setup raw "$R/images/new.img" 063 || return

    DISKS="$(disk vda "$DISK" qcow2)
$(disk vdb "$LATER" raw)
$(disk vdc "$MISSING" raw)"
    domain "$DISKS" >"$B/domain.xml"
    domain "$DISKS
$(disk vdd "$R/images/new.img" raw)" >"$B/domain-new.xml"
    XML_FILE=$B/domain.xml

    # -c: written and loaded, in enforce mode.
    helper_ok "create: -c" -c
    loaded "create: the kernel lists the profile in enforce mode"
    running_start
    running_label

    # The disk, through the symlink, /./, /../ and the relative backing file.
    can_read "read: the disk's backing data (symlink, /./, /../, relative backing file)" qcow2 "$DISK" 0xab
    can_write "write: the disk itself" qcow2 "$DISK"
    denied "deny: /etc/shadow" raw /etc/shadow read
    denied "deny: another VM's disk" raw "$OTHER" read
    denied "deny: writing the backing file" raw "$R/images/base.img" write
    denied "deny: the lexical reading of the disk path (vms/images/overlay.qcow2)" qcow2 "$DECOY" read

    # Hotplug (-r -F, as libvirtd does) and unplug (a plain -r with the domain's disks), seen by
    # new processes and by the running one.
    denied "hotplug: the disk is denied before it is plugged" raw "$HOT" read
    running_expect "running: the disk is denied before it is plugged" 1 "$HOT" denied
    helper_ok "hotplug: -r -F vms/link/../hot/plug.img" -r -F "$HOT"
    can_read "hotplug: the plugged disk is readable" raw "$HOT" 0xcd
    running_expect "running: the plugged disk opens in the running process" 2 "$HOT" ok
    helper_ok "unplug: -r without it" -r
    denied "unplug: the unplugged disk is denied" raw "$HOT" read
    running_expect "running: the unplugged disk is denied to the running process" 3 "$HOT" denied

    # Paths that appear after the profile was made.
    setup mkdir -p "$B/real/later" "$B/real/d2/missing" &&
        setup raw "$B/real/later/target.img" 021 &&
        setup raw "$B/real/d2/x.img" 042
    can_read "later: a dangling symlink, once its target exists" raw "$LATER" 0x11
    can_read "later: dir/missing/../x.img, once dir/missing exists" raw "$MISSING" 0x22

    # A failing replace: an empty profile is recreated from the template on -r (libvirt's
    # recovery from a crash mid-write), and the template was edited into something invalid.
    # The replace fails; the loaded profile stays as it was.
    denied "failed replace: the new disk is denied before" raw "$R/images/new.img" read
    : >"$POL/libvirt/$PROFILE"
    printf '#include <tunables/global>\n\nprofile LIBVIRT_TEMPLATE {\n  this is not a rule\n}\n' \
        >"$POL/libvirt/TEMPLATE.qemu"
    XML_FILE=$B/domain-new.xml
    if helper "failed replace" -r; then
        bad "failed replace: -r with an invalid template fails" "it exited 0"
    else
        ok "failed replace: -r with an invalid template fails"
    fi
    XML_FILE=$B/domain.xml
    loaded "failed replace: the old profile stays loaded"
    can_read "failed replace: the disk is still readable" qcow2 "$DISK" 0xab
    denied "failed replace: the new disk is still denied" raw "$R/images/new.img" read
    rm -f "$POL/libvirt/TEMPLATE.qemu"
    helper_ok "failed replace: -r succeeds once the template is removed" -r

    # -R unloads and keeps the files; -a loads them again; -D unloads and deletes .files.
    XML_FILE=
    helper_ok "remove: -R" -R
    unloaded "remove: the kernel no longer lists the profile"
    if o=$(confined true 2>&1); then
        bad "remove: aa-exec into the removed profile fails" "it ran"
    else
        ok "remove: aa-exec into the removed profile fails"
    fi
    # The kernel's parser answers 254 for a profile that is not loaded (libvirt expects 234).
    helper_ok "remove: -R again, not loaded, succeeds" -R
    helper_ok "add: -a" -a
    loaded "add: the kernel lists the profile again"
    helper_ok "delete: -D" -D
    unloaded "delete: the kernel no longer lists the profile"
    if [ ! -e "$POL/libvirt/$PROFILE.files" ] && [ -s "$POL/libvirt/$PROFILE" ]; then
        ok "delete: .files deleted, the profile file kept"
    else
        bad "delete: .files deleted, the profile file kept" "libvirt/ holds: $(ls "$POL/libvirt" | tr '\n' ' ')"
    fi
    # The parser's cache, in the kernel: an unchanged -r after -R loads the profile
    # (from the cache), and an include replaced with an older mtime, as dpkg leaves it, is
    # compiled, not served stale from the cache (apparmor_parser alone keys on mtimes).
    XML_FILE=$B/domain.xml
    setup mkdir -p "$B/cache" &&
        setup raw "$R/cached.img" 077 || return
    helper_ok "cache: -r compiles and writes the cache" -r --cache-dir "$B/cache"
    if ls "$B"/cache/*/"$PROFILE" >/dev/null 2>&1; then
        ok "cache: the parser wrote its cache"
    else
        bad "cache: the parser wrote its cache" "$(ls -R "$B/cache" 2>&1 | tr '\n' ' ')"
    fi
    helper_ok "cache: -R" -R --cache-dir "$B/cache"
    unloaded "cache: the kernel no longer lists the profile"
    helper_ok "cache: an unchanged -r after -R" -r --cache-dir "$B/cache"
    loaded "cache: the unchanged -r after -R loaded the profile"
    denied "cache: a file no rule names is denied" raw "$R/cached.img" read
    setup cp "$POL/abstractions/libvirt-qemu" "$B/libvirt-qemu.new" &&
        printf '  "%s" rk,\n' "$R/cached.img" >>"$B/libvirt-qemu.new" &&
        setup touch -d '2001-01-01' "$B/libvirt-qemu.new" &&
        setup mv "$B/libvirt-qemu.new" "$POL/abstractions/libvirt-qemu" || return
    helper_ok "cache: an unchanged -r after an include changed" -r --cache-dir "$B/cache"
    can_read "cache: the changed include is in the kernel, not a stale cached profile" raw "$R/cached.img" 0x3f
    XML_FILE=

    # libvirtd's -D at shutdown after the profile was already unloaded must still delete .files.
    XML_FILE=$B/domain.xml
    helper_ok "delete unloaded: -r writes .files and loads" -r
    XML_FILE=
    helper_ok "delete unloaded: -R" -R
    helper_ok "delete unloaded: -D succeeds" -D
    if [ ! -e "$POL/libvirt/$PROFILE.files" ]; then
        ok "delete unloaded: .files deleted"
    else
        bad "delete unloaded: .files deleted" "it is still there"
    fi
}

kernel_checks
# The scenarios run side by side (the guest has two CPUs; each has its own profile, policy
# tree and image tree), each writing its lines to a file; the files then go to the result
# port in order.
nth=0
for spec in $SCENARIOS; do
    nth=$((nth + 1))
    (
        exec 3>"/run/scenario-$nth.out"
        scenario "${spec%%=*}" "${spec#*=}" "$(printf '00000000-0000-4000-8000-%012d' "$nth")"
    ) &
done
wait
n=0
while [ "$n" -lt "$nth" ]; do
    n=$((n + 1))
    cat "/run/scenario-$n.out" >&3
done
# What the kernel denied, for the console log.
dmesg 2>/dev/null | grep 'apparmor="DENIED"' | tail -n 60
finish
