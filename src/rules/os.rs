//! `<os>`: kernel, initrd, dtb, shim and ACPI tables read-only, the loader `rk`, the nvram
//! `rwk`.

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
    let boot: [(&'static str, Option<&AbsPath>, Perms); 4] = [
        ("kernel", os.kernel.as_ref(), Perms::R),
        ("initrd", os.initrd.as_ref(), Perms::R),
        ("dtb", os.dtb.as_ref(), Perms::R),
        // libvirt 11.2: QEMU reads the shim with the kernel (`-shim`); libvirt 11.3's
        // helper grants it `r`.
        ("shim", os.shim.as_ref(), Perms::R),
    ];
    for (what, path, perms) in boot {
        if let Some(p) = path {
            b.file(r, p, perms, ElementFamily::Other, &origin(what, os.at))?;
        }
    }
    // Every table, of every type, `r` (libvirt 11.3's helper: `os.acpiTables[]`; 9.0 had
    // the one `slic_table`).
    for t in &os.acpi_tables {
        let o = origin(format!("acpi table {}", t.kind), os.at);
        b.file(r, &t.path, Perms::R, ElementFamily::Other, &o)?;
    }
    let files: [(&'static str, Option<&AbsPath>, Perms); 2] = [
        ("loader", os.loader.as_ref().map(|l| &l.path), Perms::RK),
        ("nvram", os.nvram.as_ref(), Perms::RWK),
    ];
    for (what, path, perms) in files {
        if let Some(p) = path {
            b.file(r, p, perms, ElementFamily::Other, &origin(what, os.at))?;
        }
    }
    Ok(())
}
