//! Where a VM may never be given access, checked on canonical paths by whole components.
//!
//! libvirt 9.0's `valid_path` compares string prefixes: `/usr/lib` also refused `/usr/library`,
//! while `/etc/` let a filesystem share of `/etc` itself through
//! (`"/etc/**" rwl`, `docs/weak-spots.md#w2`), and `/` passes too. Here a path is compared
//! component by component against the canonical target (so a symlink or `..` cannot reach
//! around it). One table, [`TABLE`], lists every restricted location, each row with its
//! [`Role`] and why (`docs/restricted-paths.md` is generated from it):
//!
//! - never: `/`, the trees of [`Role::Never`] rows (the host's programs, configuration, kernel
//!   interfaces and root's home, host-control and input-injection devices, the control
//!   sockets of host daemons and of users' sessions, libvirt's own daemons' sockets and
//!   state in `/run/libvirt`, and the host state under `/var` and `/run` that root
//!   programs act on);
//! - read-only allowed ([`Role::ReadOnly`], [`Role::ReadOnlyInside`]): `/boot`, the kernel
//!   and initrd links, and the firmware directories (`/usr/share/OVMF`, `/usr/share/qemu`,
//!   `/usr/share/seabios`, ...: libvirt's list plus those newer releases added, since a
//!   refused firmware stops the VM, `docs/weak-spots.md#w13`);
//! - allowed read-write inside restricted trees, for a host device's own rules only
//!   ([`Role::HostdevInside`], [`ElementFamily::HostdevPci`]): PCI device nodes
//!   `/sys/devices/pci*`, vhost targets `/sys/kernel/config/target/vhost`; for any rule
//!   ([`Role::AllowedInside`]): `/etc/libvirt-sandbox/services` (libvirt's override list,
//!   by component) and the domains' `/run/libvirt/qemu`;
//! - device trees that belong to one element family ([`Role::Device`]): an IOMMU group, an
//!   input device, a TPM, a USB device, a render node, SCSI generic, a tap or vhost node,
//!   the SEV and SGX nodes are granted only to a rule of the element that names such a
//!   device ([`ElementFamily`]), never to a disk, chardev, share or boot file (a
//!   `<disk type='block'>` on `/dev/vfio/7` was once granted `rwk`), and never inside a share
//!   or a runtime subtree;
//! - a directory granted with everything below it must contain none of the above, must not
//!   contain a directory that holds every domain's files ([`Role::Shared`]:
//!   `/var/lib/libvirt/images`, `/run/libvirt/qemu`, ...), and must be at least
//!   `MIN_SUBTREE_DEPTH` levels deep; in such a directory a domain is given only its own
//!   entries ([`crate::state`] reads them by the row's forms).
//!
//! A refusal is a [`Refusal`]; its message is the reason, and the error that reports it
//! names the path and the element.
//!
//! # What belongs on the deny-list
//!
//! A path is on the deny-list (a [`Role::Never`] row) when access to it gives a process
//! power over the host or over someone else's session, beyond the VM it serves, **and** no
//! libvirt domain element names it for a VM's own device. Concretely, one of:
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
//! through that element ([`Role::Device`]). The audit of a Debian 12 libvirt host's `/dev`,
//! `/run`, `/sys` and `/var` against this rule is `docs/restricted-paths.md`.
//!
//! An entry is a path whose components are literal, except that a component may end in
//! `*` (any rest: `vcs*` is `vcs`, `vcsa1`...) or `#` (one or more digits: `tty#` is `tty1`
//! but not `ttyS0` or `tty`), or start with `*` (any beginning: `*.pid`); a component that
//! is `#` alone is a number (a uid), `*` alone is any name.

use crate::path::CanonicalPath;
use std::path::{Component, Path};

/// One row of [`TABLE`]: entries that share a role and a reason.
#[derive(Debug)]
pub struct Row {
    /// What the table does with a path in (or a directory around) these entries.
    pub role: Role,
    /// The entries (patterns: see the module docs).
    pub paths: &'static [&'static str],
    /// Why, for `docs/restricted-paths.md`; a refused row names the class of the rule above
    /// in parentheses.
    pub why: &'static str,
}

/// What a row of [`TABLE`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Never granted, nor a directory with everything below it that contains one.
    Never,
    /// Refused for writing and never granted whole, as [`Role::Never`], but readable: the
    /// kernels and initrds a domain's `<kernel>` and `<initrd>` name.
    ReadOnly,
    /// Inside a [`Role::Never`] tree, readable but never written: the firmware directories.
    ReadOnlyInside,
    /// Inside a [`Role::Never`] tree, granted to every rule.
    AllowedInside,
    /// Inside a [`Role::Never`] tree, granted only to the file rules of a non-VFIO PCI
    /// host device ([`ElementFamily::HostdevPci`]).
    HostdevInside,
    /// A device tree of one element family: granted only to a file rule of a listed
    /// family, never to a share or runtime subtree (an empty list: to no element).
    Device(&'static [ElementFamily]),
    /// A directory that holds the files of every domain: never granted with everything
    /// below it, nor a directory that contains it; in it, a domain is given only its own
    /// entries ([`crate::state`]).
    Shared(Shared),
}

/// A directory of every domain's files ([`Role::Shared`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shared {
    /// What it holds, for messages ("which holds ...").
    pub holds: &'static str,
    /// Which of its entries a domain may be given.
    pub entries: Entries,
    /// Whether a domain's entry there lives as long as its QEMU: libvirtd grants it with
    /// `-F` at start (or when a helper daemon starts) and removes it when the VM stops, so
    /// the runtime-grant ledger keeps it across a plain `-r` (`rules/runtime.rs`).
    pub lives_with_vm: bool,
}

/// Which entries of a [`Shared`] directory a domain may be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entries {
    /// Any: the admin names files there (a storage pool's images); only the directory as a
    /// whole is refused.
    Any,
    /// Only an entry that reads as this domain's under one of these forms
    /// ([`crate::state`]); none: nothing in it is a domain's.
    Domains(&'static [Form]),
}

/// One kind of per-domain entry in a [`Shared`] directory (the table of [`crate::state`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `<name><suffix>`.
    Name(&'static str),
    /// `<name>-<alias><suffix>`: a helper's file named after the domain and a device.
    NameAlias(&'static str),
    /// `<prefix><short><suffix>`.
    Short(&'static str, &'static str),
    /// `<short>-<anything><suffix>`: a helper's file named after the short name and a
    /// device alias (or a time stamp).
    ShortAlias(&'static str),
    /// The domain's UUID.
    Uuid,
    /// One fixed name of the daemons' (`driver.pid`, the QEMU driver's lock,
    /// `qemu_driver.c:680`): a domain of that name would share it.
    Fixed(&'static str),
    /// The daemons' record of the domain: refused for every domain, its own included.
    Daemon(&'static Form),
}

/// The names libvirt gives a domain's UEFI variable store in `nvram/`, by format (see
/// [`crate::state`]): no suffix is the end of another, so an entry reads one way only.
pub const NVRAM_SUFFIXES: [&str; 3] = ["_VARS.fd", "_VARS.raw", "_VARS.qcow2"];

const NVRAM_FORMS: &[Form] = &[
    Form::Name(NVRAM_SUFFIXES[0]),
    Form::Name(NVRAM_SUFFIXES[1]),
    Form::Name(NVRAM_SUFFIXES[2]),
];

/// A [`Role::Never`] row.
const fn never(paths: &'static [&'static str], why: &'static str) -> Row {
    Row {
        role: Role::Never,
        paths,
        why,
    }
}

/// A [`Role::Shared`] row of a directory whose entries (`forms`) are each one domain's
/// files, kept after the domain stops.
const fn kept(paths: &'static [&'static str], holds: &'static str, forms: &'static [Form]) -> Row {
    shared(paths, holds, forms, false)
}

/// A [`Role::Shared`] row like [`kept`], whose entries live only while their domain runs.
const fn live(paths: &'static [&'static str], holds: &'static str, forms: &'static [Form]) -> Row {
    shared(paths, holds, forms, true)
}

const fn shared(
    paths: &'static [&'static str],
    holds: &'static str,
    forms: &'static [Form],
    lives_with_vm: bool,
) -> Row {
    Row {
        role: Role::Shared(Shared {
            holds,
            entries: Entries::Domains(forms),
            lives_with_vm,
        }),
        paths,
        // The role says it all: docs/restricted-paths.md lists these rows by what they hold.
        why: "",
    }
}

/// A [`Role::Shared`] row whose files the admin names ([`Entries::Any`]).
const fn pool(holds: &'static str) -> Role {
    Role::Shared(Shared {
        holds,
        entries: Entries::Any,
        lives_with_vm: false,
    })
}

/// The restricted locations, one row per reason (see the module docs for the rule and the
/// patterns). `docs/restricted-paths.md` is generated from it (`tests/it/restricted_doc.rs`).
///
/// Order matters within a role only: the first [`Role::Never`] or [`Role::ReadOnly`]
/// entry a path is within is the one a refusal names, and the first [`Role::Device`] entry
/// decides (so `/dev/vfio/vfio` comes before `/dev/vfio`); a [`Role::Shared`] directory
/// comes before the ones inside it, so that a directory granted whole is refused naming
/// itself. A path is judged by the deepest [`Role::Shared`] directory it is in.
// One line per directory of libvirt's below: rustfmt would spread each over five.
#[rustfmt::skip]
pub const TABLE: &[Row] = &[
    // 1. The host's software, configuration and kernel interfaces.
    never(
        &[
            "/bin",
            "/etc",
            "/lib*",
            "/lost+found",
            "/proc",
            "/root",
            "/sbin",
            "/selinux",
        ],
        "the host's software, configuration and credentials, kernel interfaces, root's home \
            (1)",
    ),
    never(
        &["/sys"],
        "sysfs: writes configure the kernel and hardware (1)",
    ),
    never(&["/usr"], "the host's software (1)"),
    Row {
        role: Role::ReadOnly,
        paths: &[
            "/boot",
            "/vmlinuz",
            "/vmlinuz.old",
            "/initrd",
            "/initrd.img",
            "/initrd.img.old",
        ],
        why: "kernels and initrds: a domain's `<kernel>` and `<initrd>` read them; writing one is \
            the host's next boot (1)",
    },
    // 2. Device nodes that are the host itself, whatever a disk element says: physical
    // memory and I/O ports, CPU MSRs, the kernel log, hibernation images, CMOS and the
    // Intel ME (libvirt's list let every /dev node through).
    never(
        &["/dev/mem", "/dev/kmem", "/dev/port"],
        "physical memory and I/O ports (2)",
    ),
    never(
        &["/dev/cpu"],
        "CPU model-specific registers and CPUID (`cpu/<n>/msr`, `cpu/<n>/cpuid`) (2)",
    ),
    never(
        &["/dev/kmsg"],
        "writes forge kernel log lines, reads leak it (2)",
    ),
    never(&["/dev/snapshot"], "hibernation image: all of RAM (2)"),
    never(&["/dev/nvram"], "CMOS/firmware NVRAM (2)"),
    never(&["/dev/mei#"], "Intel Management Engine interface (2)"),
    // 3. Input injection into the host's consoles and sessions, and their screens.
    never(
        &["/dev/uinput", "/dev/uhid"],
        "create a virtual keyboard or HID device: input injection into the host (3)",
    ),
    never(
        &["/dev/vhci"],
        "virtual Bluetooth controller: fake HID devices (3)",
    ),
    never(
        &["/dev/console", "/dev/tty#"],
        "virtual consoles (`tty0`..`tty63`): TIOCSTI, VT switching, writing on the console \
            (3)",
    ),
    never(&["/dev/ttyprintk"], "writes into the kernel log (3)"),
    never(
        &["/dev/vcs*"],
        "`vcs<N>`, `vcsa*`, `vcsu*`: read and write the consoles' screens (3)",
    ),
    never(
        &["/dev/fb#"],
        "the host's framebuffer: read and draw the screen (3)",
    ),
    never(
        &["/dev/vga_arbiter"],
        "locks legacy VGA resources away from the host's display (3)",
    ),
    never(
        &["/tmp/.X11-unix", "/tmp/.ICE-unix"],
        "the display server's X11 sockets and the session manager's: so `/tmp` as a whole \
            cannot be shared either (3, 5)",
    ),
    // 4. Host-wide control nodes.
    never(
        &["/dev/mapper/control"],
        "device-mapper control: map any block device (4)",
    ),
    never(&["/dev/loop-control"], "create loop devices (4)"),
    never(
        &["/dev/btrfs-control", "/dev/zfs"],
        "filesystem control (4)",
    ),
    never(&["/dev/ublk-control"], "create userspace block devices (4)"),
    never(&["/dev/autofs"], "automounter control (4)"),
    never(&["/dev/cuse"], "create character devices in `/dev` (4)"),
    never(
        &["/dev/watchdog*"],
        "opening and closing without the magic character reboots the host (4)",
    ),
    never(&["/dev/rfkill"], "switches the host's radios off (4)"),
    never(
        &["/dev/cpu_dma_latency"],
        "host-wide power-management QoS (4)",
    ),
    never(
        &["/dev/i2c-#"],
        "raw SMBus/I2C: sensors, DIMM SPD EEPROMs (4)",
    ),
    never(&["/dev/ipmi*"], "the BMC: powers the host off (4)"),
    // 5. Control sockets of host daemons and of users' sessions: a QEMU that may connect
    // to them can act as root or as that user.
    never(&["/run/dbus"], "the system bus (5)"),
    never(
        &["/run/systemd"],
        "systemd's private socket, notify socket, journal, userdb (5)",
    ),
    never(
        &["/run/initctl"],
        "init's control FIFO: change runlevel, reboot (5)",
    ),
    never(
        &["/run/sudo"],
        "sudo's timestamps: forging one skips the password (5)",
    ),
    never(
        &[
            "/run/docker.sock",
            "/run/docker",
            "/run/containerd",
            "/run/crio",
            "/run/podman",
        ],
        "container runtimes: root on the host (5)",
    ),
    never(
        &["/run/snapd.socket", "/run/snapd-snap.socket"],
        "snapd: install software as root (5)",
    ),
    never(&["/run/user/#/systemd"], "the user's service manager (5)"),
    never(
        &["/run/user/#/bus", "/run/user/#/dbus-1"],
        "the session bus (5)",
    ),
    never(
        &[
            "/run/user/#/gnupg",
            "/run/user/#/keyring",
            "/run/user/#/gcr",
            "/run/user/#/openssh_agent",
        ],
        "key agents: sign and decrypt as the user (5)",
    ),
    never(
        &["/run/user/#/at-spi"],
        "accessibility bus: synthesizes input (3, 5)",
    ),
    never(&["/run/user/#/wayland-*"], "the display server (3)"),
    never(
        &["/run/user/#/pipewire-0-manager*"],
        "PipeWire's privileged manager socket (screen capture permissions) (5)",
    ),
    never(
        &["/run/user/#/podman", "/run/user/#/docker.sock"],
        "rootless container runtimes: the user's account (5)",
    ),
    never(
        &["/run/user/#/gvfsd"],
        "the user's virtual filesystem daemon (5)",
    ),
    // Other daemons' control sockets in /run: libvirt's own daemons and
    // their state (everything under /run/libvirt but the domains' `qemu/`, an exception
    // below), Open vSwitch's database and bridge management sockets (rewire the host's
    // switch; its vhost-user ports stay allowed), LVM, time, network and Wi-Fi control,
    // databases. libvirt's DAC driver hands a client-mode unix chardev's socket to the
    // QEMU user, so the profile is the only barrier.
    never(
        &["/run/libvirt"],
        "the libvirt daemons' sockets (`libvirt-sock`, `virtqemud-sock`, `virtlogd-sock`, \
            `virtlockd-sock`, `*-admin-sock`) and state (`network/`, `nodedev/`, `storage/`, \
            `secrets/`, `interface/`, `nwfilter/`, `hostdevmgr/`: which host device is whose), all \
            but the domains' `qemu/` (5)",
    ),
    never(
        &[
            "/run/openvswitch/db.sock",
            "/run/openvswitch/*.ctl",
            "/run/openvswitch/*.mgmt",
            "/run/openvswitch/*.snoop",
        ],
        "OVSDB and the daemons' and bridges' OpenFlow management sockets: rewire the host's \
            switch; the rest of `openvswitch/` (`vhu*` and other vhost-user ports OVS-DPDK creates \
            for VMs) stays allowed (5)",
    ),
    never(
        &[
            "/run/lvm",
            "/run/multipathd",
            "/run/cryptsetup",
            "/run/mdadm",
        ],
        "storage daemons' control sockets and locks (5)",
    ),
    never(
        &[
            "/run/chrony",
            "/run/NetworkManager",
            "/run/wpa_supplicant",
            "/run/avahi-daemon",
            "/run/cups",
            "/run/nscd",
            "/run/acpid.socket",
            "/run/uuidd",
        ],
        "control sockets of daemons that act as root: set the clock, reconfigure the network \
            and Wi-Fi, publish services, print, poison name caches (5)",
    ),
    never(
        &["/run/postgresql", "/run/mysqld", "/run/redis"],
        "databases' sockets: local connections often authenticate by uid (5)",
    ),
    never(
        &["/run/qemu"],
        "Debian's copies of QEMU's modules for running QEMUs after an upgrade \
            (`abstractions/libvirt-qemu` maps them): a writable one is code in every QEMU (5)",
    ),
    // 6. Host state under /run and /var that root programs act on:
    // configuration systemd, udev, the module loader and tmpfiles read from /run, the
    // shutdown program, credentials, login records, pid files (an init script kills the
    // pid it reads), lock files.
    never(&["/run/credentials"], "systemd's per-service secrets (6)"),
    never(
        &["/run/udev"],
        "`control` reloads rules and triggers; `rules.d/` is rules udev runs as root \
            (`RUN+=`); the database (`data/`, `tags/`) is read by the abstraction's fixed rules, \
            never named by a domain (5, 6)",
    ),
    never(
        &[
            "/run/tmpfiles.d",
            "/run/modprobe.d",
            "/run/sysctl.d",
            "/run/binfmt.d",
        ],
        "configuration root programs read: create files anywhere, module install commands, \
            kernel settings, interpreters (6)",
    ),
    never(
        &["/run/initramfs"],
        "systemd executes `initramfs/shutdown` as root at power-off (6)",
    ),
    never(
        &[
            "/run/nologin",
            "/run/utmp",
            "/run/motd*",
            "/run/sendsigs.omit.d",
            "/run/mount",
            "/run/lock",
            "/run/sshd",
        ],
        "login gate and records, the login message, processes spared at shutdown, libmount's \
            mount table, lock files of root programs, sshd's privilege-separation directory (6)",
    ),
    never(
        &["/run/*.pid", "/run/*/*.pid"],
        "daemons' pid files: an init script kills the pid it reads; the domains' pid files \
            are deeper, in `libvirt/qemu/` (6)",
    ),
    // Packages' state (dpkg runs maintainer scripts from /var/lib/dpkg/info as root at
    // the next upgrade), backups (Debian <= 11 kept /etc/shadow's copy in /var/backups),
    // caches (debconf's passwords, apt's packages, ldconfig's cache, libvirt's QEMU
    // capabilities), spools (cron and at jobs run as their owner), mail, the journal and
    // the host's logs (read: leak; write: forge).
    never(
        &["/var/backups"],
        "dpkg's, passwd's and (Debian <= 11, still there on upgraded hosts) shadow's backups \
            (1, 6)",
    ),
    never(
        &["/var/cache"],
        "debconf's `passwords.dat`, apt's packages, ldconfig's cache, libvirt's QEMU \
            capabilities, man-db: caches root programs trust (6)",
    ),
    never(
        &["/var/spool"],
        "cron and at jobs (run as their owner), mail and print queues (6)",
    ),
    never(&["/var/mail"], "users' mail (6)"),
    never(
        &[
            "/var/lib/dpkg",
            "/var/lib/apt",
            "/var/lib/aptitude",
            "/var/lib/ucf",
            "/var/lib/PackageKit",
            "/var/lib/snapd",
            "/var/lib/flatpak",
            "/var/lib/fwupd",
        ],
        "packages' state: `dpkg/info/*.postinst` runs as root at the next upgrade; pending \
            firmware updates (6)",
    ),
    never(
        &[
            "/var/lib/dkms",
            "/var/lib/shim-signed",
            "/var/lib/ca-certificates*",
        ],
        "the Secure Boot machine-owner key that signs modules, trust stores (1, 6)",
    ),
    // systemd's state (credential.secret encrypts every service credential), its portable
    // services, system extensions and DynamicUser services' private state.
    never(
        &[
            "/var/lib/systemd",
            "/var/lib/private",
            "/var/lib/portables",
            "/var/lib/extensions",
            "/var/lib/confexts",
            "/var/lib/machines",
        ],
        "`credential.secret` (decrypts every service credential), timers, random seed; \
            DynamicUser services' state; portable services and system extensions, run as root or \
            merged into `/usr`; nspawn containers (6)",
    ),
    // Authentication, authorization and session state.
    never(
        &[
            "/var/lib/polkit-1",
            "/var/lib/sudo",
            "/var/lib/pam",
            "/var/lib/dbus",
            "/var/lib/AccountsService",
            "/var/lib/gdm3",
            "/var/lib/lightdm",
            "/var/lib/sddm",
        ],
        "authorization rules, sudo's and PAM's state, the machine id, users' session settings \
            (6)",
    ),
    never(
        &[
            "/var/lib/sss",
            "/var/lib/krb5kdc",
            "/var/lib/samba",
            "/var/lib/ldap",
            "/var/lib/bluetooth",
            "/var/lib/boltd",
        ],
        "directory and Kerberos databases, Samba's `secrets.tdb`, Bluetooth pairing keys, \
            Thunderbolt authorizations (6)",
    ),
    // Network configuration the host acts on: libvirt's networks (the DHCP hosts file of
    // every tenant; a dnsmasq `.conf` takes `dhcp-script=`, run as root), Open vSwitch's
    // database, NetworkManager, DHCP leases.
    never(
        &["/var/lib/libvirt/dnsmasq", "/var/lib/libvirt/network"],
        "libvirt's networks: the DHCP hosts file of every tenant, and the dnsmasq `.conf` \
            beside it takes `dhcp-script=`, run as root (6)",
    ),
    never(
        &[
            "/var/lib/openvswitch",
            "/var/lib/NetworkManager",
            "/var/lib/dhcp",
            "/var/lib/misc",
        ],
        "the switch's database, network configuration and leases the host acts on (6)",
    ),
    // libvirt's other daemons' state: disk locks, leases, secrets, containers.
    never(
        &[
            "/var/lib/libvirt/lockd",
            "/var/lib/libvirt/sanlock",
            "/var/lib/libvirt/secrets",
            "/var/lib/libvirt/lxc",
        ],
        "disk locks and leases (another VM's), secrets, containers' state (6)",
    ),
    never(
        &["/var/lib/swtpm-localca"],
        "the local CA that signs every vTPM's endorsement certificate (6)",
    ),
    // Other virtualization and container managers, cluster stores, cloud-init (its
    // scripts run as root at boot), and databases.
    never(
        &[
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
        ],
        "other managers' and clusters' state and control sockets, Ceph keyrings, cloud-init's \
            scripts (run as root at boot) (5, 6)",
    ),
    never(
        &[
            "/var/lib/postgresql",
            "/var/lib/mysql",
            "/var/lib/redis",
            "/var/lib/rabbitmq",
        ],
        "other daemons' databases (RabbitMQ's `.erlang.cookie` is remote code execution) (6)",
    ),
    // The journal, the audit trail, login records and the host's own logs; libvirt's
    // logs (`/var/log/libvirt`, where libvirt's documentation puts chardev logs) and any
    // directory an admin makes stay allowed.
    never(
        &[
            "/var/log/journal",
            "/var/log/audit",
            "/var/log/private",
            "/var/log/apt",
            "/var/log/installer",
        ],
        "the journal and the audit trail (forge or read), package and installer logs (6)",
    ),
    never(
        &[
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
        ],
        "the host's logs and login records (6)",
    ),
    // Inside the trees above but readable: firmware. libvirt's list plus those newer
    // releases added, since a refused firmware stops the VM (docs/weak-spots.md#w13).
    Row {
        role: Role::ReadOnlyInside,
        paths: &[
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
        ],
        why:
            "firmware a domain's `<loader>`, `<nvram template>` or `<kernel>` names; a file there \
            belongs to a package, so a rule for it is `rk` even where the element asks for more",
    },
    // Inside the trees above but accessible read-write by any rule.
    Row {
        role: Role::AllowedInside,
        paths: &["/etc/libvirt-sandbox/services"],
        why: "libvirt-sandbox services (libvirt's override list): shared into sandboxes as \
            filesystems",
    },
    Row {
        role: Role::AllowedInside,
        paths: &["/run/libvirt/qemu"],
        why: "the domains' runtime files, inside the restricted `/run/libvirt`: each entry is \
            given to its own domain only (the shared directory below)",
    },
    // Inside the trees above but accessible read-write by a host device's own rules: PCI
    // device nodes for host device assignment (libvirt's override `/sys/devices/pci`, by
    // component: not `/sys/devices` itself or `/sys/devices/system`), vhost-scsi targets. A
    // disk, share, chardev or `-f`/`-F` path there is refused: nothing but a host device
    // has business in sysfs.
    Row {
        role: Role::HostdevInside,
        paths: &["/sys/devices/pci*"],
        why: "the files of an assigned PCI device of a non-VFIO backend (`<driver \
            name='kvm'|'xen'>`); the `/sys/bus/pci/devices/<address>` links resolve here",
    },
    Row {
        role: Role::HostdevInside,
        paths: &["/sys/kernel/config/target/vhost"],
        why: "vhost-scsi targets",
    },
    // Device trees that belong to one element family. These nodes were allowed for every
    // element, so a `<disk type='block'>` on `/dev/vfio/7` got an IOMMU group `rwk` (DMA
    // with another VM's device), a chardev or `-f` on `/dev/sev` or `/dev/sgx_provision`
    // the feature's node. An empty list: only the tool's own fixed rules name it
    // (`Granted::fixed`: the VFIO container, SEV, SGX, vhost-vsock) or the template's
    // abstraction does (`/dev/kvm`). [`ElementFamily::Runtime`] (libvirtd's `-F`) keeps the
    // nodes libvirtd itself names at hotplug, before the element is in the XML
    // (`docs/runtime-grants.md`): a VFIO group, a USB, SCSI generic or vhost-scsi node
    // (`AppArmorSetSecurityHostdevLabel`), an evdev (`AppArmorSetInputLabel`), a serial
    // port (`AppArmorSetChardevLabel`), and the tap and vhost descriptors it opens
    // (`AppArmorSetFDLabel`).
    //
    // VFIO: the container is the tool's fixed rule; a group is granted from sysfs for a
    // host device (`rules/hostdev.rs`, an NVMe disk), or by libvirtd's -F at a hostdev
    // hotplug. The IOMMUFD nodes, a device's VFIO cdev and `/dev/iommu`, only by
    // libvirtd's -F (libvirt 12.1 `AppArmorSetSecurityHostdevLabel`), as a group is
    // (`rules/extra.rs` says why not only for a domain with an IOMMUFD device); nothing
    // else in `/dev/vfio/devices`.
    Row {
        role: Role::Device(&[]),
        paths: &["/dev/vfio/vfio"],
        why: "the VFIO container (fixed rule), for a VFIO device that does not use IOMMUFD",
    },
    Row {
        role: Role::Device(&[ElementFamily::Runtime]),
        paths: &["/dev/vfio/devices/vfio#"],
        why: "IOMMUFD (libvirt 12.1): libvirtd's `-F` of a device's VFIO cdev \
            (`AppArmorSetSecurityHostdevLabel`), `rwm` as libvirt 12.x's helper writes it (QEMU \
            mmaps it); for any domain, as a VFIO group is: libvirtd's `-F` at a hotplug comes \
            before the device is in the XML. No element rule: transient, dropped by a plain `-r` \
            as in libvirt 12.x",
    },
    Row {
        role: Role::Device(&[]),
        paths: &["/dev/vfio/devices"],
        why: "anything else in `vfio/devices/`",
    },
    Row {
        role: Role::Device(&[ElementFamily::Runtime]),
        paths: &["/dev/vfio"],
        why: "the device's own IOMMU group `vfio/<N>`, from sysfs, for a `<hostdev>` or an NVMe \
            `<disk>` (fixed rule); libvirtd's `-F` at a hostdev hotplug. A `<disk type='block'>`, \
            chardev or share naming it is refused",
    },
    Row {
        role: Role::Device(&[ElementFamily::Runtime]),
        paths: &["/dev/iommu"],
        why:
            "IOMMUFD (libvirt 12.1): libvirtd's `-F` of `/dev/iommu`, `rwm`, for any domain, as a \
            device's VFIO cdev",
    },
    // Host input devices: <input type='evdev'|'passthrough'>.
    Row {
        role: Role::Device(&[ElementFamily::Input, ElementFamily::Runtime]),
        paths: &["/dev/input"],
        why:
            "`<input type='evdev'|'passthrough'>` (`event<N>`, `by-id/...`: can inject, the admin \
            asks for it; `mice`, `mouse<N>`, `js<N>`: read-only event streams); libvirtd's `-F` at \
            an input hotplug",
    },
    // Memory encryption and enclaves: fixed rules of <launchSecurity> and SGX.
    Row {
        role: Role::Device(&[]),
        paths: &["/dev/sev", "/dev/sgx*"],
        why: "fixed rules for `<launchSecurity>` / SGX (`sgx_vepc`, `sgx_provision`, \
            `sgx_enclave`); no element or `-F` names them",
    },
    // The host TPM: <tpm><backend type='passthrough'> only (not hotpluggable).
    Row {
        role: Role::Device(&[ElementFamily::Tpm]),
        paths: &["/dev/tpm#", "/dev/tpmrm#"],
        why: "TPM passthrough (not hotpluggable). Its sysfs cancel file is granted only when the \
            device path opens that TPM's character device (its number is the one \
            `/sys/class/tpm/<name>/dev` lists): libvirt derives it from the path's last component \
            alone, so a regular file named `tpm0` got the host TPM's cancel file",
    },
    // USB devices: <hostdev type='usb'>, found in sysfs.
    Row {
        role: Role::Device(&[ElementFamily::HostdevUsb, ElementFamily::Runtime]),
        paths: &["/dev/bus/usb"],
        why: "`bus/usb/<bus>/<dev>`, found in sysfs for the hostdev; libvirtd's `-F` at a USB \
            hotplug",
    },
    // Network: tap and vhost descriptors libvirtd opens and hands over (-F of the fd).
    Row {
        role: Role::Device(&[ElementFamily::Runtime]),
        paths: &["/dev/net/tun", "/dev/tap#"],
        why: "tap interfaces: libvirtd opens them and passes the descriptor (`-F`, kept while the \
            NIC is in the XML, `docs/runtime-grants.md`)",
    },
    Row {
        role: Role::Device(&[ElementFamily::Runtime]),
        paths: &["/dev/vhost-net"],
        why: "fixed rule, only for an interface that uses vhost; libvirtd's `-F` of the descriptor",
    },
    Row {
        role: Role::Device(&[ElementFamily::Runtime]),
        paths: &["/dev/vhost-vdpa-#", "/dev/vhost-scsi"],
        why: "libvirtd opens them and passes the descriptor (vDPA interface, vhost-scsi hostdev)",
    },
    Row {
        role: Role::Device(&[]),
        paths: &["/dev/vhost-vsock"],
        why: "`<vsock>`'s fixed rule",
    },
    // Render nodes: <graphics> (<gl rendernode>) only.
    Row {
        role: Role::Device(&[ElementFamily::Graphics]),
        paths: &["/dev/dri"],
        why: "`renderD<N>`, `card<N>`: `<gl rendernode=...>`, GL",
    },
    // SCSI generic: <disk device='lun'>, or a SCSI hostdev's -F at hotplug.
    Row {
        role: Role::Device(&[ElementFamily::DiskLun, ElementFamily::Runtime]),
        paths: &["/dev/sg#", "/dev/bsg"],
        why: "LUN passthrough; libvirtd's `-F` at a SCSI hostdev hotplug",
    },
    // Serial and parallel ports: character devices (and rng egd's chardev).
    Row {
        role: Role::Device(&[ElementFamily::Chardev, ElementFamily::Runtime]),
        paths: &[
            "/dev/ttyS#",
            "/dev/ttyUSB#",
            "/dev/ttyACM#",
            "/dev/ttyAMA#",
            "/dev/parport#",
        ],
        why:
            "serial and parallel passthrough (`<serial type='dev'>`, an `egd` `<rng>`'s chardev); \
            libvirtd's `-F` at a chardev hotplug",
    },
    // The hardware RNG: <rng><backend model='random'>.
    Row {
        role: Role::Device(&[ElementFamily::Rng]),
        paths: &["/dev/hwrng"],
        why: "`<rng><backend model='random'>`",
    },
    // The accelerator: the template's abstraction grants it; no element names it.
    Row {
        role: Role::Device(&[]),
        paths: &["/dev/kvm"],
        why: "QEMU's accelerator; the template's abstraction grants it, no element names it",
    },
    // Directories that hold the files of every domain (libvirt's default locations; the
    // per-domain entries are `crate::state`'s table). A rule for one of them, or an
    // ancestor, together with everything below it would give one VM the images, sockets
    // and state of all the others; libvirtd only ever asks for a per-domain directory
    // below them (`AppArmorSetPathLabel(allowSubtree)`: `domain-<id>-<name>`,
    // `channel/<id>-<name>`, hugepage and memory-backing directories per domain).
    Row {
        role: pool("every domain's images and state"),
        paths: &["/var/lib/libvirt"],
        why: "the admin may name a file there (`filesystems/`, a pool directory, \
            ivshmem-doorbell's `shmem-<name>-sock`), never the directory tree",
    },
    Row {
        role: pool("every domain's disk images"),
        paths: &["/var/lib/libvirt/images"],
        why: "the default storage pool",
    },
    Row {
        role: pool("every domain's boot media"),
        paths: &["/var/lib/libvirt/boot"],
        why: "the default pool for installation media",
    },
    live(&["/var/lib/libvirt/qemu"], "every domain's private directory", &[Form::Short("domain-", "")]),
    kept(&["/var/lib/libvirt/qemu/channel"], "every domain's channel sockets", &[]),
    live(&["/var/lib/libvirt/qemu/channel/target"], "every domain's channel sockets", &[Form::Short("domain-", "")]),
    live(&["/var/lib/libvirt/qemu/ram"], "every domain's memory backing files", &[Form::Short("", "")]),
    kept(&["/var/lib/libvirt/qemu/nvram"], "every domain's UEFI variables", NVRAM_FORMS),
    kept(&["/var/lib/libvirt/qemu/varstore"], "every domain's uefi-vars variable store", &[Form::Name(".json")]),
    kept(&["/var/lib/libvirt/qemu/save"], "every domain's managed save image", &[Form::Name(".save")]),
    kept(&["/var/lib/libvirt/qemu/dump"], "every domain's crash dumps", &[Form::ShortAlias("")]),
    kept(&["/var/lib/libvirt/qemu/snapshot"], "libvirtd's snapshot metadata", &[Form::Daemon(&Form::Name(""))]),
    kept(&["/var/lib/libvirt/qemu/checkpoint"], "libvirtd's checkpoint metadata", &[Form::Daemon(&Form::Name(""))]),
    kept(&["/var/lib/libvirt/swtpm"], "every domain's TPM state", &[Form::Uuid]),
    kept(&["/var/log/libvirt"], "the libvirt daemons' logs", &[]),
    kept(&["/var/log/libvirt/qemu"], "every domain's logs", &[Form::Name(".log"), Form::NameAlias("-virtiofsd.log")]),
    kept(&["/var/log/swtpm", "/var/log/swtpm/libvirt"], "swtpm's logs", &[]),
    kept(&["/var/log/swtpm/libvirt/qemu"], "every domain's swtpm logs", &[Form::Name("-swtpm.log")]),
    kept(&["/run/libvirt/qemu"], "every domain's runtime files", &[
        Form::Name(".pid"), Form::Fixed("driver.pid"), Form::Daemon(&Form::Name(".xml")),
        Form::Daemon(&Form::Short("", ".dev")), Form::ShortAlias("-fs.pid"),
        Form::ShortAlias("-vhost-user-gpu.pid"), Form::Short("", "-pr-helper0.pid"),
    ]),
    live(&["/run/libvirt/qemu/swtpm"], "every domain's swtpm sockets", &[Form::Short("", "-swtpm.sock"), Form::Short("", "-swtpm.pid")]),
    live(&["/run/libvirt/qemu/dbus"], "every domain's D-Bus daemon", &[Form::Short("", "-dbus.sock"), Form::Short("", "-dbus.conf"), Form::Short("", "-dbus.pid")]),
    kept(&["/run/libvirt/qemu/slirp"], "every domain's slirp helpers", &[Form::ShortAlias("-slirp.pid")]),
    live(&["/run/libvirt/qemu/passt"], "every domain's passt sockets", &[Form::ShortAlias("-passt.pid"), Form::ShortAlias(".socket")]),
    live(&["/run/libvirt/qemu/channel"], "every domain's channel sockets", &[Form::Short("", "")]),
    kept(&["/dev/hugepages/libvirt"], "every driver's hugepage directories", &[]),
    live(&["/dev/hugepages/libvirt/qemu"], "every domain's hugepage backing", &[Form::Short("", "")]),
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

/// The element family a file rule is for: which [`Role::Device`] trees it may name. Each
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
/// Why a path is refused: by the table's [`Role`]s ([`check`]), or by whose entry it is in
/// a [`Role::Shared`] directory ([`crate::state::Owner::check`]). The message is the
/// reason alone; the error names the path and the element.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// `/` itself.
    #[error("the root directory can never be granted")]
    Root,
    /// In a [`Role::Never`] tree (or written in a [`Role::ReadOnly`] one outside the
    /// read-only exceptions), named by its entry.
    #[error("{tree} is never allowed (restricted location)")]
    Never { tree: &'static str },
    /// Written in a readable tree ([`Role::ReadOnly`], [`Role::ReadOnlyInside`]), named by
    /// the entry of the restricted tree it is in.
    #[error("{tree} is only allowed read-only (restricted location)")]
    ReadOnly { tree: &'static str },
    /// A device tree of other element families ([`Role::Device`]).
    #[error("{tree} is a device only {} may be given (restricted location)", owners(.families))]
    Device {
        tree: &'static str,
        families: &'static [ElementFamily],
    },
    /// A directory granted whole around a restricted or device tree.
    #[error("granting everything below it would include {tree} (restricted location)")]
    HoldsRestricted { tree: &'static str },
    /// A directory granted whole around a directory of every domain's files.
    #[error("granting everything below it would include {dir}, which holds {holds}")]
    HoldsShared {
        dir: &'static str,
        holds: &'static str,
    },
    /// A runtime subtree shallower than `MIN_SUBTREE_DEPTH`.
    #[error("too wide to grant with everything below it (a directory must be at least {MIN_SUBTREE_DEPTH} levels deep)")]
    TooWide,
    /// A [`Role::Shared`] directory itself, as one file: only its entries can be a domain's.
    #[error("is {dir}, which holds {holds}: only entries in it can be this domain's")]
    SharedItself {
        dir: &'static str,
        holds: &'static str,
    },
    /// Another domain's entry, or the daemons'; `own` lists this domain's entries there.
    #[error("belongs to another domain's private state or to libvirt's ({dir} holds {holds}; {})", own_entries(.own))]
    Foreign {
        dir: &'static str,
        holds: &'static str,
        own: Vec<String>,
    },
    /// An entry that reads as this domain's or another's, without the domain's id.
    #[error("cannot be told apart from another domain's private state without the domain's id (<domain id=...>) in the XML ({dir} holds {holds})")]
    Ambiguous {
        dir: &'static str,
        holds: &'static str,
    },
    /// An entry of no form the directory holds; `own` lists this domain's entries there.
    #[error("is in {dir}, which holds {holds}; {}", own_entries(.own))]
    NotOwn {
        dir: &'static str,
        holds: &'static str,
        own: Vec<String>,
    },
}

/// "this domain's entries there: X, Y", for [`Refusal::Foreign`] and [`Refusal::NotOwn`].
fn own_entries(own: &[String]) -> String {
    if own.is_empty() {
        "nothing in it is a domain's".into()
    } else {
        format!("this domain's entries there: {}", own.join(", "))
    }
}

/// Every entry of [`TABLE`] with its row's role, in the table's order.
fn entries() -> impl Iterator<Item = (&'static str, &'static Role)> {
    TABLE
        .iter()
        .flat_map(|row| row.paths.iter().map(move |p| (*p, &row.role)))
}

/// The entries refused to every rule but the exceptions inside them: [`Role::Never`] and
/// [`Role::ReadOnly`].
fn restricted() -> impl Iterator<Item = &'static str> {
    entries()
        .filter(|(_, role)| matches!(role, Role::Never | Role::ReadOnly))
        .map(|(p, _)| p)
}

/// The device trees ([`Role::Device`]) with the families they are granted to.
fn devices() -> impl Iterator<Item = (&'static str, &'static [ElementFamily])> {
    entries().filter_map(|(p, role)| match role {
        Role::Device(families) => Some((p, *families)),
        _ => None,
    })
}

/// The directories of every domain's files ([`Role::Shared`]).
pub fn shared_dirs() -> impl Iterator<Item = (&'static str, &'static Shared)> {
    entries().filter_map(|(p, role)| match role {
        Role::Shared(s) => Some((p, s)),
        _ => None,
    })
}

/// Whether `p` is within an entry of a row whose role is `is`.
fn within_any(p: &Path, is: fn(&Role) -> bool) -> bool {
    entries().any(|(e, role)| is(role) && is_within(p, e))
}

/// Whether `p` is in a readable tree: [`Role::ReadOnly`] or [`Role::ReadOnlyInside`].
fn readable(p: &Path) -> bool {
    within_any(p, |r| matches!(r, Role::ReadOnly | Role::ReadOnlyInside))
}

/// Checks that `path` may be granted with `grant` over `scope`. Returns why it is refused.
pub fn check(path: &CanonicalPath, grant: Grant, scope: Scope) -> Result<(), Refusal> {
    let p = path.as_path();
    if p == Path::new("/") {
        return Err(Refusal::Root);
    }
    if let Some(tree) = restricted().find(|r| is_within(p, r)) {
        let read_only_ok = readable(p);
        let allowed = within_any(p, |r| *r == Role::AllowedInside)
            || (scope == Scope::File(ElementFamily::HostdevPci)
                && within_any(p, |r| *r == Role::HostdevInside))
            || (grant == Grant::Read && read_only_ok);
        if !allowed {
            return Err(if grant == Grant::Write && read_only_ok {
                Refusal::ReadOnly { tree }
            } else {
                Refusal::Never { tree }
            });
        }
    }
    if let Some((tree, families)) = devices().find(|(d, _)| is_within(p, d)) {
        let own = match scope {
            Scope::File(f) => families.contains(&f),
            Scope::Share | Scope::RuntimeSubtree => false,
        };
        if !own {
            return Err(Refusal::Device { tree, families });
        }
    }
    if matches!(scope, Scope::Share | Scope::RuntimeSubtree) {
        // A directory together with everything below it must not contain a directory of
        // every domain's files: a filesystem share of one gives the guest all of them as
        // surely as a runtime subtree does (libvirt 9.0 let a share of /var/lib/libvirt
        // through). Checked first: that is the reason to give for /var/lib/libvirt, which
        // also holds restricted daemon state.
        if let Some((dir, shared)) = shared_dirs().find(|(d, _)| contains(p, d)) {
            return Err(Refusal::HoldsShared {
                dir,
                holds: shared.holds,
            });
        }
        // Nor a restricted tree, nor a device tree (a share of /dev/input would be every
        // input device).
        if let Some(tree) = restricted()
            .chain(devices().map(|(d, _)| d))
            .find(|r| contains(p, r))
        {
            return Err(Refusal::HoldsRestricted { tree });
        }
    }
    if scope == Scope::RuntimeSubtree {
        let depth = p
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .count();
        if depth < MIN_SUBTREE_DEPTH {
            return Err(Refusal::TooWide);
        }
    }
    Ok(())
}

/// Whether `path` lies in a tree that is readable but never writable ([`Role::ReadOnly`],
/// [`Role::ReadOnlyInside`]: `/boot`, the distributions' firmware directories): a file
/// there belongs to a package, so a rule for it is `rk` even where the element asks for
/// more (a pflash `<loader>` without `readonly='yes'`, `rules/os.rs`).
pub fn is_read_only_location(path: &CanonicalPath) -> bool {
    let p = path.as_path();
    restricted().any(|r| is_within(p, r)) && readable(p)
}

/// Who may be given a device tree, for the refusal: the element families of a
/// [`Role::Device`] row.
pub fn owners(families: &[ElementFamily]) -> String {
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
        for p in "\
            /bin/sh /sbin/init /etc/passwd /etc /usr /usr/lib64/x /lib \
            /lib64/ld-linux-x86-64.so.2 /libx32 /libvirt/x.img /proc/1/mem /sys/kernel"
            .split_whitespace()
        {
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
        for p in "\
            /dev/mem /dev/kmem /dev/port /dev/cpu/0/msr /run/libvirt/libvirt-sock \
            /run/libvirt/libvirt-sock-ro /run/libvirt/virtqemud-admin-sock \
            /run/dbus/system_bus_socket /run/systemd/private"
            .split_whitespace()
        {
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
        let e = check(&c("/boot/vmlinuz-6.1"), Grant::Write, ANY).unwrap_err();
        assert_eq!(e, Refusal::ReadOnly { tree: "/boot" });
        assert!(e.to_string().contains("only allowed read-only"), "{e}");
        // Outside the read-only exceptions a write is refused outright, not "read-only".
        assert_eq!(
            check(&c("/etc/passwd"), Grant::Write, ANY),
            Err(Refusal::Never { tree: "/etc" })
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
    fn read_only_locations_are_the_readable_trees() {
        for p in [
            "/boot/vmlinuz-6.1",
            "/vmlinuz",
            "/usr/share/OVMF/OVMF_CODE.fd",
            "/usr/lib/u-boot/qemu/u-boot.bin",
        ] {
            assert!(is_read_only_location(&c(p)), "{p}");
        }
        // Refused but not readable, and neither.
        for p in ["/usr/bin/qemu", "/etc/passwd", "/srv/vm/OVMF_VARS.fd"] {
            assert!(!is_read_only_location(&c(p)), "{p}");
        }
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
                assert_eq!(e, Refusal::Never { tree: "/sys" }, "{p}");
                assert_eq!(
                    e.to_string(),
                    "/sys is never allowed (restricted location)",
                    "{p}"
                );
            }
        }
        for p in "\
            /sys/devices/system/cpu /sys/devices /sys/devices/platform/x \
            /sys/kernel/config/target /sys/kernel/config/target/vhostx \
            /sys/bus/pci/devices/0000:00:19.0/config"
            .split_whitespace()
        {
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

    /// The table's shape: an exception lies inside a refused tree (else it would grant
    /// nothing), a read-only tree of its own does not, a shared directory comes after the
    /// ones it is in (a refusal names the directory granted whole, not one inside it), and
    /// no entry is in two rows but the domains' runtime directory: a hole in the refused
    /// `/run/libvirt` and a directory of every domain's files.
    #[test]
    fn table_shape() {
        let in_never =
            |p: &str| entries().any(|(r, role)| *role == Role::Never && is_within(Path::new(p), r));
        for (p, role) in entries() {
            match role {
                Role::ReadOnlyInside | Role::AllowedInside | Role::HostdevInside => {
                    assert!(
                        in_never(p),
                        "{p} is an exception outside every refused tree"
                    );
                }
                Role::ReadOnly => assert!(!in_never(p), "{p} is inside a refused tree"),
                _ => {}
            }
        }
        let shared: Vec<&str> = shared_dirs().map(|(d, _)| d).collect();
        for (i, inner) in shared.iter().enumerate() {
            for outer in &shared[i + 1..] {
                assert!(
                    !Path::new(inner).starts_with(outer),
                    "{outer} comes after {inner}, which is inside it"
                );
            }
        }
        let mut seen = std::collections::HashMap::new();
        for (p, _) in entries() {
            *seen.entry(p).or_insert(0) += 1;
        }
        seen.retain(|_, n| *n > 1);
        assert_eq!(seen.into_keys().collect::<Vec<_>>(), ["/run/libvirt/qemu"]);
    }

    /// The messages of the refusals [`crate::state`] makes, as the error shows them after
    /// the path.
    #[test]
    fn state_refusal_messages() {
        let (dir, holds) = ("/var/log/libvirt/qemu", "every domain's logs");
        let own = vec!["vm.log".to_string(), "vm-<alias>-virtiofsd.log".to_string()];
        assert_eq!(
            Refusal::Foreign {
                dir,
                holds,
                own: own.clone()
            }
            .to_string(),
            "belongs to another domain's private state or to libvirt's (/var/log/libvirt/qemu \
             holds every domain's logs; this domain's entries there: vm.log, \
             vm-<alias>-virtiofsd.log)"
        );
        assert_eq!(
            Refusal::NotOwn { dir, holds, own }.to_string(),
            "is in /var/log/libvirt/qemu, which holds every domain's logs; this domain's \
             entries there: vm.log, vm-<alias>-virtiofsd.log"
        );
        assert_eq!(
            Refusal::NotOwn {
                dir,
                holds,
                own: vec![]
            }
            .to_string(),
            "is in /var/log/libvirt/qemu, which holds every domain's logs; nothing in it is a \
             domain's"
        );
        assert_eq!(
            Refusal::SharedItself { dir, holds }.to_string(),
            "is /var/log/libvirt/qemu, which holds every domain's logs: only entries in it can \
             be this domain's"
        );
        assert_eq!(
            Refusal::Ambiguous { dir, holds }.to_string(),
            "cannot be told apart from another domain's private state without the domain's id \
             (<domain id=...>) in the XML (/var/log/libvirt/qemu holds every domain's logs)"
        );
        assert_eq!(
            Refusal::Root.to_string(),
            "the root directory can never be granted"
        );
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
        for p in "\
            /dev/tty0 /dev/tty12 /dev/vcs /dev/vcsa3 /dev/vcsu /dev/watchdog /dev/watchdog0 \
            /dev/i2c-0 /dev/mei0 /dev/fb0 /dev/ipmi0 /dev/ipmi/0 /run/user/1000/bus \
            /run/user/0/systemd/private /run/user/1000/wayland-0 \
            /run/user/1000/gnupg/S.gpg-agent /root/.ssh/authorized_keys"
            .split_whitespace()
        {
            assert!(check(&c(p), Grant::Write, ANY).is_err(), "{p}");
        }
        // Near misses of the families, allowed for any element (the device trees of one
        // element family are `device_trees_only_for_their_element`).
        for p in "\
            /dev/tty /dev/ttyS /dev/i2c /dev/fb /run/user/1000/pulse/native \
            /run/user/1000/pipewire-0 /run/user/x/bus /run/user/1000/busy /rootfs/x.img"
            .split_whitespace()
        {
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
                matches!(
                    e,
                    Refusal::HoldsRestricted { .. } | Refusal::HoldsShared { .. }
                ),
                "{p}: {e:?}"
            );
            assert!(
                e.to_string()
                    .contains("granting everything below it would include"),
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
            Err(Refusal::Device {
                tree: "/dev/input",
                families: &[ElementFamily::Input, ElementFamily::Runtime]
            })
        );
        assert_eq!(
            check(&c("/dev/input"), Grant::Write, Scope::Share)
                .unwrap_err()
                .to_string(),
            "/dev/input is a device only an <input> or libvirtd's -F at a hotplug may be given (restricted location)"
        );
        for (dir, tree) in [("/dev/bus", "/dev/bus/usb"), ("/dev/net", "/dev/net/tun")] {
            for scope in [Scope::Share, Scope::RuntimeSubtree] {
                let e = check(&c(dir), Grant::Read, scope).unwrap_err();
                assert_eq!(e, Refusal::HoldsRestricted { tree }, "{dir}");
                assert_eq!(
                    e.to_string(),
                    format!(
                        "granting everything below it would include {tree} (restricted location)"
                    ),
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
                    assert!(matches!(e, Refusal::Device { .. }), "{p}: {e:?}");
                    assert!(e.to_string().contains("is a device only"), "{p}: {e}");
                }
            }
            for scope in [Scope::Share, Scope::RuntimeSubtree] {
                assert!(check(&c(p), Grant::Read, scope).is_err(), "{p} {scope:?}");
            }
        }
        // Near misses by component: not a device tree, allowed for any element.
        for p in "\
            /dev/vfio2 /dev/tpm /dev/tpmx0 /dev/tap /dev/sg /dev/ttyUSB /dev/dri2/x \
            /srv/dev/vfio/7 /dev/inputs"
            .split_whitespace()
        {
            assert_eq!(check(&c(p), Grant::Write, ANY), Ok(()), "{p}");
        }
    }

    /// A device tree's refusal names who may have it.
    #[test]
    fn device_refusals_name_who_may_have_them() {
        use ElementFamily as F;
        let why = |p: &str, f: ElementFamily| {
            check(&c(p), Grant::Write, Scope::File(f))
                .unwrap_err()
                .to_string()
        };
        // (path, the element family that names it, the refusal before "(restricted location)")
        #[rustfmt::skip]
        let cases = [
            ("/dev/sev", F::Disk, "/dev/sev is a device only the helper's own fixed rules may be given"),
            ("/dev/vfio/7", F::Disk, "/dev/vfio is a device only libvirtd's -F at a hotplug may be given"),
            ("/dev/sg1", F::Disk, "/dev/sg# is a device only a <disk device='lun'> or libvirtd's -F at a hotplug may be given"),
            ("/dev/tpm0", F::Chardev, "/dev/tpm# is a device only a passed-through <tpm> may be given"),
            ("/dev/ttyS0", F::Disk, "/dev/ttyS# is a device only a character device or libvirtd's -F at a hotplug may be given"),
            ("/dev/dri/renderD128", F::Disk, "/dev/dri is a device only a <graphics> render node may be given"),
            ("/dev/bus/usb/001/002", F::Disk, "/dev/bus/usb is a device only a USB <hostdev> or libvirtd's -F at a hotplug may be given"),
            ("/dev/hwrng", F::Disk, "/dev/hwrng is a device only an <rng> may be given"),
        ];
        for (p, f, want) in cases {
            assert_eq!(why(p, f), format!("{want} (restricted location)"), "{p}");
        }
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
        assert_eq!(e, Refusal::TooWide);
        assert!(e.to_string().contains("at least 3 levels deep"), "{e}");
        assert_eq!(check(&c("/srv/vms"), Grant::Write, Scope::Share), Ok(()));
        // A per-domain directory below a shared one is fine; the shared one is not.
        let e = check(
            &c("/var/lib/libvirt/qemu/nvram"),
            Grant::Write,
            Scope::RuntimeSubtree,
        )
        .unwrap_err();
        assert_eq!(
            e,
            Refusal::HoldsShared {
                dir: "/var/lib/libvirt/qemu/nvram",
                holds: "every domain's UEFI variables"
            }
        );
        assert_eq!(
            e.to_string(),
            "granting everything below it would include /var/lib/libvirt/qemu/nvram, which holds every domain's UEFI variables"
        );
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
        for p in "\
            /run/libvirt/virtlogd-sock /run/libvirt/virtqemud-sock-ro \
            /run/libvirt/network/default.xml /run/libvirt/hostdevmgr/activePCIHostdevs.xml \
            /run/libvirt/sock /run/libvirt"
            .split_whitespace()
        {
            let e = check(&c(p), Grant::Read, ANY).unwrap_err();
            assert_eq!(
                e,
                Refusal::Never {
                    tree: "/run/libvirt"
                },
                "{p}"
            );
            assert_eq!(
                e.to_string(),
                "/run/libvirt is never allowed (restricted location)",
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
        for p in "\
            /var/lib/dpkg/info/base-files.postinst /var/backups/shadow.bak \
            /var/cache/debconf/passwords.dat /var/lib/systemd/credential.secret \
            /var/lib/libvirt/dnsmasq/default.hostsfile /run/openvswitch/db.sock \
            /run/openvswitch/ovs-vswitchd.1234.ctl /run/openvswitch/br0.mgmt \
            /run/openvswitch/br0.snoop /run/sshd.pid /run/libvirt.pid /run/chrony/chronyd.pid \
            /run/udev/rules.d/99-x.rules /var/log/auth.log.1 /var/log/journal/x/system.journal"
            .split_whitespace()
        {
            assert!(check(&c(p), Grant::Read, ANY).is_err(), "{p}");
        }
        for p in "\
            /run/openvswitch/vhu0 /run/openvswitch/vhost-user1 /run/vm001-vhost-fs.sock \
            /run/x/y/z.pid /var/lib/nova/instances/x/disk /var/lib/libvirt/images/a.qcow2 \
            /var/log/libvirt/qemu/vm-serial0.log /var/log/vms/serial.log /var/tmp/x.img \
            /var/lib/dpkgx"
            .split_whitespace()
        {
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
        for wide in "\
            /run /tmp /home /var/lib /var/lib/libvirt /var/lib/libvirt/images /run/libvirt/qemu \
            /srv/vms"
            .split_whitespace()
        {
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
