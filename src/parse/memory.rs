//! Memory devices (`<memory model='nvdimm'|'virtio-pmem'|'sgx-epc'>`) and memory
//! encryption (`<launchSecurity>`).

use super::{abs, text_path, Context, Domain, Family};
use crate::domain::{AbsPath, Access};
use crate::error::Result;
use crate::origin::Origin;
use crate::xml::Element;

pub const FAMILY: Family = Family {
    root: &["launchSecurity"],
    devices: &["memory"],
    parse,
};

/// What the memory devices and memory encryption need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Memory {
    /// `<memory model='nvdimm'>` backing files.
    pub nvdimms: Vec<Nvdimm>,
    /// `<memory model='sgx-epc'>`: `/dev/sgx_vepc`, `/dev/sgx_provision`.
    pub sgx: bool,
    /// `<launchSecurity type='sev'|'sev-snp'>`: `/dev/sev`.
    pub sev: bool,
}

/// An NVDIMM's backing file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nvdimm {
    /// `memory nvdimm <index>`.
    pub origin: Origin,
    /// `<source><path>`.
    pub path: AbsPath,
}

fn parse(el: &Element, d: &mut Domain, cx: &mut Context) -> Result<()> {
    if el.name == "launchSecurity" {
        d.memory.sev |= matches!(el.attr("type"), Some("sev" | "sev-snp"));
        return Ok(());
    }
    let path = || {
        el.child("source")
            .and_then(|s| s.child("path"))
            .and_then(text_path)
    };
    match el.attr("model") {
        Some("virtio-pmem") => {
            if let Some(p) = path() {
                cx.host_path(
                    d,
                    el,
                    "memory virtio-pmem",
                    &p,
                    Access::ReadWrite,
                    crate::policy::ElementFamily::Other,
                );
            }
        }
        Some("sgx-epc") => d.memory.sgx = true,
        Some("nvdimm") => {
            if let Some(p) = path() {
                let origin =
                    Origin::new("memory nvdimm", cx.next_index("nvdimm").to_string()).at(el.offset);
                d.memory.nvdimms.push(Nvdimm {
                    path: abs(&p, &origin)?,
                    origin,
                });
            }
        }
        _ => {}
    }
    Ok(())
}
