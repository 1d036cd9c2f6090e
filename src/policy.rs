//! Where a VM may never be given access, checked on canonical paths by whole components.
//!
//! libvirt 9.0's `valid_path` compares string prefixes: `/usr/lib` also refused `/usr/library`,
//! while `/etc/` let a filesystem share of `/etc` itself through
//! (`"/etc/**" rwl`, `docs/weak-spots.md#w2`), and `/` passes too. Here a path is compared
//! component by component against the canonical target (so a symlink or `..` cannot reach
//! around it):
//!
//! - never: `/`, the trees of [`RESTRICTED`] (the host's programs, configuration, kernel
//!   interfaces and root's home, host-control and input-injection devices, the control
//!   sockets of host daemons and of users' sessions, libvirt's own daemons' sockets and
//!   state in `/run/libvirt`, and the host state under `/var` and `/run` that root
//!   programs act on);
//! - read-only allowed: `/boot`, the kernel and initrd links, and the firmware directories
//!   (`/usr/share/OVMF`, `/usr/share/qemu`, `/usr/share/seabios`, ...: libvirt's list plus
//!   those newer releases added, since a refused firmware stops the VM,
//!   `docs/weak-spots.md#w13`);
//! - allowed read-write inside restricted trees, for a host device's own rules only
//!   ([`ElementFamily::HostdevPci`]): PCI device nodes `/sys/devices/pci*`, vhost targets
//!   `/sys/kernel/config/target/vhost`; for any rule: `/etc/libvirt-sandbox/services`
//!   (libvirt's override list, by component) and the domains' `/run/libvirt/qemu`;
//! - device trees that belong to one element family ([`DEVICES`]): an IOMMU group, an
//!   input device, a TPM, a USB device, a render node, SCSI generic, a tap or vhost node,
//!   the SEV and SGX nodes are granted only to a rule of the element that names such a
//!   device ([`ElementFamily`]), never to a disk, chardev, share or boot file (a
//!   `<disk type='block'>` on `/dev/vfio/7` was once granted `rwk`), and never inside a share
//!   or a runtime subtree;
//! - a directory granted with everything below it must contain none of the above, must not
//!   contain a directory that holds every domain's files (`/var/lib/libvirt/images`,
//!   `/run/libvirt/qemu`, ...), and must be at least [`MIN_SUBTREE_DEPTH`] levels deep.
//!
//! # What belongs on the deny-list
//!
//! A path is on [`RESTRICTED`] when access to it gives a process power over the host or
//! over someone else's session, beyond the VM it serves, **and** no libvirt domain element
//! names it for a VM's own device. Concretely, one of:
//!
//! 1. the host's software, configuration, credentials and kernel interfaces (`/etc`,
//!    `/usr`, `/lib*`, `/proc`, `/sys`, `/root`, ...);
//! 2. host memory, firmware and CPU state (`/dev/mem`, `/dev/cpu/*/msr`, `/dev/nvram`,
//!    `/dev/mei0`, `/dev/snapshot`, ...);
//! 3. input injection into, or reading of, the host's consoles and sessions (`/dev/uinput`,
//!    `/dev/uhid`, virtual consoles `/dev/tty<N>` and `/dev/vcs*`, framebuffers, display
//!    server sockets);
//! 4. host-wide control nodes: device-mapper, loop, btrfs, ublk, autofs, ZFS control, the
//!    watchdog (closing it without the magic character reboots the host), rfkill, I2C
//!    buses, IPMI (the BMC powers the host off);
//! 5. control sockets of services that act as root or as another user: init and udev,
//!    D-Bus, container and VM managers, sudo's timestamps, and in every user's
//!    `/run/user/<uid>/` the session's manager (`systemd`), bus (`bus`, `dbus-1`),
//!    key agents (`gnupg`, `keyring`, `gcr`, `openssh_agent`), accessibility bus (`at-spi`,
//!    which can synthesize input), display (`wayland-*`), PipeWire's manager socket and
//!    container sockets;
//! 6. host state under `/var` and `/run` that root programs act on or that belongs to
//!    someone else: packages' state (`/var/lib/dpkg/info/*.postinst` runs as root at the
//!    next upgrade), backups, caches with secrets, spools, mail, systemd's state and
//!    credentials, libvirt's networks (`/var/lib/libvirt/dnsmasq`), other daemons'
//!    databases, login records and the host's logs, configuration read from `/run`
//!    (`udev/rules.d`, `modprobe.d`, `tmpfiles.d`), pid files.
//!
//! What a domain element legitimately names stays allowed even where it is powerful, because
//! refusing it would stop the VMs that use it: evdev input passthrough
//! (`/dev/input/event*`), serial and parallel passthrough (`/dev/ttyS*`, `/dev/ttyUSB*`,
//! `/dev/parport*`), host disks (`/dev/sd*`, `/dev/nvme*`, `/dev/mapper/<vg-lv>`, ...),
//! SCSI generic (`/dev/sg*`), TPM passthrough (`/dev/tpm*`), VFIO (`/dev/vfio/*`), vhost
//! (`/dev/vhost-*`), `/dev/net/tun`, render nodes (`/dev/dri/*`), hugepages and shared
//! memory (`/dev/hugepages`, `/dev/shm`), USB (`/dev/bus/usb`), an SDL display's xauth
//! file, the audio servers' sockets (`/run/user/<uid>/pulse`, `pipewire-0`), and vhost-user
//! sockets (Open vSwitch's `vhu*` ports); but a device node of one element family only
//! through that element ([`DEVICES`]). The audit of a Debian 12 libvirt host's `/dev`,
//! `/run`, `/sys` and `/var` against this rule is `docs/restricted-paths.md`.
//!
//! An entry is a path whose components are literal, except that a component may end in
//! `*` (any rest: `vcs*` is `vcs`, `vcsa1`...) or `#` (one or more digits: `tty#` is `tty1`
//! but not `ttyS0` or `tty`), or start with `*` (any beginning: `*.pid`); a component that
//! is `#` alone is a number (a uid), `*` alone is any name.

use crate::path::CanonicalPath;
use std::path::{Component, Path};

/// Never accessible, whole trees (see the module docs for the rule).
const RESTRICTED: &[&str] = &[
    // 1. The host's software, configuration and kernel interfaces.
    "/bin",
    "/etc",
    "/lib*",
    "/lost+found",
    "/proc",
    "/root",
    "/sbin",
    "/selinux",
    "/sys",
    "/usr",
    "/boot",
    "/vmlinuz",
    "/vmlinuz.old",
    "/initrd",
    "/initrd.img",
    "/initrd.img.old",
    // 2. Device nodes that are the host itself, whatever a disk element says: physical
    // memory and I/O ports, CPU MSRs, the kernel log, hibernation images, CMOS and the
    // Intel ME (libvirt's list let every /dev node through).
    "/dev/mem",
    "/dev/kmem",
    "/dev/port",
    "/dev/cpu",
    "/dev/kmsg",
    "/dev/snapshot",
    "/dev/nvram",
    "/dev/mei#",
    // 3. Input injection into the host's consoles and sessions, and their screens.
    "/dev/uinput",
    "/dev/uhid",
    "/dev/vhci",
    "/dev/console",
    "/dev/tty#",
    "/dev/ttyprintk",
    "/dev/vcs*",
    "/dev/fb#",
    "/dev/vga_arbiter",
    "/tmp/.X11-unix",
    "/tmp/.ICE-unix",
    // 4. Host-wide control nodes.
    "/dev/mapper/control",
    "/dev/loop-control",
    "/dev/btrfs-control",
    "/dev/ublk-control",
    "/dev/autofs",
    "/dev/cuse",
    "/dev/zfs",
    "/dev/watchdog*",
    "/dev/rfkill",
    "/dev/cpu_dma_latency",
    "/dev/i2c-#",
    "/dev/ipmi*",
    // 5. Control sockets of host daemons and of users' sessions: a QEMU that may connect
    // to them can act as root or as that user.
    "/run/dbus",
    "/run/systemd",
    "/run/initctl",
    "/run/sudo",
    "/run/docker.sock",
    "/run/docker",
    "/run/containerd",
    "/run/crio",
    "/run/podman",
    "/run/snapd.socket",
    "/run/snapd-snap.socket",
    "/run/user/#/systemd",
    "/run/user/#/bus",
    "/run/user/#/dbus-1",
    "/run/user/#/gnupg",
    "/run/user/#/keyring",
    "/run/user/#/gcr",
    "/run/user/#/openssh_agent",
    "/run/user/#/at-spi",
    "/run/user/#/wayland-*",
    "/run/user/#/pipewire-0-manager*",
    "/run/user/#/podman",
    "/run/user/#/docker.sock",
    "/run/user/#/gvfsd",
    // Other daemons' control sockets in /run: libvirt's own daemons and
    // their state (everything under /run/libvirt but the domains' `qemu/`, an exception
    // below), Open vSwitch's database and bridge management sockets (rewire the host's
    // switch; its vhost-user ports stay allowed), LVM, time, network and Wi-Fi control,
    // databases. libvirt's DAC driver hands a client-mode unix chardev's socket to the
    // QEMU user, so the profile is the only barrier.
    "/run/libvirt",
    "/run/openvswitch/db.sock",
    "/run/openvswitch/*.ctl",
    "/run/openvswitch/*.mgmt",
    "/run/openvswitch/*.snoop",
    "/run/lvm",
    "/run/multipathd",
    "/run/cryptsetup",
    "/run/mdadm",
    "/run/chrony",
    "/run/NetworkManager",
    "/run/wpa_supplicant",
    "/run/avahi-daemon",
    "/run/cups",
    "/run/nscd",
    "/run/acpid.socket",
    "/run/uuidd",
    "/run/postgresql",
    "/run/mysqld",
    "/run/redis",
    "/run/qemu",
    // 6. Host state under /run and /var that root programs act on:
    // configuration systemd, udev, the module loader and tmpfiles read from /run, the
    // shutdown program, credentials, login records, pid files (an init script kills the
    // pid it reads), lock files.
    "/run/credentials",
    "/run/udev",
    "/run/tmpfiles.d",
    "/run/modprobe.d",
    "/run/sysctl.d",
    "/run/binfmt.d",
    "/run/initramfs",
    "/run/nologin",
    "/run/utmp",
    "/run/motd*",
    "/run/sendsigs.omit.d",
    "/run/mount",
    "/run/lock",
    "/run/sshd",
    "/run/*.pid",
    "/run/*/*.pid",
    // Packages' state (dpkg runs maintainer scripts from /var/lib/dpkg/info as root at
    // the next upgrade), backups (Debian <= 11 kept /etc/shadow's copy in /var/backups),
    // caches (debconf's passwords, apt's packages, ldconfig's cache, libvirt's QEMU
    // capabilities), spools (cron and at jobs run as their owner), mail, the journal and
    // the host's logs (read: leak; write: forge).
    "/var/backups",
    "/var/cache",
    "/var/spool",
    "/var/mail",
    "/var/lib/dpkg",
    "/var/lib/apt",
    "/var/lib/aptitude",
    "/var/lib/ucf",
    "/var/lib/PackageKit",
    "/var/lib/snapd",
    "/var/lib/flatpak",
    "/var/lib/fwupd",
    "/var/lib/dkms",
    "/var/lib/shim-signed",
    "/var/lib/ca-certificates*",
    // systemd's state (credential.secret encrypts every service credential), its portable
    // services, system extensions and DynamicUser services' private state.
    "/var/lib/systemd",
    "/var/lib/private",
    "/var/lib/portables",
    "/var/lib/extensions",
    "/var/lib/confexts",
    "/var/lib/machines",
    // Authentication, authorization and session state.
    "/var/lib/polkit-1",
    "/var/lib/sudo",
    "/var/lib/pam",
    "/var/lib/dbus",
    "/var/lib/AccountsService",
    "/var/lib/gdm3",
    "/var/lib/lightdm",
    "/var/lib/sddm",
    "/var/lib/sss",
    "/var/lib/krb5kdc",
    "/var/lib/samba",
    "/var/lib/ldap",
    "/var/lib/bluetooth",
    "/var/lib/boltd",
    // Network configuration the host acts on: libvirt's networks (the DHCP hosts file of
    // every tenant; a dnsmasq `.conf` takes `dhcp-script=`, run as root), Open vSwitch's
    // database, NetworkManager, DHCP leases.
    "/var/lib/libvirt/dnsmasq",
    "/var/lib/libvirt/network",
    "/var/lib/openvswitch",
    "/var/lib/NetworkManager",
    "/var/lib/dhcp",
    "/var/lib/misc",
    // libvirt's other daemons' state: disk locks, leases, secrets, containers.
    "/var/lib/libvirt/lockd",
    "/var/lib/libvirt/sanlock",
    "/var/lib/libvirt/secrets",
    "/var/lib/libvirt/lxc",
    "/var/lib/swtpm-localca",
    // Other virtualization and container managers, cluster stores, cloud-init (its
    // scripts run as root at boot), and databases.
    "/var/lib/lxd",
    "/var/lib/incus",
    "/var/lib/lxc",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/containers",
    "/var/lib/kubelet",
    "/var/lib/etcd",
    "/var/lib/ceph",
    "/var/lib/cloud",
    "/var/lib/postgresql",
    "/var/lib/mysql",
    "/var/lib/redis",
    "/var/lib/rabbitmq",
    // The journal, the audit trail, login records and the host's own logs; libvirt's
    // logs (`/var/log/libvirt`, where libvirt's documentation puts chardev logs) and any
    // directory an admin makes stay allowed.
    "/var/log/journal",
    "/var/log/audit",
    "/var/log/private",
    "/var/log/apt",
    "/var/log/installer",
    "/var/log/auth.log*",
    "/var/log/syslog*",
    "/var/log/kern.log*",
    "/var/log/messages*",
    "/var/log/daemon.log*",
    "/var/log/user.log*",
    "/var/log/debug*",
    "/var/log/mail.*",
    "/var/log/dpkg.log*",
    "/var/log/alternatives.log*",
    "/var/log/cloud-init*",
    "/var/log/wtmp*",
    "/var/log/btmp*",
    "/var/log/lastlog",
    "/var/log/faillog",
];

/// Inside a restricted tree but readable: kernels, initrds and firmware.
const READ_ONLY_OK: &[&str] = &[
    "/boot",
    "/vmlinuz",
    "/vmlinuz.old",
    "/initrd",
    "/initrd.img",
    "/initrd.img.old",
    "/usr/share/AAVMF",
    "/usr/share/OVMF",
    "/usr/share/ovmf",
    "/usr/share/edk2",
    "/usr/share/edk2-ovmf",
    "/usr/share/qemu",
    "/usr/share/qemu-efi",
    "/usr/share/qemu-efi-aarch64",
    "/usr/share/qemu-efi-loongarch64",
    "/usr/share/qemu-efi-riscv64",
    "/usr/share/seabios",
    "/usr/lib/u-boot",
    "/usr/lib/riscv64-linux-gnu/opensbi",
];

/// Inside a restricted tree but accessible read-write by any rule: libvirt-sandbox
/// services (libvirt's override list; shared into sandboxes as filesystems), and the
/// domains' runtime files in `/run/libvirt/qemu` (whose entries [`crate::state`] gives
/// each to its own domain) inside the restricted `/run/libvirt`.
const ALWAYS_OK: &[&str] = &["/etc/libvirt-sandbox/services", "/run/libvirt/qemu"];

/// Inside a restricted tree but accessible read-write by a host device's own rules
/// ([`ElementFamily::HostdevPci`]): PCI device nodes for host device assignment (libvirt's
/// override `/sys/devices/pci`, by component: not `/sys/devices` itself or
/// `/sys/devices/system`), vhost-scsi targets. A disk, share, chardev or `-f`/`-F` path
/// there is refused: nothing but a host device has business in sysfs.
const HOST_DEVICE_OK: &[&str] = &["/sys/devices/pci*", "/sys/kernel/config/target/vhost"];

/// Device trees that belong to one element family: a path in one of them is granted only
/// to a file rule of a listed [`ElementFamily`], never to a share or runtime subtree. The first
/// entry the path is within decides (so `/dev/vfio/vfio` comes before `/dev/vfio`). An
/// empty list: only the tool's own fixed rules name it (`Granted::fixed`: the VFIO
/// container, SEV, SGX, vhost-vsock) or the template's abstraction does (`/dev/kvm`).
///
/// These nodes were allowed for every element, so a `<disk
/// type='block'>` on `/dev/vfio/7` got an IOMMU group `rwk` (DMA with another VM's
/// device), a chardev or `-f` on `/dev/sev` or `/dev/sgx_provision` the feature's node.
/// [`ElementFamily::Runtime`] (libvirtd's `-F`) keeps the nodes libvirtd itself names at hotplug,
/// before the element is in the XML (`docs/runtime-grants.md`): a VFIO group, a USB,
/// SCSI generic or vhost-scsi node (`AppArmorSetSecurityHostdevLabel`), an evdev
/// (`AppArmorSetInputLabel`), a serial port (`AppArmorSetChardevLabel`), and the tap and
/// vhost descriptors it opens (`AppArmorSetFDLabel`). `docs/restricted-paths.md` has the
/// verdict of each `/dev` entry.
const DEVICES: &[(&str, &[ElementFamily])] = &[
    // VFIO: the container is the tool's fixed rule; a group is granted from sysfs for a
    // host device (`rules/hostdev.rs`, an NVMe disk), or by libvirtd's -F at a hostdev
    // hotplug. The IOMMUFD nodes, a device's VFIO cdev and `/dev/iommu`, only by
    // libvirtd's -F (libvirt 12.1 `AppArmorSetSecurityHostdevLabel`), as a group is
    // (`rules/extra.rs` says why not only for a domain with an IOMMUFD device); nothing
    // else in `/dev/vfio/devices`.
    ("/dev/vfio/vfio", &[]),
    ("/dev/vfio/devices/vfio#", &[ElementFamily::Runtime]),
    ("/dev/vfio/devices", &[]),
    ("/dev/vfio", &[ElementFamily::Runtime]),
    ("/dev/iommu", &[ElementFamily::Runtime]),
    // Host input devices: <input type='evdev'|'passthrough'>.
    (
        "/dev/input",
        &[ElementFamily::Input, ElementFamily::Runtime],
    ),
    // Memory encryption and enclaves: fixed rules of <launchSecurity> and SGX.
    ("/dev/sev", &[]),
    ("/dev/sgx*", &[]),
    // The host TPM: <tpm><backend type='passthrough'> only (not hotpluggable).
    ("/dev/tpm#", &[ElementFamily::Tpm]),
    ("/dev/tpmrm#", &[ElementFamily::Tpm]),
    // USB devices: <hostdev type='usb'>, found in sysfs.
    (
        "/dev/bus/usb",
        &[ElementFamily::HostdevUsb, ElementFamily::Runtime],
    ),
    // Network: tap and vhost descriptors libvirtd opens and hands over (-F of the fd).
    ("/dev/net/tun", &[ElementFamily::Runtime]),
    ("/dev/tap#", &[ElementFamily::Runtime]),
    ("/dev/vhost-net", &[ElementFamily::Runtime]),
    ("/dev/vhost-vdpa-#", &[ElementFamily::Runtime]),
    ("/dev/vhost-scsi", &[ElementFamily::Runtime]),
    ("/dev/vhost-vsock", &[]),
    // Render nodes: <graphics> (<gl rendernode>) only.
    ("/dev/dri", &[ElementFamily::Graphics]),
    // SCSI generic: <disk device='lun'>, or a SCSI hostdev's -F at hotplug.
    (
        "/dev/sg#",
        &[ElementFamily::DiskLun, ElementFamily::Runtime],
    ),
    (
        "/dev/bsg",
        &[ElementFamily::DiskLun, ElementFamily::Runtime],
    ),
    // Serial and parallel ports: character devices (and rng egd's chardev).
    (
        "/dev/ttyS#",
        &[ElementFamily::Chardev, ElementFamily::Runtime],
    ),
    (
        "/dev/ttyUSB#",
        &[ElementFamily::Chardev, ElementFamily::Runtime],
    ),
    (
        "/dev/ttyACM#",
        &[ElementFamily::Chardev, ElementFamily::Runtime],
    ),
    (
        "/dev/ttyAMA#",
        &[ElementFamily::Chardev, ElementFamily::Runtime],
    ),
    (
        "/dev/parport#",
        &[ElementFamily::Chardev, ElementFamily::Runtime],
    ),
    // The hardware RNG: <rng><backend model='random'>.
    ("/dev/hwrng", &[ElementFamily::Rng]),
    // The accelerator: the template's abstraction grants it; no element names it.
    ("/dev/kvm", &[]),
];

/// Directories that hold the files of every domain (libvirt's default locations). A rule
/// for one of them, or an ancestor, together with everything below it would give one VM the
/// images, sockets and state of all the others; libvirtd only ever asks for a per-domain
/// directory below them (`AppArmorSetPathLabel(allowSubtree)`: `domain-<id>-<name>`,
/// `channel/<id>-<name>`, hugepage and memory-backing directories per domain).
const SHARED: &[&str] = &[
    "/var/lib/libvirt",
    "/var/lib/libvirt/images",
    "/var/lib/libvirt/boot",
    "/var/lib/libvirt/qemu",
    "/var/lib/libvirt/qemu/nvram",
    "/var/lib/libvirt/qemu/varstore",
    "/var/lib/libvirt/qemu/channel",
    "/var/lib/libvirt/qemu/channel/target",
    "/var/lib/libvirt/qemu/ram",
    "/var/lib/libvirt/qemu/save",
    "/var/lib/libvirt/qemu/snapshot",
    "/var/lib/libvirt/qemu/dump",
    "/var/lib/libvirt/swtpm",
    "/var/log/libvirt",
    "/var/log/libvirt/qemu",
    "/var/log/swtpm",
    "/run/libvirt/qemu",
    "/run/libvirt/qemu/channel",
    "/run/libvirt/qemu/swtpm",
    "/dev/hugepages/libvirt",
    "/dev/hugepages/libvirt/qemu",
];

/// The shallowest directory that may be granted with everything below it: three
/// components (`/srv/vms/one`), never `/home`, `/var/lib` or `/tmp` as a whole.
const MIN_SUBTREE_DEPTH: usize = 3;

/// What a rule grants on a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Read only (no `w` in the permissions).
    Read,
    /// Read and write.
    Write,
}

/// The element family a file rule is for: which trees of [`DEVICES`] it may name. Each
/// rules module passes its own (`rules/*.rs`), so a `<disk>`, a chardev or a boot file
/// cannot name an IOMMU group or an input device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElementFamily {
    /// `<disk>` (image, backing layers, data files, sockets): host block devices.
    Disk,
    /// `<disk device='lun'>`: also SCSI generic nodes (SG_IO passthrough).
    DiskLun,
    /// `<serial>`, `<parallel>`, `<console>`, `<channel>`, an `egd` `<rng>`'s chardev.
    Chardev,
    /// `<input type='evdev'|'passthrough'>`.
    Input,
    /// `<tpm><backend type='passthrough'>`.
    Tpm,
    /// `<graphics>`: render nodes, listen sockets, xauth.
    Graphics,
    /// `<hostdev type='usb'>`: the node found in sysfs.
    HostdevUsb,
    /// `<hostdev type='pci'>` without VFIO: its sysfs files (the only rules the sysfs
    /// exceptions serve).
    HostdevPci,
    /// `<rng><backend model='random'>`.
    Rng,
    /// A `-f`/`-F` argument and the ledger's kept grants: libvirtd names host device, input,
    /// serial and tap nodes at hotplug, before the element is in the XML.
    Runtime,
    /// Every other element: boot files, memory backing, shmem, fw_cfg, pstore, audio,
    /// redirdev, vhost-user, chardev logs.
    Other,
}

/// How much a rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The path itself, for a rule of an element of the [`ElementFamily`].
    File(ElementFamily),
    /// The directory and everything below it, as the domain XML asks (a `<filesystem>`
    /// share): it must not contain a restricted tree, a device tree nor a directory shared
    /// by every domain.
    Share,
    /// The directory and everything below it, as a `-f`/`-F` argument asks at run time:
    /// libvirtd only ever asks for a per-domain directory, so it must also not contain a
    /// directory shared by every domain, and must be deep enough.
    RuntimeSubtree,
}

/// Checks that `path` may be granted with `grant` over `scope`. Returns why it is refused.
pub fn check(path: &CanonicalPath, grant: Grant, scope: Scope) -> Result<(), String> {
    let p = path.as_path();
    if p == Path::new("/") {
        return Err("the root directory can never be granted".into());
    }
    if let Some(r) = RESTRICTED.iter().find(|r| is_within(p, r)) {
        let read_only_ok = READ_ONLY_OK.iter().any(|ok| is_within(p, ok));
        let allowed = ALWAYS_OK.iter().any(|ok| is_within(p, ok))
            || (scope == Scope::File(ElementFamily::HostdevPci)
                && HOST_DEVICE_OK.iter().any(|ok| is_within(p, ok)))
            || (grant == Grant::Read && read_only_ok);
        if !allowed {
            let how = if grant == Grant::Write && read_only_ok {
                "is only allowed read-only"
            } else {
                "is never allowed"
            };
            return Err(format!("{r} {how} (restricted location)"));
        }
    }
    if let Some((tree, families)) = DEVICES.iter().find(|(d, _)| is_within(p, d)) {
        let own = match scope {
            Scope::File(f) => families.contains(&f),
            Scope::Share | Scope::RuntimeSubtree => false,
        };
        if !own {
            return Err(format!(
                "{tree} is a device only {} may be given (restricted location)",
                owners(families)
            ));
        }
    }
    if matches!(scope, Scope::Share | Scope::RuntimeSubtree) {
        // A directory together with everything below it must not contain a directory of
        // every domain's files: a filesystem share of one gives the guest all of them as
        // surely as a runtime subtree does (libvirt 9.0 let a share of /var/lib/libvirt
        // through). Checked first: that is the reason to give for /var/lib/libvirt, which
        // also holds restricted daemon state.
        if let Some(shared) = SHARED.iter().find(|d| contains(p, d)) {
            return Err(format!(
                "granting everything below it would include {shared}, which holds the files of every domain"
            ));
        }
        // Nor a restricted tree, nor a device tree (a share of /dev/input would be every
        // input device).
        if let Some(r) = RESTRICTED
            .iter()
            .chain(DEVICES.iter().map(|(d, _)| d))
            .find(|r| contains(p, r))
        {
            return Err(format!(
                "granting everything below it would include {r} (restricted location)"
            ));
        }
    }
    if scope == Scope::RuntimeSubtree {
        let depth = p
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .count();
        if depth < MIN_SUBTREE_DEPTH {
            return Err(format!(
                "too wide to grant with everything below it (a directory must be at least {MIN_SUBTREE_DEPTH} levels deep)"
            ));
        }
    }
    Ok(())
}

/// Whether `path` lies in a tree that is readable but never writable ([`READ_ONLY_OK`] inside
/// [`RESTRICTED`]: `/boot`, the distributions' firmware directories): a file there belongs
/// to a package, so a rule for it is `rk` even where the element asks for more (a pflash
/// `<loader>` without `readonly='yes'`, `rules/os.rs`).
pub fn is_read_only_location(path: &CanonicalPath) -> bool {
    let p = path.as_path();
    RESTRICTED.iter().any(|r| is_within(p, r)) && READ_ONLY_OK.iter().any(|ok| is_within(p, ok))
}

/// Who may be given a device tree, for the refusal: the element families of [`DEVICES`].
fn owners(families: &[ElementFamily]) -> String {
    let names: Vec<&str> = families
        .iter()
        .map(|f| match f {
            ElementFamily::Disk => "a <disk>",
            ElementFamily::DiskLun => "a <disk device='lun'>",
            ElementFamily::Chardev => "a character device",
            ElementFamily::Input => "an <input>",
            ElementFamily::Tpm => "a passed-through <tpm>",
            ElementFamily::Graphics => "a <graphics> render node",
            ElementFamily::HostdevUsb => "a USB <hostdev>",
            ElementFamily::HostdevPci => "a PCI <hostdev>",
            ElementFamily::Rng => "an <rng>",
            ElementFamily::Runtime => "libvirtd's -F at a hotplug",
            ElementFamily::Other => "another element",
        })
        .collect();
    match names.as_slice() {
        [] => "the helper's own fixed rules".to_string(),
        _ => names.join(" or "),
    }
}

/// Whether `p` is the tree of `entry` or below it: `entry`'s components are a prefix of
/// `p`'s, each matched by [`component_matches`].
fn is_within(p: &Path, entry: &str) -> bool {
    // Walked in step, without collecting: this runs for every rule and every table entry
    // (collecting both component lists was most of a large domain's run time).
    let mut got = p.components();
    Path::new(entry)
        .components()
        .all(|w| got.next().is_some_and(|g| pair_matches(w, g)))
}

/// Whether the directory `p`, with everything below it, contains the tree of `entry`:
/// `p`'s components are a prefix of `entry`'s (so `/run/user/1000` contains
/// `/run/user/#/bus`).
fn contains(p: &Path, entry: &str) -> bool {
    let mut want = Path::new(entry).components();
    p.components()
        .all(|g| want.next().is_some_and(|w| pair_matches(w, g)))
}

/// One component of an entry (`w`) against one of a path (`g`).
fn pair_matches(w: Component<'_>, g: Component<'_>) -> bool {
    match (w, g) {
        (Component::Normal(w), Component::Normal(g)) => {
            component_matches(&w.to_string_lossy(), &g.to_string_lossy())
        }
        _ => w == g,
    }
}

/// One component of an entry against one of a path: literal, a literal stem followed by
/// `*` (anything, also nothing) or `#` (one or more ASCII digits), or `*` followed by a
/// literal tail (`*.pid`: anything ending in `.pid`).
fn component_matches(pattern: &str, name: &str) -> bool {
    if let Some(stem) = pattern.strip_suffix('*') {
        name.starts_with(stem)
    } else if let Some(tail) = pattern.strip_prefix('*') {
        name.ends_with(tail)
    } else if let Some(stem) = pattern.strip_suffix('#') {
        name.strip_prefix(stem)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    } else {
        pattern == name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file rule of an element that owns no device tree.
    const ANY: Scope = Scope::File(ElementFamily::Other);
    /// A non-VFIO PCI host device's sysfs files.
    const PCI_DEV: Scope = Scope::File(ElementFamily::HostdevPci);

    fn c(p: &str) -> CanonicalPath {
        CanonicalPath::from_canonical_literal(Path::new(p)).unwrap()
    }

    #[test]
    fn restricted_trees_by_component() {
        for p in [
            "/bin/sh",
            "/sbin/init",
            "/etc/passwd",
            "/etc",
            "/usr",
            "/usr/lib64/x",
            "/lib",
            "/lib64/ld-linux-x86-64.so.2",
            "/libx32",
            "/libvirt/x.img",
            "/proc/1/mem",
            "/sys/kernel",
        ] {
            assert!(check(&c(p), Grant::Read, ANY).is_err(), "{p}");
        }
        // String prefixes are not components: libvirt refused these.
        for p in [
            "/srv/lib/x.img",
            "/etcetera/x",
            "/usrdata/x",
            "/var/lib/libvirt/images/a",
        ] {
            assert_eq!(check(&c(p), Grant::Write, ANY), Ok(()), "{p}");
        }
    }

    #[test]
    fn host_devices_and_daemon_sockets() {
        for p in [
            "/dev/mem",
            "/dev/kmem",
            "/dev/port",
            "/dev/cpu/0/msr",
            "/run/libvirt/libvirt-sock",
            "/run/libvirt/libvirt-sock-ro",
            "/run/libvirt/virtqemud-admin-sock",
            "/run/dbus/system_bus_socket",
            "/run/systemd/private",
        ] {
            assert!(check(&c(p), Grant::Write, ANY).is_err(), "{p}");
        }
        for p in [
            "/dev/sdb",
            "/run/libvirt/qemu/channel/1-vm/org.qemu.guest_agent.0",
            "/dev/memory-backend",
        ] {
            assert_eq!(check(&c(p), Grant::Write, ANY), Ok(()), "{p}");
        }
    }

    #[test]
    fn read_only_exceptions() {
        assert_eq!(check(&c("/boot/vmlinuz-6.1"), Grant::Read, ANY), Ok(()));
        assert!(check(&c("/boot/vmlinuz-6.1"), Grant::Write, ANY)
            .unwrap_err()
            .contains("only allowed read-only"));
        // Outside the read-only exceptions a write is refused outright, not "read-only".
        assert_eq!(
            check(&c("/etc/passwd"), Grant::Write, ANY),
            Err("/etc is never allowed (restricted location)".to_string())
        );
        assert_eq!(
            check(&c("/usr/share/OVMF/OVMF_CODE.fd"), Grant::Read, ANY),
            Ok(())
        );
        assert_eq!(
            check(&c("/usr/share/qemu/bios.bin"), Grant::Read, ANY),
            Ok(())
        );
        assert!(check(&c("/usr/share/doc/x"), Grant::Read, ANY).is_err());
    }

    #[test]
    fn pci_and_vhost_overrides_serve_host_devices_only() {
        let pci = "/sys/devices/pci0000:00/0000:00:19.0/config";
        let vhost = "/sys/kernel/config/target/vhost/naa.1";
        for p in [pci, vhost] {
            assert_eq!(check(&c(p), Grant::Write, PCI_DEV), Ok(()), "{p}");
            // A disk, chardev or -f path there, or a share or -F subtree of it.
            for scope in [ANY, Scope::Share, Scope::RuntimeSubtree] {
                let e = check(&c(p), Grant::Read, scope).unwrap_err();
                assert_eq!(e, "/sys is never allowed (restricted location)", "{p}");
            }
        }
        for p in [
            "/sys/devices/system/cpu",
            "/sys/devices",
            "/sys/devices/platform/x",
            "/sys/kernel/config/target",
            "/sys/kernel/config/target/vhostx",
            "/sys/bus/pci/devices/0000:00:19.0/config",
        ] {
            assert!(check(&c(p), Grant::Read, PCI_DEV).is_err(), "{p}");
        }
        // A host device's rule gets no other exception: /etc, /dev/mem stay refused, and
        // the read-only trees stay read-only.
        assert!(check(&c("/etc/shadow"), Grant::Read, PCI_DEV).is_err());
        assert!(check(&c("/dev/mem"), Grant::Write, PCI_DEV).is_err());
        assert!(check(&c("/boot/x"), Grant::Write, PCI_DEV).is_err());
        // Nor another host device's node: a USB node is a USB hostdev's.
        assert!(check(&c("/dev/bus/usb/001/002"), Grant::Write, PCI_DEV).is_err());
        assert_eq!(
            check(
                &c("/dev/bus/usb/001/002"),
                Grant::Write,
                Scope::File(ElementFamily::HostdevUsb)
            ),
            Ok(())
        );
    }

    #[test]
    fn sandbox_services_for_every_rule() {
        let p = "/etc/libvirt-sandbox/services/web/config";
        for scope in [ANY, PCI_DEV, Scope::Share] {
            assert_eq!(check(&c(p), Grant::Write, scope), Ok(()), "{scope:?}");
        }
        assert!(check(&c("/etc/libvirt-sandbox"), Grant::Read, ANY).is_err());
        assert!(check(&c("/etc/libvirt-sandbox/servicesx"), Grant::Read, ANY).is_err());
    }

    #[test]
    fn component_patterns() {
        assert!(component_matches("tty#", "tty1"));
        assert!(component_matches("tty#", "tty63"));
        assert!(!component_matches("tty#", "tty"));
        assert!(!component_matches("tty#", "ttyS0"));
        assert!(!component_matches("tty#", "tty1a"));
        assert!(!component_matches("tty#", "pty1"));
        assert!(component_matches("#", "1000"));
        assert!(!component_matches("#", ""));
        assert!(!component_matches("#", "x"));
        assert!(component_matches("vcs*", "vcs"));
        assert!(component_matches("vcs*", "vcsa12"));
        assert!(!component_matches("vcs*", "vc"));
        assert!(component_matches("bus", "bus"));
        assert!(!component_matches("bus", "bus2"));
        assert!(!component_matches("bus", "bu"));
        assert!(component_matches("*.pid", "x.pid"));
        assert!(component_matches("*.pid", ".pid"));
        assert!(!component_matches("*.pid", "x.pidx"));
        assert!(!component_matches("*.pid", "xpid"));
        assert!(component_matches("*", "anything"));
    }

    #[test]
    fn families_by_component() {
        for p in [
            "/dev/tty0",
            "/dev/tty12",
            "/dev/vcs",
            "/dev/vcsa3",
            "/dev/vcsu",
            "/dev/watchdog",
            "/dev/watchdog0",
            "/dev/i2c-0",
            "/dev/mei0",
            "/dev/fb0",
            "/dev/ipmi0",
            "/dev/ipmi/0",
            "/run/user/1000/bus",
            "/run/user/0/systemd/private",
            "/run/user/1000/wayland-0",
            "/run/user/1000/gnupg/S.gpg-agent",
            "/root/.ssh/authorized_keys",
        ] {
            assert!(check(&c(p), Grant::Write, ANY).is_err(), "{p}");
        }
        // Near misses of the families, allowed for any element (the device trees of one
        // element family are `device_trees_only_for_their_element`).
        for p in [
            "/dev/tty",
            "/dev/ttyS",
            "/dev/i2c",
            "/dev/fb",
            "/run/user/1000/pulse/native",
            "/run/user/1000/pipewire-0",
            "/run/user/x/bus",
            "/run/user/1000/busy",
            "/rootfs/x.img",
        ] {
            assert_eq!(check(&c(p), Grant::Write, ANY), Ok(()), "{p}");
        }
    }

    #[test]
    fn shares_and_subtrees_must_not_contain_a_family_member() {
        for p in [
            "/run/user/1000",
            "/run/user",
            "/tmp",
            "/dev",
            "/dev/input/..",
        ] {
            let Some(canon) = CanonicalPath::from_canonical_literal(Path::new(p)) else {
                continue;
            };
            let e = check(&canon, Grant::Write, Scope::Share).unwrap_err();
            assert!(
                e.contains("granting everything below it would include"),
                "{p}: {e}"
            );
        }
        assert_eq!(
            check(&c("/run/user/1000/pulse"), Grant::Write, Scope::Share),
            Ok(())
        );
        // A device tree is never shared, nor a directory containing one.
        assert_eq!(
            check(&c("/dev/input"), Grant::Write, Scope::Share),
            Err("/dev/input is a device only an <input> or libvirtd's -F at a hotplug may be given (restricted location)".into())
        );
        for (dir, tree) in [("/dev/bus", "/dev/bus/usb"), ("/dev/net", "/dev/net/tun")] {
            for scope in [Scope::Share, Scope::RuntimeSubtree] {
                assert_eq!(
                    check(&c(dir), Grant::Read, scope),
                    Err(format!(
                        "granting everything below it would include {tree} (restricted location)"
                    )),
                    "{dir}"
                );
            }
        }
        assert_eq!(check(&c("/run/user/1000"), Grant::Write, ANY), Ok(()));
    }

    /// Every element family, for the device-tree checks.
    const FAMILIES: [ElementFamily; 11] = [
        ElementFamily::Disk,
        ElementFamily::DiskLun,
        ElementFamily::Chardev,
        ElementFamily::Input,
        ElementFamily::Tpm,
        ElementFamily::Graphics,
        ElementFamily::HostdevUsb,
        ElementFamily::HostdevPci,
        ElementFamily::Rng,
        ElementFamily::Runtime,
        ElementFamily::Other,
    ];

    /// Each device tree is granted to the rules of its own element
    /// families only, never to another element's, a share or a runtime subtree.
    #[test]
    fn device_trees_only_for_their_element() {
        use ElementFamily as F;
        let cases: &[(&str, &[ElementFamily])] = &[
            ("/dev/vfio/vfio", &[]),
            ("/dev/vfio/devices/vfio0", &[F::Runtime]),
            ("/dev/vfio/devices/vfio12", &[F::Runtime]),
            ("/dev/vfio/devices/vfio", &[]),
            ("/dev/vfio/devices/vfiox", &[]),
            ("/dev/vfio/devices/iommu", &[]),
            ("/dev/vfio/devices", &[]),
            ("/dev/vfio/7", &[F::Runtime]),
            ("/dev/iommu", &[F::Runtime]),
            ("/dev/input/event3", &[F::Input, F::Runtime]),
            (
                "/dev/input/by-id/usb-kbd-event-kbd",
                &[F::Input, F::Runtime],
            ),
            ("/dev/sev", &[]),
            ("/dev/sgx_provision", &[]),
            ("/dev/sgx_vepc", &[]),
            ("/dev/tpm0", &[F::Tpm]),
            ("/dev/tpmrm0", &[F::Tpm]),
            ("/dev/bus/usb/001/002", &[F::HostdevUsb, F::Runtime]),
            ("/dev/net/tun", &[F::Runtime]),
            ("/dev/tap42", &[F::Runtime]),
            ("/dev/vhost-net", &[F::Runtime]),
            ("/dev/vhost-vdpa-0", &[F::Runtime]),
            ("/dev/vhost-scsi", &[F::Runtime]),
            ("/dev/vhost-vsock", &[]),
            ("/dev/dri/renderD128", &[F::Graphics]),
            ("/dev/sg1", &[F::DiskLun, F::Runtime]),
            ("/dev/bsg/0:0:0:0", &[F::DiskLun, F::Runtime]),
            ("/dev/ttyS0", &[F::Chardev, F::Runtime]),
            ("/dev/ttyUSB1", &[F::Chardev, F::Runtime]),
            ("/dev/ttyACM0", &[F::Chardev, F::Runtime]),
            ("/dev/ttyAMA0", &[F::Chardev, F::Runtime]),
            ("/dev/parport0", &[F::Chardev, F::Runtime]),
            ("/dev/hwrng", &[F::Rng]),
            ("/dev/kvm", &[]),
        ];
        for (p, owners) in cases {
            for f in FAMILIES {
                let got = check(&c(p), Grant::Write, Scope::File(f));
                assert_eq!(got.is_ok(), owners.contains(&f), "{p} {f:?}: {got:?}");
                if let Err(e) = got {
                    assert!(e.contains("is a device only"), "{p}: {e}");
                }
            }
            for scope in [Scope::Share, Scope::RuntimeSubtree] {
                assert!(check(&c(p), Grant::Read, scope).is_err(), "{p} {scope:?}");
            }
        }
        // Near misses by component: not a device tree, allowed for any element.
        for p in [
            "/dev/vfio2",
            "/dev/tpm",
            "/dev/tpmx0",
            "/dev/tap",
            "/dev/sg",
            "/dev/ttyUSB",
            "/dev/dri2/x",
            "/srv/dev/vfio/7",
            "/dev/inputs",
        ] {
            assert_eq!(check(&c(p), Grant::Write, ANY), Ok(()), "{p}");
        }
        // The refusal names who may have it.
        let why =
            |p: &str, f: ElementFamily| check(&c(p), Grant::Write, Scope::File(f)).unwrap_err();
        assert_eq!(
            why("/dev/sev", F::Disk),
            "/dev/sev is a device only the helper's own fixed rules may be given (restricted location)"
        );
        assert_eq!(
            why("/dev/vfio/7", F::Disk),
            "/dev/vfio is a device only libvirtd's -F at a hotplug may be given (restricted location)"
        );
        assert_eq!(
            why("/dev/sg1", F::Disk),
            "/dev/sg# is a device only a <disk device='lun'> or libvirtd's -F at a hotplug may be given (restricted location)"
        );
        assert_eq!(
            why("/dev/tpm0", F::Chardev),
            "/dev/tpm# is a device only a passed-through <tpm> may be given (restricted location)"
        );
        assert_eq!(
            why("/dev/ttyS0", F::Disk),
            "/dev/ttyS# is a device only a character device or libvirtd's -F at a hotplug may be given (restricted location)"
        );
        assert_eq!(
            why("/dev/dri/renderD128", F::Disk),
            "/dev/dri is a device only a <graphics> render node may be given (restricted location)"
        );
        assert_eq!(
            why("/dev/bus/usb/001/002", F::Disk),
            "/dev/bus/usb is a device only a USB <hostdev> or libvirtd's -F at a hotplug may be given (restricted location)"
        );
        assert_eq!(
            why("/dev/hwrng", F::Disk),
            "/dev/hwrng is a device only an <rng> may be given (restricted location)"
        );
    }

    #[test]
    fn owners_names_every_family() {
        let all = owners(&FAMILIES);
        assert_eq!(
            all,
            "a <disk> or a <disk device='lun'> or a character device or an <input> or a passed-through <tpm> or a <graphics> render node or a USB <hostdev> or a PCI <hostdev> or an <rng> or libvirtd's -F at a hotplug or another element"
        );
    }

    #[test]
    fn subtree_depth_boundary() {
        assert_eq!(
            check(&c("/srv/vms/one"), Grant::Write, Scope::RuntimeSubtree),
            Ok(())
        );
        let e = check(&c("/srv/vms"), Grant::Write, Scope::RuntimeSubtree).unwrap_err();
        assert!(e.contains("at least 3 levels deep"), "{e}");
        assert_eq!(check(&c("/srv/vms"), Grant::Write, Scope::Share), Ok(()));
        // A per-domain directory below a shared one is fine; the shared one is not.
        let e = check(
            &c("/var/lib/libvirt/qemu/nvram"),
            Grant::Write,
            Scope::RuntimeSubtree,
        )
        .unwrap_err();
        assert!(e.contains("holds the files of every domain"), "{e}");
        assert_eq!(
            check(
                &c("/var/lib/libvirt/qemu/nvram/vm_VARS.fd"),
                Grant::Write,
                Scope::RuntimeSubtree
            ),
            Ok(())
        );
    }

    #[test]
    fn libvirt_runtime_state_but_the_domains() {
        for p in [
            "/run/libvirt/virtlogd-sock",
            "/run/libvirt/virtqemud-sock-ro",
            "/run/libvirt/network/default.xml",
            "/run/libvirt/hostdevmgr/activePCIHostdevs.xml",
            "/run/libvirt/sock",
            "/run/libvirt",
        ] {
            let e = check(&c(p), Grant::Read, ANY).unwrap_err();
            assert_eq!(
                e, "/run/libvirt is never allowed (restricted location)",
                "{p}"
            );
        }
        for p in [
            "/run/libvirt/qemu",
            "/run/libvirt/qemu/x-sock",
            "/run/libvirt/qemu/channel/1-vm/org.qemu.guest_agent.0",
            "/run/x/libvirt/x-sock",
            "/var/run/libvirt/x-sock",
        ] {
            assert_eq!(check(&c(p), Grant::Write, ANY), Ok(()), "{p}");
        }
    }

    #[test]
    fn host_state_under_var_and_run() {
        for p in [
            "/var/lib/dpkg/info/base-files.postinst",
            "/var/backups/shadow.bak",
            "/var/cache/debconf/passwords.dat",
            "/var/lib/systemd/credential.secret",
            "/var/lib/libvirt/dnsmasq/default.hostsfile",
            "/run/openvswitch/db.sock",
            "/run/openvswitch/ovs-vswitchd.1234.ctl",
            "/run/openvswitch/br0.mgmt",
            "/run/openvswitch/br0.snoop",
            "/run/sshd.pid",
            "/run/libvirt.pid",
            "/run/chrony/chronyd.pid",
            "/run/udev/rules.d/99-x.rules",
            "/var/log/auth.log.1",
            "/var/log/journal/x/system.journal",
        ] {
            assert!(check(&c(p), Grant::Read, ANY).is_err(), "{p}");
        }
        for p in [
            "/run/openvswitch/vhu0",
            "/run/openvswitch/vhost-user1",
            "/run/vm001-vhost-fs.sock",
            "/run/x/y/z.pid",
            "/var/lib/nova/instances/x/disk",
            "/var/lib/libvirt/images/a.qcow2",
            "/var/log/libvirt/qemu/vm-serial0.log",
            "/var/log/vms/serial.log",
            "/var/tmp/x.img",
            "/var/lib/dpkgx",
        ] {
            assert_eq!(check(&c(p), Grant::Write, ANY), Ok(()), "{p}");
        }
    }

    #[test]
    fn subtrees_must_not_contain_restricted_trees() {
        assert!(check(&c("/"), Grant::Read, Scope::RuntimeSubtree).is_err());
        assert!(check(&c("/"), Grant::Read, ANY).is_err());
        assert!(check(&c("/usr"), Grant::Read, Scope::RuntimeSubtree).is_err());
        assert!(check(&c("/etc"), Grant::Write, Scope::RuntimeSubtree).is_err());
        // A filesystem share of /etc, /usr or / (libvirt 9.0 granted "/etc/**" rwl).
        for p in ["/etc", "/usr", "/", "/sys"] {
            assert!(check(&c(p), Grant::Read, Scope::Share).is_err(), "{p}");
        }
        assert_eq!(
            check(
                &c("/var/lib/libvirt/qemu/domain-1-vm"),
                Grant::Write,
                Scope::RuntimeSubtree
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &c("/run/libvirt/qemu/channel/1-vm"),
                Grant::Write,
                Scope::RuntimeSubtree
            ),
            Ok(())
        );
        assert_eq!(
            check(&c("/srv/vms/one"), Grant::Write, Scope::RuntimeSubtree),
            Ok(())
        );
        for wide in [
            "/run",
            "/tmp",
            "/home",
            "/var/lib",
            "/var/lib/libvirt",
            "/var/lib/libvirt/images",
            "/run/libvirt/qemu",
            "/srv/vms",
        ] {
            assert!(
                check(&c(wide), Grant::Write, Scope::RuntimeSubtree).is_err(),
                "{wide}"
            );
            // An admin's filesystem share of it is fine unless it holds every domain's
            // files or a restricted entry (/run/dbus, /tmp's X11 sockets, LXD's socket in
            // /var/lib), and so is the directory alone.
            assert_eq!(
                check(&c(wide), Grant::Write, Scope::Share).is_ok(),
                matches!(wide, "/home" | "/srv/vms"),
                "{wide}"
            );
            assert_eq!(check(&c(wide), Grant::Write, ANY), Ok(()), "{wide}");
        }
    }
}
