//! `<smartcard>`: the NSS database QEMU's smartcard emulation reads, the directory and its
//! files. The database is escaped and checked (9.0 pasted it raw, a rule injection, W3).

use super::builder::{Builder, Granted};
use super::Perms;
use crate::error::Result;
use crate::escape::Glob;
use crate::parse::smartcard::SmartcardMode;
use crate::parse::Domain;
use crate::policy::Scope;
use crate::resolve::Resolve;
use std::path::Path;

/// libvirt's fixed default database (under /etc, read-only).
const DEFAULT_DB: &str = "/etc/pki/nssdb";

fn default_db() -> Granted {
    Granted::fixed(
        "/etc/pki/nssdb/{,*}",
        "libvirt's fixed default NSS database",
    )
}

pub(super) fn rules(d: &Domain, b: &mut Builder, r: &mut dyn Resolve) -> Result<()> {
    for sc in &d.smartcards {
        let origin = &sc.origin;
        let db = match &sc.mode {
            SmartcardMode::Host | SmartcardMode::HostCertificates { database: None } => None,
            SmartcardMode::HostCertificates { database: Some(db) } => Some(db),
            SmartcardMode::Other => continue,
        };
        let Some(db) = db else {
            b.push(default_db(), Perms::RK, false, origin.clone());
            continue;
        };
        let canon = b.canonical(r, db.as_path(), origin)?;
        if canon.as_path() == Path::new(DEFAULT_DB) {
            b.push(default_db(), Perms::RK, false, origin.clone());
            continue;
        }
        let g = b
            .checked(&canon, Perms::RK, Scope::Share, origin)?
            .below(Some(Glob::SelfAndChildren))?;
        b.push(g, Perms::RK, false, origin.clone());
    }
    Ok(())
}
