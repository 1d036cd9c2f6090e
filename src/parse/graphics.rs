//! `<graphics>`: render nodes, unix listen sockets and SDL's xauth file.

use super::{attr_path, Context, Domain, Family};
use crate::domain::AbsPath;
use crate::error::Result;
use crate::origin::Origin;
use crate::xml::Element;

pub const FAMILY: Family = Family {
    root: &[],
    devices: &["graphics"],
    parse,
};

/// `<graphics type=...>`, as far as it decides a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphicsKind {
    /// `spice`: a render node with `<gl>`.
    Spice,
    /// `egl-headless`: always renders with GL.
    EglHeadless,
    /// `dbus`: a render node with `<gl>`.
    Dbus,
    /// `sdl`: may read an xauth file.
    Sdl,
    /// `vnc` and the others.
    Other,
}

impl GraphicsKind {
    /// Whether the display can use a render node (`virDomainGraphicsSupportsRenderNode`).
    pub fn supports_render_node(self) -> bool {
        matches!(
            self,
            GraphicsKind::Spice | GraphicsKind::EglHeadless | GraphicsKind::Dbus
        )
    }
}

/// A `<graphics>` device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graphics {
    /// `graphics <type> <index>`.
    pub origin: Origin,
    /// `type=...`.
    pub kind: GraphicsKind,
    /// `<gl enable='yes'>` (spice, dbus).
    pub gl: bool,
    /// `<gl rendernode=...>`.
    pub rendernode: Option<AbsPath>,
    /// Unix socket listens (`<listen type='socket' socket=...>`, or vnc's `socket=`).
    pub sockets: Vec<AbsPath>,
    /// sdl `xauth=...`.
    pub xauth: Option<AbsPath>,
}

/// The origin of SDL's xauth rule, for the `<graphics>` at `at`.
pub fn xauth_origin(at: usize) -> Origin {
    Origin::new("graphics", "sdl xauth").at(at)
}

fn parse(dev: &Element, d: &mut Domain, cx: &mut Context) -> Result<()> {
    let index = cx.next_index("graphics");
    let type_name = dev.attr("type").unwrap_or_default();
    let origin = Origin::new("graphics", format!("{type_name} {index}")).at(dev.offset);
    let kind = match type_name {
        "spice" => GraphicsKind::Spice,
        "egl-headless" => GraphicsKind::EglHeadless,
        "dbus" => GraphicsKind::Dbus,
        "sdl" => GraphicsKind::Sdl,
        _ => GraphicsKind::Other,
    };
    let gl = dev.child("gl");
    let mut raw_sockets: Vec<&str> = dev
        .children_named("listen")
        .filter(|l| l.attr("type") == Some("socket"))
        .filter_map(|l| l.attr("socket"))
        .filter(|p| !p.is_empty())
        .collect();
    // vnc's older spelling; libvirt turns it into a socket listen.
    if let Some(s) = dev.attr("socket").filter(|p| !p.is_empty()) {
        if !raw_sockets.contains(&s) {
            raw_sockets.insert(0, s);
        }
    }
    let sockets = raw_sockets
        .into_iter()
        .map(|s| super::abs(s, &origin))
        .collect::<Result<_>>()?;
    let rendernode = match gl.and_then(|g| g.attr("rendernode")) {
        Some(_) => gl
            .map(|g| attr_path(g, "rendernode", &origin))
            .transpose()?,
        None => Some(attr_path(dev, "rendernode", &origin)?),
    }
    .flatten();
    let xauth = match kind {
        GraphicsKind::Sdl => attr_path(dev, "xauth", &xauth_origin(dev.offset))?,
        _ => None,
    };
    d.graphics.push(Graphics {
        origin,
        kind,
        gl: gl.and_then(|g| g.attr("enable")) == Some("yes") || dev.attr("gl") == Some("yes"),
        rendernode,
        sockets,
        xauth,
    });
    Ok(())
}
