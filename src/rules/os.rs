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

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;

    #[test]
    fn boot_files() {
        let got = lines(
            "",
            "<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>\
             <nvram>/var/lib/libvirt/qemu/nvram/vm1_VARS.fd</nvram><kernel>/boot/vmlinuz</kernel>\
             <initrd>/boot/initrd.img</initrd><dtb>/d/x.dtb</dtb><shim>/boot/efi/shimx64.efi</shim>\
             <acpi><table type='raw'>/t/ssdt1.dat</table><table type='raw'>/t/ssdt2.dat</table>\
             <table type='rawset'>/t/set</table><table type='slic'>/t/slic.dat</table>\
             <table type='msdm'>/t/msdm.dat</table></acpi>",
            &mut Fake::default(),
        );
        assert_eq!(
            without_base(&got),
            [
                "/boot/vmlinuz r +deny <os kernel>",
                "/boot/initrd.img r +deny <os initrd>",
                // libvirt 11.2's <shim> and every ACPI table: `r`, in libvirt 11.3's order.
                "/boot/efi/shimx64.efi r +deny <os shim>",
                "/d/x.dtb r +deny <os dtb>",
                "/t/ssdt1.dat r +deny <os acpi table raw>",
                "/t/ssdt2.dat r +deny <os acpi table raw>",
                "/t/set r +deny <os acpi table rawset>",
                "/t/slic.dat r +deny <os acpi table slic>",
                "/t/msdm.dat r +deny <os acpi table msdm>",
                "/usr/share/OVMF/OVMF_CODE.fd rk +deny <os loader>",
                // The nvram is the base set's own <name>_VARS.fd: written once.
            ]
        );
    }

    /// libvirt >= 10.0 grants a loader `rwk` unless `readonly='yes'`, 12.x `rk` for
    /// `type='rom'`; a loader in a read-only firmware directory stays `rk` whatever it asks
    /// (deliberately unlike libvirt 11.3, which refuses the profile; `rules/os.rs`).
    #[test]
    fn loader_permissions() {
        let cases = [
            (
                "readonly='yes' type='pflash'",
                "/srv/fw/CODE.fd",
                "rk +deny",
                0,
            ),
            ("type='rom'", "/srv/fw/bios.bin", "rk +deny", 0),
            (
                "readonly='no' type='rom'",
                "/srv/fw/bios.bin",
                "rk +deny",
                0,
            ),
            ("type='pflash'", "/srv/fw/guest_BOTH.fd", "rwk", 0),
            (
                "readonly='no' type='pflash'",
                "/srv/fw/guest_BOTH.fd",
                "rwk",
                0,
            ),
            ("", "/srv/fw/guest_BOTH.fd", "rwk", 0),
            (
                "readonly='no' type='pflash'",
                "/usr/share/OVMF/OVMF_CODE.fd",
                "rk +deny",
                1,
            ),
            (
                "type='pflash'",
                "/usr/share/OVMF/OVMF_CODE.fd",
                "rk +deny",
                1,
            ),
            ("", "/usr/share/seabios/bios.bin", "rk +deny", 1),
            ("type='rom'", "/usr/share/seabios/bios.bin", "rk +deny", 0),
            (
                "readonly='yes' type='pflash'",
                "/usr/share/OVMF/OVMF_CODE.fd",
                "rk +deny",
                0,
            ),
        ];
        for (attrs, path, perms, warned) in cases {
            let xml = format!(
                "<domain type='kvm' id='3'><name>vm1</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid>\
                 <os><type>hvm</type><loader {attrs}>{path}</loader></os></domain>"
            );
            let d = parse_domain(&xml).unwrap();
            let mut diag = Diagnostics::default();
            let set = build(&d, None, &mut Fake::default(), &mut diag).unwrap();
            let got: Vec<_> = set
                .rules
                .iter()
                .filter(|r| r.origin.to_string() == "os loader")
                .map(|r| {
                    let deny = if r.deny_write { " +deny" } else { "" };
                    format!("{} {}{deny}", r.pattern, r.perms.as_str())
                })
                .collect();
            assert_eq!(got, [format!("{path} {perms}")], "{attrs} {path}");
            let warnings = diag.into_warnings();
            assert_eq!(warnings.len(), warned, "{attrs} {path}: {warnings:?}");
            if warned == 1 {
                assert!(
                    warnings[0]
                        .0
                        .contains("in a read-only firmware directory: granted rk only"),
                    "{}",
                    warnings[0].0
                );
            }
        }
    }

    /// libvirt >= 9.2 names a varstore after its format (`<name>_VARS.qcow2`, `.raw`; 11.3's
    /// `firmware-auto-efi-format-*` outputs): the state table accepts those of this domain
    /// only, and the nvram/ deny rule leaves them out (`base_rules_for_qemu_domains`).
    #[test]
    fn varstores_of_every_format_libvirt_names() {
        for ext in ["qcow2", "raw"] {
            let got = lines(
                "",
                &format!(
                    "<nvram format='{ext}'>/var/lib/libvirt/qemu/nvram/vm1_VARS.{ext}</nvram>"
                ),
                &mut Fake::default(),
            );
            assert_eq!(
                without_base(&got),
                [format!(
                    "/var/lib/libvirt/qemu/nvram/vm1_VARS.{ext} rwk <os nvram>"
                )]
            );
        }
        for other in [
            "other_VARS.qcow2",
            "vm1_VARS.json",
            "vm1_VARS.ms.fd",
            "vm1_VARS.qcow2.fd",
        ] {
            let xml = format!(
                "<domain type='kvm' id='3'><name>vm1</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid>\
                 <os><type>hvm</type><nvram>/var/lib/libvirt/qemu/nvram/{other}</nvram></os></domain>"
            );
            let e = build_xml(&xml, &mut Vec::new()).unwrap_err().to_string();
            assert!(e.contains("/var/lib/libvirt/qemu/nvram"), "{other}: {e}");
        }
    }

    /// libvirt 12.1's `<os><varstore path>` (uefi-vars device): `rw`; its template no rule.
    #[test]
    fn uefi_vars_varstore() {
        let got = lines(
            "",
            "<loader readonly='yes' type='pflash'>/usr/share/AAVMF/AAVMF_CODE.fd</loader>\
             <varstore template='/usr/share/AAVMF/vars.json' path='/srv/vm1/vars.json'/>",
            &mut Fake::default(),
        );
        assert_eq!(
            without_base(&got),
            [
                "/usr/share/AAVMF/AAVMF_CODE.fd rk +deny <os loader>",
                "/srv/vm1/vars.json rw <os varstore>",
            ]
        );
        // Filled in by libvirt later: nothing yet.
        let got = lines("", "<varstore/>", &mut Fake::default());
        assert!(without_base(&got).is_empty(), "{got:?}");
    }
}
