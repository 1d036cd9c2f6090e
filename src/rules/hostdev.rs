//! `<hostdev>`: an assigned USB device's node, the VFIO group of each PCI or mediated
//! device (libvirt 9.0 granted `/dev/vfio/[0-9]*`, every group), and the sysfs files of a
//! PCI device of a non-VFIO backend. A VFIO PCI device assigned through IOMMUFD (libvirt
//! 12.1's `<driver iommufd='yes'>` on the device itself; 12.2's domain-wide `<iommufd
//! enabled='yes'>` alone changes nothing, as in libvirt 12.8's helper) gets nothing here.
//!
//! A VFIO device gets no sysfs file. QEMU's vfio-pci only `stat`s the
//! device's sysfs directory and `readlink`s its `iommu_group` (`vfio_realize` in
//! hw/vfio/pci.c up to 8.0, `vfio_device_groupid` in hw/vfio/container.c/common.c from
//! 8.1; AppArmor mediates neither with a file rule: libvirt's profiles never granted the
//! directory), then opens `/dev/vfio/vfio` (`vfio_connect_container`) and
//! `/dev/vfio/<group>` (`vfio_get_group`) and reaches config space, BARs and the ROM
//! through the device descriptor (`VFIO_DEVICE_GET_REGION_INFO`, `pread` on the device fd
//! in `vfio_pci_read_config`, `vfio_pci_load_rom`) and resets with `VFIO_DEVICE_RESET`.
//! libvirt 9.0's `config`, `resource*`, `rom`, `reset` `rw` (`virPCIDeviceFileIterate`)
//! served the legacy KVM assignment, which QEMU removed in 2.12: they gave a confined QEMU
//! raw access to the device behind VFIO's back.

use super::builder::Builder;
use super::shared::{self, VfioDevice};
use super::Perms;
use crate::error::Result;
use crate::origin::Origin;
use crate::parse::hostdev::Hostdev;
use crate::parse::Domain;
use crate::policy::ElementFamily;
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
                        b.file_at(r, &node, Perms::RW, ElementFamily::HostdevUsb, &origin)?;
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
            Hostdev::Pci { address, vfio, .. } => {
                let origin = at(Origin::new("hostdev pci", address.clone()));
                if d.iommufd_for(&a.device) {
                    // libvirt 12.1/12.2's helper writes neither the container nor the
                    // group for an IOMMUFD device (`virHostdevIsPCIDeviceWithoutIOMMUFD`):
                    // QEMU gets the VFIO cdev and `/dev/iommu` as descriptors libvirtd
                    // opens and grants with `-F` (`rules/extra.rs`, `rwm`). Like any VFIO
                    // device, no sysfs file.
                    continue;
                }
                if *vfio {
                    (VfioDevice::Pci(address), origin)
                } else {
                    legacy_pci_files(b, r, address, &origin)?;
                    continue;
                }
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

/// A PCI device of a non-VFIO backend (`<driver name='kvm'|'xen'>`): its sysfs files, as
/// libvirt 9.0 wrote them; QEMU itself refuses the legacy backend since 2.12.
fn legacy_pci_files(
    b: &mut Builder,
    r: &mut dyn Resolve,
    address: &str,
    origin: &Origin,
) -> Result<()> {
    let files = r.pci_files(address);
    if files.is_empty() {
        b.warn(
            origin,
            format!("{origin}: no such PCI device on this host; no sysfs rules"),
        );
    }
    for f in files {
        b.file_at(r, &f, Perms::RW, ElementFamily::HostdevPci, origin)?;
    }
    Ok(())
}

/// The VFIO block, written last as libvirt 9.0 did, for the groups [`rules`] found.
pub(super) fn vfio(_: &Domain, b: &mut Builder, _: &mut dyn Resolve) -> Result<()> {
    if let Some(groups) = b.vfio_groups.take() {
        shared::vfio_rules(b, &groups, &Origin::new("hostdev", "vfio"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;

    #[test]
    fn sriov_interfaces_are_pci_hostdevs() {
        let got = lines(
            "<interface type='hostdev' managed='yes'><source><address type='pci' domain='0x0000' bus='0x03' slot='0x07' function='0x1'/></source></interface>",
            "",
            &mut Fake::default(),
        );
        assert_eq!(without_base(&got), ["/dev/vfio/vfio rw <hostdev vfio>"]);
        // A non-VFIO backend (QEMU has none since 2.12; libvirt 9.0 still wrote these): the
        // sysfs files, and no VFIO rule.
        let got = lines(
            "<interface type='hostdev' managed='yes'><driver name='kvm'/><source><address type='pci' domain='0x0000' bus='0x03' slot='0x07' function='0x1'/></source></interface>",
            "",
            &mut Fake::default(),
        );
        assert_eq!(
            without_base(&got),
            ["/sys/devices/pci0000:00/0000:03:07.1/config rw <hostdev pci 0000:03:07.1>"]
        );
    }

    /// An mdev gets its own group; one not on the host, or without a uuid, gets none (and
    /// a warning), never `/dev/vfio/[0-9]*`.
    #[test]
    fn mdev_hostdevs_get_their_own_group() {
        let mdev = |uuid: &str| {
            format!("<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='{uuid}'/></source></hostdev>")
        };
        let got = lines(&mdev(MDEV), "", &mut Fake::default());
        assert_eq!(
            without_base(&got),
            [
                "/dev/vfio/vfio rw <hostdev vfio>",
                &format!("/dev/vfio/9 rw <hostdev mdev {MDEV}>"),
            ]
        );
        for other in ["00000000-1111-2222-3333-444444444444", "../../x", ""] {
            let xml = format!(
                "<domain type='kvm'><name>v</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid>\
                 <os><type>hvm</type></os><devices>{}</devices></domain>",
                mdev(other)
            );
            let mut warnings = Vec::new();
            let set = build_xml(&xml, &mut warnings).unwrap();
            let vfio: Vec<&str> = set
                .rules
                .iter()
                .map(|r| r.pattern.as_str())
                .filter(|p| p.starts_with("/dev/vfio/"))
                .collect();
            assert_eq!(vfio, ["/dev/vfio/vfio"], "{other}");
            assert!(
                warnings.iter().any(|w| w
                    .0
                    .contains("not found on this host; no VFIO group granted")),
                "{other}: {warnings:?}"
            );
        }
    }
}
