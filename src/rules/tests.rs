//! Rules for whole domain XMLs, with a fake resolver.

use super::*;
use crate::error::Warning;
use crate::parse::parse_domain;
use crate::resolve::{CanonicalPath, Chain, ChainLayer, ChainStart};
use std::path::{Path, PathBuf};

/// Treats every path as canonical already; serves backing chains (and the data files the
/// top images' headers name) from a table; warns, as the real resolver does for a missing
/// path, about every path below `/new/`.
#[derive(Default)]
struct Fake {
    chains: Vec<(&'static str, Vec<&'static str>)>,
    data_files: Vec<(&'static str, &'static str)>,
}

impl Resolve for Fake {
    fn canonical(
        &mut self,
        raw: &Path,
        origin: &Origin,
        diag: &mut Diagnostics,
    ) -> Result<CanonicalPath> {
        if raw.starts_with("/new") {
            diag.warn(origin, format!("{} ({origin}) is new", raw.display()));
        }
        // Like the real canonicalizer, drop a trailing slash (`/srv/nss/`).
        let clean: PathBuf = raw.components().collect();
        Ok(CanonicalPath::from_canonical_literal(&clean)
            .unwrap_or_else(|| panic!("fixture path {raw:?} is not canonical")))
    }
    fn image_chain(&mut self, start: &ChainStart<'_>, _: &mut Diagnostics) -> Result<Chain> {
        if start.format.is_none() {
            return Ok(Chain::default());
        }
        let chain = self
            .chains
            .iter()
            .find(|(top, _)| Path::new(top) == start.raw);
        let layers = chain
            .map(|(_, layers)| {
                layers
                    .iter()
                    .map(|l| ChainLayer {
                        raw: l.into(),
                        path: CanonicalPath::from_canonical_literal(Path::new(l)).unwrap(),
                        format: Some(crate::image::ImageFormat::Qcow2),
                        companions: vec![],
                    })
                    .collect()
            })
            .unwrap_or_default();
        let top_companions = self
            .data_files
            .iter()
            .filter(|(top, _)| Path::new(top) == start.raw)
            .map(|(_, data)| crate::resolve::CompanionFile {
                kind: crate::image::CompanionKind::DataFile,
                raw: data.into(),
                path: CanonicalPath::from_canonical_literal(Path::new(data)).unwrap(),
            })
            .collect();
        Ok(Chain {
            top_companions,
            layers,
        })
    }
    fn usb_device(
        &mut self,
        _: crate::resolve::UsbId,
        _: &Origin,
        _: &mut Diagnostics,
    ) -> Option<PathBuf> {
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
    fn volume_path(
        &mut self,
        pool: &str,
        volume: &str,
        _: &Origin,
        _: &mut Diagnostics,
    ) -> Result<Option<PathBuf>> {
        Ok((pool == "default").then(|| PathBuf::from(format!("/var/lib/libvirt/images/{volume}"))))
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
    fn tpm_cancel(&mut self, device: &Path) -> Option<PathBuf> {
        (device == Path::new("/dev/tpm0")).then(|| PathBuf::from("/sys/devices/pnp0/00:05/cancel"))
    }
}

fn lines(xml_devices: &str, os: &str, fake: &mut Fake) -> Vec<String> {
    lines_with(xml_devices, os, fake, &Options::default())
}

fn lines_with(xml_devices: &str, os: &str, fake: &mut Fake, options: &Options) -> Vec<String> {
    let xml = format!(
        "<domain type='kvm' id='3'><name>vm1</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid>\
         <os><type>hvm</type>{os}</os><devices>{xml_devices}</devices></domain>"
    );
    let d = parse_domain(&xml).unwrap();
    let set = build_with(&d, None, options, fake, &mut Diagnostics::default()).unwrap();
    set.rules
        .iter()
        .map(|r| {
            let perms = match r.perms.deny_only() {
                Some((kw, letters)) => format!("{kw} {letters}"),
                None => format!(
                    "{}{}",
                    r.perms.as_str(),
                    if r.deny_write { " +deny" } else { "" }
                ),
            };
            format!("{} {perms} <{}>", r.pattern, r.origin)
        })
        .collect()
}

/// The lines of [`lines`] that are not base rules (told apart by their provenance).
fn without_base(got: &[String]) -> Vec<&str> {
    got.iter()
        .map(String::as_str)
        .filter(|l| !l.ends_with("<domain base>"))
        .collect()
}

/// The rules for a whole domain XML, with the fake resolver.
fn build_xml(xml: &str, warnings: &mut Vec<Warning>) -> Result<RuleSet> {
    let mut diag = Diagnostics::default();
    let set = build(&parse_domain(xml)?, None, &mut Fake::default(), &mut diag);
    warnings.extend(diag.into_warnings());
    set
}

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

/// libvirt 9.0's deny rule on read-only disks and backing layers (`backing_deny_write =
/// yes`); the default leaves it out, as libvirt 12.1 does (docs/weak-spots.md W6).
fn deny_9_0() -> Options {
    Options {
        backing_deny_write: true,
        ..Options::default()
    }
}

#[test]
fn disks_chains_and_permissions() {
    let xml = "<disk type='file'><driver type='qcow2'/><source file='/i/top.qcow2'/><target dev='vda'/></disk>\
         <disk type='file' device='cdrom'><source file='/i/cd.iso'/><readonly/><target dev='hdc'/></disk>\
         <disk type='block'><source dev='/dev/sdb'/><backingStore/><target dev='vdb'/></disk>\
         <disk type='network'><source protocol='nbd' name='x'/><target dev='vdc'/></disk>";
    for (options, deny) in [(Options::default(), ""), (deny_9_0(), " +deny")] {
        let mut fake = Fake {
            chains: vec![("/i/top.qcow2", vec!["/i/base.qcow2"])],
            ..Fake::default()
        };
        let got = lines_with(xml, "", &mut fake, &options);
        assert_eq!(
            without_base(&got),
            [
                "/i/top.qcow2 rwk <disk vda>".to_string(),
                format!("/i/base.qcow2 rk{deny} <disk vda backing 1>"),
                format!("/i/cd.iso rk{deny} <disk hdc>"),
                "/dev/sdb rwk <disk vdb>".to_string(),
            ]
        );
    }
}

/// A data file only the image header names: `rk` for a read-only disk, like a backing
/// file; no rule for a writable one (QEMU opens it read-write, and no grant comes from
/// image bytes for a writable disk); nothing from the header when the XML declares the
/// disk's `<dataStore>`, which gets the disk's own permissions.
#[test]
fn header_data_files_are_read_only_for_read_only_disks_and_ungranted_for_writable_ones() {
    let fake = || Fake {
        data_files: vec![("/i/top.qcow2", "/d/data")],
        ..Fake::default()
    };
    let disk = |extra: &str, source: &str| {
        format!(
            "<disk type='file'><driver type='qcow2'/><source file='/i/top.qcow2'>{source}</source>{extra}<target dev='vda'/></disk>"
        )
    };
    let got = lines(&disk("<readonly/>", ""), "", &mut fake());
    assert_eq!(
        without_base(&got),
        [
            "/i/top.qcow2 rk <disk vda>",
            "/d/data rk <disk vda data file>"
        ]
    );
    let got = lines(&disk("", ""), "", &mut fake());
    assert_eq!(without_base(&got), ["/i/top.qcow2 rwk <disk vda>"]);
    let declared =
        "<dataStore type='file'><format type='raw'/><source file='/d/declared'/></dataStore>";
    for (extra, perms) in [("<readonly/>", "rk"), ("", "rwk")] {
        let got = lines(&disk(extra, declared), "", &mut fake());
        assert_eq!(
            without_base(&got),
            [
                format!("/i/top.qcow2 {perms} <disk vda>"),
                format!("/d/declared {perms} <disk vda dataStore>"),
            ]
        );
    }
}

#[test]
fn network_disks_keep_their_local_backing_layers_and_cdroms_are_read_only() {
    let xml = "<disk type='network'><driver type='qcow2'/><source protocol='nbd' name='bar'/>\
           <backingStore type='block'><format type='qcow2'/><source dev='/dev/vg/base'/><backingStore/></backingStore>\
           <target dev='vdb'/></disk>\
         <disk type='block' device='cdrom'><source dev='/dev/sr0'/><target dev='hdc'/></disk>";
    for (options, deny) in [(Options::default(), ""), (deny_9_0(), " +deny")] {
        let got = lines_with(xml, "", &mut Fake::default(), &options);
        assert_eq!(
            without_base(&got),
            [
                format!("/dev/vg/base rk{deny} <disk vdb backing 1>"),
                format!("/dev/sr0 rk{deny} <disk hdc>"),
            ]
        );
    }
}

/// An unterminated `<backingStore>` chain is continued from its last listed layer's header
/// (libvirt's `qemuDomainDetermineDiskChain`): the layers found are numbered after every
/// listed one (a network layer counts), and are written also when the admin manages the
/// last listed layer itself (relabel='no').
#[test]
fn unterminated_listed_chains_continue_below_their_last_layer() {
    let chain = |mid_label: &str| {
        format!(
            "<disk type='file'><driver type='qcow2'/><source file='/i/top.qcow2'/>\
               <backingStore type='network'><format type='qcow2'/><source protocol='nbd' name='n'/>\
                 <backingStore type='file'><format type='qcow2'/><source file='/i/mid.qcow2'>{mid_label}</source></backingStore>\
               </backingStore><target dev='vda'/></disk>"
        )
    };
    let fake = || Fake {
        chains: vec![("/i/mid.qcow2", vec!["/i/base.qcow2", "/i/root.qcow2"])],
        ..Fake::default()
    };
    let got = lines(&chain(""), "", &mut fake());
    assert_eq!(
        without_base(&got),
        [
            "/i/top.qcow2 rwk <disk vda>",
            "/i/mid.qcow2 rk <disk vda backing 2>",
            "/i/base.qcow2 rk <disk vda backing 3>",
            "/i/root.qcow2 rk <disk vda backing 4>",
        ]
    );
    let got = lines(
        &chain("<seclabel model='apparmor' relabel='no'/>"),
        "",
        &mut fake(),
    );
    assert_eq!(
        without_base(&got),
        [
            "/i/top.qcow2 rwk <disk vda>",
            "/i/base.qcow2 rk <disk vda backing 3>",
            "/i/root.qcow2 rk <disk vda backing 4>",
        ]
    );
    // Terminated, the chain is what the XML lists.
    let got = lines(
        &chain("").replace(
            "</source></backingStore>",
            "</source><backingStore/></backingStore>",
        ),
        "",
        &mut fake(),
    );
    assert_eq!(
        without_base(&got),
        [
            "/i/top.qcow2 rwk <disk vda>",
            "/i/mid.qcow2 rk <disk vda backing 2>",
        ]
    );
}

/// The setting governs storage only: firmware, kernels and tables keep libvirt's deny
/// rule either way, as in libvirt 12.1, and a read-only disk's `<dataStore>` and a
/// backing layer's follow the disk.
#[test]
fn backing_deny_write_governs_read_only_disks_and_layers_only() {
    let xml = "<disk type='file' device='disk'><driver type='qcow2'/>\
           <source file='/i/ro.qcow2'><dataStore type='file'><format type='raw'/><source file='/i/ro.data'/></dataStore></source>\
           <backingStore type='file'><format type='qcow2'/>\
             <source file='/i/l1.qcow2'><dataStore type='file'><format type='raw'/><source file='/i/l1.data'/></dataStore></source>\
             <backingStore/></backingStore>\
           <readonly/><target dev='vda'/></disk>";
    let os = "<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader><kernel>/boot/vmlinuz</kernel>";
    for (options, deny) in [(Options::default(), ""), (deny_9_0(), " +deny")] {
        let got = lines_with(xml, os, &mut Fake::default(), &options);
        assert_eq!(
            without_base(&got),
            [
                format!("/i/ro.qcow2 rk{deny} <disk vda>"),
                format!("/i/ro.data rk{deny} <disk vda dataStore>"),
                format!("/i/l1.qcow2 rk{deny} <disk vda backing 1>"),
                format!("/i/l1.data rk{deny} <disk vda backing 1 dataStore>"),
                "/boot/vmlinuz r +deny <os kernel>".to_string(),
                "/usr/share/OVMF/OVMF_CODE.fd rk +deny <os loader>".to_string(),
            ]
        );
    }
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
fn boot_files() {
    let got = lines(
        "",
        "<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>\
         <nvram>/var/lib/libvirt/qemu/nvram/vm1_VARS.fd</nvram><kernel>/boot/vmlinuz</kernel>\
         <initrd>/boot/initrd.img</initrd><dtb>/d/x.dtb</dtb><shim>/boot/efi/shimx64.efi</shim>\
         <acpi><table type='raw'>/t/ssdt1.dat</table><table type='raw'>/t/ssdt2.dat</table>\
         <table type='rawset'>/t/set</table><table type='slic'>/t/slic.dat</table>\
         <table type='msdm'>/t/msdm.dat</table></acpi>",
        &mut Fake::default(),
    );
    assert_eq!(
        without_base(&got),
        [
            "/boot/vmlinuz r +deny <os kernel>",
            "/boot/initrd.img r +deny <os initrd>",
            // libvirt 11.2's <shim> and every ACPI table: `r`, in libvirt 11.3's order.
            "/boot/efi/shimx64.efi r +deny <os shim>",
            "/d/x.dtb r +deny <os dtb>",
            "/t/ssdt1.dat r +deny <os acpi table raw>",
            "/t/ssdt2.dat r +deny <os acpi table raw>",
            "/t/set r +deny <os acpi table rawset>",
            "/t/slic.dat r +deny <os acpi table slic>",
            "/t/msdm.dat r +deny <os acpi table msdm>",
            "/usr/share/OVMF/OVMF_CODE.fd rk +deny <os loader>",
            // The nvram is the base set's own <name>_VARS.fd: written once.
        ]
    );
}

/// libvirt >= 10.0 grants a loader `rwk` unless `readonly='yes'`, 12.x `rk` for
/// `type='rom'`; a loader in a read-only firmware directory stays `rk` whatever it asks
/// (deliberately unlike libvirt 11.3, which refuses the profile; `rules/os.rs`).
#[test]
fn loader_permissions() {
    let cases = [
        (
            "readonly='yes' type='pflash'",
            "/srv/fw/CODE.fd",
            "rk +deny",
            0,
        ),
        ("type='rom'", "/srv/fw/bios.bin", "rk +deny", 0),
        (
            "readonly='no' type='rom'",
            "/srv/fw/bios.bin",
            "rk +deny",
            0,
        ),
        ("type='pflash'", "/srv/fw/guest_BOTH.fd", "rwk", 0),
        (
            "readonly='no' type='pflash'",
            "/srv/fw/guest_BOTH.fd",
            "rwk",
            0,
        ),
        ("", "/srv/fw/guest_BOTH.fd", "rwk", 0),
        (
            "readonly='no' type='pflash'",
            "/usr/share/OVMF/OVMF_CODE.fd",
            "rk +deny",
            1,
        ),
        (
            "type='pflash'",
            "/usr/share/OVMF/OVMF_CODE.fd",
            "rk +deny",
            1,
        ),
        ("", "/usr/share/seabios/bios.bin", "rk +deny", 1),
        ("type='rom'", "/usr/share/seabios/bios.bin", "rk +deny", 0),
        (
            "readonly='yes' type='pflash'",
            "/usr/share/OVMF/OVMF_CODE.fd",
            "rk +deny",
            0,
        ),
    ];
    for (attrs, path, perms, warned) in cases {
        let xml = format!(
            "<domain type='kvm' id='3'><name>vm1</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid>\
             <os><type>hvm</type><loader {attrs}>{path}</loader></os></domain>"
        );
        let d = parse_domain(&xml).unwrap();
        let mut diag = Diagnostics::default();
        let set = build(&d, None, &mut Fake::default(), &mut diag).unwrap();
        let got: Vec<_> = set
            .rules
            .iter()
            .filter(|r| r.origin.to_string() == "os loader")
            .map(|r| {
                let deny = if r.deny_write { " +deny" } else { "" };
                format!("{} {}{deny}", r.pattern, r.perms.as_str())
            })
            .collect();
        assert_eq!(got, [format!("{path} {perms}")], "{attrs} {path}");
        let warnings = diag.into_warnings();
        assert_eq!(warnings.len(), warned, "{attrs} {path}: {warnings:?}");
        if warned == 1 {
            assert!(
                warnings[0]
                    .0
                    .contains("in a read-only firmware directory: granted rk only"),
                "{}",
                warnings[0].0
            );
        }
    }
}

/// libvirt >= 9.2 names a varstore after its format (`<name>_VARS.qcow2`, `.raw`; 11.3's
/// `firmware-auto-efi-format-*` outputs): the state table accepts those of this domain
/// only, and the nvram/ deny rule leaves them out (`base_rules_for_qemu_domains`).
#[test]
fn varstores_of_every_format_libvirt_names() {
    for ext in ["qcow2", "raw"] {
        let got = lines(
            "",
            &format!("<nvram format='{ext}'>/var/lib/libvirt/qemu/nvram/vm1_VARS.{ext}</nvram>"),
            &mut Fake::default(),
        );
        assert_eq!(
            without_base(&got),
            [format!(
                "/var/lib/libvirt/qemu/nvram/vm1_VARS.{ext} rwk <os nvram>"
            )]
        );
    }
    for other in [
        "other_VARS.qcow2",
        "vm1_VARS.json",
        "vm1_VARS.ms.fd",
        "vm1_VARS.qcow2.fd",
    ] {
        let xml = format!(
            "<domain type='kvm' id='3'><name>vm1</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid>\
             <os><type>hvm</type><nvram>/var/lib/libvirt/qemu/nvram/{other}</nvram></os></domain>"
        );
        let e = build_xml(&xml, &mut Vec::new()).unwrap_err().to_string();
        assert!(e.contains("/var/lib/libvirt/qemu/nvram"), "{other}: {e}");
    }
}

/// libvirt 12.1's `<os><varstore path>` (uefi-vars device): `rw`; its template no rule.
#[test]
fn uefi_vars_varstore() {
    let got = lines(
        "",
        "<loader readonly='yes' type='pflash'>/usr/share/AAVMF/AAVMF_CODE.fd</loader>\
         <varstore template='/usr/share/AAVMF/vars.json' path='/srv/vm1/vars.json'/>",
        &mut Fake::default(),
    );
    assert_eq!(
        without_base(&got),
        [
            "/usr/share/AAVMF/AAVMF_CODE.fd rk +deny <os loader>",
            "/srv/vm1/vars.json rw <os varstore>",
        ]
    );
    // Filled in by libvirt later: nothing yet.
    let got = lines("", "<varstore/>", &mut Fake::default());
    assert!(without_base(&got).is_empty(), "{got:?}");
}

#[test]
fn restricted_paths_are_refused_with_the_element() {
    let xml = "<domain type='kvm'><name>v</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid>\
        <os><type>hvm</type></os><devices><disk type='file'><source file='/etc/passwd'/><target dev='vda'/></disk></devices></domain>";
    let d = parse_domain(xml).unwrap();
    let e = build(&d, None, &mut Fake::default(), &mut Diagnostics::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "'/etc/passwd': /etc is never allowed (restricted location) (from disk vda)"
    );
    let kernel = xml
        .replace("<devices>", "<devices/>")
        .replace(
            "<disk type='file'><source file='/etc/passwd'/><target dev='vda'/></disk></devices>",
            "",
        )
        .replace(
            "<type>hvm</type>",
            "<type>hvm</type><kernel>/boot/vmlinuz</kernel>",
        );
    assert!(build(
        &parse_domain(&kernel).unwrap(),
        None,
        &mut Fake::default(),
        &mut Diagnostics::default()
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

    let mut warnings = Diagnostics::default();
    let ok = build(
        &parse_domain(&xml("")).unwrap(),
        None,
        &mut Fake::default(),
        &mut warnings,
    );
    assert!(ok.is_ok());
    assert_eq!(text(warnings.into_warnings()), want);

    let shadow = "<disk type='file'><source file='/etc/shadow'/><target dev='vdd'/></disk>";
    let mut warnings = Diagnostics::default();
    let e = build(
        &parse_domain(&xml(shadow)).unwrap(),
        None,
        &mut Fake::default(),
        &mut warnings,
    )
    .unwrap_err();
    assert!(e.to_string().contains("(from disk vdd)"), "{e}");
    assert_eq!(text(warnings.into_warnings()), want);
}

/// Rules are built family by family in libvirt's order (disks, chardevs, ..., the paths
/// 9.0 ignored), but warnings come out in the order of their elements in the document.
#[test]
fn warnings_across_element_families_follow_the_document() {
    let xml = "<domain type='kvm'><name>v</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid>\
        <os><type>hvm</type><nvram>/new/nv.fd</nvram></os><devices>\
        <audio id='1' type='file' path='rel.wav'/>\
        <disk type='file'><source file='/new/a.img'/><target dev='vda'/></disk>\
        <serial type='file'><source path='/new/s0'/></serial>\
        <disk type='file'><source file='/i/admin.img'><seclabel model='apparmor' relabel='no'/></source><target dev='vdb'/></disk>\
        </devices></domain>";
    let mut diag = Diagnostics::default();
    build(
        &parse_domain(xml).unwrap(),
        None,
        &mut Fake::default(),
        &mut diag,
    )
    .unwrap();
    let got: Vec<String> = diag.into_warnings().into_iter().map(|w| w.0).collect();
    assert_eq!(
        got,
        [
            "/new/nv.fd (os nvram) is new",
            "audio 0: 'rel.wav' is not an absolute path; no rule",
            "/new/a.img (disk vda) is new",
            "/new/s0 (serial 0) is new",
            "disk vdb: <seclabel model='apparmor' relabel='no'/>: no rule written for it",
        ]
    );
}

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

#[test]
fn duplicate_rules_are_written_once() {
    let got = lines(
        "<serial type='file'><source path='/l/s.log'/></serial><console type='file'><source path='/l/s.log'/><target type='serial'/></console>",
        "",
        &mut Fake::default(),
    );
    assert_eq!(without_base(&got), ["/l/s.log rw <serial 0>"]);
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
    // A VFIO device gets its group, never the legacy sysfs files
    // (QEMU's vfio-pci reaches config space through the device descriptor).
    assert_eq!(
        &got[6..10],
        [
            "/run/vnc.sock rw <graphics vnc 0>",
            "/dev/dri/renderD128 rw <graphics spice 1 rendernode>",
            "/run/spice.sock rw <graphics spice 1>",
            "/dev/vfio/vfio rw <hostdev vfio>",
        ]
    );
    assert_eq!(got[10], "/dev/vfio/7 rw <hostdev pci 0000:06:12.5>");
    assert_eq!(got[11], "/usr/lib{,32,64}/dri/*.so* mr <graphics gl>");
    assert!(
        !got.iter().any(|l| l.starts_with("/sys/devices/pci")),
        "{got:?}"
    );
    assert_eq!(
        got.last().map(String::as_str),
        Some("/var/lib/libvirt/.cache/ deny w <graphics gl>")
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
        without_base(&got),
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
        without_base(&got),
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
        &mut Diagnostics::default(),
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
    assert_eq!(without_base(&got), ["/dev/vfio/vfio rw <hostdev vfio>"]);
    // A non-VFIO backend (QEMU has none since 2.12; libvirt 9.0 still wrote these): the
    // sysfs files, and no VFIO rule.
    let got = lines(
        "<interface type='hostdev' managed='yes'><driver name='kvm'/><source><address type='pci' domain='0x0000' bus='0x03' slot='0x07' function='0x1'/></source></interface>",
        "",
        &mut Fake::default(),
    );
    assert_eq!(
        without_base(&got),
        ["/sys/devices/pci0000:00/0000:03:07.1/config rw <hostdev pci 0000:03:07.1>"]
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
        without_base(&got),
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

/// `<vsock>`: `/dev/vhost-vsock` for the QEMU driver's types only (libvirtd opens it in
/// `qemuProcessOpenVhostVsock`), once however many elements there are.
#[test]
fn vsock_only_for_qemu_domains() {
    let vsock = "<vsock model='virtio'><cid auto='yes'/></vsock>";
    for (virt, os, want) in [("kvm", "hvm", 1), ("qemu", "hvm", 1), ("lxc", "exe", 0)] {
        let xml = format!(
            "<domain type='{virt}'><name>v</name><uuid>00000000-0000-0000-0000-0123456789ab</uuid>\
             <os><type>{os}</type></os><devices>{vsock}{vsock}</devices></domain>"
        );
        let set = build_xml(&xml, &mut Vec::new()).unwrap();
        let got: Vec<String> = set
            .rules
            .iter()
            .filter(|r| r.pattern.as_str() == "/dev/vhost-vsock")
            .map(|r| format!("{} {} <{}>", r.pattern, r.perms.as_str(), r.origin))
            .collect();
        assert_eq!(got.len(), want, "{virt}: {got:?}");
        if want == 1 {
            assert_eq!(got[0], "/dev/vhost-vsock rw <vsock vhost-vsock>");
        }
    }
}
