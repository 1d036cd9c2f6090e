//! The `-f`/`-F` file libvirtd adds at run time (a hotplugged disk, the domain's runtime
//! directories): one file, or `DIR/{,**}` for a directory and everything below it.

use super::builder::Builder;
use super::runtime;
use crate::error::{Error, Result};
use crate::ledger::Entry;
use crate::origin::Origin;
use crate::parse::Domain;
use crate::resolve::Resolve;
use std::path::{Path, PathBuf};

/// An extra file from `-f`/`-F`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraFile {
    /// The directory or file, absolute, as given (without the `/{,**}` suffix).
    pub path: PathBuf,
    /// The argument ended in `/{,**}`: the directory and everything below it.
    pub subtree: bool,
    /// The flag it came with, for provenance (`-f` or `-F`).
    pub flag: &'static str,
}

/// The suffix libvirtd appends for "this directory and everything below it"
/// (`AppArmorSetPathLabel(allowSubtree=true)` in `security_apparmor.c`).
pub const SUBTREE_SUFFIX: &str = "/{,**}";

impl ExtraFile {
    /// Parses a `-f`/`-F` argument. Only the exact suffix `/{,**}` is a pattern; every
    /// other glob character is part of the file name.
    pub fn parse(arg: &Path, flag: &'static str) -> Result<Self> {
        let text = arg.to_str().ok_or_else(|| {
            Error::Usage(format!(
                "{flag} {}: not valid UTF-8",
                crate::error::quote_path(arg)
            ))
        })?;
        let (path, subtree) = match text.strip_suffix(SUBTREE_SUFFIX) {
            Some(dir) => (if dir.is_empty() { "/" } else { dir }, true),
            None => (text, false),
        };
        if !Path::new(path).is_absolute() {
            return Err(Error::Usage(format!(
                "{flag} {}: not an absolute path",
                crate::error::quote(text)
            )));
        }
        Ok(ExtraFile {
            path: PathBuf::from(path),
            subtree,
            flag,
        })
    }

    /// The argument as given: the path with its `/{,**}` suffix, if it had one.
    pub fn literal(&self) -> PathBuf {
        if !self.subtree {
            return self.path.clone();
        }
        let dir = self.path.to_string_lossy();
        PathBuf::from(format!("{}{SUBTREE_SUFFIX}", dir.trim_end_matches('/')))
    }
}

/// `rwk` on the file (`rwm` on an IOMMUFD node, libvirt 12.1), or on `DIR/{,**}` for a
/// subtree (checked as a runtime subtree: it must not contain a restricted tree or shared
/// state). Returns the grant's ledger entry
/// when it lives as long as the running VM (`rules/runtime.rs`): it is then kept across a
/// plain `-r` until `-D`.
pub(super) fn rules(
    d: &Domain,
    e: &ExtraFile,
    b: &mut Builder,
    r: &mut dyn Resolve,
) -> Result<Option<Entry>> {
    let origin = Origin::new("argument", e.flag);
    // libvirtd passes a hot-plugged disk's path verbatim, and a volume may be named
    // `{,**}` (`virsh vol-create-as pool '{,**}'`): where a file of the argument's literal
    // name exists, the argument is that file, never the directory above it with
    // everything below (docs/weak-spots.md#w13).
    let literal = e.subtree.then(|| e.literal());
    let (path, subtree) = match literal {
        Some(l) if r.existing(&l).is_some() => (l, false),
        _ => (e.path.clone(), e.subtree),
    };
    let canon = b.canonical(r, &path, &origin)?;
    // Judged by what the path is now: it must exist (libvirtd creates what it grants
    // before the -F), as the ledger's -r will judge it again.
    let kept = match r.existing(canon.as_path()) {
        Some((now, kind)) if now == canon => {
            runtime::lifetime(d, &canon, subtree, kind, &b.options, r)
        }
        _ => None,
    };
    let grant_origin = kept
        .as_deref()
        .map_or_else(|| origin.clone(), runtime::origin);
    // The path checks first (in the grant): their reasons (restricted, another domain's
    // state) say more than the one below. A refusal fails the run, so the rule the grant
    // added is never written.
    runtime::grant(b, &canon, subtree, &grant_origin)?;
    // The IOMMUFD nodes (libvirt 12.1) are granted whatever the XML says, as a VFIO group
    // is: libvirtd's -F at a hostdev hotplug comes before the device is in the XML
    // (`qemuDomainAttachHostPCIDevice` labels it, then inserts it), so a gate on the
    // domain's IOMMUFD devices would refuse the first one hot-plugged into a VM without
    // one. Only libvirtd (root) passes -F, and a cdev is no more than the group it
    // replaces.
    // A directory with everything below it only for this domain's own runtime
    // directories, the only ones libvirtd ever asks for (`AppArmorSetPathLabel` with
    // `allowSubtree`: docs/runtime-grants.md); anything else, however deep, is refused. A
    // kept subtree is one already.
    if subtree && kept.is_none() && runtime::own_runtime_dir(d, &canon, &b.options, r).is_none() {
        return Err(Error::Path {
            path: canon.as_path().to_path_buf(),
            origin: origin.to_string(),
            why: format!(
                "not one of this domain's runtime directories: DIR{SUBTREE_SUFFIX} (a directory \
                 with everything below it) is granted only for the domain's private, channel, \
                 memory-backing and hugepage directories"
            ),
        });
    }
    Ok(kept.map(|_| Entry {
        path: canon.as_path().to_path_buf(),
        subtree,
    }))
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;

    #[test]
    fn extra_files_and_subtrees() {
        let xml = "<domain type='lxc' id='1'><name>v</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid><os><type>exe</type></os></domain>";
        let d = parse_domain(xml).unwrap();
        // The channel directory of libvirt 9.0 and of 11.3 (Debian 13), each granted with
        // everything below it at every start; a glob outside the runtime directories is a literal
        // name.
        for (given, pattern) in [
            (
                "/var/lib/libvirt/qemu/channel/target/domain-1-v/{,**}",
                "/var/lib/libvirt/qemu/channel/target/domain-1-v/{,**}",
            ),
            (
                "/run/libvirt/qemu/channel/1-v/{,**}",
                "/run/libvirt/qemu/channel/1-v/{,**}",
            ),
            ("/run/hugepages/kvm/**", "/run/hugepages/kvm/\\*\\*"),
        ] {
            let x = ExtraFile::parse(Path::new(given), "-F").unwrap();
            let set = build(
                &d,
                Some(&x),
                &mut Fake::default(),
                &mut Diagnostics::default(),
            )
            .unwrap();
            assert!(set.rules.is_empty(), "lxc gets no base rules");
            assert_eq!(set.extra[0].pattern.as_str(), pattern, "{given}");
            assert_eq!(set.extra[0].perms, Perms::RWK, "{given}");
        }
        assert!(ExtraFile::parse(Path::new("rel/x"), "-F").is_err());
        // A subtree only for the domain's own runtime directories: not another domain's, not
        // the shared directory, not `/`.
        for other in [
            "/var/lib/libvirt/qemu/channel/target/domain-2-v",
            "/var/lib/libvirt/qemu/channel/target",
            "/run/libvirt/qemu/channel/2-v",
            "/run/libvirt/qemu/channel",
            "/srv/a/b",
        ] {
            let x = ExtraFile::parse(Path::new(&format!("{other}/{{,**}}")), "-F").unwrap();
            let e = build(
                &d,
                Some(&x),
                &mut Fake::default(),
                &mut Diagnostics::default(),
            );
            assert!(e.is_err(), "{other}");
        }
        let root = ExtraFile::parse(Path::new("/{,**}"), "-F").unwrap();
        assert_eq!(root.literal(), Path::new("/{,**}"));
        assert!(build(
            &d,
            Some(&root),
            &mut Fake::default(),
            &mut Diagnostics::default()
        )
        .is_err());
    }
}
