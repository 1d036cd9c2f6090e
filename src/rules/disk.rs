//! `<disk>`: the image with the disk's permissions, its backing chain read-only (from the
//! XML's `<backingStore>` or the image headers), its `<dataStore>`, and the sockets or VFIO
//! group of sources that are not local files.

use super::builder::Builder;
use super::shared::{self, VfioDevice};
use super::Perms;
use crate::chain::{self, Opened};
use crate::error::{Error, Result};
use crate::origin::Origin;
use crate::parse::disk::{Backing, Disk, Layer, LocalKind, Source};
use crate::parse::Domain;
use crate::policy::ElementFamily;
use crate::resolve::{CanonicalPath, ChainStart, Resolve};
use std::path::{Path, PathBuf};

/// Every disk, in document order.
pub(super) fn rules(d: &Domain, b: &mut Builder, r: &mut dyn Resolve) -> Result<()> {
    for disk in &d.disks {
        disk_rules(disk, b, r)?;
    }
    Ok(())
}

fn disk_rules(disk: &Disk, b: &mut Builder, r: &mut dyn Resolve) -> Result<()> {
    let origin = &disk.origin;
    if !disk.relabel {
        // sVirt: the admin manages this disk's access (and its chain's).
        b.warn(
            origin,
            format!("{origin}: <seclabel model='apparmor' relabel='no'/>: no rule written for it"),
        );
        return Ok(());
    }
    if disk.source == Source::Empty {
        return Ok(());
    }
    let perms = if disk.readonly { Perms::RK } else { Perms::RWK };
    let top = match top_source(disk, b, r)? {
        Some((kind, raw)) => {
            // Only a LUN passthrough disk may be a SCSI generic node
            // (`policy::Role::Device`); a disk is never another element's device node.
            let family = if disk.lun {
                ElementFamily::DiskLun
            } else {
                ElementFamily::Disk
            };
            let canon = b.storage_file(r, &raw, perms, family, origin)?;
            Some((kind, raw, canon))
        }
        None => None,
    };
    // The data file the XML declares (`<dataStore>`, libvirt >= 10.10) is named by the
    // admin like the disk itself: the disk's permissions, checked like the disk.
    let declared_data = data_store(b, r, &disk.data_store, Some(perms), origin)?;
    match &disk.backing {
        Backing::None => Ok(()),
        Backing::Explicit { layers, terminated } => {
            let above = listed_layers(b, r, layers, top.map(|(_, _, canon)| canon))?;
            if *terminated {
                return Ok(());
            }
            continue_listed(disk, layers, above, b, r)
        }
        Backing::Discover => {
            // A directory (vvfat) has no header; a network image is not read.
            let Some((kind, raw, canon)) = top else {
                return Ok(());
            };
            if kind == LocalKind::Dir {
                return Ok(());
            }
            let start = ChainStart::top(&raw, &canon, disk.format.as_ref(), origin);
            let opened = if disk.readonly {
                Opened::ReadOnly
            } else {
                Opened::Writable
            };
            from_headers(b, r, &start, opened, declared_data)
        }
    }
}

/// The top image of a disk whose source is not empty, as a local path (`None`: not a
/// local file, after the rules its sockets or VFIO group need). libvirt walks the whole
/// chain and skips the elements that are not local (storage_source_add_files): a network
/// disk can have local backing layers.
fn top_source(
    disk: &Disk,
    b: &mut Builder,
    r: &mut dyn Resolve,
) -> Result<Option<(LocalKind, PathBuf)>> {
    let origin = &disk.origin;
    Ok(match &disk.source {
        Source::Empty | Source::NotLocal { .. } => None,
        Source::Local { kind, path } => Some((*kind, path.as_path().to_path_buf())),
        Source::Volume { pool, volume } => match r.volume_path(pool, volume, origin, b.diag)? {
            Some(path) => Some((LocalKind::File, path)),
            None => {
                b.warn(origin, format!(
                    "{origin}: volume {} of pool {} not found among the storage pool definitions; no rule",
                    crate::error::quote(volume),
                    crate::error::quote(pool)
                ));
                None
            }
        },
        // Gaps of libvirt 9.0: the unix socket a network disk or a vhost-user disk is
        // reached through, and an NVMe disk's VFIO group.
        Source::Network { sockets } => {
            for s in sockets {
                b.file(r, s, Perms::RW, ElementFamily::Disk, &origin.with("socket"))?;
            }
            None
        }
        Source::VhostUser { socket } => {
            b.file(
                r,
                socket,
                Perms::RW,
                ElementFamily::Disk,
                &origin.with("vhost-user socket"),
            )?;
            None
        }
        Source::Nvme { address } => {
            let o = origin.with("nvme");
            let groups: Vec<(u32, Origin)> = shared::vfio_group(b, r, VfioDevice::Pci(address), &o)
                .map(|g| (g, o.clone()))
                .into_iter()
                .collect();
            shared::vfio_rules(b, &groups, &o);
            None
        }
    })
}

/// The layers a `<backingStore>` chain lists, read-only, checked like the disk (the admin
/// names them); none of their headers is read. Returns the images above the last listed
/// layer, for the loop check of a continued chain: the disk's (`top`) and every layer's
/// given a rule.
fn listed_layers(
    b: &mut Builder,
    r: &mut dyn Resolve,
    layers: &[Layer],
    top: Option<CanonicalPath>,
) -> Result<Vec<CanonicalPath>> {
    let mut above: Vec<CanonicalPath> = top.into_iter().collect();
    for layer in layers {
        let lo = &layer.origin;
        if !layer.relabel {
            continue;
        }
        match &layer.source {
            Source::Local { path, .. } => {
                let canon = b.canonical(r, path.as_path(), lo)?;
                b.add_backing(canon.clone(), lo)?;
                above.push(canon);
            }
            Source::Network { sockets } => {
                for s in sockets {
                    b.file(r, s, Perms::RW, ElementFamily::Disk, &lo.with("socket"))?;
                }
            }
            _ => {}
        }
        // A backing layer's data file is read-only like the layer.
        data_store(b, r, &layer.data_store, None, lo)?;
    }
    Ok(above)
}

/// The rules for what the headers below `start` name: the one way image bytes reach the
/// profile, below a disk's top image and below the last layer of a listed chain alike.
/// The walk ([`crate::chain::walk`], through the resolver) finds the files and
/// [`chain::grants`] decides what each gets; a refusal names the header that named it.
fn from_headers(
    b: &mut Builder,
    r: &mut dyn Resolve,
    start: &ChainStart<'_>,
    opened: Opened,
    declared_data: bool,
) -> Result<()> {
    let found = r.image_chain(start, b.diag)?;
    for g in chain::grants(found, start, opened, declared_data, b.diag) {
        b.add_backing(g.path, &g.origin)
            .map_err(|e| name_parent(e, &g.raw))?;
    }
    Ok(())
}

/// A `<backingStore>` chain the XML does not end with an empty `<backingStore/>`: libvirt's
/// qemu driver continues it from the last listed layer's header before it starts QEMU
/// (`qemuDomainDetermineDiskChain`), so QEMU opens the layers below it too
/// (`docs/weak-spots.md` W11). They are read as below an undeclared chain's top image
/// (`Backing::Discover`), by [`from_headers`]: through the declared format only, capped at
/// the chain's whole depth, checked, read-only, with header names resolved against the
/// last layer as named. `above` holds the images listed above it.
fn continue_listed(
    disk: &Disk,
    layers: &[Layer],
    mut above: Vec<CanonicalPath>,
    b: &mut Builder,
    r: &mut dyn Resolve,
) -> Result<()> {
    let Some(last) = layers.last() else {
        return Ok(());
    };
    // A directory has no header; a network layer is not read (as a network top image).
    let Source::Local { kind, path } = &last.source else {
        return Ok(());
    };
    if *kind == LocalKind::Dir {
        return Ok(());
    }
    let lo = &last.origin;
    let Some(format) = last.format.as_ref() else {
        // libvirt never probes an undeclared format (it refuses a <backingStore> without
        // one), and a guest could forge the header: the chain stops here.
        b.warn(lo, format!(
            "{lo}: {} is the last <backingStore> layer, not terminated by an empty <backingStore/>, but has no <format type=...>: its format is not probed (a guest could forge its header), so the chain below it is not followed",
            crate::error::quote_path(path.as_path())
        ));
        return Ok(());
    };
    // The caller canonicalized the layer for its rule and pushed it last, unless the
    // admin manages its access (relabel='no'): the layers below it are still QEMU's to open.
    let listed = if last.relabel { above.pop() } else { None };
    let canon = match listed {
        Some(c) => c,
        None => b.canonical(r, path.as_path(), lo)?,
    };
    let start = ChainStart {
        raw: path.as_path(),
        image: &canon,
        format: Some(format),
        origin: lo,
        disk: &disk.origin,
        depth: layers.len(),
        above: &above,
    };
    // What the header names is read-only, like the layer itself; the files of a layer
    // the admin manages are the admin's too.
    let opened = if last.relabel {
        Opened::ReadOnly
    } else {
        Opened::Managed
    };
    from_headers(b, r, &start, opened, last.data_store.is_some())
}

/// The rule of a `<dataStore>`: `perms` for the disk's own, read-only (`None`) for a
/// backing layer's. Only a local file or block device needs one. Returns whether the
/// XML declares a data store at all.
fn data_store(
    b: &mut Builder,
    r: &mut dyn Resolve,
    ds: &Option<Source>,
    perms: Option<Perms>,
    origin: &Origin,
) -> Result<bool> {
    let Some(Source::Local { path, .. }) = ds else {
        return Ok(ds.is_some());
    };
    let o = origin.with("dataStore");
    match perms {
        Some(p) => {
            b.storage_file(r, path.as_path(), p, ElementFamily::Disk, &o)?;
        }
        None => {
            let canon = b.canonical(r, path.as_path(), &o)?;
            b.add_backing(canon, &o)?;
        }
    }
    Ok(true)
}

/// Adds "named by a backing header" context to a refusal of a backing layer.
fn name_parent(e: Error, raw: &Path) -> Error {
    match e {
        Error::Path { path, origin, why } => Error::Path {
            path,
            origin: origin.clone(),
            why: format!(
                "{why}; the name {} comes from an image header",
                crate::error::quote_path(raw)
            ),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;

    /// libvirt 9.0's deny rule on read-only disks and backing layers (`backing_deny_write =
    /// yes`); the default leaves it out, as libvirt 12.1 does (docs/weak-spots.md W6).
    fn deny_9_0() -> Options {
        Options {
            backing_deny_write: true,
            ..Options::default()
        }
    }

    #[test]
    fn disks_chains_and_permissions() {
        let xml = "<disk type='file'><driver type='qcow2'/><source file='/i/top.qcow2'/><target dev='vda'/></disk>\
             <disk type='file' device='cdrom'><source file='/i/cd.iso'/><readonly/><target dev='hdc'/></disk>\
             <disk type='block'><source dev='/dev/sdb'/><backingStore/><target dev='vdb'/></disk>\
             <disk type='network'><source protocol='nbd' name='x'/><target dev='vdc'/></disk>";
        for (options, deny) in [(Options::default(), ""), (deny_9_0(), " +deny")] {
            let mut fake = Fake {
                chains: vec![("/i/top.qcow2", vec!["/i/base.qcow2"])],
                ..Fake::default()
            };
            let got = lines_with(xml, "", &mut fake, &options);
            assert_eq!(
                without_base(&got),
                [
                    "/i/top.qcow2 rwk <disk vda>".to_string(),
                    format!("/i/base.qcow2 rk{deny} <disk vda backing 1>"),
                    format!("/i/cd.iso rk{deny} <disk hdc>"),
                    "/dev/sdb rwk <disk vdb>".to_string(),
                ]
            );
        }
    }

    /// A data file only the image header names: `rk` for a read-only disk, like a backing
    /// file; no rule for a writable one (QEMU opens it read-write, and no grant comes from
    /// image bytes for a writable disk); nothing from the header when the XML declares the
    /// disk's `<dataStore>`, which gets the disk's own permissions.
    #[test]
    fn header_data_files_are_read_only_for_read_only_disks_and_ungranted_for_writable_ones() {
        let fake = || Fake {
            data_files: vec![("/i/top.qcow2", "/d/data")],
            ..Fake::default()
        };
        let disk = |extra: &str, source: &str| {
            format!(
                "<disk type='file'><driver type='qcow2'/><source file='/i/top.qcow2'>{source}</source>{extra}<target dev='vda'/></disk>"
            )
        };
        let got = lines(&disk("<readonly/>", ""), "", &mut fake());
        assert_eq!(
            without_base(&got),
            [
                "/i/top.qcow2 rk <disk vda>",
                "/d/data rk <disk vda data file>"
            ]
        );
        let got = lines(&disk("", ""), "", &mut fake());
        assert_eq!(without_base(&got), ["/i/top.qcow2 rwk <disk vda>"]);
        let declared =
            "<dataStore type='file'><format type='raw'/><source file='/d/declared'/></dataStore>";
        for (extra, perms) in [("<readonly/>", "rk"), ("", "rwk")] {
            let got = lines(&disk(extra, declared), "", &mut fake());
            assert_eq!(
                without_base(&got),
                [
                    format!("/i/top.qcow2 {perms} <disk vda>"),
                    format!("/d/declared {perms} <disk vda dataStore>"),
                ]
            );
        }
    }

    #[test]
    fn network_disks_keep_their_local_backing_layers_and_cdroms_are_read_only() {
        let xml = "<disk type='network'><driver type='qcow2'/><source protocol='nbd' name='bar'/>\
               <backingStore type='block'><format type='qcow2'/><source dev='/dev/vg/base'/><backingStore/></backingStore>\
               <target dev='vdb'/></disk>\
             <disk type='block' device='cdrom'><source dev='/dev/sr0'/><target dev='hdc'/></disk>";
        for (options, deny) in [(Options::default(), ""), (deny_9_0(), " +deny")] {
            let got = lines_with(xml, "", &mut Fake::default(), &options);
            assert_eq!(
                without_base(&got),
                [
                    format!("/dev/vg/base rk{deny} <disk vdb backing 1>"),
                    format!("/dev/sr0 rk{deny} <disk hdc>"),
                ]
            );
        }
    }

    /// An unterminated `<backingStore>` chain is continued from its last listed layer's header
    /// (libvirt's `qemuDomainDetermineDiskChain`): the layers found are numbered after every
    /// listed one (a network layer counts), and are written also when the admin manages the
    /// last listed layer itself (relabel='no').
    #[test]
    fn unterminated_listed_chains_continue_below_their_last_layer() {
        let chain = |mid_label: &str| {
            format!(
                "<disk type='file'><driver type='qcow2'/><source file='/i/top.qcow2'/>\
                   <backingStore type='network'><format type='qcow2'/><source protocol='nbd' name='n'/>\
                     <backingStore type='file'><format type='qcow2'/><source file='/i/mid.qcow2'>{mid_label}</source></backingStore>\
                   </backingStore><target dev='vda'/></disk>"
            )
        };
        let fake = || Fake {
            chains: vec![("/i/mid.qcow2", vec!["/i/base.qcow2", "/i/root.qcow2"])],
            ..Fake::default()
        };
        let got = lines(&chain(""), "", &mut fake());
        assert_eq!(
            without_base(&got),
            [
                "/i/top.qcow2 rwk <disk vda>",
                "/i/mid.qcow2 rk <disk vda backing 2>",
                "/i/base.qcow2 rk <disk vda backing 3>",
                "/i/root.qcow2 rk <disk vda backing 4>",
            ]
        );
        let got = lines(
            &chain("<seclabel model='apparmor' relabel='no'/>"),
            "",
            &mut fake(),
        );
        assert_eq!(
            without_base(&got),
            [
                "/i/top.qcow2 rwk <disk vda>",
                "/i/base.qcow2 rk <disk vda backing 3>",
                "/i/root.qcow2 rk <disk vda backing 4>",
            ]
        );
        // Terminated, the chain is what the XML lists.
        let got = lines(
            &chain("").replace(
                "</source></backingStore>",
                "</source><backingStore/></backingStore>",
            ),
            "",
            &mut fake(),
        );
        assert_eq!(
            without_base(&got),
            [
                "/i/top.qcow2 rwk <disk vda>",
                "/i/mid.qcow2 rk <disk vda backing 2>",
            ]
        );
    }

    /// The setting governs storage only: firmware, kernels and tables keep libvirt's deny
    /// rule either way, as in libvirt 12.1, and a read-only disk's `<dataStore>` and a
    /// backing layer's follow the disk.
    #[test]
    fn backing_deny_write_governs_read_only_disks_and_layers_only() {
        let xml = "<disk type='file' device='disk'><driver type='qcow2'/>\
               <source file='/i/ro.qcow2'><dataStore type='file'><format type='raw'/><source file='/i/ro.data'/></dataStore></source>\
               <backingStore type='file'><format type='qcow2'/>\
                 <source file='/i/l1.qcow2'><dataStore type='file'><format type='raw'/><source file='/i/l1.data'/></dataStore></source>\
                 <backingStore/></backingStore>\
               <readonly/><target dev='vda'/></disk>";
        let os = "<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader><kernel>/boot/vmlinuz</kernel>";
        for (options, deny) in [(Options::default(), ""), (deny_9_0(), " +deny")] {
            let got = lines_with(xml, os, &mut Fake::default(), &options);
            assert_eq!(
                without_base(&got),
                [
                    format!("/i/ro.qcow2 rk{deny} <disk vda>"),
                    format!("/i/ro.data rk{deny} <disk vda dataStore>"),
                    format!("/i/l1.qcow2 rk{deny} <disk vda backing 1>"),
                    format!("/i/l1.data rk{deny} <disk vda backing 1 dataStore>"),
                    "/boot/vmlinuz r +deny <os kernel>".to_string(),
                    "/usr/share/OVMF/OVMF_CODE.fd rk +deny <os loader>".to_string(),
                ]
            );
        }
    }
}
