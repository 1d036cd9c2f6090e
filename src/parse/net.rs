//! Guest networking: `<interface>` (tap, vhost-user, passt, bridge; SR-IOV ones are PCI
//! host devices) and `<vsock>` (virtio sockets between host and guest).

use super::{attr_path, hostdev, Context, Domain, Family};
use crate::domain::AbsPath;
use crate::error::Result;
use crate::origin::Origin;
use crate::xml::Element;

pub const FAMILY: Family = Family {
    root: &[],
    devices: &["interface", "vsock"],
    parse,
};

/// The network devices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Net {
    /// `<interface>` in document order.
    pub interfaces: Vec<Interface>,
    /// `<vsock>` (libvirt allows one): libvirtd opens `/dev/vhost-vsock` for QEMU.
    pub vsock: Option<Origin>,
}

/// `<interface type=...>`, as far as it decides a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterfaceType {
    /// `network`, `bridge`, `direct`, `ethernet`: libvirtd opens a tap (and maybe
    /// `/dev/vhost-net`) for QEMU.
    Tap,
    /// `bridge`: also a tap, and QEMU may run the set-uid bridge helper.
    Bridge,
    /// `user` with `<backend type='passt'>`: QEMU connects to passt's socket.
    Passt,
    /// `vhostuser`: a unix socket.
    VhostUser,
    /// Anything else (`user`, `hostdev`, `vdpa`, `udp`...).
    Other,
}

/// An `<interface>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// `interface <index>`.
    pub origin: Origin,
    /// `type=...`.
    pub kind: InterfaceType,
    /// `<model type=...>`.
    pub model: Option<String>,
    /// `<driver name=...>`.
    pub driver: Option<String>,
    /// vhost-user: `<source path=...>`, and whether `<source type='pipe'>`.
    pub vhostuser: Option<(bool, AbsPath)>,
    /// `type='direct'` (macvtap): QEMU gets the fd of `/dev/tap<ifindex>`.
    pub direct: bool,
    /// `<target dev=...>`: the host-side network device of a running domain (`vnet0`,
    /// `macvtap0`), which names the macvtap's `/dev/tap<ifindex>` (`rules/runtime.rs`).
    pub target_dev: Option<String>,
}

fn parse(dev: &Element, d: &mut Domain, _: &mut Context) -> Result<()> {
    if dev.name == "vsock" {
        d.net
            .vsock
            .get_or_insert_with(|| Origin::new("vsock", "vhost-vsock").at(dev.offset));
        return Ok(());
    }
    let origin = Origin::new("interface", d.net.interfaces.len().to_string()).at(dev.offset);
    let type_attr = dev.attr("type").unwrap_or_default();
    let kind = match type_attr {
        "network" | "direct" | "ethernet" => InterfaceType::Tap,
        "bridge" => InterfaceType::Bridge,
        "user" if dev.child("backend").and_then(|b| b.attr("type")) == Some("passt") => {
            InterfaceType::Passt
        }
        "vhostuser" => InterfaceType::VhostUser,
        _ => InterfaceType::Other,
    };
    // An SR-IOV interface is a PCI host device to libvirt (it is added to the domain's
    // hostdevs when parsed).
    if type_attr == "hostdev" {
        d.hostdevs.push(hostdev::Assigned {
            at: dev.offset,
            device: hostdev::pci_hostdev(dev, "<interface type='hostdev'>")?,
        });
    }
    let vhostuser = match (kind, dev.child("source")) {
        (InterfaceType::VhostUser, Some(s)) => {
            let o = origin.with("vhostuser");
            attr_path(s, "path", &o)?.map(|p| (s.attr("type") == Some("pipe"), p))
        }
        _ => None,
    };
    d.net.interfaces.push(Interface {
        origin,
        kind,
        model: dev
            .child("model")
            .and_then(|m| m.attr("type"))
            .map(str::to_string),
        driver: dev
            .child("driver")
            .and_then(|m| m.attr("name"))
            .map(str::to_string),
        vhostuser,
        direct: type_attr == "direct",
        target_dev: dev
            .child("target")
            .and_then(|t| t.attr("dev"))
            .map(str::to_string),
    });
    Ok(())
}
