//! Devices that name one host path each and need no other rule: `<pstore>`, `<audio
//! type='file'>`, `<rng>` and `<redirdev type='unix'>` (libvirt 9.0's helper ignored them
//! although QEMU opens the path). Each becomes a [`crate::domain::HostPath`]: see "Adding a
//! device" in the crate docs.

use super::{chardev, text_path, Context, Domain, Family};
use crate::domain::Access;
use crate::error::Result;
use crate::parse::chardev::ChardevKind;
use crate::policy::ElementFamily;
use crate::xml::Element;

pub const FAMILY: Family = Family {
    root: &[],
    devices: &["pstore", "audio", "rng", "redirdev"],
    parse,
};

fn parse(dev: &Element, d: &mut Domain, cx: &mut Context) -> Result<()> {
    match dev.name.as_str() {
        "pstore" => {
            if let Some(p) = dev.child("path").and_then(text_path) {
                cx.host_path(
                    d,
                    dev,
                    "pstore",
                    &p,
                    Access::ReadWrite,
                    ElementFamily::Other,
                );
            }
        }
        "audio" if dev.attr("type") == Some("file") => {
            if let Some(p) = dev.attr("path").filter(|p| !p.is_empty()) {
                cx.host_path(d, dev, "audio", p, Access::Write, ElementFamily::Other);
            }
        }
        "rng" => {
            let Some(b) = dev.child("backend") else {
                return Ok(());
            };
            match b.attr("model") {
                // /dev/random and /dev/urandom are in every profile already
                // (abstractions/base).
                Some("random") => {
                    if let Some(p) =
                        text_path(b).filter(|p| p != "/dev/random" && p != "/dev/urandom")
                    {
                        cx.host_path(d, dev, "rng", &p, Access::Read, ElementFamily::Rng);
                    }
                }
                Some("egd") if ChardevKind::from_type(b.attr("type")) != ChardevKind::Other => {
                    if let Some(p) = chardev::source_path(b) {
                        cx.host_path(d, dev, "rng", p, Access::ReadWrite, ElementFamily::Chardev);
                    }
                }
                _ => {}
            }
        }
        "redirdev" if dev.attr("type") == Some("unix") => {
            if let Some(p) = chardev::source_path(dev) {
                cx.host_path(
                    d,
                    dev,
                    "redirdev",
                    p,
                    Access::ReadWrite,
                    ElementFamily::Other,
                );
            }
        }
        _ => {}
    }
    Ok(())
}
