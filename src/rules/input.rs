//! `<input type='evdev'|'passthrough'>`: `rw` on the host input device.

use super::builder::Builder;
use super::Perms;
use crate::error::Result;
use crate::parse::Domain;
use crate::policy::ElementFamily;
use crate::resolve::Resolve;

pub(super) fn rules(d: &Domain, b: &mut Builder, r: &mut dyn Resolve) -> Result<()> {
    for input in &d.inputs {
        b.file(
            r,
            &input.path,
            Perms::RW,
            ElementFamily::Input,
            &input.origin,
        )?;
    }
    Ok(())
}
