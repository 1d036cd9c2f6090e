# Sourced by bench/start-sequence.sh and bench/reload-all.sh, inside their private mount
# namespace (unshare -m), with W the work directory: /sbin/apparmor_parser becomes a wrapper
# that compiles for real but does not load (-Q; -M gives the packaged kernel features, so
# the parser's cache works without an AppArmor kernel), /etc/apparmor.d/libvirt a tmpfs
# holding the installed TEMPLATEs, and $W/ours runs OURS with its parser cache in $W/cache
# (the C helper has none, and no --parser option: hence the bind mount).
REAL=$W/apparmor_parser.real
cp /sbin/apparmor_parser "$REAL"
cat > "$W/apparmor_parser" <<WRAP
#!/bin/sh
exec $REAL -Q -M /usr/share/apparmor-features/features "\$@"
WRAP
chmod +x "$W/apparmor_parser"
mount --make-rprivate /
mount --bind "$W/apparmor_parser" /sbin/apparmor_parser
cp /etc/apparmor.d/libvirt/TEMPLATE.* "$W/" 2>/dev/null || true
mount -t tmpfs tmpfs /etc/apparmor.d/libvirt
cp "$W"/TEMPLATE.* /etc/apparmor.d/libvirt/ 2>/dev/null || true
mkdir -p "$W/cache"
cat > "$W/ours" <<OURS
#!/bin/sh
exec $OURS --cache-dir $W/cache "\$@"
OURS
chmod +x "$W/ours"
OURS=$W/ours
