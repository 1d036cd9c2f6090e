//! `<filesystem>`: a host directory shared with the guest.

use super::{abs, Context, Domain, Family};
use crate::domain::AbsPath;
use crate::error::Result;
use crate::origin::Origin;
use crate::xml::Element;

pub const FAMILY: Family = Family {
    root: &[],
    devices: &["filesystem"],
    parse,
};

/// A `<filesystem>` passed through from a host directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filesystem {
    /// `filesystem <target dir>`, or `filesystem <index>`.
    pub origin: Origin,
    /// `<source dir=...>`.
    pub source: AbsPath,
    /// `<readonly/>`.
    pub readonly: bool,
}

fn parse(dev: &Element, d: &mut Domain, cx: &mut Context) -> Result<()> {
    // Numbered among the shares that have a host directory, as their rules are.
    // libvirt 9.0: type mount (the default) with the path (default) driver only; virtiofs
    // runs virtiofsd outside this profile.
    if dev.attr("type").unwrap_or("mount") != "mount" {
        return Ok(());
    }
    if !matches!(
        dev.child("driver").and_then(|d| d.attr("type")),
        None | Some("path")
    ) {
        return Ok(());
    }
    let Some(source) = dev
        .child("source")
        .and_then(|s| s.attr("dir"))
        .filter(|p| !p.is_empty())
    else {
        return Ok(());
    };
    let index = cx.next_index("filesystem");
    let origin = Origin::new(
        "filesystem",
        dev.child("target")
            .and_then(|t| t.attr("dir"))
            .map_or_else(|| index.to_string(), str::to_string),
    )
    .at(dev.offset);
    d.filesystems.push(Filesystem {
        source: abs(source, &origin)?,
        readonly: dev.child("readonly").is_some(),
        origin,
    });
    Ok(())
}
