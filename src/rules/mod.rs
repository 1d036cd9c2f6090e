//! Domain model to AppArmor file rules.
//!
//! Pure: every filesystem question goes through the [`Resolve`] trait, so the mapping from
//! elements to rules is tested without a filesystem. One file per element family, as in
//! [`crate::parse`]; this file holds the rule types and the ordered list of emitters
//! ([`EMITTERS`]), and no per-element logic. Rules are added only through
//! [`builder::Builder`], which takes only patterns the restricted-path policy accepted or
//! exceptions named with [`builder::Granted::trusted`].
//!
//! Deliberate differences from libvirt 9.0, each to close a hole or a VM-breaking gap
//! (`docs/weak-spots.md` has the list):
//! - paths are canonicalized and escaped (see [`crate::resolve::canonical`], [`crate::escape`]);
//! - identical rules are written once (9.0 repeated a looping chain 200 times, W11);
//! - every path is also checked by [`crate::state`] (another domain's private state is
//!   refused), and the base rules name exactly this domain's own files (`base.rs`).

use crate::error::{Diagnostics, Result};
use crate::escape::AaPattern;
use crate::ledger::Entry;
use crate::name::ProfileName;
use crate::origin::Origin;
use crate::parse::Domain;
use crate::policy::Grant;
use crate::resolve::Resolve;
use std::path::PathBuf;

mod base;
pub mod builder;
mod chardev;
mod disk;
mod extra;
mod filesystem;
mod graphics;
mod host_path;
mod hostdev;
mod input;
mod memory;
mod net;
mod os;
mod runtime;
mod shared;
mod shmem;
mod smartcard;
mod sysinfo;
mod tpm;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

pub use extra::{ExtraFile, SUBTREE_SUFFIX};

use builder::Builder;

/// AppArmor file permissions, as libvirt writes them: the letters of an allow rule, or, for
/// a rule that allows nothing, the one deny line it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Perms(&'static str, Option<(&'static str, &'static str)>);

impl Perms {
    /// Read, write, lock: writable disks, nvram, `-f`/`-F` files.
    pub const RWK: Perms = Perms("rwk", None);
    /// Read, write, map: an `-f`/`-F` of an IOMMUFD node, the VFIO cdev or `/dev/iommu`,
    /// which QEMU mmaps (libvirt 12.1's helper).
    pub const RWM: Perms = Perms("rwm", None);
    /// Read, lock: read-only disks, backing files, firmware.
    pub const RK: Perms = Perms("rk", None);
    /// Read, write: chardevs and sockets.
    pub const RW: Perms = Perms("rw", None);
    /// Read: kernel, initrd, dtb, tables.
    pub const R: Perms = Perms("r", None);
    /// Write: logs.
    pub const W: Perms = Perms("w", None);
    /// Read, write, link: writable filesystem shares.
    pub const RWL: Perms = Perms("rwl", None);
    /// Map executable, read: GL driver libraries.
    pub const MR: Perms = Perms("mr", None);
    /// No allow rule: only the `deny ... w` line (libvirt's GL block).
    pub const DENY_W_ONLY: Perms = Perms("", Some(("deny", "w")));
    /// No allow rule: `audit deny ... rwk`, what an abstraction's glob grants in a
    /// directory shared by every domain (`nvram/*_VARS.fd rwk`), taken back from the files
    /// that are not this domain's (docs/weak-spots.md#w14). Deny beats allow, whichever
    /// file the allow rule is in; `audit`, because an explicit deny is silent otherwise and
    /// a QEMU reaching for another domain's file is worth a record.
    pub const AUDIT_DENY_RWK: Perms = Perms("", Some(("audit deny", "rwk")));

    /// The deny line of a rule that allows nothing: its keywords and its letters.
    pub fn deny_only(self) -> Option<(&'static str, &'static str)> {
        self.1
    }

    /// The permission letters.
    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// Read-only permissions get a `deny ... w` companion in libvirt 9.0, so that QEMU's
    /// attempts to open them for writing are refused silently instead of being audited.
    pub fn is_read_only(self) -> bool {
        !self.0.contains('w')
    }

    /// Whether there is an allow rule at all.
    pub fn allows(self) -> bool {
        !self.0.is_empty()
    }

    fn grant(self) -> Grant {
        if self.is_read_only() {
            Grant::Read
        } else {
            Grant::Write
        }
    }
}

/// One file rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The escaped path pattern.
    pub pattern: AaPattern,
    /// Permissions.
    pub perms: Perms,
    /// Whether a `deny "<pattern>" w,` follows (read-only files, libvirt 9.0 semantics).
    pub deny_write: bool,
    /// The element the rule comes from.
    pub origin: Origin,
}

/// A child profile QEMU may enter with `Cx` to run a helper program (today only the
/// set-uid `qemu-bridge-helper`). Rendered by [`crate::render::files`] from these typed
/// values only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildProfile {
    /// The helper's path, escaped.
    pub helper: AaPattern,
    /// The domain's profile, which the child talks back to.
    pub parent: ProfileName,
    /// The element that needs it (`interface 0 bridge`).
    pub origin: Origin,
}

/// A grant kept across a plain `-r` until `-D` (the runtime-grant ledger,
/// [`crate::ledger`]): its ledger entry and its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// What the ledger records.
    pub entry: Entry,
    /// The rules it grants.
    pub rules: Vec<Rule>,
}

/// The rules for one domain, plus what the user should know about them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleSet {
    /// Rules in emission order, without duplicates.
    pub rules: Vec<Rule>,
    /// The rule for the `-f`/`-F` file, if any.
    pub extra: Vec<Rule>,
    /// The `-f`/`-F` file's ledger entry, when the grant lives as long as the VM
    /// (`rules/runtime.rs`); its rules are then [`RuleSet::extra`].
    pub extra_kept: Option<Entry>,
    /// Child profiles, written after the file rules.
    pub children: Vec<ChildProfile>,
    /// The ledger's entries still kept (a regeneration), with their rules.
    pub kept: Vec<Kept>,
}

impl RuleSet {
    /// Domain rules followed by the `-f`/`-F` rules not already among them.
    pub fn all(&self) -> Vec<Rule> {
        let mut all = self.rules.clone();
        for r in &self.extra {
            if !all.iter().any(|a| {
                a.pattern == r.pattern && a.perms == r.perms && a.deny_write == r.deny_write
            }) {
                all.push(r.clone());
            }
        }
        all
    }

    /// Domain rules followed by the `-f`/`-F` rules, unless the grant is kept (then it is
    /// among [`RuleSet::kept_all`]).
    pub fn regenerated(&self) -> Vec<Rule> {
        if self.extra_kept.is_some() {
            self.rules.clone()
        } else {
            self.all()
        }
    }

    /// Every kept grant: the ledger's, then the `-f`/`-F` file's if it is kept and new.
    pub fn kept_all(&self) -> Vec<Kept> {
        let mut all = self.kept.clone();
        if let Some(e) = &self.extra_kept {
            if !all.iter().any(|k| k.entry == *e) {
                all.push(Kept {
                    entry: e.clone(),
                    rules: self.extra.clone(),
                });
            }
        }
        all
    }
}

/// Debian's `qemu-system-common` installs the bridge helper here.
pub const DEFAULT_BRIDGE_HELPER: &str = "/usr/lib/qemu/qemu-bridge-helper";

/// Site settings that change rules (see [`crate::config`]).
#[derive(Debug, Clone)]
pub struct Options {
    /// Absolute path of `qemu-bridge-helper`, escaped when the command line or the
    /// configuration is read (so this stage never refuses it).
    pub bridge_helper: AaPattern,
    /// Read-only disks and backing layers also get `deny ... w` (libvirt 9.0). Off by
    /// default, as in libvirt 12.1 ([`crate::config`]).
    pub backing_deny_write: bool,
    /// qemu.conf's `memory_backing_dir`, where it is not libvirt's default
    /// (`/var/lib/libvirt/qemu/ram`): its `<id>-<short>` entry is a runtime directory of the
    /// domain ([`crate::config`]).
    pub memory_backing_dir: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bridge_helper: AaPattern::fixed(DEFAULT_BRIDGE_HELPER),
            backing_deny_write: false,
            memory_backing_dir: None,
        }
    }
}

/// Writes the rules one element family needs.
pub type Emitter = fn(&Domain, &mut Builder<'_>, &mut dyn Resolve) -> Result<()>;

/// Every emitter, in the order their rules are written. The order is libvirt 9.0's
/// (`get_files` in `src/security/virt-aa-helper.c`): base rules, disks with their backing
/// chains, serial, console, parallel and channel devices, boot files, graphics, host
/// devices, shares, inputs, vhost-user interfaces, NVDIMMs, fw_cfg files, shared memory,
/// swtpm, smartcards. Then the paths libvirt 9.0 ignored (`host_path`), the device nodes of
/// domain features (SEV, the bridge helper and passt, SGX, a passed-through TPM), and last
/// the fixed blocks 9.0 also wrote last: vhost-net (with vhost-vsock beside it), VFIO, GL.
/// A family may appear twice when 9.0 wrote its rules in two places. The `-f`/`-F` file
/// comes after all of them (`rules/extra.rs`).
pub const EMITTERS: &[(&str, Emitter)] = &[
    ("base", base::rules),
    ("disk", disk::rules),
    ("chardev", chardev::rules),
    ("os", os::rules),
    ("graphics", graphics::rules),
    ("hostdev", hostdev::rules),
    ("filesystem", filesystem::rules),
    ("input", input::rules),
    ("net vhost-user", net::vhost_user),
    ("memory nvdimm", memory::nvdimms),
    ("sysinfo", sysinfo::rules),
    ("shmem", shmem::rules),
    ("tpm emulator", tpm::emulator),
    ("smartcard", smartcard::rules),
    ("host_path", host_path::rules),
    ("memory sev", memory::sev),
    ("net bridge and passt", net::helpers),
    ("memory sgx", memory::sgx),
    ("tpm passthrough", tpm::passthrough),
    ("net vhost", net::vhost),
    ("hostdev vfio", hostdev::vfio),
    ("graphics gl", graphics::gl),
];

/// Builds the rules for `domain` (and the extra file, if any) with the default [`Options`]
/// and no runtime grants to keep.
pub fn build(
    domain: &Domain,
    extra: Option<&ExtraFile>,
    r: &mut impl Resolve,
    diag: &mut Diagnostics,
) -> Result<RuleSet> {
    build_with(domain, extra, &Options::default(), r, diag)
}

/// Builds the rules for `domain` (and the extra file, if any). Non-fatal findings (missing
/// paths, chains not followed), the resolver's and this stage's, go to `diag` as they are
/// found, so those found before a failing element are still reported: dropping them hid
/// the cause of a later failure from the admin. The runtime grants an existing `.files`
/// keeps are added by [`keep`], under the profile's lock.
pub fn build_with(
    domain: &Domain,
    extra: Option<&ExtraFile>,
    options: &Options,
    r: &mut impl Resolve,
    diag: &mut Diagnostics,
) -> Result<RuleSet> {
    let owner = Some(crate::state::Owner::of(domain));
    let mut b = Builder::new(options.clone(), owner, diag);
    build_into(domain, extra, &mut b, r)
}

/// The ledger's entries (those of the existing `.files`) that are still kept, each
/// checked as a new `-F` of its path would be, with their rules (`rules/runtime.rs`). A
/// dropped entry is a warning, never an error.
pub fn keep(
    domain: &Domain,
    ledger: &[Entry],
    options: &Options,
    r: &mut impl Resolve,
    diag: &mut Diagnostics,
) -> Vec<Kept> {
    let owner = Some(crate::state::Owner::of(domain));
    let mut b = Builder::new(options.clone(), owner, diag);
    runtime::readmit(domain, ledger, &mut b, r)
}

fn build_into(
    domain: &Domain,
    extra: Option<&ExtraFile>,
    b: &mut Builder,
    r: &mut dyn Resolve,
) -> Result<RuleSet> {
    for (_, emit) in EMITTERS {
        emit(domain, b, r)?;
    }
    let (rules, children) = b.take();
    // The -f/-F rule is kept apart: -F appends it alone to an existing .files.
    let extra_kept = match extra {
        Some(e) => extra::rules(domain, e, b, r)?,
        None => None,
    };
    let (extra, _) = b.take();
    Ok(RuleSet {
        rules,
        extra,
        extra_kept,
        children,
        kept: Vec::new(),
    })
}

/// The tables themselves: [`EMITTERS`] against [`crate::parse::FAMILIES`]. A family whose
/// elements no emitter reads would parse into the model and grant nothing; an emitter no
/// element drives is dead code that still runs on every domain.
#[cfg(test)]
mod table_tests {
    use super::testing::{parse_domain, Diagnostics, Fake};
    use super::*;
    use crate::parse::FAMILIES;
    use std::collections::HashSet;

    /// Claimed elements that write no rule on their own, and why.
    const SILENT: &[(&str, &str)] = &[(
        "iommufd",
        "libvirt 12.2's domain-wide switch: the rules go by each device's own \
         `<driver iommufd>` (as libvirt 12.8's helper has it), so alone it changes nothing",
    )];

    /// Minimal elements that each write a rule, with the fake resolver: at least one for
    /// every claimed name but [`SILENT`]'s, placed where its family claims it, and more
    /// where one element drives several emitters. `os` is read by the root, not a family.
    const EXAMPLES: &[(&str, &str)] = &[
        ("os", "<kernel>/boot/vmlinuz</kernel>"),
        (
            "disk",
            "<disk type='file'><source file='/i/a.img'/><target dev='vda'/></disk>",
        ),
        ("serial", "<serial type='file'><source path='/l/s.log'/></serial>"),
        ("console", "<console type='file'><source path='/l/c.log'/></console>"),
        ("parallel", "<parallel type='file'><source path='/l/p.log'/></parallel>"),
        (
            "channel",
            "<channel type='unix'><source mode='bind' path='/s/ch'/></channel>",
        ),
        ("graphics", "<graphics type='vnc' socket='/s/vnc.sock'/>"),
        ("graphics", "<graphics type='spice'><gl enable='yes'/></graphics>"),
        (
            "hostdev",
            "<hostdev mode='subsystem' type='pci' managed='yes'><source>\
             <address domain='0x0000' bus='0x06' slot='0x12' function='0x5'/></source></hostdev>",
        ),
        (
            "hostdev",
            "<hostdev mode='subsystem' type='pci' managed='yes'><driver name='kvm'/><source>\
             <address domain='0x0000' bus='0x03' slot='0x07' function='0x1'/></source></hostdev>",
        ),
        (
            "filesystem",
            "<filesystem type='mount'><source dir='/export/fs1'/><target dir='fs1'/></filesystem>",
        ),
        (
            "input",
            "<input type='passthrough' bus='virtio'><source evdev='/dev/input/event1'/></input>",
        ),
        (
            "interface",
            "<interface type='vhostuser'><source type='unix' path='/s/vhost.sock' mode='server'/>\
             <model type='virtio'/></interface>",
        ),
        ("interface", "<interface type='bridge'/>"),
        ("vsock", "<vsock model='virtio'><cid auto='yes'/></vsock>"),
        (
            "memory",
            "<memory model='nvdimm'><source><path>/srv/nvdimm</path></source></memory>",
        ),
        ("memory", "<memory model='sgx-epc'/>"),
        ("launchSecurity", "<launchSecurity type='sev'/>"),
        (
            "sysinfo",
            "<sysinfo type='fwcfg'><entry name='opt/com.example/x' file='/srv/fw.bin'/></sysinfo>",
        ),
        ("shmem", "<shmem name='s0'><model type='ivshmem-plain'/></shmem>"),
        ("tpm", "<tpm model='tpm-tis'><backend type='emulator'/></tpm>"),
        (
            "tpm",
            "<tpm model='tpm-tis'><backend type='passthrough'><device path='/dev/tpm0'/></backend></tpm>",
        ),
        ("smartcard", "<smartcard mode='host'/>"),
        ("pstore", "<pstore backend='acpi-erst'><path>/srv/pstore.img</path></pstore>"),
        ("audio", "<audio id='1' type='file' path='/srv/a.wav'/>"),
        (
            "rng",
            "<rng model='virtio'><backend model='random'>/dev/hwrng</backend></rng>",
        ),
        (
            "redirdev",
            "<redirdev bus='usb' type='unix'><source mode='connect' path='/s/redir.sock'/></redirdev>",
        ),
    ];

    /// Where an element is read: `<os>`, a child of `<domain>` or one of `<devices>`.
    fn place(name: &str) -> Option<&'static str> {
        if name == "os" {
            return Some("os");
        }
        FAMILIES.iter().find_map(|f| {
            if f.root.contains(&name) {
                Some("root")
            } else if f.devices.contains(&name) {
                Some("devices")
            } else {
                None
            }
        })
    }

    /// A running KVM domain with `element` where its place is.
    fn domain_with(name: &str, element: &str) -> Domain {
        let at = |p: &str| if place(name) == Some(p) { element } else { "" };
        let xml = format!(
            "<domain type='kvm' id='3'><name>vm1</name>\
             <uuid>00000000-0000-0000-0000-0123456789ab</uuid>\
             <os><type>hvm</type>{}</os>{}<devices>{}</devices></domain>",
            at("os"),
            at("root"),
            at("devices")
        );
        parse_domain(&xml).unwrap_or_else(|e| panic!("<{name}> example {element}: {e}"))
    }

    /// How many rules and child profiles each emitter writes for `d`, in [`EMITTERS`]'s
    /// order on one builder, as `build` runs them (the VFIO block writes what the host
    /// devices before it found).
    fn emitted(d: &Domain) -> Vec<usize> {
        let mut diag = Diagnostics::default();
        let owner = Some(crate::state::Owner::of(d));
        let mut b = Builder::new(Options::default(), owner, &mut diag);
        EMITTERS
            .iter()
            .map(|(name, emit)| {
                emit(d, &mut b, &mut Fake::default())
                    .unwrap_or_else(|e| panic!("emitter {name:?} refused {d:?}: {e}"));
                let (rules, children) = b.take();
                rules.len() + children.len()
            })
            .collect()
    }

    #[test]
    fn emitter_names_are_unique() {
        let mut seen = HashSet::new();
        for (name, _) in EMITTERS {
            assert!(seen.insert(*name), "two emitters are named {name:?}");
        }
    }

    /// Every claimed element (and `<os>`) has an example, and each example makes some
    /// emitter write more than it writes for the domain without it; every family has an
    /// element that is not silent; every emitter writes for the bare domain or some
    /// example; and the lists name only claimed elements.
    #[test]
    fn every_family_is_written_by_an_emitter_and_every_emitter_writes() {
        let bare = emitted(&domain_with("", ""));
        let mut live: Vec<bool> = bare.iter().map(|n| *n > 0).collect();
        for (name, element) in EXAMPLES {
            assert!(
                place(name).is_some(),
                "EXAMPLES names <{name}>, which no family claims"
            );
            let got = emitted(&domain_with(name, element));
            let by: Vec<usize> = (0..EMITTERS.len()).filter(|&i| got[i] > bare[i]).collect();
            assert!(
                !by.is_empty(),
                "<{name}>: no emitter in EMITTERS writes a rule for {element}"
            );
            for i in by {
                live[i] = true;
            }
        }
        for (name, _) in SILENT {
            assert!(
                place(name).is_some(),
                "SILENT names <{name}>, which no family claims"
            );
        }
        for family in FAMILIES {
            let names: Vec<&str> = family.root.iter().chain(family.devices).copied().collect();
            for name in &names {
                let silent = SILENT.iter().any(|(s, _)| s == name);
                let example = EXAMPLES.iter().any(|(e, _)| e == name);
                assert!(
                    silent != example,
                    "<{name}> needs exactly one of: an example in EXAMPLES that writes a rule, \
                     or an entry in SILENT saying why it writes none"
                );
            }
            assert!(
                names.iter().any(|n| !SILENT.iter().any(|(s, _)| s == n)),
                "the family of {names:?} writes nothing"
            );
        }
        for (i, (name, _)) in EMITTERS.iter().enumerate() {
            assert!(live[i], "emitter {name:?} writes nothing for any example");
        }
    }
}
