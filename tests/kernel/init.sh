#!/bin/busybox sh
# PID 1 of the guest's initramfs (tests/vm/mod.rs packs it as /init with busybox-static and the
# kernel modules listed in /modules/order). Loads virtio-pci, 9p, overlay and tun, mounts the host's
# / (shared read-only over virtio-9p, mount tag "hostroot") under a tmpfs overlay, and
# switch_root's into it: AppArmor then sees the host's paths as they are (a chroot would
# prefix every path with the chroot directory). The share "hostroot" may also be another
# release's root (tests/roots/build.sh). With vah_top=TAG,... on the command line, more
# read-only 9p shares are the overlay's lower layers over it (tests/libvirtd.rs puts
# qemu-system-x86 there, or the host files the guest reads; a subdirectory of the host-root
# share cannot be a layer: overlayfs refuses nested layers). The kernel command line's vah_script and
# vah_run (environment variables of this process) name the host script to run as the new
# PID 1 and its argument.
export PATH=/bin
/bin/busybox mkdir -p /bin /proc /sys /dev /lower /rw /newroot
/bin/busybox --install -s /bin

fatal() {
    echo "init: $*"
    # The result port gets the reason too: the host test prints it.
    [ -c /dev/ttyS1 ] && echo "FAIL guest boot: $*" >/dev/ttyS1
    echo o >/proc/sysrq-trigger
    sleep 10
    exit 1
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules/order); do
    insmod "/modules/$m" || fatal "insmod $m failed"
done
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=524288,cache=loose hostroot /lower ||
    fatal "cannot mount the host's / over 9p"
# vah_top=TAG,TAG...: more read-only 9p shares, the overlay's lower layers over the root, the
# first on top.
tops=
for tag in $(echo "$vah_top" | tr , ' '); do
    mkdir -p "/top/$tag"
    mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=524288,cache=loose "$tag" "/top/$tag" ||
        fatal "cannot mount the layer '$tag' over 9p"
    tops="$tops/top/$tag:"
done
lower=$tops/lower
mount -t tmpfs -o mode=0755 rw /rw || fatal "tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o "lowerdir=$lower,upperdir=/rw/upper,workdir=/rw/work" overlay /newroot ||
    fatal "cannot mount the overlay"
[ -n "$vah_script" ] && [ -f "/newroot$vah_script" ] || fatal "no guest script '$vah_script'"
umount /proc /sys /dev
exec switch_root /newroot /bin/sh "$vah_script" "$vah_run"
