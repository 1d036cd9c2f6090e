//! `<filesystem>`: a shared host directory, `"<d>/**"` with the share's permissions and
//! `"<d>/" r` (libvirt's `vah_add_path(..., recursive=true)`: read-only shares get no deny
//! rule, which "can only lead to troubles when mounting / readonly").

use super::builder::Builder;
use super::Perms;
use crate::error::Result;
use crate::escape::Glob;
use crate::parse::Domain;
use crate::policy::Scope;
use crate::resolve::Resolve;

pub(super) fn rules(d: &Domain, b: &mut Builder, r: &mut dyn Resolve) -> Result<()> {
    for fs in &d.filesystems {
        let origin = &fs.origin;
        let canon = b.canonical(r, fs.source.as_path(), origin)?;
        let perms = if fs.readonly { Perms::R } else { Perms::RWL };
        let checked = b.checked(&canon, perms, Scope::Share, origin)?;
        let all = checked.below(Some(Glob::AnyDepth))?;
        let itself = checked.below(None)?;
        b.push(all, perms, false, origin.clone());
        b.push(itself, Perms::R, false, origin.clone());
    }
    Ok(())
}
