//! The generic extension point ([`crate::domain::HostPath`]): one rule per path an element
//! names, with the permissions of how QEMU opens it. libvirt 9.0's helper ignored these
//! elements: chardev logs, virtio-pmem, pstore, audio files, rng and redirdev sockets.

use super::builder::Builder;
use super::Perms;
use crate::domain::Access;
use crate::error::Result;
use crate::parse::Domain;
use crate::resolve::Resolve;

pub(super) fn rules(d: &Domain, b: &mut Builder, r: &mut dyn Resolve) -> Result<()> {
    for h in &d.host_paths {
        let perms = match h.access {
            Access::Read => Perms::R,
            Access::Write => Perms::W,
            Access::ReadWrite => Perms::RW,
        };
        match &h.path {
            Ok(path) => {
                b.file(r, path, perms, h.family, &h.origin)?;
            }
            // libvirt's helper skipped relative paths with a warning (vah_add_path); these
            // elements got no rule at all from it, so a relative one is not an error here.
            Err(raw) => b.warn(
                &h.origin,
                format!(
                    "{}: {} is not an absolute path; no rule",
                    h.origin,
                    crate::error::quote(raw)
                ),
            ),
        }
    }
    Ok(())
}
