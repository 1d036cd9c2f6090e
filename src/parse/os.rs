//! `<os>`: the boot files (kernel, initrd, dtb, shim, ACPI tables, loader, nvram) and what
//! the rules need to know of the machine (`<type arch machine>`).

use super::{abs, text_path};
use crate::domain::AbsPath;
use crate::error::{quote, Error, Result};
use crate::origin::Origin;
use crate::xml::Element;

/// The `<os><type>` values libvirt 9.0 knows (`virDomainOSType`).
const OS_TYPES: [&str; 6] = ["hvm", "xen", "linux", "exe", "uml", "xenpvh"];

/// The `<os><acpi><table type=...>` values libvirt 11.3 knows (`virDomainOsACPITable`,
/// `domaincommon.rng` `acpiTable`: `raw`, `rawset` and `msdm` are libvirt 11.2's; 9.0 knew
/// `slic` only).
pub const ACPI_TABLE_TYPES: [&str; 4] = ["raw", "rawset", "slic", "msdm"];

/// One `<os><acpi><table>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcpiTable {
    /// Its `type`, one of [`ACPI_TABLE_TYPES`].
    pub kind: &'static str,
    /// The table file.
    pub path: AbsPath,
}

/// `<loader type=...>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoaderType {
    /// `type='rom'`: QEMU maps it read-only (`-bios`).
    Rom,
    /// `type='pflash'`.
    Pflash,
    /// No `type` attribute: libvirt's qemu driver fills in `pflash` for UEFI firmware and
    /// `rom` for SeaBIOS when it selects the firmware; the helper sees what it was given.
    Unset,
}

/// `<os><loader>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loader {
    /// The firmware image.
    pub path: AbsPath,
    /// `type`.
    pub kind: LoaderType,
    /// `readonly='yes'`.
    pub readonly: bool,
}

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
    /// `<shim>` (libvirt 11.2): the first-stage UEFI boot loader of a direct kernel boot.
    pub shim: Option<AbsPath>,
    /// Every `<acpi><table>`, in document order.
    pub acpi_tables: Vec<AcpiTable>,
    /// `<loader>`, with its path.
    pub loader: Option<Loader>,
    /// `<nvram>` path (text form or `<source file=...>`).
    pub nvram: Option<AbsPath>,
    /// `<varstore path=...>` (libvirt 12.1): the variable store of the uefi-vars device,
    /// which QEMU reads and writes (`domaincommon.rng` `osvarstore`: `template` and `path`
    /// attributes; an empty `<varstore/>` asks libvirt to fill them in).
    pub varstore: Option<AbsPath>,
    /// The offset of `<os>` ([`Origin::at`]).
    pub at: usize,
}

/// The origin of a boot file's rule (`os kernel`, `os acpi table slic`...), for the
/// `<os>` at `at`.
pub fn origin(what: impl Into<String>, at: usize) -> Origin {
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
    let path = |raw: Option<String>, what: &str| -> Result<Option<AbsPath>> {
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
    let acpi_tables = acpi_tables(os)?;
    let loader = match os.child("loader") {
        Some(l) => path(text_path(l), "loader")?.map(|p| Loader {
            path: p,
            kind: match l.attr("type") {
                Some("rom") => LoaderType::Rom,
                Some("pflash") => LoaderType::Pflash,
                _ => LoaderType::Unset,
            },
            readonly: l.attr("readonly") == Some("yes"),
        }),
        None => None,
    };
    let type_el = os.child("type");
    Ok(Os {
        os_type: os_type.to_string(),
        arch: type_el.and_then(|t| t.attr("arch")).map(str::to_string),
        machine: type_el.and_then(|t| t.attr("machine")).map(str::to_string),
        kernel: text("kernel")?,
        initrd: text("initrd")?,
        dtb: text("dtb")?,
        shim: text("shim")?,
        acpi_tables,
        loader,
        nvram: path(nvram, "nvram")?,
        varstore: path(
            os.child("varstore")
                .and_then(|v| v.attr("path"))
                .filter(|p| !p.is_empty())
                .map(str::to_string),
            "varstore",
        )?,
        at: os.offset,
    })
}

/// Every ACPI table, `./os/acpi/table` across every `<acpi>` as libvirt reads them: since
/// libvirt 11.2 any number, of the types in [`ACPI_TABLE_TYPES`] (`raw` repeatable, e.g.
/// libvirt's test `acpi-table-many`). A table without a type or of a type libvirt does not
/// know is refused, as libvirt's parser refuses it, so no table is silently dropped. An
/// empty one is absent (libvirt's schema requires a path).
fn acpi_tables(os: &Element) -> Result<Vec<AcpiTable>> {
    let mut tables = Vec::new();
    for table in os
        .children_named("acpi")
        .flat_map(|a| a.children_named("table"))
    {
        let kind = match table.attr("type") {
            Some(t) => ACPI_TABLE_TYPES
                .iter()
                .copied()
                .find(|k| *k == t)
                .ok_or_else(|| {
                    Error::domain(
                        "<os><acpi><table>",
                        format!("unknown ACPI table type {}", quote(t)),
                    )
                })?,
            None => {
                return Err(Error::domain(
                    "<os><acpi><table>",
                    "the type attribute is missing",
                ))
            }
        };
        if let Some(raw) = text_path(table) {
            tables.push(AcpiTable {
                kind,
                path: abs(&raw, &origin(format!("acpi table {kind}"), os.offset))?,
            });
        }
    }
    Ok(tables)
}
