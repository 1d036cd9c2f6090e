//! `<sysinfo type='fwcfg'>`: files QEMU passes to the guest's firmware.

use super::{abs, Context, Domain, Family};
use crate::domain::AbsPath;
use crate::error::Result;
use crate::origin::Origin;
use crate::xml::Element;

pub const FAMILY: Family = Family {
    root: &["sysinfo"],
    devices: &[],
    parse,
};

/// An `<entry file=...>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FwCfgFile {
    /// `sysinfo fwcfg <index>`.
    pub origin: Origin,
    /// The file.
    pub path: AbsPath,
}

fn parse(el: &Element, d: &mut Domain, cx: &mut Context) -> Result<()> {
    if el.attr("type") != Some("fwcfg") {
        return Ok(());
    }
    for entry in el.children_named("entry") {
        if let Some(f) = entry.attr("file").filter(|f| !f.is_empty()) {
            let origin =
                Origin::new("sysinfo fwcfg", cx.next_index("fwcfg").to_string()).at(entry.offset);
            d.fw_cfg_files.push(FwCfgFile {
                path: abs(f, &origin)?,
                origin,
            });
        }
    }
    Ok(())
}
