//! The rules every QEMU domain gets, whatever its devices: its log, pid file, private and
//! channel directories and UEFI variables.

use super::builder::{Builder, Granted};
use super::Perms;
use crate::error::Error;
use crate::error::Result;
use crate::escape::AaPattern;
use crate::origin::Origin;
use crate::parse::Domain;
use crate::policy::NVRAM_SUFFIXES;
use crate::resolve::Resolve;
use crate::state::Owner;
use std::path::Path;

/// The rules every QEMU domain gets (libvirt 9.0 `main`, written before the device rules),
/// each naming exactly this domain's own state ([`crate::state`] has the table):
///
/// - `/var/log/libvirt/qemu/<name>.log w`: QEMU's log, an fd it inherits (9.0:
///   `/var/log/libvirt/**/<name>.log`, which for a VM named `libvirtd` or
///   `other-fs0-virtiofsd` is the daemon's log or another domain's virtiofsd log);
/// - `/var/lib/libvirt/qemu/domain-<id>-<short>/{,**} rwk`: the domain's private directory
///   (monitor socket, master key; 9.0: `/* rw`);
/// - `/var/lib/libvirt/qemu/channel/target/domain-<id>-<short>/{,**} rwk`: its channel
///   sockets. Both exactly as libvirtd grants them with `-F DIR/{,**}` right after `-c`
///   (`AppArmorSetPathLabel(allowSubtree)`), so those calls, and the one for
///   `master-key.aes` inside the first, find the path granted and compile nothing. A plain
///   `-r` (an unplug) regenerates the rules from the XML, which drops `-F` grants (W6 in
///   `docs/weak-spots.md`), so both must be base rules; 9.0 had only the private
///   directory, one level deep;
/// - `/run/libvirt/qemu/<name>.pid rwk`: the pid file libvirtd locks and QEMU inherits
///   (`vircommand.c:827`; 9.0: `/run/libvirt/**/<name>.pid`, which for a VM named
///   `1-other-swtpm` is domain `other`'s swtpm pid file, and for a VM named `default` the
///   default network's dnsmasq pid file);
/// - `/var/lib/libvirt/qemu/nvram/<name>_VARS.fd rwk`: the UEFI variable store libvirt
///   creates for firmware it selects itself (`<os firmware='efi'>`: the path is filled in
///   after the helper's `-c`, `qemu_process.c:6775`, and no later `-r` adds it). 9.0's
///   abstraction granted `owner .../nvram/*_VARS.fd rwk` instead: every domain's variables;
/// - `audit deny` of every other name in `nvram/` (`AaPattern::all_but`): Debian's
///   abstraction, which libvirt's TEMPLATE includes and which stays installed, still has
///   that glob, and the `.files` is the one file every TEMPLATE includes
///   (docs/weak-spots.md#w14).
///
/// Dropped: 9.0's `domain-<name>/monitor.sock` (the layout before short names, used only
/// for a domain whose status XML predates it, `qemuDomainSetPrivatePathsOld`; a VM named
/// `7-other` matched domain `other` with id 7) and `/run/libvirt/**/*.tunnelmigrate.dest.<name>`
/// (nothing in libvirt 9.0 creates such a file: tunnelled migration uses a pipe).
///
/// A name whose log or pid file would also be another domain's or a daemon's file (a VM
/// named `1-other-fs0-fs` has the pid file name of domain `other`'s virtiofsd, one named
/// `driver` the QEMU driver's lock) gets no rule for it, with a warning.
pub(super) fn rules(d: &Domain, b: &mut Builder, _: &mut dyn Resolve) -> Result<()> {
    if !d.virt_type.is_qemu_driver() {
        return Ok(());
    }
    let name = d.name.as_str();
    let origin = Origin::new("domain", "base");
    let short = Owner::of(d).short_name();
    let (name, short) = (&[name][..], &[short.as_str()][..]);
    let rules: [(&'static str, &[&str], Perms); 5] = [
        ("/var/log/libvirt/qemu/{}.log", name, Perms::W),
        ("/var/lib/libvirt/qemu/domain-{}/{,**}", short, Perms::RWK),
        (
            "/var/lib/libvirt/qemu/channel/target/domain-{}/{,**}",
            short,
            Perms::RWK,
        ),
        ("/run/libvirt/qemu/{}.pid", name, Perms::RWK),
        ("/var/lib/libvirt/qemu/nvram/{}_VARS.fd", name, Perms::RWK),
    ];
    for rule @ (template, args, _) in rules {
        // A rule without a glob names one file: it must be this domain's alone.
        if let (Some(owner), false) = (&b.owner, template.contains('*')) {
            let path = template.replacen("{}", args[0], 1);
            if let Err(why) = owner.check(Path::new(&path)) {
                b.warn(
                    &origin,
                    format!(
                        "{origin}: no rule for {}: it {why}",
                        crate::error::quote(&path)
                    ),
                );
                continue;
            }
        }
        b.push_named(
            &[rule],
            &d.name,
            &origin,
            "this domain's own files, named by libvirt's layout",
        )?;
    }
    // Every other file in nvram/ is denied: the abstraction libvirt's TEMPLATE includes
    // (Debian 12's, left in place by the package) grants `owner nvram/*_VARS.fd rwk` and
    // `*_VARS.ms.fd`, and every QEMU runs as the same user (docs/weak-spots.md#w14). Only
    // the names libvirt gives this domain's variable store there (`<name>_VARS.fd`, and
    // `.raw` or `.qcow2` for a store of that format, libvirt >= 9.2) can be this domain's
    // (`src/state.rs` refuses any other path in nvram/ from the XML), so the deny rule
    // leaves exactly those: the base rule's file, and the XML's store when it names one of
    // the others (no abstraction grants those, so leaving them out grants nothing).
    let owns: Vec<String> = NVRAM_SUFFIXES
        .iter()
        .map(|s| format!("{}{s}", d.name.as_str()))
        .collect();
    let owns: Vec<&str> = owns.iter().map(String::as_str).collect();
    let others = AaPattern::all_but_any(NVRAM_DIR, &owns)
        .map_err(|e| Error::domain("<name>", format!("{} {e}", crate::error::quote(&d.name))))?;
    b.push(
        Granted::trusted(others, "other domains' UEFI variables, denied"),
        Perms::AUDIT_DENY_RWK,
        false,
        origin,
    );
    Ok(())
}

/// libvirt's directory of every domain's UEFI variable store (`qemu_conf.c`, `nvramDir`).
const NVRAM_DIR: &str = "/var/lib/libvirt/qemu/nvram";

#[cfg(test)]
mod tests {
    use crate::rules::testing::*;

    #[test]
    fn base_rules_for_qemu_domains() {
        let got = lines("", "", &mut Fake::default());
        assert_eq!(
            got,
            [
                "/var/log/libvirt/qemu/vm1.log w <domain base>",
                "/var/lib/libvirt/qemu/domain-3-vm1/{,**} rwk <domain base>",
                "/var/lib/libvirt/qemu/channel/target/domain-3-vm1/{,**} rwk <domain base>",
                "/run/libvirt/qemu/vm1.pid rwk <domain base>",
                "/var/lib/libvirt/qemu/nvram/vm1_VARS.fd rwk <domain base>",
                // Every other file in nvram/: Debian's abstraction grants them all
                // (docs/weak-spots.md#w14); this domain's varstore names (.fd, .qcow2, .raw)
                // are left out.
                "/var/lib/libvirt/qemu/nvram/{[^v/]*,v{,[^m/]*,m{,[^1/]*,1{,[^\\137/]*,_{,[^V/]*,V{,[^A/]*,A{,[^R/]*,R{,[^S/]*,S{,[^\\056/]*,.{,[^fqr/]*,f{,[^d/]*,d?*},q{,[^c/]*,c{,[^o/]*,o{,[^w/]*,w{,[^2/]*,2?*}}}},r{,[^a/]*,a{,[^w/]*,w?*}}}}}}}}}}}} audit deny rwk <domain base>",
            ]
        );
    }

    /// A base rule naming a file that is also another domain's (or a daemon's) is dropped
    /// with a warning; the directory rules stay.
    #[test]
    fn ambiguous_base_rules_are_dropped_with_a_warning() {
        for (name, dropped) in [
            ("1-other-fs0-fs", "/run/libvirt/qemu/1-other-fs0-fs.pid"),
            ("driver", "/run/libvirt/qemu/driver.pid"),
            (
                "other-fs0-virtiofsd",
                "/var/log/libvirt/qemu/other-fs0-virtiofsd.log",
            ),
        ] {
            let xml = format!(
                "<domain type='kvm' id='2'><name>{name}</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid><os><type>hvm</type></os></domain>"
            );
            let mut warnings = Vec::new();
            let set = build_xml(&xml, &mut warnings).unwrap();
            assert_eq!(set.rules.len(), 5, "{name}");
            assert!(
                set.rules.iter().all(|r| r.pattern.as_str() != dropped),
                "{name}"
            );
            assert_eq!(warnings.len(), 1, "{name}: {warnings:?}");
            assert!(
                warnings[0]
                    .0
                    .starts_with(&format!("domain base: no rule for '{dropped}': it ")),
                "{}",
                warnings[0].0
            );
        }
    }

    #[test]
    fn hostile_names_are_escaped_in_base_rules() {
        let xml = "<domain type='qemu'><name>a*{b,c}@{HOME}\\</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid><os><type>hvm</type></os></domain>";
        let d = parse_domain(xml).unwrap();
        let set = build(&d, None, &mut Fake::default(), &mut Diagnostics::default()).unwrap();
        assert_eq!(
            set.rules[0].pattern.as_str(),
            "/var/log/libvirt/qemu/a\\*\\{b\\,c\\}\\@\\{HOME\\}\\134.log"
        );
    }
}
