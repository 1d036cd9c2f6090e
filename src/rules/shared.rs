//! Rule blocks more than one element family writes, one copy each.

use super::builder::{Builder, Granted};
use super::Perms;
use crate::domain::AbsPath;
use crate::error::Result;
use crate::escape::{AaPattern, Part};
use crate::origin::Origin;
use crate::policy::ElementFamily;
use crate::resolve::Resolve;
use std::path::Path;

/// A `pipe` chardev or vhost-user socket: QEMU opens `<p>.in` and `<p>.out`, and falls
/// back to `<p>` when they do not exist (`qemu_chr_open_pipe`), so all three get `rw`
/// (libvirt 9.0 wrote only the two suffixed ones, and forgot console pipes).
pub fn pipe(
    b: &mut Builder,
    r: &mut dyn Resolve,
    path: &AbsPath,
    family: ElementFamily,
    origin: &Origin,
) -> Result<()> {
    for suffix in [".in", ".out", ""] {
        let p = format!("{}{suffix}", path.as_str());
        b.file_at(r, Path::new(&p), Perms::RW, family, origin)?;
    }
    Ok(())
}

/// A device QEMU opens through VFIO, whose IOMMU group is looked up in sysfs.
#[derive(Debug, Clone, Copy)]
pub enum VfioDevice<'a> {
    /// A PCI device (`<hostdev type='pci'>`, an NVMe disk) by its address `dddd:bb:ss.f`.
    Pci(&'a str),
    /// A mediated device by its UUID (`None`: the XML has none or an invalid one).
    Mdev(Option<uuid::Uuid>),
}

/// The IOMMU group of a VFIO device, from sysfs (`iommu_group`, libvirt's
/// `virPCIDeviceAddressGetIOMMUGroupDev` / `virMediatedDeviceGetIOMMUGroupDev`). A device
/// that is not on this host gets no group at all, with a warning: libvirt 9.0 granted
/// every group (`/dev/vfio/[0-9]*`), so one VM could open every other VM's devices.
pub fn vfio_group(
    b: &mut Builder,
    r: &mut dyn Resolve,
    dev: VfioDevice<'_>,
    origin: &Origin,
) -> Option<u32> {
    let group = match dev {
        VfioDevice::Pci(address) => r.iommu_group(address),
        VfioDevice::Mdev(Some(uuid)) => r.mdev_iommu_group(&uuid),
        VfioDevice::Mdev(None) => None,
    };
    if group.is_none() {
        let what = match dev {
            VfioDevice::Pci(address) => format!("PCI device {address}"),
            VfioDevice::Mdev(Some(uuid)) => format!("mediated device {uuid}"),
            VfioDevice::Mdev(None) => "mediated device without a valid uuid".to_string(),
        };
        b.warn(
            origin,
            format!("{origin}: {what} not found on this host; no VFIO group granted"),
        );
    }
    group
}

/// The VFIO container `/dev/vfio/vfio` (it opens no device by itself) and the node of
/// each group found, `/dev/vfio/<N>`.
pub fn vfio_rules(b: &mut Builder, groups: &[(u32, Origin)], container: &Origin) {
    b.push(
        Granted::fixed(
            "/dev/vfio/vfio",
            "the VFIO container: it opens no device by itself",
        ),
        Perms::RW,
        false,
        container.clone(),
    );
    for (group, origin) in groups {
        let number = group.to_string();
        if let Ok(p) = AaPattern::from_parts(&[Part::Lit("/dev/vfio/"), Part::Lit(&number)]) {
            b.push(
                Granted::trusted(p, "the IOMMU group sysfs names for an assigned device"),
                Perms::RW,
                false,
                origin.clone(),
            );
        }
    }
}
