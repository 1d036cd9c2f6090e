//! Character devices: `rw` on the host path of each serial, console, parallel and channel
//! device, class by class as libvirt 9.0 wrote them; a pipe gets its three names.

use super::builder::Builder;
use super::{shared, Perms};
use crate::error::Result;
use crate::parse::chardev::{ChardevClass, ChardevKind};
use crate::parse::Domain;
use crate::policy::ElementFamily;
use crate::resolve::Resolve;

pub(super) fn rules(d: &Domain, b: &mut Builder, r: &mut dyn Resolve) -> Result<()> {
    for class in ChardevClass::ORDER {
        for dev in d.chardevs.iter().filter(|c| c.class == class) {
            let Some(path) = &dev.path else { continue };
            if dev.kind == ChardevKind::Pipe {
                shared::pipe(b, r, path, ElementFamily::Chardev, &dev.origin)?;
            } else {
                b.file(r, path, Perms::RW, ElementFamily::Chardev, &dev.origin)?;
            }
        }
    }
    Ok(())
}
