//! `<hostdev>`: an assigned USB device's node, a PCI device's sysfs files, and the VFIO
//! group of each PCI or mediated device (libvirt 9.0 granted `/dev/vfio/[0-9]*`, every
//! group).

use super::builder::Builder;
use super::shared::{self, VfioDevice};
use super::Perms;
use crate::error::Result;
use crate::origin::Origin;
use crate::parse::hostdev::Hostdev;
use crate::parse::Domain;
use crate::resolve::{Resolve, UsbId};

/// USB and PCI device files. Returns, when a device uses VFIO, the IOMMU group of each
/// VFIO device found on this host (libvirt 9.0 granted `/dev/vfio/[0-9]*`, every group).
pub(super) fn rules(d: &Domain, b: &mut Builder, r: &mut dyn Resolve) -> Result<()> {
    let mut vfio: Option<Vec<(u32, Origin)>> = None;
    for (i, a) in d.hostdevs.iter().enumerate() {
        let at = |o: Origin| o.at(a.at);
        let (dev, origin) = match &a.device {
            Hostdev::Usb {
                vendor,
                product,
                bus,
                device,
            } => {
                let origin = at(Origin::new("hostdev usb", i.to_string()));
                let id = UsbId {
                    vendor: *vendor,
                    product: *product,
                    bus: *bus,
                    device: *device,
                };
                match r.usb_device(id, &origin, b.diag) {
                    Some(node) => {
                        b.file_at(r, &node, Perms::RW, &origin)?;
                    }
                    None => b.warn(
                        &origin,
                        format!(
                        "{origin}: no such USB device on this host; no rule (libvirt skips it too)"
                    ),
                    ),
                }
                continue;
            }
            Hostdev::Pci { address, vfio } => {
                let origin = at(Origin::new("hostdev pci", address.clone()));
                let files = r.pci_files(address);
                if files.is_empty() {
                    b.warn(
                        &origin,
                        format!("{origin}: no such PCI device on this host; no sysfs rules"),
                    );
                }
                for f in files {
                    b.host_device_file(r, &f, Perms::RW, &origin)?;
                }
                if !*vfio {
                    continue;
                }
                (VfioDevice::Pci(address), origin)
            }
            Hostdev::Mdev { uuid } => {
                let name = uuid.map_or_else(|| i.to_string(), |u| u.hyphenated().to_string());
                (
                    VfioDevice::Mdev(*uuid),
                    at(Origin::new("hostdev mdev", name)),
                )
            }
            Hostdev::Other(_) => continue,
        };
        let group = shared::vfio_group(b, r, dev, &origin);
        vfio.get_or_insert_with(Vec::new)
            .extend(group.map(|g| (g, origin)));
    }
    b.vfio_groups = vfio;
    Ok(())
}

/// The VFIO block, written last as libvirt 9.0 did, for the groups [`rules`] found.
pub(super) fn vfio(_: &Domain, b: &mut Builder, _: &mut dyn Resolve) -> Result<()> {
    if let Some(groups) = b.vfio_groups.take() {
        shared::vfio_rules(b, &groups, &Origin::new("hostdev", "vfio"));
    }
    Ok(())
}
