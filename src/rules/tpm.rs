//! `<tpm>`: swtpm's socket, state, log and pid file for an emulated TPM (with the version
//! libvirt's QEMU driver would choose: 9.0 wrote `(null)`, W10); the device and its cancel
//! file for a passed-through one.

use super::builder::{Builder, Granted};
use super::Perms;
use crate::error::{Error, Result};
use crate::escape::AaPattern;
use crate::parse::tpm::passthrough_origin;
use crate::parse::tpm::TpmBackend;
use crate::parse::Domain;
use crate::policy::ElementFamily;
use crate::resolve::Resolve;
use crate::state::Owner;

/// swtpm's socket, state directory, log and pid file for each emulated TPM.
pub(super) fn emulator(d: &Domain, b: &mut Builder, _: &mut dyn Resolve) -> Result<()> {
    let uuid = d.uuid.hyphenated().to_string();
    let short = Owner::of(d).short_name();
    for t in &d.tpms {
        let TpmBackend::Emulator { version } = &t.backend else {
            continue;
        };
        let origin = &t.origin;
        let version = match version.as_deref() {
            Some("1.2") => "tpm1.2",
            Some("2.0") => "tpm2",
            // qemuDomainTPMDefPostParse: CRB, SPAPR and Arm virt machines get TPM 2.0.
            _ if is_tpm2_default(d, t.model.as_deref()) => "tpm2",
            _ => "tpm1.2",
        };
        let (short, name, state) = (
            &[short.as_str()][..],
            &[d.name.as_str()][..],
            &[uuid.as_str(), version][..],
        );
        let rules: [(&'static str, &[&str], Perms); 5] = [
            ("/run/libvirt/qemu/swtpm/{}-swtpm.sock", short, Perms::RW),
            ("/var/lib/libvirt/swtpm/{}/{}/", state, Perms::R),
            ("/var/lib/libvirt/swtpm/{}/{}/**", state, Perms::RWK),
            ("/var/log/swtpm/libvirt/qemu/{}-swtpm.log", name, Perms::W),
            ("/run/libvirt/qemu/swtpm/{}-swtpm.pid", short, Perms::RW),
        ];
        b.push_named(
            &rules,
            &d.name,
            origin,
            "swtpm's files for this domain, named by libvirt's layout",
        )?;
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

/// A host TPM passed through: the device, and its cancel file in sysfs.
pub(super) fn passthrough(d: &Domain, b: &mut Builder, r: &mut dyn Resolve) -> Result<()> {
    for t in &d.tpms {
        let TpmBackend::Passthrough { device: Some(dev) } = &t.backend else {
            continue;
        };
        let o = passthrough_origin(t.origin.position());
        b.file(r, dev, Perms::RW, ElementFamily::Tpm, &o)?;
        // The cancel file lives in sysfs below the TPM's device. libvirt names it by the
        // device path's last component alone; the resolver gives it only when the path
        // opens that TPM's character device (a regular file named tpm0
        // got the host TPM's cancel file), so it is trusted like a fixed path.
        let name = dev
            .as_path()
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let tpm_name = name
            .strip_prefix("tpmrm")
            .or_else(|| name.strip_prefix("tpm"));
        match tpm_name.filter(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit())) {
            Some(_) => match r.tpm_cancel(dev.as_path()) {
                Some(cancel) => {
                    let canon = b.canonical(r, &cancel, &o)?;
                    let p = AaPattern::literal_os(canon.as_path().as_os_str()).map_err(|e| {
                        Error::Path {
                            path: canon.as_path().to_path_buf(),
                            origin: o.to_string(),
                            why: e.to_string(),
                        }
                    })?;
                    b.push(
                        Granted::trusted(
                            p,
                            "the TPM's cancel file, found in sysfs by the device's name",
                        ),
                        Perms::RW,
                        false,
                        o.with("cancel"),
                    );
                }
                None => b.warn(
                    &o,
                    format!(
                        "{o}: {} is not a TPM character device with a cancel file in sysfs; no cancel rule",
                        crate::error::quote_path(dev.as_path())
                    ),
                ),
            },
            None => b.warn(
                &o,
                format!(
                    "{o}: {} is not a TPM device name (tpmN); no cancel file",
                    crate::error::quote(name)
                ),
            ),
        }
    }
    Ok(())
}
