//! `<smartcard>`: the NSS database QEMU's smartcard emulation reads.

use super::{abs, text_path, Context, Domain, Family};
use crate::domain::AbsPath;
use crate::error::Result;
use crate::origin::Origin;
use crate::xml::Element;

pub const FAMILY: Family = Family {
    root: &[],
    devices: &["smartcard"],
    parse,
};

/// `mode=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmartcardMode {
    /// `host`: libvirt's default database.
    Host,
    /// `host-certificates`: `<database>` or libvirt's default.
    HostCertificates { database: Option<AbsPath> },
    /// `passthrough` and anything else: no file.
    Other,
}

/// A `<smartcard>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smartcard {
    /// `smartcard <index>`.
    pub origin: Origin,
    /// `mode=...` and its database.
    pub mode: SmartcardMode,
}

fn parse(dev: &Element, d: &mut Domain, cx: &mut Context) -> Result<()> {
    let origin = Origin::new("smartcard", cx.next_index("smartcard").to_string()).at(dev.offset);
    let mode = match dev.attr("mode") {
        Some("host") => SmartcardMode::Host,
        Some("host-certificates") => SmartcardMode::HostCertificates {
            database: dev
                .child("database")
                .and_then(text_path)
                .map(|p| abs(&p, &origin))
                .transpose()?,
        },
        _ => SmartcardMode::Other,
    };
    d.smartcards.push(Smartcard { origin, mode });
    Ok(())
}
