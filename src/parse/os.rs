//! `<os>`: the boot files (kernel, initrd, dtb, ACPI table, loader, nvram) and what the
//! rules need to know of the machine (`<type arch machine>`).

use super::{abs, text_path};
use crate::domain::AbsPath;
use crate::error::{quote, Error, Result};
use crate::origin::Origin;
use crate::xml::Element;

/// The `<os><type>` values libvirt 9.0 knows (`virDomainOSType`).
const OS_TYPES: [&str; 6] = ["hvm", "xen", "linux", "exe", "uml", "xenpvh"];

/// `<os>`: boot files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Os {
    /// `<type>` (hvm, linux, ...).
    pub os_type: String,
    /// `<type arch=...>`.
    pub arch: Option<String>,
    /// `<type machine=...>`.
    pub machine: Option<String>,
    /// `<kernel>`.
    pub kernel: Option<AbsPath>,
    /// `<initrd>`.
    pub initrd: Option<AbsPath>,
    /// `<dtb>`.
    pub dtb: Option<AbsPath>,
    /// `<acpi><table type='slic'>`.
    pub slic_table: Option<AbsPath>,
    /// `<loader>` path.
    pub loader: Option<AbsPath>,
    /// `<nvram>` path (text form or `<source file=...>`).
    pub nvram: Option<AbsPath>,
    /// The offset of `<os>` ([`Origin::at`]).
    pub at: usize,
}

/// The origin of a boot file's rule (`os kernel`, `os acpi table slic`...), for the
/// `<os>` at `at`.
pub fn origin(what: &'static str, at: usize) -> Origin {
    Origin::new("os", what).at(at)
}

pub(super) fn parse(os: Option<&Element>) -> Result<Os> {
    let os = os.ok_or_else(|| Error::domain("<os>", "missing"))?;
    let os_type = os
        .child("type")
        .map(|t| t.trimmed_text())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::domain("<os><type>", "missing"))?;
    if !OS_TYPES.contains(&os_type) {
        return Err(Error::domain(
            "<os><type>",
            format!("unknown OS type {}", quote(os_type)),
        ));
    }
    let path = |raw: Option<String>, what: &'static str| -> Result<Option<AbsPath>> {
        raw.map(|p| abs(&p, &origin(what, os.offset))).transpose()
    };
    let text = |name: &'static str| path(os.child(name).and_then(text_path), name);
    let nvram = os.child("nvram").and_then(|n| {
        text_path(n).or_else(|| {
            n.child("source")
                .and_then(|s| s.attr("file"))
                .filter(|p| !p.is_empty())
                .map(str::to_string)
        })
    });
    let slic_table = path(acpi_table(os)?, "acpi table slic")?;
    let type_el = os.child("type");
    Ok(Os {
        os_type: os_type.to_string(),
        arch: type_el.and_then(|t| t.attr("arch")).map(str::to_string),
        machine: type_el.and_then(|t| t.attr("machine")).map(str::to_string),
        kernel: text("kernel")?,
        initrd: text("initrd")?,
        dtb: text("dtb")?,
        slic_table,
        loader: text("loader")?,
        nvram: path(nvram, "nvram")?,
        at: os.offset,
    })
}

/// The one ACPI table libvirt 9.0 accepts: `./os/acpi/table` across every `<acpi>`, more
/// than one refused, and only `type='slic'` (`virDomainDefParseBootAcpiOptions`), so a
/// second table is never silently dropped.
fn acpi_table(os: &Element) -> Result<Option<String>> {
    let mut tables = os
        .children_named("acpi")
        .flat_map(|a| a.children_named("table"));
    let Some(table) = tables.next() else {
        return Ok(None);
    };
    if tables.next().is_some() {
        return Err(Error::domain(
            "<os><acpi><table>",
            "only one ACPI table is supported",
        ));
    }
    match table.attr("type") {
        Some("slic") => Ok(text_path(table)),
        Some(other) => Err(Error::domain(
            "<os><acpi><table>",
            format!("unknown ACPI table type {}", quote(other)),
        )),
        None => Err(Error::domain(
            "<os><acpi><table>",
            "the type attribute is missing",
        )),
    }
}
