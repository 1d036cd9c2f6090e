//! `<os>`: kernel, initrd, dtb and ACPI table read-only, the loader `rk`, the nvram `rwk`.

use super::builder::Builder;
use super::Perms;
use crate::domain::AbsPath;
use crate::error::Result;
use crate::parse::os::origin;
use crate::parse::Domain;
use crate::policy::ElementFamily;
use crate::resolve::Resolve;

pub(super) fn rules(d: &Domain, b: &mut Builder, r: &mut dyn Resolve) -> Result<()> {
    let os = &d.os;
    let boot: [(&'static str, &Option<AbsPath>, Perms); 6] = [
        ("kernel", &os.kernel, Perms::R),
        ("initrd", &os.initrd, Perms::R),
        ("dtb", &os.dtb, Perms::R),
        ("acpi table slic", &os.slic_table, Perms::R),
        ("loader", &os.loader, Perms::RK),
        ("nvram", &os.nvram, Perms::RWK),
    ];
    for (what, path, perms) in boot {
        if let Some(p) = path {
            b.file(r, p, perms, ElementFamily::Other, &origin(what, os.at))?;
        }
    }
    Ok(())
}
