//! Rules for the devices after the boot files, in libvirt 9.0's order (`get_files`,
//! `vah.c:1011-1321`): graphics (render nodes, listen sockets, SDL xauth), host devices,
//! filesystem shares, input devices, vhost-user interfaces, NVDIMMs, fw_cfg files, shared
//! memory, TPM emulator state, smartcard databases, then the fixed vhost-net, VFIO and GL
//! blocks.
//!
//! Fixes over 9.0, each noted where it happens: a graphics render node or socket is checked
//! like any path (9.0 ignored the result for render nodes, W10); a TPM without a version
//! gets the version libvirt's QEMU driver would choose (9.0 wrote `(null)`, W10); the
//! smartcard database is escaped and checked (9.0 pasted it raw, a rule injection, W3); an
//! SDL display without xauth is not an error.

use super::{path_text, pattern, Builder, Perms, VfioDevice};
use crate::domain::{Access, Domain, Feature, Hostdev, VirtType};
use crate::error::{Error, Result};
use crate::escape::{AaPattern, Glob, Part};
use crate::origin::Origin;
use crate::policy::Scope;
use crate::resolve::{Resolve, UsbId};
use std::path::Path;

pub(super) fn rules(d: &Domain, b: &mut Builder, r: &mut impl Resolve) -> Result<()> {
    let needs_gl = graphics(d, b, r)?;
    let vfio = hostdevs(d, b, r)?;
    for (i, fs) in d.filesystems.iter().enumerate() {
        let origin = Origin::new(
            "filesystem",
            fs.target.clone().unwrap_or_else(|| i.to_string()),
        );
        share(b, r, Path::new(&fs.source), fs.readonly, &origin)?;
    }
    for (i, p) in d.inputs.iter().enumerate() {
        b.file(
            r,
            Path::new(p),
            Perms::RW,
            &Origin::new("input", i.to_string()),
        )?;
    }
    for (i, net) in d.interfaces.iter().enumerate() {
        if let Some((kind, path)) = &net.vhostuser {
            let origin = Origin::new("interface", format!("{i} vhostuser"));
            if kind == "pipe" {
                for suffix in [".in", ".out", ""] {
                    b.file(r, Path::new(&format!("{path}{suffix}")), Perms::RW, &origin)?;
                }
            } else {
                b.file(r, Path::new(path), Perms::RW, &origin)?;
            }
        }
    }
    for (i, p) in d.nvdimms.iter().enumerate() {
        b.file(
            r,
            Path::new(p),
            Perms::RW,
            &Origin::new("memory nvdimm", i.to_string()),
        )?;
    }
    for (i, p) in d.fw_cfg_files.iter().enumerate() {
        b.file(
            r,
            Path::new(p),
            Perms::R,
            &Origin::new("sysinfo fwcfg", i.to_string()),
        )?;
    }
    shmems(d, b, r)?;
    tpms(d, b)?;
    smartcards(d, b, r)?;
    others(d, b, r)?;
    features(d, b, r)?;
    if needs_vhost_net(d) {
        b.push(
            AaPattern::fixed("/dev/vhost-net"),
            Perms::RW,
            false,
            Origin::new("interface", "vhost-net"),
        );
    }
    if let Some(groups) = vfio {
        super::vfio_rules(b, &groups, &Origin::new("hostdev", "vfio"));
    }
    if needs_gl {
        gl_block(b);
    }
    Ok(())
}

/// Paths libvirt 9.0's helper ignored although QEMU opens them: chardev logs, virtio-pmem
/// and pstore backends, audio files, rng and redirdev sockets and devices.
fn others(d: &Domain, b: &mut Builder, r: &mut impl Resolve) -> Result<()> {
    for o in &d.others {
        let perms = match o.access {
            Access::Read => Perms::R,
            Access::Write => Perms::W,
            Access::ReadWrite => Perms::RW,
        };
        let origin = Origin::new(o.element, o.detail.clone());
        // libvirt's helper skipped relative paths with a warning (vah_add_path); these
        // elements got no rule at all from it, so a relative one is not an error here.
        if !Path::new(&o.path).is_absolute() {
            b.warn(
                r,
                format!(
                    "{origin}: {} is not an absolute path; no rule",
                    crate::error::quote(&o.path)
                ),
            );
            continue;
        }
        b.file(r, Path::new(&o.path), perms, &origin)?;
    }
    Ok(())
}

/// Device nodes and blocks for domain features (gaps of libvirt 9.0; the SEV and SGX rules
/// are those of later libvirt releases).
fn features(d: &Domain, b: &mut Builder, r: &mut impl Resolve) -> Result<()> {
    for f in &d.features {
        match f {
            Feature::Sev => b.push(
                AaPattern::fixed("/dev/sev"),
                Perms::RW,
                false,
                Origin::new("launchSecurity", "sev"),
            ),
            Feature::Sgx => {
                let o = Origin::new("memory", "sgx-epc");
                b.push(
                    AaPattern::fixed("/dev/sgx_vepc"),
                    Perms::RW,
                    false,
                    o.clone(),
                );
                b.push(AaPattern::fixed("/dev/sgx_provision"), Perms::R, true, o);
            }
            Feature::TpmPassthrough(dev) => {
                let o = Origin::new("tpm", "passthrough");
                b.file(r, Path::new(dev), Perms::RW, &o)?;
                // The cancel file lives in sysfs below the TPM's device; it is looked up
                // by the device's name only, so it is trusted like a fixed path.
                let name = Path::new(dev)
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                let tpm_name = name
                    .strip_prefix("tpmrm")
                    .or_else(|| name.strip_prefix("tpm"));
                match tpm_name.filter(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit())) {
                    Some(_) => match r.tpm_cancel(name) {
                        Some(cancel) => {
                            let canon = r.canonical(&cancel, &o)?;
                            let text = path_text(&canon, &o)?;
                            let p = pattern(&[Part::Lit(text)], &canon, &o)?;
                            b.push(p, Perms::RW, false, o.with("cancel"));
                        }
                        None => b.warn(
                            r,
                            format!(
                                "{o}: no cancel file for {} in sysfs",
                                crate::error::quote(name)
                            ),
                        ),
                    },
                    None => b.warn(
                        r,
                        format!(
                            "{o}: {} is not a TPM device name (tpmN); no cancel file",
                            crate::error::quote(name)
                        ),
                    ),
                }
            }
            Feature::BridgeHelper(i) => bridge_helper(d, b, *i)?,
            Feature::Passt(i) => {
                let short = super::short_name(d);
                let parts = vec![
                    Part::Lit("/run/libvirt/qemu/passt/"),
                    Part::Lit(&short),
                    Part::Lit("-"),
                    Part::Glob(Glob::AnyInComponent),
                    Part::Lit(".socket"),
                ];
                let origin = Origin::new("interface", format!("{i} passt"));
                b.push_named(&[(parts, Perms::RW)], &d.name, &origin)?;
            }
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
fn bridge_helper(d: &Domain, b: &mut Builder, index: usize) -> Result<()> {
    if b.has_bridge_helper {
        return Ok(());
    }
    let helper = b.bridge_helper.clone();
    let helper = AaPattern::literal(&helper).map_err(|e| {
        Error::Usage(format!(
            "--bridge-helper {}: {e}",
            crate::error::quote(&helper)
        ))
    })?;
    let me = crate::name::ProfileName::for_uuid(d.uuid);
    let block = format!(
        "  # QEMU may run the set-uid bridge helper, confined in a child profile\n\
         \x20 \"{helper}\" Cx -> qemu_bridge_helper,  # interface {index} bridge\n\
         \x20 unix (send, receive) type=stream addr=none peer=(label={me}//qemu_bridge_helper),\n\
         \x20 profile qemu_bridge_helper {{\n\
         \x20   #include <abstractions/base>\n\
         \x20   capability setuid,\n\
         \x20   capability setgid,\n\
         \x20   capability setpcap,\n\
         \x20   capability net_admin,\n\
         \x20   network inet stream,\n\
         \x20   unix (send, receive) type=stream addr=none peer=(label={me}),\n\
         \x20   \"/dev/net/tun\" rw,\n\
         \x20   \"/etc/qemu/\" r,\n\
         \x20   \"/etc/qemu/**\" r,\n\
         \x20   owner @{{PROC}}/*/status r,\n\
         \x20   \"{helper}\" rmix,\n\
         \x20 }}\n"
    );
    b.blocks.push(block);
    b.has_bridge_helper = true;
    Ok(())
}

/// Render nodes, unix listen sockets, SDL's xauth. Returns whether the GL block is needed.
fn graphics(d: &Domain, b: &mut Builder, r: &mut impl Resolve) -> Result<bool> {
    let mut needs_gl = false;
    for (i, g) in d.graphics.iter().enumerate() {
        let origin = Origin::new("graphics", format!("{} {i}", g.kind));
        // virDomainGraphicsSupportsRenderNode / NeedsAutoRenderNode.
        if matches!(g.kind.as_str(), "spice" | "egl-headless" | "dbus") {
            if let Some(node) = &g.rendernode {
                b.file(r, Path::new(node), Perms::RW, &origin)?;
                needs_gl = true;
            } else if g.kind == "egl-headless" || g.gl {
                needs_gl = true;
                if let Some(node) = r.drm_render_node() {
                    b.file(r, &node, Perms::RW, &origin.with("rendernode"))?;
                }
            }
        }
        for s in &g.sockets {
            b.file(r, Path::new(s), Perms::RW, &origin)?;
        }
    }
    // libvirt reads the xauth only when SDL is the only display (vah.c:1042).
    if let [g] = d.graphics.as_slice() {
        if let Some(x) = &g.xauth {
            b.file(
                r,
                Path::new(x),
                Perms::R,
                &Origin::new("graphics", "sdl xauth"),
            )?;
        }
    }
    Ok(needs_gl)
}

/// USB and PCI device files. Returns, when a device uses VFIO, the IOMMU group of each
/// VFIO device found on this host (libvirt 9.0 granted `/dev/vfio/[0-9]*`, every group).
fn hostdevs(
    d: &Domain,
    b: &mut Builder,
    r: &mut impl Resolve,
) -> Result<Option<Vec<(u32, Origin)>>> {
    let mut vfio: Option<Vec<(u32, Origin)>> = None;
    for (i, h) in d.hostdevs.iter().enumerate() {
        let (dev, origin) = match h {
            Hostdev::Usb {
                vendor,
                product,
                bus,
                device,
            } => {
                let origin = Origin::new("hostdev usb", i.to_string());
                let id = UsbId {
                    vendor: *vendor,
                    product: *product,
                    bus: *bus,
                    device: *device,
                };
                match r.usb_device(id) {
                    Some(node) => {
                        b.file(r, &node, Perms::RW, &origin)?;
                    }
                    None => b.warn(
                        r,
                        format!(
                        "{origin}: no such USB device on this host; no rule (libvirt skips it too)"
                    ),
                    ),
                }
                continue;
            }
            Hostdev::Pci { address, vfio } => {
                let origin = Origin::new("hostdev pci", address.clone());
                let files = r.pci_files(address);
                if files.is_empty() {
                    b.warn(
                        r,
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
                (VfioDevice::Mdev(*uuid), Origin::new("hostdev mdev", name))
            }
            Hostdev::Other(_) => continue,
        };
        let group = super::vfio_group(b, r, dev, &origin);
        vfio.get_or_insert_with(Vec::new)
            .extend(group.map(|g| (g, origin)));
    }
    Ok(vfio)
}

/// A directory shared with the guest: `"<d>/**"` with the share's permissions and `"<d>/" r`
/// (libvirt's `vah_add_path(..., recursive=true)`: read-only shares get no deny rule, which
/// "can only lead to troubles when mounting / readonly").
fn share(
    b: &mut Builder,
    r: &mut impl Resolve,
    raw: &Path,
    readonly: bool,
    origin: &Origin,
) -> Result<()> {
    if !raw.is_absolute() {
        return Err(Error::Path {
            path: raw.to_path_buf(),
            origin: origin.to_string(),
            why: "is not an absolute path".into(),
        });
    }
    let canon = r.canonical(raw, origin)?;
    let perms = if readonly { Perms::R } else { Perms::RWL };
    b.checked(&canon, perms, Scope::Share, origin)?;
    let text = path_text(&canon, origin)?;
    let dir = text.trim_end_matches('/');
    let all = pattern(
        &[Part::Lit(dir), Part::Lit("/"), Part::Glob(Glob::AnyDepth)],
        &canon,
        origin,
    )?;
    b.push(all, perms, false, origin.clone());
    let itself = pattern(&[Part::Lit(dir), Part::Lit("/")], &canon, origin)?;
    b.push(itself, Perms::R, false, origin.clone());
    Ok(())
}

fn shmems(d: &Domain, b: &mut Builder, r: &mut impl Resolve) -> Result<()> {
    for s in &d.shmems {
        let origin = Origin::new("shmem", s.name.clone());
        // An explicit server path wins; else QEMU's defaults for the model
        // (qemuBuildShmemBackendMemProps, qemuDomainPrepareShmemChardev).
        let path = match (&s.server_path, s.model.as_str()) {
            (Some(p), _) => p.clone(),
            (None, "ivshmem-plain") => format!("/dev/shm/{}", s.name),
            (None, "ivshmem" | "ivshmem-doorbell") => {
                format!("/var/lib/libvirt/shmem-{}-sock", s.name)
            }
            (None, _) => continue,
        };
        b.file(r, Path::new(&path), Perms::RW, &origin)?;
    }
    Ok(())
}

/// swtpm's socket, state directory, log and pid file for each emulated TPM.
fn tpms(d: &Domain, b: &mut Builder) -> Result<()> {
    let uuid = d.uuid.hyphenated().to_string();
    let short = super::short_name(d);
    for (i, t) in d.tpms.iter().enumerate() {
        if t.backend != "emulator" {
            continue;
        }
        let origin = Origin::new("tpm", i.to_string());
        let version = match t.version.as_deref() {
            Some("1.2") => "tpm1.2",
            Some("2.0") => "tpm2",
            // qemuDomainTPMDefPostParse: CRB, SPAPR and Arm virt machines get TPM 2.0.
            _ if is_tpm2_default(d, t.model.as_deref()) => "tpm2",
            _ => "tpm1.2",
        };
        let name = d.name.as_str();
        let rules: [(Vec<Part<'_>>, Perms); 5] = [
            (
                vec![
                    Part::Lit("/run/libvirt/qemu/swtpm/"),
                    Part::Lit(&short),
                    Part::Lit("-swtpm.sock"),
                ],
                Perms::RW,
            ),
            (
                vec![
                    Part::Lit("/var/lib/libvirt/swtpm/"),
                    Part::Lit(&uuid),
                    Part::Lit("/"),
                    Part::Lit(version),
                    Part::Lit("/"),
                ],
                Perms::R,
            ),
            (
                vec![
                    Part::Lit("/var/lib/libvirt/swtpm/"),
                    Part::Lit(&uuid),
                    Part::Lit("/"),
                    Part::Lit(version),
                    Part::Lit("/"),
                    Part::Glob(Glob::AnyDepth),
                ],
                Perms::RWK,
            ),
            (
                vec![
                    Part::Lit("/var/log/swtpm/libvirt/qemu/"),
                    Part::Lit(name),
                    Part::Lit("-swtpm.log"),
                ],
                Perms::W,
            ),
            (
                vec![
                    Part::Lit("/run/libvirt/qemu/swtpm/"),
                    Part::Lit(&short),
                    Part::Lit("-swtpm.pid"),
                ],
                Perms::RW,
            ),
        ];
        b.push_named(&rules, name, &origin)?;
    }
    Ok(())
}

fn is_tpm2_default(d: &Domain, model: Option<&str>) -> bool {
    let arm_virt = matches!(d.os.arch.as_deref(), Some("aarch64" | "armv7l" | "armv6l"))
        && d.os
            .machine
            .as_deref()
            .is_some_and(|m| m == "virt" || m.starts_with("virt-"));
    let ppc_pseries = d.os.arch.as_deref().is_some_and(|a| a.starts_with("ppc64"))
        && d.os
            .machine
            .as_deref()
            .is_some_and(|m| m.starts_with("pseries"));
    matches!(model, Some("tpm-crb" | "tpm-spapr")) || (model.is_none() && ppc_pseries) || arm_virt
}

/// The NSS database QEMU's smartcard emulation reads: the directory and its files.
fn smartcards(d: &Domain, b: &mut Builder, r: &mut impl Resolve) -> Result<()> {
    const DEFAULT_DB: &str = "/etc/pki/nssdb";
    for (i, sc) in d.smartcards.iter().enumerate() {
        let origin = Origin::new("smartcard", i.to_string());
        let db = match (sc.mode.as_str(), &sc.database) {
            ("host", _) | ("host-certificates", None) => None,
            ("host-certificates", Some(db)) => Some(db),
            _ => continue,
        };
        match db {
            // libvirt's fixed default database (under /etc, read-only).
            None => b.push(
                AaPattern::fixed("/etc/pki/nssdb/{,*}"),
                Perms::RK,
                false,
                origin,
            ),
            Some(db) => {
                let raw = Path::new(db);
                if !raw.is_absolute() {
                    return Err(Error::Path {
                        path: raw.to_path_buf(),
                        origin: origin.to_string(),
                        why: "is not an absolute path".into(),
                    });
                }
                let canon = r.canonical(raw, &origin)?;
                if canon.as_path() == Path::new(DEFAULT_DB) {
                    b.push(
                        AaPattern::fixed("/etc/pki/nssdb/{,*}"),
                        Perms::RK,
                        false,
                        origin,
                    );
                    continue;
                }
                b.checked(&canon, Perms::RK, Scope::Share, &origin)?;
                let text = path_text(&canon, &origin)?;
                let p = pattern(
                    &[
                        Part::Lit(text.trim_end_matches('/')),
                        Part::Lit("/"),
                        Part::Glob(Glob::SelfAndChildren),
                    ],
                    &canon,
                    &origin,
                )?;
                b.push(p, Perms::RK, false, origin);
            }
        }
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
    d.virt_type == VirtType::Qemu("kvm")
        && d.interfaces.iter().any(|n| {
            matches!(
                n.kind.as_str(),
                "network" | "bridge" | "direct" | "ethernet"
            ) && n.driver.as_deref() != Some("qemu")
                && n.model.as_deref().is_none_or(|m| {
                    matches!(
                        m,
                        "virtio" | "virtio-transitional" | "virtio-non-transitional"
                    )
                })
        })
}

/// libvirt's fixed block for GL: Mesa/DRI drivers and their configuration, probing of DRI
/// device attributes (vah.c:1301-1321). Paths under /usr, /etc, /proc and /sys are allowed
/// here because the text is the tool's own, not from the XML.
fn gl_block(b: &mut Builder) {
    let o = Origin::new("graphics", "gl");
    let rules: [(&'static str, Perms); 15] = [
        ("/usr/lib{,32,64}/dri/*.so*", Perms::MR),
        ("/usr/lib/@{multiarch}/dri/*.so*", Perms::MR),
        ("/usr/lib/fglrx/dri/*.so*", Perms::MR),
        ("/etc/drirc", Perms::R),
        ("/usr/share/drirc.d/{,*.conf}", Perms::R),
        ("/etc/glvnd/egl_vendor.d/{,*}", Perms::R),
        ("/usr/share/glvnd/egl_vendor.d/{,*}", Perms::R),
        ("/usr/share/egl/egl_external_platform.d/", Perms::R),
        ("/usr/share/egl/egl_external_platform.d/*", Perms::R),
        ("/proc/modules", Perms::R),
        ("/proc/driver/nvidia/params", Perms::R),
        ("/dev/nvidiactl", Perms::RW),
        ("/dev/dri/", Perms::R),
        ("/sys/devices/**/{uevent,vendor,device,subsystem_vendor,subsystem_device,config,revision}", Perms::R),
        // dri libs try to write a cache; DAC refuses it anyway, so don't audit it.
        ("/var/lib/libvirt/.cache/", Perms::DENY_W_ONLY),
    ];
    for (text, perms) in rules {
        let deny = perms == Perms::DENY_W_ONLY;
        b.push(AaPattern::fixed(text), perms, deny, o.clone());
    }
}
