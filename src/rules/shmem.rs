//! `<shmem>`: the server socket or memory file of each shared memory device.

use super::builder::Builder;
use super::Perms;
use crate::error::Result;
use crate::parse::shmem::ShmemModel;
use crate::parse::Domain;
use crate::policy::ElementFamily;
use crate::resolve::Resolve;
use std::path::PathBuf;

pub(super) fn rules(d: &Domain, b: &mut Builder, r: &mut dyn Resolve) -> Result<()> {
    for s in &d.shmems {
        // An explicit server path wins; else QEMU's defaults for the model
        // (qemuBuildShmemBackendMemProps, qemuDomainPrepareShmemChardev).
        let path = match (&s.server_path, s.model) {
            (Some(p), _) => p.as_path().to_path_buf(),
            (None, ShmemModel::Plain) => PathBuf::from(format!("/dev/shm/{}", s.name)),
            (None, ShmemModel::Doorbell) => {
                PathBuf::from(format!("/var/lib/libvirt/shmem-{}-sock", s.name))
            }
            (None, ShmemModel::Other) => continue,
        };
        b.file_at(r, &path, Perms::RW, ElementFamily::Other, &s.origin)?;
    }
    Ok(())
}
