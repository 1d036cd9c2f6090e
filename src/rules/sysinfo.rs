//! `<sysinfo type='fwcfg'>`: each entry's file, read-only.

use super::builder::Builder;
use super::Perms;
use crate::error::Result;
use crate::parse::Domain;
use crate::policy::ElementFamily;
use crate::resolve::Resolve;

pub(super) fn rules(d: &Domain, b: &mut Builder, r: &mut dyn Resolve) -> Result<()> {
    for f in &d.fw_cfg_files {
        b.file(r, &f.path, Perms::R, ElementFamily::Other, &f.origin)?;
    }
    Ok(())
}
