#!/bin/sh
# Negative control for tests/kernel.rs: a broken helper that folds ".." lexically. Every disk
# path (each <source file='...'> of the XML on stdin, and the -f/-F arguments) has "." and
# ".." removed as text ("a/link/../b" becomes "a/b", although the kernel resolves "link"
# first) before the real helper ($VAH_REAL_HELPER) sees it. The harness must report failures
# with it.
clean='
function clean(p,    n, i, k, s, out) {
    n = split(p, s, "/")
    k = 0
    for (i = 1; i <= n; i++) {
        if (s[i] == "" || s[i] == ".") continue
        if (s[i] == "..") { if (k > 0) k--; continue }
        keep[++k] = s[i]
    }
    out = ""
    for (i = 1; i <= k; i++) out = out "/" keep[i]
    return out == "" ? "/" : out
}'
n=$#
i=0
while [ "$i" -lt "$n" ]; do
    a=$1
    shift
    i=$((i + 1))
    case $a in
    -f | -F | --add-file | --append-file)
        set -- "$@" "$a" "$(awk -v p="$1" "$clean"' BEGIN { print clean(p) }')"
        shift
        i=$((i + 1))
        ;;
    *) set -- "$@" "$a" ;;
    esac
done
case " $* " in
*" -c "* | *" --create "* | *" -r "* | *" --replace "*)
    awk "$clean"'
    {
        line = $0
        res = ""
        while (match(line, /file=\x27[^\x27]*\x27/)) {
            res = res substr(line, 1, RSTART - 1) "file=\x27" clean(substr(line, RSTART + 6, RLENGTH - 7)) "\x27"
            line = substr(line, RSTART + RLENGTH)
        }
        print res line
    }' | exec "$VAH_REAL_HELPER" "$@"
    ;;
*) exec "$VAH_REAL_HELPER" "$@" ;;
esac
