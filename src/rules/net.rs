//! Guest networking: vhost-user sockets, the bridge helper's child profile, passt's
//! socket, `/dev/vhost-net` and `/dev/vhost-vsock`.

use super::builder::{Builder, Granted};
use super::{shared, ChildProfile, Perms};
use crate::error::Result;
use crate::name::ProfileName;
use crate::parse::net::InterfaceType;
use crate::parse::Domain;
use crate::policy::ElementFamily;
use crate::resolve::Resolve;
use crate::state::Owner;

/// vhost-user interfaces: `rw` on the socket (a pipe's three names).
pub(super) fn vhost_user(d: &Domain, b: &mut Builder, r: &mut dyn Resolve) -> Result<()> {
    for net in &d.net.interfaces {
        if let Some((pipe, path)) = &net.vhostuser {
            let origin = net.origin.with("vhostuser");
            if *pipe {
                shared::pipe(b, r, path, ElementFamily::Other, &origin)?;
            } else {
                b.file(r, path, Perms::RW, ElementFamily::Other, &origin)?;
            }
        }
    }
    Ok(())
}

/// The helper programs and daemons interfaces need: the bridge helper's child profile
/// and passt's socket (gaps of libvirt 9.0), in interface order.
pub(super) fn helpers(d: &Domain, b: &mut Builder, _: &mut dyn Resolve) -> Result<()> {
    for net in &d.net.interfaces {
        match net.kind {
            InterfaceType::Bridge => bridge_helper(d, b, &net.origin),
            InterfaceType::Passt => {
                let short = Owner::of(d).short_name();
                b.push_named(
                    &[(
                        "/run/libvirt/qemu/passt/{}-*.socket",
                        &[short.as_str()],
                        Perms::RW,
                    )],
                    &d.name,
                    &net.origin.with("passt"),
                    "passt's socket for this domain, named by libvirt's layout",
                )?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// `<interface type='bridge'>`: QEMU may run the set-uid `qemu-bridge-helper` to get a tap
/// device. It runs in a child profile of its own (a `Cx` transition) that may do exactly
/// what the helper needs, as Debian's libvirtd profile does for libvirtd's own use. Only
/// domains with a bridge interface get it, so guests on NAT networks never can.
///
/// Written once per domain, for the first bridge interface: a profile may define a child
/// profile (and its `Cx` rule) only once, and `apparmor_parser` refuses a second
/// definition, so a domain with two bridges could not start.
fn bridge_helper(d: &Domain, b: &mut Builder, origin: &crate::origin::Origin) {
    b.child(ChildProfile {
        helper: b.options.bridge_helper.clone(),
        parent: ProfileName::for_uuid(d.uuid),
        origin: origin.with("bridge"),
    });
}

/// The vhost device nodes libvirtd opens for QEMU and hands over (AppArmor checks an
/// inherited file against the new profile at exec, so the profile must allow it).
pub(super) fn vhost(d: &Domain, b: &mut Builder, _: &mut dyn Resolve) -> Result<()> {
    if needs_vhost_net(d) {
        b.push(
            Granted::fixed(
                "/dev/vhost-net",
                "a fixed device node libvirtd hands to QEMU",
            ),
            Perms::RW,
            false,
            crate::origin::Origin::new("interface", "vhost-net"),
        );
    }
    // <vsock>: libvirtd opens the device for any QEMU domain and passes the descriptor
    // (qemuProcessOpenVhostVsock, qemu_process.c:6936; on hotplug too, qemu_hotplug.c).
    // AppArmor revalidates descriptors inherited across the exec into the domain's
    // profile, which is why /dev/vhost-net has a rule; libvirt 9.0's helper wrote none
    // for vhost-vsock.
    if let (Some(origin), true) = (&d.net.vsock, d.virt_type.is_qemu_driver()) {
        b.push(
            Granted::fixed(
                "/dev/vhost-vsock",
                "a fixed device node libvirtd hands to QEMU",
            ),
            Perms::RW,
            false,
            origin.clone(),
        );
    }
    Ok(())
}

/// Whether QEMU may be handed `/dev/vhost-net`: libvirtd opens it for an interface only
/// when it also opens a tap for it (`qemuBuildInterfaceConnect`, qemu_command.c: types
/// `network`, `bridge`, `direct` and `ethernet`), and then only on KVM, with a virtio
/// model and a driver other than `qemu` (`qemuInterfaceOpenVhostNet`, qemu_interface.c).
/// An interface without a model may get virtio as the machine's default
/// (`qemuDomainDefaultNetModel`), so it counts. libvirt 9.0's helper (vah.c:1282) ignored
/// the type: a `user`, `vhostuser`, `hostdev`, `vdpa`, socket or `udp` interface got the
/// device too.
fn needs_vhost_net(d: &Domain) -> bool {
    d.virt_type.is_kvm()
        && d.net.interfaces.iter().any(|n| {
            matches!(n.kind, InterfaceType::Tap | InterfaceType::Bridge)
                && n.driver.as_deref() != Some("qemu")
                && n.model.as_deref().is_none_or(|m| {
                    matches!(
                        m,
                        "virtio" | "virtio-transitional" | "virtio-non-transitional"
                    )
                })
        })
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;

    /// `/dev/vhost-net` only for the interface types libvirtd opens it for.
    #[test]
    fn vhost_net_only_for_tap_interfaces() {
        for (iface, want) in [
            (
                "<interface type='network'><model type='virtio'/></interface>",
                true,
            ),
            ("<interface type='bridge'/>", true),
            (
                "<interface type='direct'><model type='virtio-non-transitional'/></interface>",
                true,
            ),
            (
                "<interface type='ethernet'><model type='virtio-transitional'/></interface>",
                true,
            ),
            (
                "<interface type='network'><model type='virtio'/><driver name='qemu'/></interface>",
                false,
            ),
            (
                "<interface type='network'><model type='e1000'/></interface>",
                false,
            ),
            (
                "<interface type='user'><model type='virtio'/></interface>",
                false,
            ),
            (
                "<interface type='vhostuser'><model type='virtio'/></interface>",
                false,
            ),
            (
                "<interface type='hostdev'><source><address type='pci' bus='0x03' slot='0x07' function='0x1'/></source></interface>",
                false,
            ),
            (
                "<interface type='vdpa'><model type='virtio'/></interface>",
                false,
            ),
            (
                "<interface type='udp'><model type='virtio'/></interface>",
                false,
            ),
        ] {
            let got = lines(iface, "", &mut Fake::default());
            assert_eq!(
                got.iter().any(|l| l.starts_with("/dev/vhost-net ")),
                want,
                "{iface}: {got:?}"
            );
        }
    }

    /// `<vsock>`: `/dev/vhost-vsock` for the QEMU driver's types only (libvirtd opens it in
    /// `qemuProcessOpenVhostVsock`), once however many elements there are.
    #[test]
    fn vsock_only_for_qemu_domains() {
        let vsock = "<vsock model='virtio'><cid auto='yes'/></vsock>";
        for (virt, os, want) in [("kvm", "hvm", 1), ("qemu", "hvm", 1), ("lxc", "exe", 0)] {
            let xml = format!(
                "<domain type='{virt}'><name>v</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid>\
                 <os><type>{os}</type></os><devices>{vsock}{vsock}</devices></domain>"
            );
            let set = build_xml(&xml, &mut Vec::new()).unwrap();
            let got: Vec<String> = set
                .rules
                .iter()
                .filter(|r| r.pattern.as_str() == "/dev/vhost-vsock")
                .map(|r| format!("{} {} <{}>", r.pattern, r.perms.as_str(), r.origin))
                .collect();
            assert_eq!(got.len(), want, "{virt}: {got:?}");
            if want == 1 {
                assert_eq!(got[0], "/dev/vhost-vsock rw <vsock vhost-vsock>");
            }
        }
    }
}
