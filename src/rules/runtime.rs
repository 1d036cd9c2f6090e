//! Which `-F` grants belong to the running VM, and granting the kept ones again on `-r`.
//!
//! libvirtd grants what a running VM needs with `-r -F PATH` and restores labels with a
//! plain `-r`, which regenerates `.files` from the XML (W6 in `docs/weak-spots.md#w6`). A
//! grant kept across that `-r` is recorded in the ledger ([`crate::ledger`]); whether a grant
//! is kept is decided here, by what the path is, never by who asked: `docs/runtime-grants.md`
//! has the table of libvirtd's `-F` callers and the row each falls in.
//!
//! Kept (until `-D`), each only while it still exists, resolves to the same canonical path
//! and passes the path checks of a new `-F`:
//! - this domain's own entry in a directory whose entries live with the VM
//!   ([`crate::state::Owner::lives_with_vm`]): its memory-backing and hugepage directories,
//!   its D-Bus, passt and swtpm sockets;
//! - `<mount>/libvirt/qemu/<id>-<short>/` on any hugetlbfs mount (libvirt's
//!   `hugetlbfs_mount` may list several page sizes);
//! - `/dev/net/tun` and `/dev/vhost-net` while the XML has an interface libvirtd opens a tap
//!   for, and a macvtap's `/dev/tap<N>` while an `<interface type='direct'>` of the XML names
//!   a host device whose ifindex is `N` (another VM's macvtap is never kept).
//!
//! Everything else is transient and dropped by the next plain `-r`, as in libvirt 9.0: disk
//! images (a block job's layers, a hotplugged disk once it is in the XML or unplugged),
//! save, dump and screenshot files, host devices (in the XML once plugged), chardev files
//! (granted from the XML while the device is plugged).

use super::builder::Builder;
use super::{Kept, Options, Perms};
use crate::error::Result;
use crate::escape::Glob;
use crate::ledger::Entry;
use crate::origin::Origin;
use crate::parse::net::InterfaceType;
use crate::parse::Domain;
use crate::path::CanonicalPath;
use crate::policy::{ElementFamily, Scope};
use crate::resolve::{NodeKind, Resolve};
use crate::state::Owner;
use std::path::Path;

/// Why `path` (canonical, existing as `kind`) lives as long as the running VM, or `None`
/// when a grant of it is transient.
pub(super) fn lifetime(
    d: &Domain,
    path: &CanonicalPath,
    subtree: bool,
    kind: NodeKind,
    options: &Options,
    r: &mut dyn Resolve,
) -> Option<String> {
    if subtree {
        // A domain without an id is not running: nothing of it lives with a VM.
        return (kind == NodeKind::Directory && d.id.is_some())
            .then(|| own_runtime_dir(d, path, options, r))
            .flatten();
    }
    let p = path.as_path();
    // (Origins are shown without apostrophes or parentheses: see `Origin`'s Display.)
    if let Some(dir) = Owner::of(d).lives_with_vm(p) {
        return Some(format!("its entry in {dir}"));
    }
    if kind != NodeKind::Special {
        return None;
    }
    let taps = || {
        d.net
            .interfaces
            .iter()
            .find(|i| matches!(i.kind, InterfaceType::Tap | InterfaceType::Bridge))
    };
    if p == Path::new("/dev/net/tun") || p == Path::new("/dev/vhost-net") {
        return taps().map(|i| format!("a tap device of {}", i.origin));
    }
    let index: u32 = p
        .to_str()?
        .strip_prefix("/dev/tap")
        .filter(|n| !n.starts_with('0') || *n == "0")?
        .parse()
        .ok()?;
    d.net.interfaces.iter().find_map(|i| {
        let dev = i.target_dev.as_deref().filter(|_| i.direct)?;
        (r.net_ifindex(dev) == Some(index)).then(|| format!("macvtap {dev} of {}", i.origin))
    })
}

/// Why `path` (canonical) is one of this running domain's own runtime directories, the only
/// paths libvirtd grants with everything below them (`AppArmorSetPathLabel` with
/// `allowSubtree`, 9.0 to 12.x: `qemuProcessMakeDir` for the private and channel
/// directories, `qemuProcessBuildDestroyMemoryPathsImpl` for memory backing and hugepages,
/// and two files inside the private directory, the pr-helper socket and a `.base64`
/// secret); `None` for anything else, which an `-f`/`-F` `DIR/{,**}` may not name
/// (a hot-plugged volume named `{,**}` made its whole pool a subtree):
/// - this domain's own entry in a directory whose entries live with the VM, or a path
///   inside it ([`Owner::runtime_entry`]);
/// - `<mount>/libvirt/qemu/<id>-<short>` on a hugetlbfs mount (any `hugetlbfs_mount`);
/// - `<memory_backing_dir>/<id>-<short>` for a `memory_backing_dir` set in the
///   configuration (qemu.conf's setting of the same name).
pub(super) fn own_runtime_dir(
    d: &Domain,
    path: &CanonicalPath,
    options: &Options,
    r: &mut dyn Resolve,
) -> Option<String> {
    let p = path.as_path();
    let owner = Owner::of(d);
    if let Some(dir) = owner.runtime_entry(p) {
        return Some(format!("its entry in {dir}"));
    }
    // The others are named by the id: without one, the domain has none of them.
    d.id?;
    if hugetlbfs_dir(&owner, p) && r.on_hugetlbfs(p) {
        return Some("hugepage backing on a hugetlbfs mount".into());
    }
    let (backing, _) = r.existing(options.memory_backing_dir.as_deref()?)?;
    (p.parent() == Some(backing.as_path())
        && p.file_name().and_then(|n| n.to_str()) == Some(owner.short_name().as_str()))
    .then(|| "its memory backing in memory_backing_dir".into())
}

/// `<mount>/libvirt/qemu/<id>-<short>`: the layout of libvirt's hugepage directories.
fn hugetlbfs_dir(owner: &Owner, p: &Path) -> bool {
    let short = owner.short_name();
    p.file_name().and_then(|n| n.to_str()) == Some(short.as_str())
        && p.parent().is_some_and(|q| q.ends_with("libvirt/qemu"))
}

/// The rule of an `-F` grant: `rwk`, on the path or on `DIR/{,**}`, checked like an `-F`;
/// `rwm` on an IOMMUFD node ([`iommufd_node`]), as libvirt 12.1's helper writes it: QEMU
/// mmaps the VFIO cdev's regions and IOMMUFD's (`get_files`, "VFIO and iommufd devices
/// need mmap permission"); neither is a file QEMU locks.
pub(super) fn grant(
    b: &mut Builder,
    canon: &CanonicalPath,
    subtree: bool,
    origin: &Origin,
) -> Result<()> {
    if subtree {
        let g = b
            .checked(canon, Perms::RWK, Scope::RuntimeSubtree, origin)?
            .below(Some(Glob::SelfAndBelow))?;
        b.push(g, Perms::RWK, false, origin.clone());
        Ok(())
    } else {
        let perms = if iommufd_node(canon.as_path()) {
            Perms::RWM
        } else {
            Perms::RWK
        };
        b.add(canon.clone(), perms, ElementFamily::Runtime, origin)
    }
}

/// `/dev/iommu` or a VFIO cdev `/dev/vfio/devices/vfio<N>`: the nodes libvirt 12.1's
/// driver opens for a host device assigned through IOMMUFD and grants with `-F`
/// (`AppArmorSetSecurityHostdevLabel`: the cdev, then `/dev/iommu`).
pub(super) fn iommufd_node(p: &Path) -> bool {
    p == Path::new("/dev/iommu")
        || p.strip_prefix("/dev/vfio/devices")
            .ok()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("vfio"))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
}

/// The origin of a kept grant's rule.
pub(super) fn origin(what: &str) -> Origin {
    Origin::new("runtime", format!("-F kept until -D: {what}"))
}

/// Grants the ledger's entries again (a plain `-r`), each judged as a new `-F` would be;
/// returns the ones kept, each with its rules. An entry whose path went
/// away is dropped silently (an unplugged NIC's tap device); one that now resolves
/// elsewhere, is no longer the VM's, or is refused by the path checks is dropped with a
/// warning, and never fails the run: the `-r` that restores labels after an unplug must
/// not fail because of a grant it would drop anyway.
pub(super) fn readmit(
    d: &Domain,
    entries: &[Entry],
    b: &mut Builder,
    r: &mut dyn Resolve,
) -> Vec<Kept> {
    let mut kept = Vec::new();
    for e in entries {
        let Some((canon, kind)) = r.existing(&e.path) else {
            continue;
        };
        let shown = crate::error::quote_path(&e.path);
        let note = Origin::new("runtime", "ledger");
        if canon.as_path() != e.path {
            b.warn(
                &note,
                format!(
                    "runtime grant {shown} dropped: it now resolves to {}",
                    crate::error::quote_path(canon.as_path())
                ),
            );
            continue;
        }
        let Some(what) = lifetime(d, &canon, e.subtree, kind, &b.options, r) else {
            b.warn(
                &note,
                format!("runtime grant {shown} dropped: it is no longer the running VM's"),
            );
            continue;
        };
        let o = origin(&what);
        match grant(b, &canon, e.subtree, &o) {
            Ok(()) => kept.push(Kept {
                entry: e.clone(),
                rules: b.take().0,
            }),
            Err(err) => {
                b.take();
                b.warn(&note, format!("runtime grant {shown} dropped: {err}"));
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Diagnostics;
    use crate::parse::parse_domain;
    use crate::resolve::{Chain, ChainStart, UsbId};
    use std::collections::HashMap;
    use std::path::PathBuf;

    /// Paths are canonical as given, except the links in `links`; what exists is in
    /// `nodes`; `macvtap0` has ifindex 42; `/hp1g` is a hugetlbfs mount.
    #[derive(Default)]
    struct Fake {
        nodes: HashMap<&'static str, NodeKind>,
        links: HashMap<&'static str, &'static str>,
    }

    fn canon(p: &str) -> CanonicalPath {
        CanonicalPath::from_canonical_literal(Path::new(p)).expect("canonical fixture")
    }

    impl Resolve for Fake {
        fn canonical(
            &mut self,
            raw: &Path,
            _: &Origin,
            _: &mut Diagnostics,
        ) -> Result<CanonicalPath> {
            Ok(canon(raw.to_str().unwrap()))
        }
        fn image_chain(&mut self, _: &ChainStart<'_>, _: &mut Diagnostics) -> Result<Chain> {
            Ok(Chain::default())
        }
        fn usb_device(&mut self, _: UsbId, _: &Origin, _: &mut Diagnostics) -> Option<PathBuf> {
            None
        }
        fn pci_files(&mut self, _: &str) -> Vec<PathBuf> {
            vec![]
        }
        fn drm_render_node(&mut self) -> Option<PathBuf> {
            None
        }
        fn volume_path(
            &mut self,
            _: &str,
            _: &str,
            _: &Origin,
            _: &mut Diagnostics,
        ) -> Result<Option<PathBuf>> {
            Ok(None)
        }
        fn iommu_group(&mut self, _: &str) -> Option<u32> {
            None
        }
        fn tpm_cancel(&mut self, _: &Path) -> Option<PathBuf> {
            None
        }
        fn existing(&mut self, path: &Path) -> Option<(CanonicalPath, NodeKind)> {
            let p = path.to_str()?;
            let target = self.links.get(p).copied().unwrap_or(p);
            self.nodes.get(target).map(|k| (canon(target), *k))
        }
        fn net_ifindex(&mut self, dev: &str) -> Option<u32> {
            (dev == "macvtap0").then_some(42)
        }
        fn on_hugetlbfs(&mut self, path: &Path) -> bool {
            path.starts_with("/hp1g")
        }
    }

    fn domain(id: Option<u32>, nics: &str) -> Domain {
        let id = id.map(|i| format!(" id='{i}'")).unwrap_or_default();
        parse_domain(&format!(
            "<domain type='kvm'{id}><name>vm1</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid>\
             <os><type>hvm</type></os><devices>{nics}</devices></domain>"
        ))
        .unwrap()
    }

    const TAP: &str = "<interface type='ethernet'><target dev='vnet0'/></interface>";
    const MACVTAP: &str =
        "<interface type='direct'><source dev='eth0' mode='bridge'/><target dev='macvtap0'/></interface>";

    fn life(d: &Domain, path: &str, subtree: bool, kind: NodeKind) -> Option<String> {
        lifetime(
            d,
            &canon(path),
            subtree,
            kind,
            &Options::default(),
            &mut Fake::default(),
        )
    }

    #[test]
    fn each_row_of_the_table_is_kept_or_transient_as_it_says() {
        use NodeKind::*;
        let d = domain(Some(3), TAP);
        let kept = [
            ("/dev/hugepages/libvirt/qemu/3-vm1", true, Directory),
            ("/var/lib/libvirt/qemu/ram/3-vm1", true, Directory),
            ("/run/libvirt/qemu/dbus/3-vm1-dbus.sock", false, Special),
            ("/run/libvirt/qemu/passt/3-vm1-net0.socket", false, Special),
            ("/hp1g/libvirt/qemu/3-vm1", true, Directory),
            ("/dev/net/tun", false, Special),
            ("/dev/vhost-net", false, Special),
        ];
        for (p, subtree, kind) in kept {
            assert!(life(&d, p, subtree, kind).is_some(), "{p} must be kept");
        }
        let transient = [
            // Another domain's, or not this domain's name.
            ("/dev/hugepages/libvirt/qemu/4-vm1", true, Directory),
            ("/dev/hugepages/libvirt/qemu/3-vm2", true, Directory),
            ("/hp1g/libvirt/qemu/4-vm1", true, Directory),
            // The layout, but not a hugetlbfs.
            ("/srv/libvirt/qemu/3-vm1", true, Directory),
            // The domain's own files that do not live with the VM.
            ("/var/lib/libvirt/qemu/save/vm1.save", false, Regular),
            ("/var/lib/libvirt/qemu/dump/3-vm1-2026", false, Regular),
            // Images, save and dump files, host devices.
            ("/var/lib/libvirt/images/vm1.qcow2", false, Regular),
            ("/srv/save/vm1.save", false, Regular),
            ("/dev/bus/usb/001/002", false, Special),
            ("/dev/vfio/12", false, Special),
            // A subtree that is not a directory, a file where a device is expected.
            ("/dev/hugepages/libvirt/qemu/3-vm1", true, Regular),
            ("/dev/net/tun", false, Regular),
            ("/dev/net/tun", true, Directory),
        ];
        for (p, subtree, kind) in transient {
            assert_eq!(life(&d, p, subtree, kind), None, "{p} must be transient");
        }
    }

    #[test]
    fn tap_devices_are_kept_only_for_the_nics_that_use_them() {
        use NodeKind::Special;
        // No NIC: nothing is the VM's.
        assert_eq!(
            life(&domain(Some(3), ""), "/dev/net/tun", false, Special),
            None
        );
        // The macvtap of this VM's direct NIC, by its ifindex (42), and no other.
        let d = domain(Some(3), MACVTAP);
        assert!(life(&d, "/dev/tap42", false, Special).is_some());
        for other in ["/dev/tap43", "/dev/tap042", "/dev/tap", "/dev/tap42x"] {
            assert_eq!(life(&d, other, false, Special), None, "{other}");
        }
        // A direct NIC without its host device named, or a tap NIC: no /dev/tapN.
        let bare = "<interface type='direct'><source dev='eth0'/></interface>";
        assert_eq!(
            life(&domain(Some(3), bare), "/dev/tap42", false, Special),
            None
        );
        let named_tap = "<interface type='ethernet'><target dev='macvtap0'/></interface>";
        assert_eq!(
            life(&domain(Some(3), named_tap), "/dev/tap42", false, Special),
            None
        );
    }

    #[test]
    fn a_domain_that_is_not_running_keeps_nothing_of_its_state() {
        let d = domain(None, TAP);
        for p in [
            "/dev/hugepages/libvirt/qemu/-1-vm1",
            "/hp1g/libvirt/qemu/-1-vm1",
        ] {
            assert_eq!(life(&d, p, true, NodeKind::Directory), None, "{p}");
        }
    }

    #[test]
    fn readmission_judges_every_entry_anew() {
        use NodeKind::*;
        let d = domain(Some(3), TAP);
        let mut r = Fake::default();
        r.nodes
            .insert("/dev/hugepages/libvirt/qemu/3-vm1", Directory);
        r.nodes.insert("/dev/net/tun", Special);
        r.nodes.insert("/etc/shadow", Regular);
        r.nodes
            .insert("/dev/hugepages/libvirt/qemu/4-vm1", Directory);
        r.links
            .insert("/srv/link", "/dev/hugepages/libvirt/qemu/3-vm1");
        let entry = |p: &str, subtree| Entry {
            path: p.into(),
            subtree,
        };
        let entries = [
            entry("/dev/hugepages/libvirt/qemu/3-vm1", true),
            entry("/dev/net/tun", false),
            entry("/dev/tap7", false),
            entry("/etc/shadow", false),
            entry("/dev/hugepages/libvirt/qemu/4-vm1", true),
            entry("/srv/link", true),
        ];
        let mut diag = Diagnostics::default();
        let owner = Some(Owner::of(&d));
        let mut b = Builder::new(crate::rules::Options::default(), owner, &mut diag);
        let kept = readmit(&d, &entries, &mut b, &mut r);
        let got: Vec<(String, Vec<String>)> = kept
            .iter()
            .map(|k| {
                (
                    k.entry.path.display().to_string(),
                    k.rules
                        .iter()
                        .map(|r| format!("{} {} <{}>", r.pattern, r.perms.as_str(), r.origin))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "/dev/hugepages/libvirt/qemu/3-vm1".to_string(),
                    vec!["/dev/hugepages/libvirt/qemu/3-vm1/{,**} rwk <runtime -F kept until -D: its entry in /dev/hugepages/libvirt/qemu>".to_string()]
                ),
                (
                    "/dev/net/tun".to_string(),
                    vec!["/dev/net/tun rwk <runtime -F kept until -D: a tap device of interface 0>".to_string()]
                ),
            ]
        );
        let warnings: Vec<String> = diag.into_warnings().iter().map(|w| w.to_string()).collect();
        assert_eq!(
            warnings,
            vec![
                "runtime grant '/etc/shadow' dropped: it is no longer the running VM's",
                "runtime grant '/dev/hugepages/libvirt/qemu/4-vm1' dropped: it is no longer the running VM's",
                "runtime grant '/srv/link' dropped: it now resolves to '/dev/hugepages/libvirt/qemu/3-vm1'",
            ],
            "/dev/tap7 no longer exists: dropped silently"
        );
    }
}
