//! `<input type='evdev'|'passthrough'>`: a host input device node handed to the guest.

use super::{abs, Context, Domain, Family};
use crate::domain::AbsPath;
use crate::error::Result;
use crate::origin::Origin;
use crate::xml::Element;

pub const FAMILY: Family = Family {
    root: &[],
    devices: &["input"],
    parse,
};

/// An input device with a host node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// `input <index>` (among the inputs with a host node).
    pub origin: Origin,
    /// `<source evdev=...>` or `<source dev=...>`.
    pub path: AbsPath,
}

fn parse(dev: &Element, d: &mut Domain, cx: &mut Context) -> Result<()> {
    if !matches!(dev.attr("type"), Some("evdev" | "passthrough")) {
        return Ok(());
    }
    if let Some(p) = dev
        .child("source")
        .and_then(|s| s.attr("evdev").or_else(|| s.attr("dev")))
        .filter(|p| !p.is_empty())
    {
        let origin = Origin::new("input", cx.next_index("input").to_string()).at(dev.offset);
        d.inputs.push(Input {
            path: abs(p, &origin)?,
            origin,
        });
    }
    Ok(())
}
