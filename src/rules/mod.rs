//! Domain model to AppArmor file rules.
//!
//! Pure: every filesystem question goes through the [`Resolve`] trait, so the mapping from
//! elements to rules is tested without a filesystem. Permissions and emission order follow
//! libvirt 9.0's helper (`get_files` in `src/security/virt-aa-helper.c`; inventory section
//! 4): base rules, disks with their backing chains, serial, console, parallel and channel
//! devices, then kernel, initrd, dtb, SLIC table, loader and nvram, then the `-f`/`-F` file.
//!
//! Deliberate differences from 9.0, each to close a hole or a VM-breaking gap:
//! - paths are canonicalized and escaped (see [`crate::resolve::canonical`], [`crate::escape`]);
//! - a chardev `pipe` also gets a rule for the bare path: QEMU opens `<p>.in`/`<p>.out` and
//!   falls back to `<p>` when they do not exist (`qemu_chr_open_pipe`); console pipes are split
//!   like the others (9.0 forgot them);
//! - the short name in the domain directory rule is cut at 20 *characters* like libvirtd's
//!   `virDomainDefGetShortName`, not 20 bytes (W9);
//! - identical rules are written once (9.0 repeated a looping chain 200 times, W11);
//! - every path is also checked by [`crate::state`] (another domain's private state is
//!   refused), and the base rules name exactly this domain's own files (`base_rules`).

use crate::domain::{Backing, ChardevClass, Domain, LocalKind, Source, VirtType};
use crate::error::{Error, Result, Warning};
use crate::escape::{AaPattern, Glob, Part};
use crate::image::CompanionKind;
use crate::origin::Origin;
use crate::policy::{self, Grant, Scope};

mod devices;
use crate::resolve::{CanonicalPath, Resolve};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// AppArmor file permissions, as libvirt writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Perms(&'static str);

impl Perms {
    /// Read, write, lock: writable disks, nvram, `-f`/`-F` files.
    pub const RWK: Perms = Perms("rwk");
    /// Read, lock: read-only disks, backing files, firmware.
    pub const RK: Perms = Perms("rk");
    /// Read, write: chardevs and sockets.
    pub const RW: Perms = Perms("rw");
    /// Read: kernel, initrd, dtb, tables.
    pub const R: Perms = Perms("r");
    /// Write: logs.
    pub const W: Perms = Perms("w");
    /// Read, write, link: writable filesystem shares.
    pub const RWL: Perms = Perms("rwl");
    /// Map executable, read: GL driver libraries.
    pub const MR: Perms = Perms("mr");
    /// No allow rule: only the `deny ... w` line (libvirt's GL block).
    pub const DENY_W_ONLY: Perms = Perms("");

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

/// The rules for one domain, plus what the user should know about them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleSet {
    /// Rules in emission order, without duplicates.
    pub rules: Vec<Rule>,
    /// The rule for the `-f`/`-F` file, if any.
    pub extra: Vec<Rule>,
    /// Non-file rules written after the file rules (the bridge helper's child profile),
    /// already escaped.
    pub blocks: Vec<String>,
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
}

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
}

/// Debian's `qemu-system-common` installs the bridge helper here.
pub const DEFAULT_BRIDGE_HELPER: &str = "/usr/lib/qemu/qemu-bridge-helper";

/// Site settings that change rules (see [`crate::config`]).
#[derive(Debug, Clone)]
pub struct Options {
    /// Absolute path of `qemu-bridge-helper`.
    pub bridge_helper: String,
    /// Read-only backing files also get `deny ... w` (libvirt 9.0).
    pub backing_deny_write: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bridge_helper: DEFAULT_BRIDGE_HELPER.to_string(),
            backing_deny_write: true,
        }
    }
}

/// Builds the rules for `domain` (and the extra file, if any) with the default [`Options`].
pub fn build(
    domain: &Domain,
    extra: Option<&ExtraFile>,
    r: &mut impl Resolve,
    warnings: &mut Vec<Warning>,
) -> Result<RuleSet> {
    build_with(domain, extra, &Options::default(), r, warnings)
}

/// Builds the rules for `domain` (and the extra file, if any). Non-fatal findings (missing
/// paths, chains not followed), the resolver's and this stage's in one stream in document
/// order, are pushed to `warnings`, also when the build fails: those found before the
/// failing element are still worth reporting, and dropping them hid the cause of a later
/// failure from the admin.
pub fn build_with(
    domain: &Domain,
    extra: Option<&ExtraFile>,
    options: &Options,
    r: &mut impl Resolve,
    warnings: &mut Vec<Warning>,
) -> Result<RuleSet> {
    let mut b = Builder::new();
    b.owner = Some(crate::state::Owner::of(domain));
    b.bridge_helper = options.bridge_helper.clone();
    b.backing_deny_write = options.backing_deny_write;
    let result = build_into(domain, extra, &mut b, r);
    // The resolver's warnings found after the builder's last one.
    b.warnings.extend(r.take_warnings());
    warnings.append(&mut b.warnings);
    result
}

fn build_into(
    domain: &Domain,
    extra: Option<&ExtraFile>,
    b: &mut Builder,
    r: &mut impl Resolve,
) -> Result<RuleSet> {
    if matches!(domain.virt_type, VirtType::Qemu(_)) {
        base_rules(domain, b, r)?;
    }
    for (i, disk) in domain.disks.iter().enumerate() {
        let origin = match &disk.target {
            Some(t) => Origin::new("disk", t.clone()),
            None => Origin::new("disk", format!("#{i}")),
        };
        disk_rules(disk, &origin, b, r)?;
    }
    for class in [
        ChardevClass::Serial,
        ChardevClass::Console,
        ChardevClass::Parallel,
        ChardevClass::Channel,
    ] {
        for dev in domain.chardevs.iter().filter(|c| c.class == class) {
            let Some(path) = &dev.path else { continue };
            let origin = Origin::new(class.element(), dev.index.to_string());
            if dev.kind == "pipe" {
                for suffix in [".in", ".out", ""] {
                    let p = format!("{path}{suffix}");
                    b.file(r, Path::new(&p), Perms::RW, &origin)?;
                }
            } else {
                b.file(r, Path::new(path), Perms::RW, &origin)?;
            }
        }
    }
    let os = &domain.os;
    let boot: [(&str, &Option<String>, Perms); 6] = [
        ("kernel", &os.kernel, Perms::R),
        ("initrd", &os.initrd, Perms::R),
        ("dtb", &os.dtb, Perms::R),
        ("acpi table slic", &os.slic_table, Perms::R),
        ("loader", &os.loader, Perms::RK),
        ("nvram", &os.nvram, Perms::RWK),
    ];
    for (what, path, perms) in boot {
        if let Some(p) = path {
            b.file(r, Path::new(p), perms, &Origin::new("os", what))?;
        }
    }
    devices::rules(domain, b, r)?;
    let domain_rules = std::mem::take(&mut b.out);
    // The -f/-F rule is kept apart: -F appends it alone to an existing .files.
    let mut x = Builder::new();
    x.owner = b.owner.clone();
    if let Some(e) = extra {
        let origin = Origin::new("argument", e.flag);
        let canon = r.canonical(&e.path, &origin)?;
        if e.subtree {
            x.checked(&canon, Perms::RWK, Scope::RuntimeSubtree, &origin)?;
            let text = path_text(&canon, &origin)?;
            let dir = if text == "/" { "" } else { text };
            let pattern = pattern(
                &[
                    Part::Lit(dir),
                    Part::Lit("/"),
                    Part::Glob(Glob::SelfAndBelow),
                ],
                &canon,
                &origin,
            )?;
            x.push(pattern, Perms::RWK, false, origin);
        } else {
            x.add(canon, Perms::RWK, &origin)?;
        }
    }
    Ok(RuleSet {
        rules: domain_rules,
        extra: x.out,
        blocks: std::mem::take(&mut b.blocks),
    })
}

/// libvirt's `virDomainDefGetShortName`: `<id>-<first 20 characters of the name>`, with
/// `-1` for a domain that is not running (what libvirt's helper writes then).
fn short_name(d: &Domain) -> String {
    crate::state::Owner::of(d).short_name()
}

/// The rules every QEMU domain gets (libvirt 9.0 `main`, written before the device rules),
/// each naming exactly this domain's own state ([`crate::state`] has the table):
///
/// - `/var/log/libvirt/qemu/<name>.log w`: QEMU's log, an fd it inherits (9.0:
///   `/var/log/libvirt/**/<name>.log`, which for a VM named `libvirtd` or
///   `other-fs0-virtiofsd` is the daemon's log or another domain's virtiofsd log);
/// - `/var/lib/libvirt/qemu/domain-<id>-<short>/* rw`: the domain's private directory
///   (monitor socket, master key), as in 9.0;
/// - `/var/lib/libvirt/qemu/channel/target/domain-<id>-<short>/* rw`: its channel
///   sockets. libvirtd grants both directories with `-F DIR/{,**}` at start, but any plain
///   `-r` (an unplug) regenerates the rules from the XML and drops `-F` grants (research
///   W6); the private directory was in 9.0's base set for that reason, the channel
///   directory is its twin;
/// - `/run/libvirt/qemu/<name>.pid rwk`: the pid file libvirtd locks and QEMU inherits
///   (`vircommand.c:827`; 9.0: `/run/libvirt/**/<name>.pid`, which for a VM named
///   `1-other-swtpm` is domain `other`'s swtpm pid file, and for a VM named `default` the
///   default network's dnsmasq pid file);
/// - `/var/lib/libvirt/qemu/nvram/<name>_VARS.fd rwk`: the UEFI variable store libvirt
///   creates for firmware it selects itself (`<os firmware='efi'>`: the path is filled in
///   after the helper's `-c`, `qemu_process.c:6775`, and no later `-r` adds it). 9.0's
///   abstraction granted `owner .../nvram/*_VARS.fd rwk` instead: every domain's variables.
///
/// Dropped: 9.0's `domain-<name>/monitor.sock` (the layout before short names, used only
/// for a domain whose status XML predates it, `qemuDomainSetPrivatePathsOld`; a VM named
/// `7-other` matched domain `other` with id 7) and `/run/libvirt/**/*.tunnelmigrate.dest.<name>`
/// (nothing in libvirt 9.0 creates such a file: tunnelled migration uses a pipe).
///
/// A name whose log or pid file would also be another domain's or a daemon's file (a VM
/// named `1-other-fs0-fs` has the pid file name of domain `other`'s virtiofsd, one named
/// `driver` the QEMU driver's lock) gets no rule for it, with a warning.
fn base_rules(d: &Domain, b: &mut Builder, r: &mut impl Resolve) -> Result<()> {
    let name = d.name.as_str();
    let origin = Origin::new("domain", "base");
    let short = short_name(d);
    let rules: [(Vec<Part<'_>>, Perms); 5] = [
        (
            vec![
                Part::Lit("/var/log/libvirt/qemu/"),
                Part::Lit(name),
                Part::Lit(".log"),
            ],
            Perms::W,
        ),
        (
            vec![
                Part::Lit("/var/lib/libvirt/qemu/domain-"),
                Part::Lit(&short),
                Part::Lit("/"),
                Part::Glob(Glob::AnyInComponent),
            ],
            Perms::RW,
        ),
        (
            vec![
                Part::Lit("/var/lib/libvirt/qemu/channel/target/domain-"),
                Part::Lit(&short),
                Part::Lit("/"),
                Part::Glob(Glob::AnyInComponent),
            ],
            Perms::RW,
        ),
        (
            vec![
                Part::Lit("/run/libvirt/qemu/"),
                Part::Lit(name),
                Part::Lit(".pid"),
            ],
            Perms::RWK,
        ),
        (
            vec![
                Part::Lit("/var/lib/libvirt/qemu/nvram/"),
                Part::Lit(name),
                Part::Lit("_VARS.fd"),
            ],
            Perms::RWK,
        ),
    ];
    for (parts, perms) in rules {
        // A rule without a glob names one file: it must be this domain's alone.
        if let (Some(owner), false) = (&b.owner, parts.iter().any(|p| matches!(p, Part::Glob(_)))) {
            let path: String = parts
                .iter()
                .map(|p| match p {
                    Part::Lit(s) => *s,
                    Part::Glob(_) => "",
                })
                .collect();
            if let Err(why) = owner.check(Path::new(&path), Scope::File) {
                b.warn(
                    r,
                    format!(
                        "{origin}: no rule for {}: it {why}",
                        crate::error::quote(&path)
                    ),
                );
                continue;
            }
        }
        // Fixed rules: no deny companion, as in libvirt.
        b.push_named(&[(parts, perms)], name, &origin)?;
    }
    Ok(())
}

fn disk_rules(
    disk: &crate::domain::Disk,
    origin: &Origin,
    b: &mut Builder,
    r: &mut impl Resolve,
) -> Result<()> {
    if !disk.relabel {
        // sVirt: the admin manages this disk's access (and its chain's).
        b.warn(
            r,
            format!("{origin}: <seclabel model='apparmor' relabel='no'/>: no rule written for it"),
        );
        return Ok(());
    }
    let perms = if disk.readonly { Perms::RK } else { Perms::RWK };
    // libvirt walks the whole chain and skips the elements that are not local
    // (storage_source_add_files): a network disk can have local backing layers.
    let top: Option<(LocalKind, PathBuf)> = match &disk.source {
        Source::Empty => return Ok(()),
        Source::Local { kind, path } => Some((*kind, PathBuf::from(path))),
        Source::Volume { pool, volume } => match r.volume_path(pool, volume)? {
            Some(path) => Some((LocalKind::File, path)),
            None => {
                b.warn(r, format!(
                    "{origin}: volume {} of pool {} not found among the storage pool definitions; no rule",
                    crate::error::quote(volume),
                    crate::error::quote(pool)
                ));
                None
            }
        },
        // Gaps of libvirt 9.0: the unix socket a network disk or a vhost-user disk is
        // reached through, and an NVMe disk's VFIO group.
        Source::Network { sockets } => {
            for s in sockets {
                b.file(r, Path::new(s), Perms::RW, &origin.with("socket"))?;
            }
            None
        }
        Source::VhostUser { socket } => {
            b.file(
                r,
                Path::new(socket),
                Perms::RW,
                &origin.with("vhost-user socket"),
            )?;
            None
        }
        Source::Nvme { address } => {
            let o = origin.with("nvme");
            let groups: Vec<(u32, Origin)> = vfio_group(b, r, VfioDevice::Pci(address), &o)
                .map(|g| (g, o.clone()))
                .into_iter()
                .collect();
            vfio_rules(b, &groups, &o);
            None
        }
        Source::NotLocal { .. } => None,
    };
    let top = match top {
        Some((kind, raw)) => {
            let canon = b.file(r, &raw, perms, origin)?;
            Some((kind, raw, canon))
        }
        None => None,
    };
    // The data file the XML declares (`<dataStore>`, libvirt >= 10.10) is named by the
    // admin like the disk itself: the disk's permissions, checked like the disk.
    let declared_data = data_store(b, r, &disk.data_store, Some(perms), origin)?;
    match &disk.backing {
        Backing::None => {}
        Backing::Explicit(layers) => {
            for (i, layer) in layers.iter().enumerate() {
                let lo = origin.with(format_args!("backing {}", i + 1));
                if !layer.relabel {
                    continue;
                }
                match &layer.source {
                    Source::Local { path, .. } => {
                        let canon = r.canonical(Path::new(path), &lo)?;
                        b.add_backing(canon, &lo)?;
                    }
                    Source::Network { sockets } => {
                        for s in sockets {
                            b.file(r, Path::new(s), Perms::RW, &lo.with("socket"))?;
                        }
                    }
                    _ => {}
                }
                // A backing layer's data file is read-only like the layer.
                data_store(b, r, &layer.data_store, None, &lo)?;
            }
        }
        Backing::Discover => {
            // A directory (vvfat) has no header; a network image is not read.
            let Some((kind, raw, canon)) = top else {
                return Ok(());
            };
            if kind == LocalKind::Dir {
                return Ok(());
            }
            let chain = r.image_chain(&raw, &canon, disk.format.as_deref(), origin)?;
            // Issue 9, class 1: no writable grant ever comes from image bytes (OpenStack
            // CVE-2022-47951, CVE-2024-32498). A companion the header names (the resolver
            // reports only those QEMU opens) is read-only like a backing file, whatever
            // the disk's permissions.
            for c in chain.top_companions {
                if c.kind == CompanionKind::DataFile && declared_data {
                    // libvirt passes the <dataStore> file as QEMU's data-file option:
                    // QEMU never opens the name in the header.
                    continue;
                }
                let co = origin.with(c.kind.what());
                b.add_backing(c.path.clone(), &co)
                    .map_err(|e| name_parent(e, &c.raw))?;
                if !disk.readonly {
                    let advice = match c.kind {
                        CompanionKind::DataFile => "declare it with <dataStore> in the disk's <source>",
                        CompanionKind::Extent => "add a rule for it to the VM's own profile or convert the image (README: VMDK descriptors)",
                    };
                    b.warn(r, format!(
                        "{co}: {} is named by the image, not by the XML, so it is read-only (a writable grant never comes from image bytes) and QEMU cannot write it; {advice}",
                        crate::error::quote_path(c.path.as_path())
                    ));
                }
            }
            for (i, layer) in chain.layers.into_iter().enumerate() {
                let lo = origin.with(format_args!("backing {}", i + 1));
                b.add_backing(layer.path, &lo)
                    .map_err(|e| name_parent(e, &layer.raw))?;
                for c in layer.companions {
                    b.add_backing(c.path, &lo.with(c.kind.what()))
                        .map_err(|e| name_parent(e, &c.raw))?;
                }
            }
        }
    }
    Ok(())
}

/// The rule of a `<dataStore>`: `perms` for the disk's own, read-only (`None`) for a
/// backing layer's. Only a local file or block device needs one. Returns whether the
/// XML declares a data store at all.
fn data_store(
    b: &mut Builder,
    r: &mut impl Resolve,
    ds: &Option<Source>,
    perms: Option<Perms>,
    origin: &Origin,
) -> Result<bool> {
    let Some(Source::Local { path, .. }) = ds else {
        return Ok(ds.is_some());
    };
    let o = origin.with("dataStore");
    match perms {
        Some(p) => {
            b.file(r, Path::new(path), p, &o)?;
        }
        None => {
            let canon = r.canonical(Path::new(path), &o)?;
            b.add_backing(canon, &o)?;
        }
    }
    Ok(true)
}

/// A device QEMU opens through VFIO, whose IOMMU group is looked up in sysfs.
#[derive(Debug, Clone, Copy)]
enum VfioDevice<'a> {
    /// A PCI device (`<hostdev type='pci'>`, an NVMe disk) by its address `dddd:bb:ss.f`.
    Pci(&'a str),
    /// A mediated device by its UUID (`None`: the XML has none or an invalid one).
    Mdev(Option<uuid::Uuid>),
}

/// The IOMMU group of a VFIO device, from sysfs (`iommu_group`, libvirt's
/// `virPCIDeviceAddressGetIOMMUGroupDev` / `virMediatedDeviceGetIOMMUGroupDev`). A device
/// that is not on this host gets no group at all, with a warning: libvirt 9.0 granted
/// every group (`/dev/vfio/[0-9]*`), so one VM could open every other VM's devices.
fn vfio_group(
    b: &mut Builder,
    r: &mut impl Resolve,
    dev: VfioDevice<'_>,
    origin: &Origin,
) -> Option<u32> {
    let group = match dev {
        VfioDevice::Pci(address) => r.iommu_group(address),
        VfioDevice::Mdev(Some(uuid)) => r.mdev_iommu_group(&uuid),
        VfioDevice::Mdev(None) => None,
    };
    if group.is_none() {
        let what = match dev {
            VfioDevice::Pci(address) => format!("PCI device {address}"),
            VfioDevice::Mdev(Some(uuid)) => format!("mediated device {uuid}"),
            VfioDevice::Mdev(None) => "mediated device without a valid uuid".to_string(),
        };
        b.warn(
            r,
            format!("{origin}: {what} not found on this host; no VFIO group granted"),
        );
    }
    group
}

/// The VFIO container `/dev/vfio/vfio` (it opens no device by itself) and the node of
/// each group found, `/dev/vfio/<N>`.
fn vfio_rules(b: &mut Builder, groups: &[(u32, Origin)], container: &Origin) {
    b.push(
        AaPattern::fixed("/dev/vfio/vfio"),
        Perms::RW,
        false,
        container.clone(),
    );
    for (group, origin) in groups {
        let number = group.to_string();
        if let Ok(p) = AaPattern::from_parts(&[Part::Lit("/dev/vfio/"), Part::Lit(&number)]) {
            b.push(p, Perms::RW, false, origin.clone());
        }
    }
}

/// Adds "named by a backing header" context to a refusal of a backing layer.
fn name_parent(e: Error, raw: &Path) -> Error {
    match e {
        Error::Path { path, origin, why } => Error::Path {
            path,
            origin: origin.clone(),
            why: format!(
                "{why}; the name {} comes from an image header",
                crate::error::quote_path(raw)
            ),
        },
        other => other,
    }
}

struct Builder {
    out: Vec<Rule>,
    seen: HashSet<(AaPattern, Perms, bool)>,
    warnings: Vec<Warning>,
    /// Non-file rules (child profiles), already escaped.
    blocks: Vec<String>,
    /// Path of the set-uid bridge helper.
    bridge_helper: String,
    /// The bridge helper's child profile is in `blocks` already.
    has_bridge_helper: bool,
    /// Read-only backing files also get `deny ... w`.
    backing_deny_write: bool,
    /// The domain the rules are for: a path in another domain's private state is refused
    /// ([`crate::state`]).
    owner: Option<crate::state::Owner>,
}

impl Builder {
    fn new() -> Self {
        Builder {
            out: Vec::new(),
            seen: HashSet::new(),
            warnings: Vec::new(),
            blocks: Vec::new(),
            bridge_helper: DEFAULT_BRIDGE_HELPER.to_string(),
            has_bridge_helper: false,
            backing_deny_write: true,
            owner: None,
        }
    }

    /// Records a warning after the resolver's pending ones. Both find things while the
    /// same elements are walked, so taking the resolver's first keeps a single stream in
    /// document order (collecting the two apart printed them out of order).
    fn warn(&mut self, r: &mut impl Resolve, msg: String) {
        self.warnings.extend(r.take_warnings());
        self.warnings.push(Warning(msg));
    }

    /// Canonicalizes, checks and adds a rule for one file; returns its canonical path.
    fn file(
        &mut self,
        r: &mut impl Resolve,
        raw: &Path,
        perms: Perms,
        origin: &Origin,
    ) -> Result<CanonicalPath> {
        if !raw.is_absolute() {
            return Err(Error::Path {
                path: raw.to_path_buf(),
                origin: origin.to_string(),
                why: "is not an absolute path".into(),
            });
        }
        let canon = r.canonical(raw, origin)?;
        self.add(canon.clone(), perms, origin)?;
        Ok(canon)
    }

    fn checked(
        &mut self,
        canon: &CanonicalPath,
        perms: Perms,
        scope: Scope,
        origin: &Origin,
    ) -> Result<()> {
        policy::check(canon, perms.grant(), scope)
            .and_then(|()| match &self.owner {
                Some(owner) => owner.check(canon.as_path(), scope),
                None => Ok(()),
            })
            .map_err(|why| Error::Path {
                path: canon.as_path().to_path_buf(),
                origin: origin.to_string(),
                why,
            })
    }

    fn add(&mut self, canon: CanonicalPath, perms: Perms, origin: &Origin) -> Result<()> {
        self.add_in(canon, perms, Scope::File, origin)
    }

    /// A host device's own file (an assigned PCI device's sysfs files): the only rules
    /// the policy's sysfs exceptions serve ([`Scope::HostDevice`]).
    fn host_device_file(
        &mut self,
        r: &mut impl Resolve,
        raw: &Path,
        perms: Perms,
        origin: &Origin,
    ) -> Result<()> {
        let canon = r.canonical(raw, origin)?;
        self.add_in(canon, perms, Scope::HostDevice, origin)
    }

    fn add_in(
        &mut self,
        canon: CanonicalPath,
        perms: Perms,
        scope: Scope,
        origin: &Origin,
    ) -> Result<()> {
        self.checked(&canon, perms, scope, origin)?;
        let text = path_text(&canon, origin)?;
        let p = pattern(&[Part::Lit(text)], &canon, origin)?;
        self.push(p, perms, perms.is_read_only(), origin.clone());
        Ok(())
    }

    /// A read-only backing layer: `rk`, with `deny w` unless the site turned it off
    /// (`backing_deny_write = no`: block-commit needs libvirtd's later `-F` grant to win).
    fn add_backing(&mut self, canon: CanonicalPath, origin: &Origin) -> Result<()> {
        self.checked(&canon, Perms::RK, Scope::File, origin)?;
        let text = path_text(&canon, origin)?;
        let p = pattern(&[Part::Lit(text)], &canon, origin)?;
        self.push(p, Perms::RK, self.backing_deny_write, origin.clone());
        Ok(())
    }

    /// Pushes libvirt's fixed per-domain rules (base, swtpm, passt), built from the tool's
    /// own text and the domain's name; a name that cannot be written in a rule (a control
    /// character) is an error naming `<name>`.
    fn push_named(
        &mut self,
        rules: &[(Vec<Part<'_>>, Perms)],
        name: &str,
        origin: &Origin,
    ) -> Result<()> {
        for (parts, perms) in rules {
            let p = AaPattern::from_parts(parts).map_err(|e| {
                Error::domain("<name>", format!("{} {e}", crate::error::quote(name)))
            })?;
            self.push(p, *perms, false, origin.clone());
        }
        Ok(())
    }

    fn push(&mut self, pattern: AaPattern, perms: Perms, deny_write: bool, origin: Origin) {
        if self.seen.insert((pattern.clone(), perms, deny_write)) {
            self.out.push(Rule {
                pattern,
                perms,
                deny_write,
                origin,
            });
        }
    }
}

fn path_text<'a>(canon: &'a CanonicalPath, origin: &Origin) -> Result<&'a str> {
    canon.as_path().to_str().ok_or_else(|| Error::Path {
        path: canon.as_path().to_path_buf(),
        origin: origin.to_string(),
        why: "is not valid UTF-8 and cannot be written in a rule".into(),
    })
}

fn pattern(parts: &[Part<'_>], canon: &CanonicalPath, origin: &Origin) -> Result<AaPattern> {
    AaPattern::from_parts(parts).map_err(|e| Error::Path {
        path: canon.as_path().to_path_buf(),
        origin: origin.to_string(),
        why: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_domain;
    use crate::resolve::{Chain, ChainLayer};

    /// Treats every path as canonical already; serves backing chains from a table; warns,
    /// as the real resolver does for a missing path, about every path below `/new/`.
    #[derive(Default)]
    struct Fake {
        chains: Vec<(&'static str, Vec<&'static str>)>,
        warnings: Vec<Warning>,
    }

    impl Resolve for Fake {
        fn canonical(&mut self, raw: &Path, origin: &Origin) -> Result<CanonicalPath> {
            if raw.starts_with("/new") {
                self.warnings
                    .push(Warning(format!("{} ({origin}) is new", raw.display())));
            }
            // Like the real canonicalizer, drop a trailing slash (`/srv/nss/`).
            let clean: PathBuf = raw.components().collect();
            Ok(CanonicalPath::from_canonical_literal(&clean)
                .unwrap_or_else(|| panic!("fixture path {raw:?} is not canonical")))
        }
        fn image_chain(
            &mut self,
            raw: &Path,
            _: &CanonicalPath,
            format: Option<&str>,
            _: &Origin,
        ) -> Result<Chain> {
            if format.is_none() {
                return Ok(Chain::default());
            }
            let chain = self.chains.iter().find(|(top, _)| Path::new(top) == raw);
            let layers = chain
                .map(|(_, layers)| {
                    layers
                        .iter()
                        .map(|l| ChainLayer {
                            raw: l.into(),
                            path: CanonicalPath::from_canonical_literal(Path::new(l)).unwrap(),
                            format: Some("qcow2".into()),
                            companions: vec![],
                        })
                        .collect()
                })
                .unwrap_or_default();
            Ok(Chain {
                top_companions: vec![],
                layers,
            })
        }
        fn usb_device(&mut self, _: crate::resolve::UsbId) -> Option<PathBuf> {
            None
        }
        fn pci_files(&mut self, address: &str) -> Vec<PathBuf> {
            vec![PathBuf::from(format!(
                "/sys/devices/pci0000:00/{address}/config"
            ))]
        }
        fn drm_render_node(&mut self) -> Option<PathBuf> {
            Some("/dev/dri/renderD128".into())
        }
        fn volume_path(&mut self, pool: &str, volume: &str) -> Result<Option<PathBuf>> {
            Ok((pool == "default")
                .then(|| PathBuf::from(format!("/var/lib/libvirt/images/{volume}"))))
        }
        fn iommu_group(&mut self, address: &str) -> Option<u32> {
            match address {
                "0000:01:00.0" => Some(12),
                "0000:06:12.5" => Some(7),
                _ => None,
            }
        }
        fn mdev_iommu_group(&mut self, uuid: &uuid::Uuid) -> Option<u32> {
            (uuid.hyphenated().to_string() == MDEV).then_some(9)
        }
        fn tpm_cancel(&mut self, device: &str) -> Option<PathBuf> {
            (device == "tpm0").then(|| PathBuf::from("/sys/devices/pnp0/00:05/cancel"))
        }
        fn take_warnings(&mut self) -> Vec<Warning> {
            std::mem::take(&mut self.warnings)
        }
    }

    fn lines(xml_devices: &str, os: &str, fake: &mut Fake) -> Vec<String> {
        let xml = format!(
            "<domain type='kvm' id='3'><name>vm1</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid>\
             <os><type>hvm</type>{os}</os><devices>{xml_devices}</devices></domain>"
        );
        let d = parse_domain(&xml).unwrap();
        let set = build(&d, None, fake, &mut Vec::new()).unwrap();
        set.rules
            .iter()
            .map(|r| {
                format!(
                    "{} {}{} <{}>",
                    r.pattern,
                    r.perms.as_str(),
                    if r.deny_write { " +deny" } else { "" },
                    r.origin
                )
            })
            .collect()
    }

    /// The rules for a whole domain XML, with the fake resolver.
    fn build_xml(xml: &str, warnings: &mut Vec<Warning>) -> Result<RuleSet> {
        build(&parse_domain(xml)?, None, &mut Fake::default(), warnings)
    }

    #[test]
    fn base_rules_for_qemu_domains() {
        let got = lines("", "", &mut Fake::default());
        assert_eq!(
            got,
            [
                "/var/log/libvirt/qemu/vm1.log w <domain base>",
                "/var/lib/libvirt/qemu/domain-3-vm1/* rw <domain base>",
                "/var/lib/libvirt/qemu/channel/target/domain-3-vm1/* rw <domain base>",
                "/run/libvirt/qemu/vm1.pid rwk <domain base>",
                "/var/lib/libvirt/qemu/nvram/vm1_VARS.fd rwk <domain base>",
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
            assert_eq!(set.rules.len(), 4, "{name}");
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
    fn disks_chains_and_permissions() {
        let mut fake = Fake {
            chains: vec![("/i/top.qcow2", vec!["/i/base.qcow2"])],
            ..Fake::default()
        };
        let got = lines(
            "<disk type='file'><driver type='qcow2'/><source file='/i/top.qcow2'/><target dev='vda'/></disk>\
             <disk type='file' device='cdrom'><source file='/i/cd.iso'/><readonly/><target dev='hdc'/></disk>\
             <disk type='block'><source dev='/dev/sdb'/><backingStore/><target dev='vdb'/></disk>\
             <disk type='network'><source protocol='nbd' name='x'/><target dev='vdc'/></disk>",
            "",
            &mut fake,
        );
        assert_eq!(
            &got[5..],
            [
                "/i/top.qcow2 rwk <disk vda>",
                "/i/base.qcow2 rk +deny <disk vda backing 1>",
                "/i/cd.iso rk +deny <disk hdc>",
                "/dev/sdb rwk <disk vdb>",
            ]
        );
    }

    #[test]
    fn network_disks_keep_their_local_backing_layers_and_cdroms_are_read_only() {
        let got = lines(
            "<disk type='network'><driver type='qcow2'/><source protocol='nbd' name='bar'/>\
               <backingStore type='block'><format type='qcow2'/><source dev='/dev/vg/base'/><backingStore/></backingStore>\
               <target dev='vdb'/></disk>\
             <disk type='block' device='cdrom'><source dev='/dev/sr0'/><target dev='hdc'/></disk>",
            "",
            &mut Fake::default(),
        );
        assert_eq!(
            &got[5..],
            [
                "/dev/vg/base rk +deny <disk vdb backing 1>",
                "/dev/sr0 rk +deny <disk hdc>"
            ]
        );
    }

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
            &got[5..],
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
    fn boot_files() {
        let got = lines(
            "",
            "<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>\
             <nvram>/var/lib/libvirt/qemu/nvram/vm1_VARS.fd</nvram><kernel>/boot/vmlinuz</kernel>\
             <initrd>/boot/initrd.img</initrd><dtb>/d/x.dtb</dtb>",
            &mut Fake::default(),
        );
        assert_eq!(
            &got[5..],
            [
                "/boot/vmlinuz r +deny <os kernel>",
                "/boot/initrd.img r +deny <os initrd>",
                "/d/x.dtb r +deny <os dtb>",
                "/usr/share/OVMF/OVMF_CODE.fd rk +deny <os loader>",
                // The nvram is the base set's own <name>_VARS.fd: written once.
            ]
        );
    }

    #[test]
    fn restricted_paths_are_refused_with_the_element() {
        let xml = "<domain type='kvm'><name>v</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid>\
            <os><type>hvm</type></os><devices><disk type='file'><source file='/etc/passwd'/><target dev='vda'/></disk></devices></domain>";
        let d = parse_domain(xml).unwrap();
        let e = build(&d, None, &mut Fake::default(), &mut Vec::new()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "'/etc/passwd': /etc is never allowed (restricted location) (from disk vda)"
        );
        let kernel = xml.replace("<devices>", "<devices/>").replace("<disk type='file'><source file='/etc/passwd'/><target dev='vda'/></disk></devices>", "")
            .replace("<type>hvm</type>", "<type>hvm</type><kernel>/boot/vmlinuz</kernel>");
        assert!(build(
            &parse_domain(&kernel).unwrap(),
            None,
            &mut Fake::default(),
            &mut Vec::new()
        )
        .is_ok());
    }

    /// The resolver's warnings and this stage's come out as one stream in document order,
    /// and those found before a failing element are not lost with the error.
    #[test]
    fn warnings_in_document_order_also_when_the_build_fails() {
        let disks = "<disk type='file'><source file='/new/a.img'/><target dev='vda'/></disk>\
            <disk type='file'><source file='/i/admin.img'><seclabel model='apparmor' relabel='no'/></source><target dev='vdb'/></disk>\
            <disk type='file'><source file='/new/c.img'/><target dev='vdc'/></disk>";
        let want = [
            "/new/a.img (disk vda) is new",
            "disk vdb: <seclabel model='apparmor' relabel='no'/>: no rule written for it",
            "/new/c.img (disk vdc) is new",
        ];
        let xml = |extra: &str| {
            format!(
                "<domain type='kvm'><name>v</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid>\
                 <os><type>hvm</type></os><devices>{disks}{extra}</devices></domain>"
            )
        };
        let text = |w: Vec<Warning>| w.into_iter().map(|w| w.0).collect::<Vec<_>>();

        let mut warnings = Vec::new();
        let ok = build(
            &parse_domain(&xml("")).unwrap(),
            None,
            &mut Fake::default(),
            &mut warnings,
        );
        assert!(ok.is_ok());
        assert_eq!(text(warnings), want);

        let shadow = "<disk type='file'><source file='/etc/shadow'/><target dev='vdd'/></disk>";
        let mut warnings = Vec::new();
        let e = build(
            &parse_domain(&xml(shadow)).unwrap(),
            None,
            &mut Fake::default(),
            &mut warnings,
        )
        .unwrap_err();
        assert!(e.to_string().contains("(from disk vdd)"), "{e}");
        assert_eq!(text(warnings), want);
    }

    #[test]
    fn extra_files_and_subtrees() {
        let xml = "<domain type='lxc'><name>v</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid><os><type>exe</type></os></domain>";
        let d = parse_domain(xml).unwrap();
        let x = ExtraFile::parse(Path::new("/run/libvirt/qemu/channel/1-v/{,**}"), "-F").unwrap();
        let set = build(&d, Some(&x), &mut Fake::default(), &mut Vec::new()).unwrap();
        assert!(set.rules.is_empty(), "lxc gets no base rules");
        assert_eq!(
            set.extra[0].pattern.as_str(),
            "/run/libvirt/qemu/channel/1-v/{,**}"
        );
        assert_eq!(set.extra[0].perms, Perms::RWK);
        let x = ExtraFile::parse(Path::new("/run/hugepages/kvm/**"), "-F").unwrap();
        let set = build(&d, Some(&x), &mut Fake::default(), &mut Vec::new()).unwrap();
        assert_eq!(set.extra[0].pattern.as_str(), "/run/hugepages/kvm/\\*\\*");
        assert!(ExtraFile::parse(Path::new("rel/x"), "-F").is_err());
        let root = ExtraFile::parse(Path::new("/{,**}"), "-F").unwrap();
        assert!(build(&d, Some(&root), &mut Fake::default(), &mut Vec::new()).is_err());
    }

    #[test]
    fn duplicate_rules_are_written_once() {
        let got = lines(
            "<serial type='file'><source path='/l/s.log'/></serial><console type='file'><source path='/l/s.log'/><target type='serial'/></console>",
            "",
            &mut Fake::default(),
        );
        assert_eq!(&got[5..], ["/l/s.log rw <serial 0>"]);
    }

    #[test]
    fn hostile_names_are_escaped_in_base_rules() {
        let xml = "<domain type='qemu'><name>a*{b,c}@{HOME}\\</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid><os><type>hvm</type></os></domain>";
        let d = parse_domain(xml).unwrap();
        let set = build(&d, None, &mut Fake::default(), &mut Vec::new()).unwrap();
        assert_eq!(
            set.rules[0].pattern.as_str(),
            "/var/log/libvirt/qemu/a\\*\\{b\\,c\\}\\@\\{HOME\\}\\134.log"
        );
    }

    #[test]
    fn graphics_hostdevs_and_gl() {
        let got = lines(
            "<graphics type='vnc' socket='/run/vnc.sock'/>\
             <graphics type='spice'><listen type='socket' socket='/run/spice.sock'/><gl enable='yes'/></graphics>\
             <hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x06' slot='0x12' function='0x5'/></source></hostdev>\
             <hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0xbeef'/></source></hostdev>",
            "",
            &mut Fake::default(),
        );
        assert_eq!(
            &got[5..10],
            [
                "/run/vnc.sock rw <graphics vnc 0>",
                "/dev/dri/renderD128 rw <graphics spice 1 rendernode>",
                "/run/spice.sock rw <graphics spice 1>",
                "/sys/devices/pci0000:00/0000:06:12.5/config rw <hostdev pci 0000:06:12.5>",
                "/dev/vfio/vfio rw <hostdev vfio>",
            ]
        );
        assert_eq!(got[10], "/dev/vfio/7 rw <hostdev pci 0000:06:12.5>");
        assert_eq!(got[11], "/usr/lib{,32,64}/dri/*.so* mr <graphics gl>");
        assert_eq!(
            got.last().map(String::as_str),
            Some("/var/lib/libvirt/.cache/  +deny <graphics gl>")
        );
    }

    #[test]
    fn shares_inputs_memory_shmem_tpm_smartcard() {
        let got = lines(
            "<filesystem type='mount'><source dir='/export/fs1'/><target dir='fs1'/></filesystem>\
             <filesystem type='mount'><driver type='virtiofs'/><source dir='/export/vfs'/><target dir='v'/></filesystem>\
             <filesystem type='mount'><source dir='/export/ro'/><target dir='ro'/><readonly/></filesystem>\
             <input type='passthrough' bus='virtio'><source evdev='/dev/input/event1'/></input>\
             <interface type='vhostuser'><source type='unix' path='/run/vhost.sock' mode='server'/><model type='virtio'/></interface>\
             <memory model='nvdimm'><source><path>/tmp/nvdimm</path></source></memory>\
             <shmem name='s0'><model type='ivshmem-plain'/></shmem>\
             <shmem name='s1'><model type='ivshmem-doorbell'/></shmem>\
             <shmem name='s2'><model type='ivshmem-plain'/><server path='/run/shm.sock'/></shmem>\
             <tpm model='tpm-tis'><backend type='emulator'/></tpm>\
             <smartcard mode='host-certificates'><database>/srv/nss/</database></smartcard>\
             <smartcard mode='host'/>",
            "",
            &mut Fake::default(),
        );
        assert_eq!(
            &got[5..],
            [
                "/export/fs1/** rwl <filesystem fs1>",
                "/export/fs1/ r <filesystem fs1>",
                "/export/ro/** r <filesystem ro>",
                "/export/ro/ r <filesystem ro>",
                "/dev/input/event1 rw <input 0>",
                "/run/vhost.sock rw <interface 0 vhostuser>",
                "/tmp/nvdimm rw <memory nvdimm 0>",
                "/dev/shm/s0 rw <shmem s0>",
                "/var/lib/libvirt/shmem-s1-sock rw <shmem s1>",
                "/run/shm.sock rw <shmem s2>",
                "/run/libvirt/qemu/swtpm/3-vm1-swtpm.sock rw <tpm 0>",
                "/var/lib/libvirt/swtpm/00000000-0000-0000-0000-0123456789ab/tpm1.2/ r <tpm 0>",
                "/var/lib/libvirt/swtpm/00000000-0000-0000-0000-0123456789ab/tpm1.2/** rwk <tpm 0>",
                "/var/log/swtpm/libvirt/qemu/vm1-swtpm.log w <tpm 0>",
                "/run/libvirt/qemu/swtpm/3-vm1-swtpm.pid rw <tpm 0>",
                "/srv/nss/{,*} rk <smartcard 0>",
                "/etc/pki/nssdb/{,*} rk <smartcard 1>",
            ]
        );
    }

    #[test]
    fn hostile_device_strings_are_escaped_or_refused() {
        // The smartcard database was a raw rule injection in libvirt 9.0 (W3).
        let got = lines(
            "<smartcard mode='host-certificates'><database>/tmp/x\" rwkl, /** rwkl, #</database></smartcard>\
             <shmem name='a*{b}'><model type='ivshmem-plain'/></shmem>",
            "",
            &mut Fake::default(),
        );
        assert_eq!(
            &got[5..],
            [
                "/dev/shm/a\\*\\{b\\} rw <shmem a??b?>",
                "/tmp/x\\\" rwkl\\, /\\*\\* rwkl\\, \\043/{,*} rk <smartcard 0>",
            ]
        );
        let xml = "<domain type='kvm'><name>v</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid>\
            <os><type>hvm</type></os><devices><filesystem><source dir='/etc'/><target dir='e'/></filesystem></devices></domain>";
        let e = build(
            &parse_domain(xml).unwrap(),
            None,
            &mut Fake::default(),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "'/etc': /etc is never allowed (restricted location) (from filesystem e)"
        );
    }

    #[test]
    fn sriov_interfaces_are_pci_hostdevs() {
        let got = lines(
            "<interface type='hostdev' managed='yes'><source><address type='pci' domain='0x0000' bus='0x03' slot='0x07' function='0x1'/></source></interface>",
            "",
            &mut Fake::default(),
        );
        assert_eq!(
            &got[5..],
            [
                "/sys/devices/pci0000:00/0000:03:07.1/config rw <hostdev pci 0000:03:07.1>",
                "/dev/vfio/vfio rw <hostdev vfio>",
            ]
        );
    }

    const MDEV: &str = "c2177883-f1bb-47f0-914d-32a22e3a8804";

    /// An mdev gets its own group; one not on the host, or without a uuid, gets none (and
    /// a warning), never `/dev/vfio/[0-9]*`.
    #[test]
    fn mdev_hostdevs_get_their_own_group() {
        let mdev = |uuid: &str| {
            format!("<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='{uuid}'/></source></hostdev>")
        };
        let got = lines(&mdev(MDEV), "", &mut Fake::default());
        assert_eq!(
            &got[5..],
            [
                "/dev/vfio/vfio rw <hostdev vfio>",
                &format!("/dev/vfio/9 rw <hostdev mdev {MDEV}>"),
            ]
        );
        for other in ["00000000-1111-2222-3333-444444444444", "../../x", ""] {
            let xml = format!(
                "<domain type='kvm'><name>v</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid>\
                 <os><type>hvm</type></os><devices>{}</devices></domain>",
                mdev(other)
            );
            let mut warnings = Vec::new();
            let set = build_xml(&xml, &mut warnings).unwrap();
            let vfio: Vec<&str> = set
                .rules
                .iter()
                .map(|r| r.pattern.as_str())
                .filter(|p| p.starts_with("/dev/vfio/"))
                .collect();
            assert_eq!(vfio, ["/dev/vfio/vfio"], "{other}");
            assert!(
                warnings.iter().any(|w| w
                    .0
                    .contains("not found on this host; no VFIO group granted")),
                "{other}: {warnings:?}"
            );
        }
    }

    /// `/dev/vhost-net` only for the interface types libvirtd opens it for.
    #[test]
    fn vhost_net_only_for_tap_interfaces() {
        for (iface, want) in [
            (
                "<interface type='network'><model type='virtio'/></interface>",
                true,
            ),
            ("<interface type='bridge'/>", true),
            (
                "<interface type='direct'><model type='virtio-non-transitional'/></interface>",
                true,
            ),
            (
                "<interface type='ethernet'><model type='virtio-transitional'/></interface>",
                true,
            ),
            (
                "<interface type='network'><model type='virtio'/><driver name='qemu'/></interface>",
                false,
            ),
            (
                "<interface type='network'><model type='e1000'/></interface>",
                false,
            ),
            (
                "<interface type='user'><model type='virtio'/></interface>",
                false,
            ),
            (
                "<interface type='vhostuser'><model type='virtio'/></interface>",
                false,
            ),
            (
                "<interface type='hostdev'><source><address type='pci' bus='0x03' slot='0x07' function='0x1'/></source></interface>",
                false,
            ),
            (
                "<interface type='vdpa'><model type='virtio'/></interface>",
                false,
            ),
            (
                "<interface type='udp'><model type='virtio'/></interface>",
                false,
            ),
        ] {
            let got = lines(iface, "", &mut Fake::default());
            assert_eq!(
                got.iter().any(|l| l.starts_with("/dev/vhost-net ")),
                want,
                "{iface}: {got:?}"
            );
        }
    }
}
