# Sourced first by the guest scripts of tests/vm (tests/kernel/guest.sh,
# tests/libvirtd/guest.sh), which run as PID 1 after tests/kernel/init.sh has switch_root'ed
# into the host's / (read-only 9p) under a tmpfs overlay. $1 of the script is the run
# directory; its run.env sets PROJECT (the source tree) and the script's own variables.
#
# Results go to the second serial port (/dev/ttyS1, a file on the host) through fd 3:
#   PASS <check>   or   FAIL <check>: <why>
# and "== end" last (finish); the console gets every line too, with the guest's uptime.

RUN=$1
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C
umask 022

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t securityfs securityfs /sys/kernel/security
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts

exec 3>/dev/ttyS1
stty -F /dev/ttyS1 raw -echo 2>/dev/null

now() {
    cut -d' ' -f1 /proc/uptime
}
# Results go to fd 3 (the result port, or a scenario's file), and to the console with the
# guest's uptime and the scenario's name (the host keeps the console as
# target/kernel/<run>/console.log).
out() {
    printf '%s\n' "$*" >&3
    printf '[%s] %s%s\n' "$(now)" "${NAME:+$NAME: }" "$*"
}

finish() {
    out "== end"
    exec 3>&-
    sync
    sleep 1
    echo o >/proc/sysrq-trigger
    # Wait for the power-off with shell builtins only: exec'ing a program while the kernel
    # shuts the 9p root down can fail, and PID 1 exiting then panics the kernel.
    while :; do :; done
}

# shellcheck source=/dev/null
. "$RUN/run.env" || {
    out "FAIL guest: cannot read $RUN/run.env"
    finish
}
# Fresh /tmp and /run, unless the checkout, the run directory or a helper under test lives
# below them (CI may clone anywhere): a tmpfs there would hide them. The overlay is writable
# anyway.
for d in /tmp /run; do
    case "$PROJECT/ $RUN/ ${VAH_REAL_HELPER:-} ${OURS:-}" in
    "$d"/* | *" $d"/*) continue ;;
    esac
    mount -t tmpfs tmpfs "$d"
done
AA=/sys/kernel/security/apparmor

# --- Bookkeeping ---------------------------------------------------------------------------
pass=0
fail=0
ok() {
    pass=$((pass + 1))
    out "PASS $1"
}
bad() {
    fail=$((fail + 1))
    out "FAIL $1: $2"
}
# The last non-empty line of a command's output, for FAIL lines.
last() {
    printf '%s\n' "$1" | sed '/^[[:space:]]*$/d' | tail -n 1
}
# setup CMD...: makes a fixture; if that fails, a FAIL line and status 1 (the caller stops).
setup() {
    printf '[%s] %s: setup: %s\n' "$(now)" "$NAME" "$*"
    if ! so=$("$@" 2>&1); then
        bad "setup" "$* failed: $(last "$so")"
        return 1
    fi
}

# raw PATH BYTE: a 1 MiB raw image whose first 64 KiB are BYTE (octal, as tr takes it).
raw() {
    head -c 65536 /dev/zero | tr '\000' "\\$2" >"$1" && truncate -s 1M "$1"
}
