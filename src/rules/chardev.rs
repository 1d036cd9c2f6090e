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

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;

    #[test]
    fn chardevs_in_class_order_with_pipes_split() {
        let got = lines(
            "<channel type='unix'><source mode='bind' path='/s/guestfwd'/></channel>\
             <serial type='pipe'><source path='/p/ser'/></serial>\
             <console type='file'><source path='/l/con.log'/></console>\
             <parallel type='pty'><source path='/dev/pts/0'/></parallel>",
            "",
            &mut Fake::default(),
        );
        assert_eq!(
            without_base(&got),
            [
                "/p/ser.in rw <serial 0>",
                "/p/ser.out rw <serial 0>",
                "/p/ser rw <serial 0>",
                "/l/con.log rw <console 0>",
                "/dev/pts/0 rw <parallel 0>",
                "/s/guestfwd rw <channel 0>",
            ]
        );
    }

    #[test]
    fn duplicate_rules_are_written_once() {
        let got = lines(
            "<serial type='file'><source path='/l/s.log'/></serial><console type='file'><source path='/l/s.log'/><target type='serial'/></console>",
            "",
            &mut Fake::default(),
        );
        assert_eq!(without_base(&got), ["/l/s.log rw <serial 0>"]);
    }
}
