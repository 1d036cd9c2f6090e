//! `<disk>`: the image with the disk's permissions, its backing chain read-only (from the
//! XML's `<backingStore>` or the image headers), its `<dataStore>`, and the sockets or VFIO
//! group of sources that are not local files.

use super::builder::Builder;
use super::shared::{self, VfioDevice};
use super::Perms;
use crate::error::{Error, Result};
use crate::image::CompanionKind;
use crate::origin::Origin;
use crate::parse::disk::{Backing, Disk, LocalKind, Source};
use crate::parse::Domain;
use crate::resolve::Resolve;
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
                b.file(r, s, Perms::RW, &origin.with("socket"))?;
            }
            None
        }
        Source::VhostUser { socket } => {
            b.file(r, socket, Perms::RW, &origin.with("vhost-user socket"))?;
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
            let canon = b.storage_file(r, &raw, perms, origin)?;
            Some((kind, raw, canon))
        }
        None => None,
    };
    // The data file the XML declares (`<dataStore>`, libvirt >= 10.10) is named by the
    // admin like the disk itself: the disk's permissions, checked like the disk.
    let declared_data = data_store(b, r, &disk.data_store, Some(perms), origin)?;
    match &disk.backing {
        Backing::None => {}
        Backing::Explicit(layers) => {
            for layer in layers {
                let lo = &layer.origin;
                if !layer.relabel {
                    continue;
                }
                match &layer.source {
                    Source::Local { path, .. } => {
                        let canon = b.canonical(r, path.as_path(), lo)?;
                        b.add_backing(canon, lo)?;
                    }
                    Source::Network { sockets } => {
                        for s in sockets {
                            b.file(r, s, Perms::RW, &lo.with("socket"))?;
                        }
                    }
                    _ => {}
                }
                // A backing layer's data file is read-only like the layer.
                data_store(b, r, &layer.data_store, None, lo)?;
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
            let chain = r.image_chain(&raw, &canon, disk.format.as_deref(), origin, b.diag)?;
            // Issue 9, class 1: no writable grant ever comes from image bytes (OpenStack
            // CVE-2022-47951, CVE-2024-32498). A companion the header names (the resolver
            // reports only those QEMU opens) is read-only like a backing file, whatever
            // the disk's permissions.
            for c in chain.top_companions {
                if c.kind == CompanionKind::DataFile && declared_data {
                    // libvirt passes the <dataStore> file as QEMU's data-file option:
                    // QEMU never opens the name in the header.
                    continue;
                }
                let co = origin.with(c.kind.what());
                b.add_backing(c.path.clone(), &co)
                    .map_err(|e| name_parent(e, &c.raw))?;
                if !disk.readonly {
                    let advice = match c.kind {
                        CompanionKind::DataFile => "declare it with <dataStore> in the disk's <source>",
                        CompanionKind::Extent => "add a rule for it to the VM's own profile or convert the image (README: VMDK descriptors)",
                    };
                    b.warn(&co, format!(
                        "{co}: {} is named by the image, not by the XML, so it is read-only (a writable grant never comes from image bytes) and QEMU cannot write it; {advice}",
                        crate::error::quote_path(c.path.as_path())
                    ));
                }
            }
            for (i, layer) in chain.layers.into_iter().enumerate() {
                let lo = origin.with(format_args!("backing {}", i + 1));
                b.add_backing(layer.path, &lo)
                    .map_err(|e| name_parent(e, &layer.raw))?;
                for c in layer.companions {
                    b.add_backing(c.path, &lo.with(c.kind.what()))
                        .map_err(|e| name_parent(e, &c.raw))?;
                }
            }
        }
    }
    Ok(())
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
            b.storage_file(r, path.as_path(), p, &o)?;
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
