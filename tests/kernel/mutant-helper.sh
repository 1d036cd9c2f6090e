#!/bin/sh
# Mutants for tests/kernel.rs (run with VAH_KERNEL_MUTANTS=1): broken helpers that together
# make every check of the plan fail at least once, so that no check passes whatever the
# helper does. Each wraps the real helper ($VAH_REAL_HELPER); the mutation is chosen by the
# scenario's name ($VAH_SCENARIO, set by tests/kernel/guest.sh):
#   mutant-paths     drops the rules of disk paths that do not exist yet (they could never
#                    match, like libvirt 9.0's), grants backing files write, and ignores -F
#   mutant-complain  loads every profile in complain mode
#   mutant-failure   on a failure, unloads the profile and exits 0; -a does nothing
#   mutant-exit      exits 1 after every success; -R and -D do nothing (and exit 1)
dir=/etc/apparmor.d
uuid=
mode=
for a in "$@"; do
    case $a in
    -c | --create | -r | --replace | -a | --add | -R | --remove | -D | --delete) mode=$a ;;
    esac
done
prev=
for a in "$@"; do
    case $prev in
    --apparmor-dir) dir=$a ;;
    -u | --uuid) uuid=$a ;;
    esac
    prev=$a
done
profile=$dir/libvirt/$uuid
files=$profile.files
reload() {
    /sbin/apparmor_parser --base "$dir" "$@" -r "$profile" || exit
}

case $VAH_SCENARIO in
mutant-paths)
    # Without -F and its argument.
    n=$#
    i=0
    while [ "$i" -lt "$n" ]; do
        a=$1
        shift
        i=$((i + 1))
        case $a in
        -F | --append-file) shift; i=$((i + 1)) ;;
        *) set -- "$@" "$a" ;;
        esac
    done
    "$VAH_REAL_HELPER" "$@" || exit
    case $mode in -c | -r | -a) ;; *) exit 0 ;; esac
    : >"$files.new"
    while IFS= read -r line; do
        case $line in
        *'# disk '*)
            path=${line#*\"}
            path=${path%%\"*}
            [ -e "$path" ] || continue
            ;;
        *'deny "'*' w,'*) continue ;;
        esac
        case $line in
        *'" rk,'*) line=$(printf '%s' "$line" | sed 's/" rk,/" rwk,/') ;;
        esac
        printf '%s\n' "$line" >>"$files.new"
    done <"$files"
    mv "$files.new" "$files"
    reload
    ;;
mutant-complain)
    "$VAH_REAL_HELPER" "$@" || exit
    case $mode in -c | -r | -a) reload -C ;; esac
    ;;
mutant-failure)
    [ "$mode" != -a ] || exit 0
    if ! "$VAH_REAL_HELPER" "$@"; then
        printf '%s' "$uuid" >/sys/kernel/security/apparmor/.remove
        exit 0
    fi
    ;;
mutant-exit)
    case $mode in -R | -D) exit 1 ;; esac
    "$VAH_REAL_HELPER" "$@" || exit
    exit 1
    ;;
*)
    echo "mutant-helper.sh: unknown mutant '$VAH_SCENARIO'" >&2
    exit 99
    ;;
esac
