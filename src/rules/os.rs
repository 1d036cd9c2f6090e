//! `<os>`: kernel, initrd, shim, dtb and ACPI tables read-only, the loader `rk` or `rwk`,
//! the nvram `rwk`, the uefi-vars varstore `rw`.

use super::builder::Builder;
use super::Perms;
use crate::domain::AbsPath;
use crate::error::Result;
use crate::parse::os::{origin, Loader, LoaderType};
use crate::parse::Domain;
use crate::policy::{self, ElementFamily};
use crate::resolve::Resolve;

pub(super) fn rules(d: &Domain, b: &mut Builder, r: &mut dyn Resolve) -> Result<()> {
    let os = &d.os;
    // libvirt 11.3's order (`get_files`): kernel, initrd, shim, dtb, ACPI tables, loader,
    // nvram.
    let boot: [(&'static str, Option<&AbsPath>); 4] = [
        ("kernel", os.kernel.as_ref()),
        ("initrd", os.initrd.as_ref()),
        // libvirt 11.2: QEMU reads the shim with the kernel (`-shim`); libvirt 11.3's
        // helper grants it `r`.
        ("shim", os.shim.as_ref()),
        ("dtb", os.dtb.as_ref()),
    ];
    for (what, path) in boot {
        if let Some(p) = path {
            b.file(r, p, Perms::R, ElementFamily::Other, &origin(what, os.at))?;
        }
    }
    // Every table, of every type, `r` (libvirt 11.3's helper: `os.acpiTables[]`; 9.0 had
    // the one `slic_table`).
    for t in &os.acpi_tables {
        let o = origin(format!("acpi table {}", t.kind), os.at);
        b.file(r, &t.path, Perms::R, ElementFamily::Other, &o)?;
    }
    if let Some(l) = &os.loader {
        loader(l, os.at, b, r)?;
    }
    // The nvram `rwk`; libvirt 12.1's uefi-vars device keeps the variables in `<varstore
    // path>`, which QEMU reads and writes: `rw`, as libvirt 12.x's helper grants it (NEWS
    // 12.1.0: "Add support for uefi-vars device"). The varstore's template is copied by
    // libvirtd, never opened by QEMU: no rule.
    let stores: [(&'static str, Option<&AbsPath>, Perms); 2] = [
        ("nvram", os.nvram.as_ref(), Perms::RWK),
        ("varstore", os.varstore.as_ref(), Perms::RW),
    ];
    for (what, path, perms) in stores {
        if let Some(p) = path {
            b.file(r, p, perms, ElementFamily::Other, &origin(what, os.at))?;
        }
    }
    Ok(())
}

/// The firmware image. libvirt >= 10.0 (`get_files`, commit c019350a) grants `rwk` unless
/// `readonly='yes'`: a single-file pflash (`<loader type='pflash'>` without a separate
/// nvram, e.g. `guest_BOTH.fd`) holds the UEFI variables and QEMU writes it; libvirt 12.x
/// keeps `rk` for `type='rom'` (`-bios`, never written). libvirt 9.0 gave `rk` always.
///
/// Deliberately unlike libvirt: a loader whose canonical path is in a read-only firmware
/// directory (`/usr/share/OVMF`, `/usr/share/seabios`, ... and `/boot`:
/// [`policy::is_read_only_location`]) stays `rk`, with a warning, whatever it asks for.
/// The file belongs to a package: a write would corrupt every VM's firmware and be undone
/// by the next upgrade, so a writable pflash there must fail in QEMU (which then cannot
/// open it for writing) rather than be granted. libvirt 11.3 instead refuses the whole
/// profile (its `valid_path` forbids writing there), which stopped a SeaBIOS ROM in
/// `/usr/share/seabios` without `readonly='yes'` from starting (an upstream regression,
/// canonical/tdx#279); a ROM is never written, so `rk` is all it needs.
fn loader(l: &Loader, at: usize, b: &mut Builder, r: &mut dyn Resolve) -> Result<()> {
    let o = origin("loader", at);
    let canon = b.canonical(r, l.path.as_path(), &o)?;
    let asks_write = !l.readonly && l.kind != LoaderType::Rom;
    let perms = if !asks_write {
        Perms::RK
    } else if policy::is_read_only_location(&canon) {
        b.warn(
            &o,
            format!(
                "{o}: {} asks to be writable (neither readonly='yes' nor type='rom') but is in a read-only firmware directory: granted rk only, so QEMU cannot write it; set readonly='yes' (or type='rom' for a ROM), or copy a pflash image that must store variables out of the package's directory",
                crate::error::quote_path(l.path.as_path())
            ),
        );
        Perms::RK
    } else {
        Perms::RWK
    };
    b.add(canon, perms, ElementFamily::Other, &o)
}
