//! `<tpm>`: an emulated TPM (swtpm's files) or a host TPM passed through.

use super::{attr_path, Context, Domain, Family};
use crate::domain::AbsPath;
use crate::error::Result;
use crate::origin::Origin;
use crate::xml::Element;

pub const FAMILY: Family = Family {
    root: &[],
    devices: &["tpm"],
    parse,
};

/// `<backend type=...>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TpmBackend {
    /// `emulator`: swtpm, with `<backend version=...>`.
    Emulator { version: Option<String> },
    /// `passthrough`: the host device `<device path=...>` (only with an explicit type).
    Passthrough { device: Option<AbsPath> },
    /// Anything else (`external`...).
    Other,
}

/// A `<tpm>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tpm {
    /// `tpm <index>`.
    pub origin: Origin,
    /// `model=...`.
    pub model: Option<String>,
    /// `<backend>`.
    pub backend: TpmBackend,
}

/// The origin of a passed-through TPM's rules, for the `<tpm>` at `at`.
pub fn passthrough_origin(at: usize) -> Origin {
    Origin::new("tpm", "passthrough").at(at)
}

fn parse(dev: &Element, d: &mut Domain, cx: &mut Context) -> Result<()> {
    let origin = Origin::new("tpm", cx.next_index("tpm").to_string()).at(dev.offset);
    let backend_el = dev.child("backend");
    let backend = match backend_el.and_then(|b| b.attr("type")) {
        Some("emulator") => TpmBackend::Emulator {
            version: backend_el
                .and_then(|b| b.attr("version"))
                .map(str::to_string),
        },
        Some("passthrough") => TpmBackend::Passthrough {
            device: backend_el
                .and_then(|b| b.child("device"))
                .map(|dv| attr_path(dv, "path", &passthrough_origin(dev.offset)))
                .transpose()?
                .flatten(),
        },
        // libvirt's default backend type is passthrough, but without the type there is
        // no device to name.
        None => TpmBackend::Passthrough { device: None },
        Some(_) => TpmBackend::Other,
    };
    d.tpms.push(Tpm {
        origin,
        model: dev.attr("model").map(str::to_string),
        backend,
    });
    Ok(())
}
