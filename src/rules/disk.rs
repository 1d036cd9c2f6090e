//! `<disk>`: the image with the disk's permissions, its backing chain read-only (from the
//! XML's `<backingStore>` or the image headers), its `<dataStore>`, and the sockets or VFIO
//! group of sources that are not local files.

use super::builder::Builder;
use super::shared::{self, VfioDevice};
use super::Perms;
use crate::error::{Error, Result};
use crate::image::CompanionKind;
use crate::origin::Origin;
use crate::parse::disk::{Backing, Disk, Layer, LocalKind, Source};
use crate::parse::Domain;
use crate::policy::ElementFamily;
use crate::resolve::{CanonicalPath, ChainLayer, ChainStart, Resolve};
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
    let perms = if disk.readonly { Perms::RK } else { Perms::RWK };
    // libvirt walks the whole chain and skips the elements that are not local
    // (storage_source_add_files): a network disk can have local backing layers.
    let top: Option<(LocalKind, PathBuf)> = match &disk.source {
        Source::Empty => return Ok(()),
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
        Source::NotLocal { .. } => None,
    };
    let top = match top {
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
        Backing::None => {}
        Backing::Explicit { layers, terminated } => {
            // The images above the last listed layer, for the loop check of a continued
            // chain: the disk's and every layer's given a rule.
            let mut above: Vec<CanonicalPath> =
                top.iter().map(|(_, _, canon)| canon.clone()).collect();
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
            if !terminated {
                continue_listed(disk, layers, above, b, r)?;
            }
        }
        Backing::Discover => {
            // A directory (vvfat) has no header; a network image is not read.
            let Some((kind, raw, canon)) = top else {
                return Ok(());
            };
            if kind == LocalKind::Dir {
                return Ok(());
            }
            let start = ChainStart::top(&raw, &canon, disk.format.as_deref(), origin);
            let chain = r.image_chain(&start, b.diag)?;
            // No writable grant ever comes from image bytes (OpenStack
            // CVE-2022-47951, CVE-2024-32498). A companion the header names (the resolver
            // reports only those QEMU opens) of a read-only disk is read-only like a
            // backing file; of a writable disk it gets no rule.
            for c in chain.top_companions {
                if c.kind == CompanionKind::DataFile && declared_data {
                    // libvirt passes the <dataStore> file as QEMU's data-file option:
                    // QEMU never opens the name in the header.
                    continue;
                }
                let co = origin.with(c.kind.what());
                // QEMU opens a writable disk's data file or extent
                // read-write, so a read-only grant cannot make the disk work, and it would
                // only give the image's uploader read access to the file it names (another
                // VM's image). No rule: the admin declares it.
                if !disk.readonly {
                    let advice = match c.kind {
                        CompanionKind::DataFile => "declare it with <dataStore> in the disk's <source>",
                        CompanionKind::Extent => "add a rule for it to the VM's own profile or convert the image (docs/operating.md: VMDK descriptors)",
                    };
                    b.warn(&co, format!(
                        "{co}: {} is named by the image, not by the XML, so it gets no rule (QEMU opens it read-write with the disk, and a grant never comes from image bytes for a writable disk); {advice}",
                        crate::error::quote_path(c.path.as_path())
                    ));
                    continue;
                }
                b.add_backing(c.path.clone(), &co)
                    .map_err(|e| name_parent(e, &c.raw))?;
            }
            found_layers(b, origin, 0, chain.layers)?;
        }
    }
    Ok(())
}

/// The layers a header walk found below the image at depth `above` (0: the top image),
/// read-only, numbered `backing <above + 1>` on.
fn found_layers(
    b: &mut Builder,
    origin: &Origin,
    above: usize,
    layers: Vec<ChainLayer>,
) -> Result<()> {
    for (i, layer) in layers.into_iter().enumerate() {
        let lo = origin.with(format_args!("backing {}", above + i + 1));
        b.add_backing(layer.path, &lo)
            .map_err(|e| name_parent(e, &layer.raw))?;
        for c in layer.companions {
            b.add_backing(c.path, &lo.with(c.kind.what()))
                .map_err(|e| name_parent(e, &c.raw))?;
        }
    }
    Ok(())
}

/// A `<backingStore>` chain the XML does not end with an empty `<backingStore/>`: libvirt's
/// qemu driver continues it from the last listed layer's header before it starts QEMU
/// (`qemuDomainDetermineDiskChain`), so QEMU opens the layers below it too. They are read
/// as below an undeclared chain's top image (`Backing::Discover`): through the declared
/// format only, capped at the chain's whole depth, checked, read-only, with header names
/// resolved against the last layer as named. `above` holds the images listed above it.
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
    let Some(format) = last.format.as_deref() else {
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
    let chain = r.image_chain(&start, b.diag)?;
    // What the header names is read-only, like the layer itself.
    for c in chain.top_companions {
        // The files of a layer the admin manages are the admin's too; and libvirt passes
        // the layer's <dataStore> as QEMU's data-file option: QEMU never opens the name in
        // the header.
        if !last.relabel || (c.kind == CompanionKind::DataFile && last.data_store.is_some()) {
            continue;
        }
        b.add_backing(c.path.clone(), &lo.with(c.kind.what()))
            .map_err(|e| name_parent(e, &c.raw))?;
    }
    found_layers(b, &disk.origin, layers.len(), chain.layers)
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
