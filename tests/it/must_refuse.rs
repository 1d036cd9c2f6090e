//! Paths no domain may ever be given, and the boundaries around them, driven through the
//! real binary.
//!
//! The lists here are typed by hand, independently of the table in `src/policy.rs`, and
//! every path is chosen so that exactly one table entry refuses it: deleting any single
//! entry of the restricted list, the read-only exceptions, the per-domain shared
//! directories or libvirt's daemon sockets makes one of these tests fail (mutation testing
//! found 24 of 37 entries deletable with no test failing). Each path is tried as a disk,
//! as a chardev reached through a symlink in a temporary tree (so the check is on the
//! canonical path), and as a `-f` argument; each shared directory as `-F <dir>/{,**}`.
//! Paths that do not exist on the host are folded as text by the canonicalizer, so their
//! canonical form is the path itself. Run as root (as CI does): `/var/lib/libvirt/qemu`
//! is not searchable by others.

use crate::support::*;

/// Refused for any access, whatever the element: host software and configuration,
/// kernel interfaces, root's home, host-control and input-injection devices, the control
/// sockets of host daemons and of users' sessions.
const NEVER: &[&str] = &[
    // The host's software, configuration and kernel interfaces.
    "/bin/sh",
    "/etc/shadow",
    "/lib/x86_64-linux-gnu/libc.so.6",
    "/lib64/ld-linux-x86-64.so.2",
    "/libx32/libc.so",
    "/lost+found/x",
    "/proc/1/mem",
    "/root/.ssh/authorized_keys",
    "/sbin/init",
    "/selinux/enforce",
    "/sys/kernel/notes",
    "/sys/devices/pci0000:00/0000:00:00.0/config",
    "/usr/bin/passwd",
    // Host memory, firmware, CPU state.
    "/dev/mem",
    "/dev/kmem",
    "/dev/port",
    "/dev/cpu/0/msr",
    "/dev/kmsg",
    "/dev/snapshot",
    "/dev/nvram",
    "/dev/mei0",
    // Input injection into the host's consoles and sessions, and their screens.
    "/dev/uinput",
    "/dev/uhid",
    "/dev/vhci",
    "/dev/console",
    "/dev/tty0",
    "/dev/tty7",
    "/dev/tty63",
    "/dev/ttyprintk",
    "/dev/vcs",
    "/dev/vcs2",
    "/dev/vcsa1",
    "/dev/vcsu",
    "/dev/fb0",
    "/dev/vga_arbiter",
    "/tmp/.X11-unix/X0",
    "/tmp/.ICE-unix/1234",
    // Host-wide control nodes.
    "/dev/mapper/control",
    "/dev/loop-control",
    "/dev/btrfs-control",
    "/dev/ublk-control",
    "/dev/autofs",
    "/dev/cuse",
    "/dev/zfs",
    "/dev/watchdog",
    "/dev/watchdog0",
    "/dev/rfkill",
    "/dev/cpu_dma_latency",
    "/dev/i2c-1",
    "/dev/ipmi0",
    // Host daemons' control sockets.
    "/run/dbus/system_bus_socket",
    "/run/systemd/private",
    "/run/systemd/journal/socket",
    "/run/initctl",
    "/run/udev/control",
    "/run/sudo/ts/alice",
    "/run/docker.sock",
    "/var/run/docker.sock",
    "/run/docker/plugins/x.sock",
    "/run/containerd/containerd.sock",
    "/run/crio/crio.sock",
    "/run/podman/podman.sock",
    "/run/snapd.socket",
    "/run/snapd-snap.socket",
    "/run/libvirt/libvirt-sock",
    "/run/libvirt/libvirt-sock-ro",
    "/run/libvirt/libvirt-admin-sock",
    "/run/libvirt/virtqemud-sock",
    "/run/libvirt/virtlogd-sock",
    "/var/run/libvirt/virtlockd-sock",
    // Every user's session control channels.
    "/run/user/1000/systemd/private",
    "/run/user/0/bus",
    "/run/user/1000/dbus-1/services/x.service",
    "/run/user/1000/gnupg/S.gpg-agent",
    "/run/user/1000/keyring/ssh",
    "/run/user/1000/gcr/ssh",
    "/run/user/1000/openssh_agent",
    "/run/user/1000/at-spi/bus_0",
    "/run/user/1000/wayland-0",
    "/run/user/1000/pipewire-0-manager",
    "/run/user/1000/podman/podman.sock",
    "/run/user/1000/docker.sock",
    "/run/user/1000/gvfsd/socket-x",
    // Other daemons' control sockets and libvirt's daemons' state in /run.
    "/run/libvirt/network/default.xml",
    "/run/openvswitch/db.sock",
    "/run/openvswitch/ovs-vswitchd.4242.ctl",
    "/run/openvswitch/br0.mgmt",
    "/run/openvswitch/br0.snoop",
    "/run/lvm/lvmpolld.socket",
    "/run/multipathd/socket",
    "/run/cryptsetup/L_253:0",
    "/run/mdadm/map",
    "/run/chrony/chronyd.sock",
    "/run/NetworkManager/private",
    "/run/wpa_supplicant/wlan0",
    "/run/avahi-daemon/socket",
    "/run/cups/cups.sock",
    "/run/nscd/socket",
    "/run/acpid.socket",
    "/run/uuidd/request",
    "/run/postgresql/.s.PGSQL.5432",
    "/run/mysqld/mysqld.sock",
    "/run/redis/redis-server.sock",
    "/run/qemu/Debian_1_10.0/block-curl.so",
    // Host state under /run that root programs act on.
    "/run/credentials/getty@tty1.service/x",
    "/run/udev/rules.d/99-x.rules",
    "/run/tmpfiles.d/x.conf",
    "/run/modprobe.d/x.conf",
    "/run/sysctl.d/x.conf",
    "/run/binfmt.d/x.conf",
    "/run/initramfs/shutdown",
    "/run/nologin",
    "/run/utmp",
    "/run/motd.dynamic",
    "/run/sendsigs.omit.d/x",
    "/run/mount/utab",
    "/run/lock/lvm/P_global",
    "/run/sshd/x",
    "/run/crond.pid",
    "/run/sssd/sssd.pid",
    // Packages' state, backups, caches, spools, mail.
    "/var/backups/shadow.bak",
    "/var/cache/debconf/passwords.dat",
    "/var/spool/cron/crontabs/root",
    "/var/mail/root",
    "/var/lib/dpkg/info/base-files.postinst",
    "/var/lib/apt/lists/x",
    "/var/lib/aptitude/pkgstates",
    "/var/lib/ucf/hashfile",
    "/var/lib/PackageKit/transactions.db",
    "/var/lib/snapd/state.json",
    "/var/lib/flatpak/repo/config",
    "/var/lib/fwupd/pending.db",
    "/var/lib/dkms/mok.key",
    "/var/lib/shim-signed/mok/MOK.priv",
    "/var/lib/ca-certificates-java/x",
    // systemd's state.
    "/var/lib/systemd/credential.secret",
    "/var/lib/private/x/state",
    "/var/lib/portables/x.raw",
    "/var/lib/extensions/x.raw",
    "/var/lib/confexts/x.raw",
    "/var/lib/machines/x.raw",
    // Authentication, authorization and sessions.
    "/var/lib/polkit-1/localauthority/x.pkla",
    "/var/lib/sudo/lectured/alice",
    "/var/lib/pam/x",
    "/var/lib/dbus/machine-id",
    "/var/lib/AccountsService/users/alice",
    "/var/lib/gdm3/x",
    "/var/lib/lightdm/x",
    "/var/lib/sddm/x",
    "/var/lib/sss/db/x.ldb",
    "/var/lib/krb5kdc/principal",
    "/var/lib/samba/private/secrets.tdb",
    "/var/lib/ldap/data.mdb",
    "/var/lib/bluetooth/x/y/info",
    "/var/lib/boltd/x",
    // Network configuration the host acts on.
    "/var/lib/libvirt/dnsmasq/default.hostsfile",
    "/var/lib/libvirt/network/default.xml",
    "/var/lib/openvswitch/conf.db",
    "/var/lib/NetworkManager/x",
    "/var/lib/dhcp/dhclient.leases",
    "/var/lib/misc/dnsmasq.leases",
    // libvirt's other daemons' state.
    "/var/lib/libvirt/lockd/files/x",
    "/var/lib/libvirt/sanlock/x",
    "/var/lib/libvirt/secrets/x",
    "/var/lib/libvirt/lxc/x",
    "/var/lib/swtpm-localca/signkey.pem",
    // Other managers, clusters, cloud-init, databases.
    "/var/lib/lxd/unix.socket",
    "/var/lib/incus/unix.socket",
    "/var/lib/lxc/x/config",
    "/var/lib/docker/x",
    "/var/lib/containerd/x",
    "/var/lib/containers/storage/x",
    "/var/lib/kubelet/x",
    "/var/lib/etcd/x",
    "/var/lib/ceph/mon/x/keyring",
    "/var/lib/cloud/scripts/per-boot/x",
    "/var/lib/postgresql/15/main/x",
    "/var/lib/mysql/x",
    "/var/lib/redis/dump.rdb",
    "/var/lib/rabbitmq/.erlang.cookie",
    // The journal, audit trail, login records, the host's logs.
    "/var/log/journal/x/system.journal",
    "/var/log/audit/audit.log",
    "/var/log/private/x",
    "/var/log/apt/history.log",
    "/var/log/installer/x",
    "/var/log/auth.log",
    "/var/log/syslog.1",
    "/var/log/kern.log",
    "/var/log/messages",
    "/var/log/daemon.log",
    "/var/log/user.log",
    "/var/log/debug",
    "/var/log/mail.log",
    "/var/log/dpkg.log",
    "/var/log/alternatives.log",
    "/var/log/cloud-init.log",
    "/var/log/wtmp",
    "/var/log/btmp",
    "/var/log/lastlog",
    "/var/log/faillog",
];

/// Readable (a kernel, firmware) but never writable.
const READ_ONLY: &[&str] = &[
    "/boot/vmlinuz-6.1.0-test",
    "/vmlinuz",
    "/vmlinuz.old",
    "/initrd/x",
    "/initrd.img",
    "/initrd.img.old",
    "/usr/share/AAVMF/must-refuse-test.fd",
    "/usr/share/OVMF/must-refuse-test.fd",
    "/usr/share/ovmf/must-refuse-test.fd",
    "/usr/share/edk2/must-refuse-test.fd",
    "/usr/share/edk2-ovmf/must-refuse-test.fd",
    "/usr/share/qemu/must-refuse-test.bin",
    "/usr/share/qemu-efi/must-refuse-test.fd",
    "/usr/share/qemu-efi-aarch64/must-refuse-test.fd",
    "/usr/share/qemu-efi-loongarch64/must-refuse-test.fd",
    "/usr/share/qemu-efi-riscv64/must-refuse-test.fd",
    "/usr/share/seabios/must-refuse-test.bin",
    "/usr/lib/u-boot/qemu/u-boot.bin",
    "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin",
];

/// Directories that hold every domain's files, and what the refusal says they hold: never
/// granted with everything below them at run time (`-F <dir>/{,**}`).
const SHARED: &[(&str, &str)] = &[
    ("/var/lib/libvirt", "every domain's images and state"),
    ("/var/lib/libvirt/images", "every domain's disk images"),
    ("/var/lib/libvirt/boot", "every domain's boot media"),
    ("/var/lib/libvirt/qemu", "every domain's private directory"),
    (
        "/var/lib/libvirt/qemu/nvram",
        "every domain's UEFI variables",
    ),
    (
        "/var/lib/libvirt/qemu/channel",
        "every domain's channel sockets",
    ),
    (
        "/var/lib/libvirt/qemu/channel/target",
        "every domain's channel sockets",
    ),
    (
        "/var/lib/libvirt/qemu/ram",
        "every domain's memory backing files",
    ),
    (
        "/var/lib/libvirt/qemu/save",
        "every domain's managed save image",
    ),
    (
        "/var/lib/libvirt/qemu/snapshot",
        "libvirtd's snapshot metadata",
    ),
    ("/var/lib/libvirt/qemu/dump", "every domain's crash dumps"),
    ("/var/lib/libvirt/swtpm", "every domain's TPM state"),
    ("/var/log/libvirt", "the libvirt daemons' logs"),
    ("/var/log/libvirt/qemu", "every domain's logs"),
    ("/var/log/swtpm", "swtpm's logs"),
    ("/run/libvirt/qemu", "every domain's runtime files"),
    (
        "/run/libvirt/qemu/channel",
        "every domain's channel sockets",
    ),
    ("/run/libvirt/qemu/swtpm", "every domain's swtpm sockets"),
    (
        "/dev/hugepages/libvirt",
        "every driver's hugepage directories",
    ),
    (
        "/dev/hugepages/libvirt/qemu",
        "every domain's hugepage backing",
    ),
];

/// What a domain element legitimately names next to the families above: never refused.
const ALLOWED: &[&str] = &[
    "/dev/sdb",
    "/dev/HostVG/QEMUGuest1",
    "/dev/ttyS",
    "/dev/tpm",
    "/dev/vfio2",
    "/dev/i2c",
    "/run/user/1000/pulse/native",
    "/run/user/1000/pipewire-0",
    "/run/user/1000/vm.sock",
    "/run/libvirt/qemu/channel/1-virt-aa-helper-test/org.qemu.guest_agent.0",
    // vhost-user and virtiofsd sockets where Open vSwitch and libvirt's documentation put
    // them, an admin's serial log, OpenStack's instances.
    "/run/openvswitch/vhu0",
    "/run/vm001-vhost-fs.sock",
    "/var/log/vms/serial0.log",
    "/var/lib/nova/instances/x/disk",
    "/etc/libvirt-sandbox/services/web/config",
    "/rootfs/vm.img",
    "/srv/lib/vm.img",
];

/// Device nodes of one element family: each path, the table entry of
/// `src/policy.rs` that owns it, and whether libvirtd's `-F` may name it at a hotplug.
/// Refused as a disk (and as `-f` where no hotplug names it); `tests/it/devices.rs` has each
/// through its own element.
const ONE_ELEMENT: &[(&str, &str, bool)] = &[
    ("/dev/vfio/vfio", "/dev/vfio/vfio", false),
    ("/dev/vfio/devices/vfio0", "/dev/vfio/devices/vfio#", true),
    ("/dev/vfio/devices/x", "/dev/vfio/devices", false),
    ("/dev/vfio/12", "/dev/vfio", true),
    ("/dev/iommu", "/dev/iommu", true),
    ("/dev/input/event3", "/dev/input", true),
    ("/dev/sev", "/dev/sev", false),
    ("/dev/sgx_provision", "/dev/sgx*", false),
    ("/dev/tpm0", "/dev/tpm#", false),
    ("/dev/tpmrm0", "/dev/tpmrm#", false),
    ("/dev/bus/usb/001/002", "/dev/bus/usb", true),
    ("/dev/net/tun", "/dev/net/tun", true),
    ("/dev/tap7", "/dev/tap#", true),
    ("/dev/vhost-net", "/dev/vhost-net", true),
    ("/dev/vhost-vdpa-0", "/dev/vhost-vdpa-#", true),
    ("/dev/vhost-scsi", "/dev/vhost-scsi", true),
    ("/dev/vhost-vsock", "/dev/vhost-vsock", false),
    ("/dev/dri/renderD128", "/dev/dri", false),
    ("/dev/sg0", "/dev/sg#", true),
    ("/dev/bsg/0:0:0:0", "/dev/bsg", true),
    ("/dev/ttyS0", "/dev/ttyS#", true),
    ("/dev/ttyUSB0", "/dev/ttyUSB#", true),
    ("/dev/ttyACM0", "/dev/ttyACM#", true),
    ("/dev/ttyAMA0", "/dev/ttyAMA#", true),
    ("/dev/parport0", "/dev/parport#", true),
    ("/dev/hwrng", "/dev/hwrng", false),
    ("/dev/kvm", "/dev/kvm", false),
];

/// A dry run of `xml` with `extra` arguments: must be refused as a path error (exit 3),
/// with one error line naming `path`. Returns stderr.
#[track_caller]
fn refused(xml: &str, extra: &[&str], path: &str) -> String {
    let mut args = vec!["-d", "-c", "-u", PROFILE];
    args.extend_from_slice(extra);
    let o = run(&args, Some(xml));
    let err = o.stderr;
    assert_eq!(o.status.code(), Some(3), "{path} accepted:\n{}", o.stdout);
    assert!(o.stdout.is_empty(), "{path}: {}", o.stdout);
    let errors: Vec<&str> = err.lines().filter(|l| l.contains(": error: ")).collect();
    assert_eq!(errors.len(), 1, "{path}: {err}");
    // The error names the canonical path: `/var/run` is a link to `/run`, and on a
    // merged-/usr host `/bin/sh` is `/usr/bin/dash` (so there `/usr` refuses it; the
    // unit tests of `src/policy.rs` pin `/bin`, `/sbin` and `/lib*` on literal paths).
    let canonical = match std::fs::canonicalize(path) {
        Ok(c) => c.display().to_string(),
        Err(_) => match path.strip_prefix("/var/run/") {
            Some(rest) => format!("/run/{rest}"),
            None => path.to_string(),
        },
    };
    assert!(
        errors[0].contains(&format!("'{canonical}'")),
        "{path}: {err}"
    );
    err
}

/// `path` as a writable disk, as a serial device reached through a symlink to it, and as
/// a `-f` argument: all refused with `why` in the message.
#[track_caller]
fn refused_everywhere(path: &str, why: &str) {
    let t = Tree::new();
    let link = t.symlink("link", path);
    let link = link.to_str().expect("utf-8");
    let cases = [
        (domain(&disk(path, "vda", ""), ""), vec![]),
        (
            domain(
                &format!("    <serial type='dev'><source path='{link}'/></serial>\n"),
                "",
            ),
            vec![],
        ),
        (domain("", ""), vec!["-f", path]),
    ];
    for (xml, extra) in cases {
        let err = refused(&xml, &extra, path);
        assert!(err.contains(why), "{path}: {err}");
    }
}

#[test]
fn never_granted_in_any_form() {
    for p in NEVER {
        refused_everywhere(p, "restricted location");
    }
}

#[test]
fn read_only_trees_are_readable_but_never_writable() {
    for p in READ_ONLY {
        refused_everywhere(p, "is only allowed read-only (restricted location)");
        // As the kernel: read-only, allowed, one literal rule.
        let o = dry_create(&domain("", &format!("    <kernel>{p}</kernel>\n")), &[]);
        let rules = o.dry_rules();
        assert!(rules.contains(&format!("\"{p}\" r,")), "{p}: {rules:?}");
    }
}

#[test]
fn shared_directories_are_never_granted_whole() {
    for (dir, holds) in SHARED {
        let arg = format!("{dir}/{{,**}}");
        let err = refused(&domain("", ""), &["-F", &arg], dir);
        // Named as the directory it is, not as a wider or narrower one it contains.
        assert!(
            err.contains(&format!("would include {dir}, which holds {holds}")),
            "{dir}: {err}"
        );
    }
}

#[test]
fn directories_holding_a_restricted_path_are_never_shared() {
    for dir in [
        "/run/user/1000",
        "/run/user",
        "/tmp",
        "/dev/mapper",
        "/run/openvswitch",
        "/var/spool",
        "/root/vm",
    ] {
        let xml = domain(
            &format!(
                "    <filesystem type='mount'><source dir='{dir}'/><target dir='t'/></filesystem>\n"
            ),
            "",
        );
        let err = refused(&xml, &[], dir);
        assert!(err.contains("restricted location"), "{dir}: {err}");
    }
}

#[test]
fn what_domain_elements_name_is_allowed() {
    for p in ALLOWED {
        let o = dry_create(&domain(&disk(p, "vda", ""), ""), &[]);
        let rules = o.dry_rules();
        assert!(rules.contains(&format!("\"{p}\" rwk,")), "{p}: {rules:?}");
    }
}

#[test]
fn device_nodes_of_one_element_are_refused_as_disks() {
    for (p, tree, hotplug) in ONE_ELEMENT {
        let why = format!("{tree} is a device only");
        let err = refused(&domain(&disk(p, "vda", ""), ""), &[], p);
        assert!(err.contains(&why), "{p}: {err}");
        if *hotplug {
            // libvirt 12.x's helper grants the IOMMUFD nodes rwm (QEMU maps them).
            let perms = if ["/dev/vfio/devices/vfio0", "/dev/iommu"].contains(p) {
                "rwm"
            } else {
                "rwk"
            };
            let o = dry_create(&domain("", ""), &["-f", p]);
            assert!(o.dry_rules().contains(&format!("\"{p}\" {perms},")), "{p}");
        } else {
            let err = refused(&domain("", ""), &["-f", p], p);
            assert!(err.contains(&why), "{p}: {err}");
        }
    }
}
