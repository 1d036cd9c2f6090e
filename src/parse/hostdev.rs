//! `<hostdev mode='subsystem'>`: USB, PCI and mediated devices assigned to the guest
//! (SR-IOV `<interface type='hostdev'>` joins them from `net.rs`), and the domain-wide
//! `<iommufd enabled>` switch of their VFIO backend (libvirt 12.2).

use super::{number, Context, Domain, Family};

use crate::error::{Error, Result};
use crate::xml::Element;

pub const FAMILY: Family = Family {
    root: &["iommufd"],
    devices: &["hostdev"],
    parse,
};

/// An assigned device and where its element is in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assigned {
    /// The element's offset ([`crate::origin::Origin::at`]).
    pub at: usize,
    /// The device.
    pub device: Hostdev,
}

/// A `<hostdev mode='subsystem'>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hostdev {
    /// USB: found on the host by vendor/product and/or bus/device.
    Usb {
        vendor: Option<u16>,
        product: Option<u16>,
        bus: Option<u16>,
        device: Option<u16>,
    },
    /// PCI: the address `dddd:bb:ss.f`, whether the backend is VFIO (or the default), and
    /// its `<driver iommufd>` (libvirt 12.1: `None` when absent, then the domain-wide
    /// [`Domain::iommufd`] does not decide, see [`Domain::iommufd_for`]).
    Pci {
        address: String,
        vfio: bool,
        iommufd: Option<bool>,
    },
    /// Mediated device (vfio-pci, vfio-ap, vfio-ccw): `<source><address uuid=...>`,
    /// `None` when absent or not a UUID.
    Mdev { uuid: Option<uuid::Uuid> },
    /// SCSI, scsi_host and others: no rule in libvirt 9.0.
    Other(String),
}

fn parse(dev: &Element, d: &mut Domain, _: &mut Context) -> Result<()> {
    if dev.name == "iommufd" {
        // libvirt 12.2's `<domain><iommufd enabled='yes|no' [fdgroup]/>`: `enabled` is
        // required by its schema; `fdgroup` names fds passed in by the management
        // application, no host path.
        d.iommufd = yes_no(dev, "enabled", "<iommufd>")?
            .ok_or_else(|| Error::domain("<iommufd>", "the enabled attribute is missing"))?;
        return Ok(());
    }
    // mode='capabilities' devices are containers' and have no host file (libvirt 9.0 read
    // them through the wrong union member).
    if dev.attr("mode").unwrap_or("subsystem") != "subsystem" {
        return Ok(());
    }
    let src = dev.child("source");
    let kind = dev.attr("type").unwrap_or_default();
    let device = match kind {
        "usb" => {
            let what = "<hostdev type='usb'>";
            let vendor = src.and_then(|s| s.child("vendor"));
            let product = src.and_then(|s| s.child("product"));
            let addr = src.and_then(|s| s.child("address"));
            Hostdev::Usb {
                vendor: vendor.map(|v| number(v, "id", what)).transpose()?.flatten(),
                product: product
                    .map(|v| number(v, "id", what))
                    .transpose()?
                    .flatten(),
                bus: addr.map(|a| number(a, "bus", what)).transpose()?.flatten(),
                device: addr
                    .map(|a| number(a, "device", what))
                    .transpose()?
                    .flatten(),
            }
        }
        "pci" => pci_hostdev(dev, "<hostdev type='pci'>")?,
        "mdev" => Hostdev::Mdev {
            uuid: src
                .and_then(|s| s.child("address"))
                .and_then(|a| a.attr("uuid"))
                .and_then(|u| uuid::Uuid::try_parse(u).ok()),
        },
        other => Hostdev::Other(other.to_string()),
    };
    d.hostdevs.push(Assigned {
        at: dev.offset,
        device,
    });
    Ok(())
}

/// A PCI device to assign: `<source><address domain bus slot function>` and the backend
/// `<driver name>` (VFIO when absent, as libvirt's default).
pub fn pci_hostdev(dev: &Element, what: &str) -> Result<Hostdev> {
    let address =
        pci_address(dev, what)?.ok_or_else(|| Error::domain(what, "missing <source><address>"))?;
    let driver = dev.child("driver");
    let name = driver.and_then(|d| d.attr("name"));
    Ok(Hostdev::Pci {
        address,
        vfio: matches!(name, None | Some("vfio") | Some("default")),
        iommufd: driver
            .map(|d| yes_no(d, "iommufd", what))
            .transpose()?
            .flatten(),
    })
}

/// A `yes`/`no` attribute (libvirt's `virYesNo`): `None` when absent; anything else is
/// refused, as libvirt's parser refuses it.
fn yes_no(el: &Element, attr: &str, what: &str) -> Result<Option<bool>> {
    match el.attr(attr) {
        None => Ok(None),
        Some("yes") => Ok(Some(true)),
        Some("no") => Ok(Some(false)),
        Some(other) => Err(Error::domain(
            what,
            format!(
                "{attr}={} is neither 'yes' nor 'no'",
                crate::error::quote(other)
            ),
        )),
    }
}

/// `<source><address domain bus slot function>` as `dddd:bb:ss.f`.
pub fn pci_address(dev: &Element, what: &str) -> Result<Option<String>> {
    let Some(a) = dev.child("source").and_then(|s| s.child("address")) else {
        return Ok(None);
    };
    let domain = number(a, "domain", what)?.unwrap_or(0);
    let bus = number(a, "bus", what)?.unwrap_or(0);
    let slot = number(a, "slot", what)?.unwrap_or(0);
    let function = number(a, "function", what)?.unwrap_or(0);
    if bus > 0xff || slot > 0x1f || function > 7 {
        return Err(Error::domain(what, "PCI address out of range"));
    }
    Ok(Some(format!(
        "{domain:04x}:{bus:02x}:{slot:02x}.{function:x}"
    )))
}

impl Domain {
    /// Whether a host device is a VFIO PCI device assigned through IOMMUFD (the VFIO cdev
    /// `/dev/vfio/devices/vfioN` and `/dev/iommu`, libvirt 12.1) rather than through its
    /// IOMMU group: its own `<driver iommufd='yes'>`. The domain-wide `<iommufd
    /// enabled='yes'>` (libvirt 12.2) is not enough: libvirt 12.8's helper still grants the
    /// group of a device that does not say so itself (probe
    /// `tests/differential/probes/hostdev-iommufd-domain-wide.xml`), and a group rule too
    /// many keeps the VM starting where one too few would not.
    pub fn iommufd_for(&self, dev: &Hostdev) -> bool {
        match dev {
            Hostdev::Pci {
                vfio: true,
                iommufd,
                ..
            } => *iommufd == Some(true),
            _ => false,
        }
    }
}
