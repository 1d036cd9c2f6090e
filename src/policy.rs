//! Where a VM may never be given access, checked on canonical paths by whole components.
//!
//! libvirt 9.0's `valid_path` compares string prefixes: `/usr/lib` also refused `/usr/library`,
//! while `/etc/` let a filesystem share of `/etc` itself through
//! (`"/etc/**" rwl`, weak spot W2), and `/` passes too. Here a path is compared component by
//! component against the canonical target (so a symlink or `..` cannot reach around it):
//!
//! - never: `/`, `/bin`, `/boot`, `/etc`, `/lib*`, `/lost+found`, `/proc`, `/sbin`,
//!   `/selinux`, `/sys`, `/usr`, the top-level kernel and initrd links, host-control devices
//!   (`/dev/mem`, `/dev/kmem`, `/dev/port`, `/dev/cpu`, ...) and host daemons' control
//!   sockets (`/run/dbus`, `/run/systemd`, libvirt's own `/run/libvirt/*-sock`);
//! - read-only allowed: `/boot`, the kernel and initrd links, and the firmware directories
//!   (`/usr/share/OVMF`, `/usr/share/qemu`, `/usr/share/seabios`, ...: libvirt's list plus
//!   those newer releases added, since a refused firmware stops the VM, anchors.md section 2
//!   row 8);
//! - allowed read-write inside restricted trees: PCI device nodes `/sys/devices/pci*`, vhost
//!   targets `/sys/kernel/config/target/vhost`, `/etc/libvirt-sandbox/services` (libvirt's
//!   override list, by component);
//! - a directory granted with everything below it must contain none of the above, must not
//!   contain a directory that holds every domain's files (`/var/lib/libvirt/images`,
//!   `/run/libvirt/qemu`, ...), and must be at least [`MIN_SUBTREE_DEPTH`] levels deep.

use crate::resolve::CanonicalPath;
use std::path::{Component, Path};

/// Never accessible, whole trees.
const RESTRICTED: &[&str] = &[
    "/bin",
    "/etc",
    "/lost+found",
    "/proc",
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
    // Device nodes that are the host itself, whatever a disk element says: physical memory
    // and I/O ports, CPU MSRs, the kernel log, hibernation images, device-mapper and loop
    // control (libvirt's list let every /dev node through).
    "/dev/mem",
    "/dev/kmem",
    "/dev/port",
    "/dev/cpu",
    "/dev/kmsg",
    "/dev/snapshot",
    "/dev/mapper/control",
    "/dev/loop-control",
    // Control sockets of host daemons: a QEMU that may connect to them can act as root.
    "/run/dbus",
    "/run/systemd",
    "/run/docker.sock",
    "/run/containerd",
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

/// Inside a restricted tree but accessible read-write: PCI device nodes for host device
/// assignment, vhost-scsi targets, libvirt-sandbox services (libvirt's override list).
const ALWAYS_OK: &[&str] = &[
    "/sys/devices",
    "/sys/kernel/config/target/vhost",
    "/etc/libvirt-sandbox/services",
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
    "/var/cache/libvirt",
    "/run/libvirt",
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

/// How much a rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The path itself.
    File,
    /// The directory and everything below it, as the domain XML asks (a `<filesystem>`
    /// share): it must not contain a restricted tree nor a directory shared by every
    /// domain.
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
    if is_daemon_socket(p) {
        return Err("is a libvirt daemon's control socket (restricted location)".into());
    }
    if let Some(r) = restricted_tree(p) {
        let allowed = ALWAYS_OK
            .iter()
            .any(|ok| is_within(p, ok) && !pci_exception_too_wide(p))
            || (grant == Grant::Read && READ_ONLY_OK.iter().any(|ok| is_within(p, ok)));
        if !allowed {
            let how = if grant == Grant::Write && READ_ONLY_OK.iter().any(|ok| is_within(p, ok)) {
                "is only allowed read-only"
            } else {
                "is never allowed"
            };
            return Err(format!("{r} {how} (restricted location)"));
        }
    }
    if scope != Scope::File {
        // A directory together with everything below it must not contain a restricted tree.
        if let Some(r) = RESTRICTED.iter().find(|r| is_within(Path::new(r), p)) {
            return Err(format!(
                "granting everything below it would include {r} (restricted location)"
            ));
        }
    }
    // A filesystem share of one of these gives the guest every domain's files as surely as
    // a runtime subtree does (libvirt 9.0 let a share of /var/lib/libvirt through).
    if scope != Scope::File {
        if let Some(shared) = SHARED.iter().find(|d| is_within(Path::new(d), p)) {
            return Err(format!(
                "granting everything below it would include {shared}, which holds the files of every domain"
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

/// The restricted tree `p` is in: one of [`RESTRICTED`], or a top-level directory whose
/// name starts with `lib` (`/lib`, `/lib64`, `/libx32`, `/libexec`...).
fn restricted_tree(p: &Path) -> Option<&'static str> {
    if let Some(r) = RESTRICTED.iter().find(|r| is_within(p, r)) {
        return Some(r);
    }
    match p.components().nth(1) {
        Some(Component::Normal(top)) if top.to_string_lossy().starts_with("lib") => Some("/lib*"),
        _ => None,
    }
}

/// libvirt's own daemons listen on `/run/libvirt/<daemon>-sock` (`libvirt-sock`,
/// `virtqemud-sock`, `virtqemud-admin-sock`, `virtlogd-sock`, ...): a QEMU process that may
/// connect to one can manage every domain on the host.
fn is_daemon_socket(p: &Path) -> bool {
    let mut comps = p.components();
    let prefix = [
        Component::RootDir,
        Component::Normal("run".as_ref()),
        Component::Normal("libvirt".as_ref()),
    ];
    if !prefix
        .iter()
        .all(|want| comps.next().as_ref() == Some(want))
    {
        return false;
    }
    match (comps.next(), comps.next()) {
        (Some(Component::Normal(name)), None) => {
            let name = name.to_string_lossy();
            name.ends_with("-sock") || name.ends_with("-sock-ro")
        }
        _ => false,
    }
}

/// `/sys/devices` is allowed only for PCI device nodes (`/sys/devices/pci*/...`), as in
/// libvirt's override `/sys/devices/pci` - but by component, so `/sys/devices` itself or
/// `/sys/devices/system` stay refused.
fn pci_exception_too_wide(p: &Path) -> bool {
    if !is_within(p, "/sys/devices") {
        return false;
    }
    let mut comps = p.components().skip(3); // "/", "sys", "devices"
    match comps.next() {
        Some(Component::Normal(c)) => !c.to_string_lossy().starts_with("pci"),
        _ => true,
    }
}

/// Whether `p` is `dir` or below it, comparing whole components.
fn is_within(p: &Path, dir: impl AsRef<Path>) -> bool {
    p.starts_with(dir.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(p: &str) -> CanonicalPath {
        CanonicalPath::from_canonical_literal(Path::new(p)).unwrap()
    }

    #[test]
    fn restricted_trees_by_component() {
        for p in [
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
            assert!(check(&c(p), Grant::Read, Scope::File).is_err(), "{p}");
        }
        // String prefixes are not components: libvirt refused these.
        for p in [
            "/srv/lib/x.img",
            "/etcetera/x",
            "/usrdata/x",
            "/var/lib/libvirt/images/a",
        ] {
            assert_eq!(check(&c(p), Grant::Write, Scope::File), Ok(()), "{p}");
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
            assert!(check(&c(p), Grant::Write, Scope::File).is_err(), "{p}");
        }
        for p in [
            "/dev/sdb",
            "/dev/vfio/12",
            "/dev/bus/usb/002/004",
            "/run/libvirt/qemu/channel/1-vm/org.qemu.guest_agent.0",
            "/dev/memory-backend",
        ] {
            assert_eq!(check(&c(p), Grant::Write, Scope::File), Ok(()), "{p}");
        }
    }

    #[test]
    fn read_only_exceptions() {
        assert_eq!(
            check(&c("/boot/vmlinuz-6.1"), Grant::Read, Scope::File),
            Ok(())
        );
        assert!(check(&c("/boot/vmlinuz-6.1"), Grant::Write, Scope::File)
            .unwrap_err()
            .contains("only allowed read-only"));
        assert_eq!(
            check(&c("/usr/share/OVMF/OVMF_CODE.fd"), Grant::Read, Scope::File),
            Ok(())
        );
        assert_eq!(
            check(&c("/usr/share/qemu/bios.bin"), Grant::Read, Scope::File),
            Ok(())
        );
        assert!(check(&c("/usr/share/doc/x"), Grant::Read, Scope::File).is_err());
    }

    #[test]
    fn pci_and_vhost_overrides() {
        let pci = "/sys/devices/pci0000:00/0000:00:19.0/config";
        assert_eq!(check(&c(pci), Grant::Write, Scope::File), Ok(()));
        assert!(check(&c("/sys/devices/system/cpu"), Grant::Read, Scope::File).is_err());
        assert!(check(&c("/sys/devices"), Grant::Read, Scope::File).is_err());
        assert_eq!(
            check(
                &c("/sys/kernel/config/target/vhost/naa.1"),
                Grant::Write,
                Scope::File
            ),
            Ok(())
        );
    }

    #[test]
    fn subtrees_must_not_contain_restricted_trees() {
        assert!(check(&c("/"), Grant::Read, Scope::RuntimeSubtree).is_err());
        assert!(check(&c("/"), Grant::Read, Scope::File).is_err());
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
            // files (or /run/dbus), and so is the directory alone.
            let holds_domains = wide.starts_with("/var/lib/libvirt")
                || wide.starts_with("/run")
                || wide == "/var/lib";
            assert_eq!(
                check(&c(wide), Grant::Write, Scope::Share).is_ok(),
                !holds_domains,
                "{wide}"
            );
            assert_eq!(check(&c(wide), Grant::Write, Scope::File), Ok(()), "{wide}");
        }
    }
}
