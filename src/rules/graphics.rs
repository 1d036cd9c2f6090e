//! `<graphics>`: render nodes, unix listen sockets, SDL's xauth, and libvirt's GL block
//! for displays that render with GL.
//!
//! Fixes over 9.0: a render node or socket is checked like any path (9.0 ignored the
//! result for render nodes, W10); an SDL display without xauth is not an error.

use super::builder::{Builder, Granted};
use super::Perms;
use crate::error::Result;
use crate::escape::AaPattern;
use crate::origin::Origin;
use crate::parse::graphics::xauth_origin;
use crate::parse::graphics::{Graphics, GraphicsKind};
use crate::parse::Domain;
use crate::policy::ElementFamily;
use crate::resolve::Resolve;

/// Whether a display renders with GL (`virDomainGraphicsNeedsAutoRenderNode` and an
/// explicit render node): it then gets the GL block.
fn needs_gl(g: &Graphics) -> bool {
    g.kind.supports_render_node()
        && (g.rendernode.is_some() || g.kind == GraphicsKind::EglHeadless || g.gl)
}

/// Render nodes, unix listen sockets, SDL's xauth.
pub(super) fn rules(d: &Domain, b: &mut Builder, r: &mut dyn Resolve) -> Result<()> {
    for g in &d.graphics {
        let origin = &g.origin;
        // virDomainGraphicsSupportsRenderNode / NeedsAutoRenderNode.
        if g.kind.supports_render_node() {
            if let Some(node) = &g.rendernode {
                b.file(r, node, Perms::RW, ElementFamily::Graphics, origin)?;
            } else if needs_gl(g) {
                if let Some(node) = r.drm_render_node() {
                    b.file_at(
                        r,
                        &node,
                        Perms::RW,
                        ElementFamily::Graphics,
                        &origin.with("rendernode"),
                    )?;
                }
            }
        }
        for s in &g.sockets {
            b.file(r, s, Perms::RW, ElementFamily::Graphics, origin)?;
        }
    }
    // libvirt reads the xauth only when SDL is the only display (vah.c:1042).
    if let [g] = d.graphics.as_slice() {
        if let Some(x) = &g.xauth {
            b.file(
                r,
                x,
                Perms::R,
                ElementFamily::Graphics,
                &xauth_origin(g.origin.position()),
            )?;
        }
    }
    Ok(())
}

/// libvirt's fixed block for GL: Mesa/DRI drivers and their configuration, probing of DRI
/// device attributes (vah.c:1301-1321). Paths under /usr, /etc, /proc and /sys are allowed
/// here because the text is the tool's own, not from the XML.
pub(super) fn gl(d: &Domain, b: &mut Builder, _: &mut dyn Resolve) -> Result<()> {
    if !d.graphics.iter().any(needs_gl) {
        return Ok(());
    }
    let o = Origin::new("graphics", "gl");
    let rules: [(&'static str, Perms); 15] = [
        ("/usr/lib{,32,64}/dri/*.so*", Perms::MR),
        ("/usr/lib/@{multiarch}/dri/*.so*", Perms::MR),
        ("/usr/lib/fglrx/dri/*.so*", Perms::MR),
        ("/etc/drirc", Perms::R),
        ("/usr/share/drirc.d/{,*.conf}", Perms::R),
        ("/etc/glvnd/egl_vendor.d/{,*}", Perms::R),
        ("/usr/share/glvnd/egl_vendor.d/{,*}", Perms::R),
        ("/usr/share/egl/egl_external_platform.d/", Perms::R),
        ("/usr/share/egl/egl_external_platform.d/*", Perms::R),
        ("/proc/modules", Perms::R),
        ("/proc/driver/nvidia/params", Perms::R),
        ("/dev/nvidiactl", Perms::RW),
        ("/dev/dri/", Perms::R),
        ("/sys/devices/**/{uevent,vendor,device,subsystem_vendor,subsystem_device,config,revision}", Perms::R),
        // dri libs try to write a cache; DAC refuses it anyway, so don't audit it.
        ("/var/lib/libvirt/.cache/", Perms::DENY_W_ONLY),
    ];
    for (text, perms) in rules {
        let deny = perms == Perms::DENY_W_ONLY;
        b.push(
            Granted::trusted(
                AaPattern::fixed(text),
                "libvirt's GL block: system libraries and configuration",
            ),
            perms,
            deny,
            o.clone(),
        );
    }
    Ok(())
}
