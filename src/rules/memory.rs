//! Memory devices and memory encryption: NVDIMM backing files, and the device nodes of
//! SGX and SEV (gaps of libvirt 9.0; the rules are those of later libvirt releases).

use super::builder::{Builder, Granted};
use super::Perms;
use crate::error::Result;
use crate::origin::Origin;
use crate::parse::Domain;
use crate::policy::ElementFamily;
use crate::resolve::Resolve;

/// `<memory model='nvdimm'>`: `rw` on the backing file.
pub(super) fn nvdimms(d: &Domain, b: &mut Builder, r: &mut dyn Resolve) -> Result<()> {
    for n in &d.memory.nvdimms {
        b.file(r, &n.path, Perms::RW, ElementFamily::Other, &n.origin)?;
    }
    Ok(())
}

/// `<launchSecurity type='sev'|'sev-snp'>`: `/dev/sev`.
pub(super) fn sev(d: &Domain, b: &mut Builder, _: &mut dyn Resolve) -> Result<()> {
    if d.memory.sev {
        b.push(
            Granted::fixed("/dev/sev", "a fixed device node of the SEV feature"),
            Perms::RW,
            false,
            Origin::new("launchSecurity", "sev"),
        );
    }
    Ok(())
}

/// `<memory model='sgx-epc'>`: `/dev/sgx_vepc`, and `/dev/sgx_provision` read-only.
pub(super) fn sgx(d: &Domain, b: &mut Builder, _: &mut dyn Resolve) -> Result<()> {
    if d.memory.sgx {
        let o = Origin::new("memory", "sgx-epc");
        let why = "a fixed device node of the SGX feature";
        b.push(
            Granted::fixed("/dev/sgx_vepc", why),
            Perms::RW,
            false,
            o.clone(),
        );
        b.push(Granted::fixed("/dev/sgx_provision", why), Perms::R, true, o);
    }
    Ok(())
}
