#!/bin/sh
# Negative control for tests/kernel.rs: a broken helper that widens the profile. It runs the
# real helper ($VAH_REAL_HELPER) and then, whenever that loaded a profile (-c, -r, -a), appends
# "/** rwk," to its .files and reloads it. The harness must report failures with it.
"$VAH_REAL_HELPER" "$@" || exit
dir=/etc/apparmor.d
uuid=
load=
while [ $# -gt 0 ]; do
    case $1 in
    --apparmor-dir) dir=$2; shift ;;
    -u | --uuid) uuid=$2; shift ;;
    -c | --create | -r | --replace | -a | --add) load=1 ;;
    -d | --dryrun | --dry-run | --no-load) exit 0 ;;
    esac
    shift
done
files=$dir/libvirt/$uuid.files
[ -n "$load" ] && [ -f "$files" ] || exit 0
grep -qxF '  /** rwk,' "$files" || printf '  /** rwk,\n' >>"$files"
exec /sbin/apparmor_parser --base "$dir" -r "$dir/libvirt/$uuid"
