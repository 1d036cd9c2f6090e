//! What the rules tests share: a fake resolver (no filesystem) and the helpers that build a
//! whole domain's rules with it and show them one line per rule. The tests of one family
//! sit beside its emitter (`rules/<family>.rs`); those that span families in `tests.rs`.

pub use super::{build, build_with, ExtraFile, Options, Perms, RuleSet};
pub use crate::error::{Diagnostics, Result, Warning};
pub use crate::origin::Origin;
pub use crate::parse::parse_domain;
use crate::resolve::Resolve;
use crate::resolve::{CanonicalPath, Chain, ChainLayer, ChainStart};
pub use std::path::{Path, PathBuf};

/// Treats every path as canonical already; serves backing chains (and the data files the
/// top images' headers name) from a table; warns, as the real resolver does for a missing
/// path, about every path below `/new/`.
#[derive(Default)]
pub struct Fake {
    pub chains: Vec<(&'static str, Vec<&'static str>)>,
    pub data_files: Vec<(&'static str, &'static str)>,
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

pub fn lines(xml_devices: &str, os: &str, fake: &mut Fake) -> Vec<String> {
    lines_with(xml_devices, os, fake, &Options::default())
}

pub fn lines_with(xml_devices: &str, os: &str, fake: &mut Fake, options: &Options) -> Vec<String> {
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
pub fn without_base(got: &[String]) -> Vec<&str> {
    got.iter()
        .map(String::as_str)
        .filter(|l| !l.ends_with("<domain base>"))
        .collect()
}

/// The rules for a whole domain XML, with the fake resolver.
pub fn build_xml(xml: &str, warnings: &mut Vec<Warning>) -> Result<RuleSet> {
    let mut diag = Diagnostics::default();
    let set = build(&parse_domain(xml)?, None, &mut Fake::default(), &mut diag);
    warnings.extend(diag.into_warnings());
    set
}

/// The one mediated device the fake resolver knows (its IOMMU group is 9).
pub const MDEV: &str = "c2177883-f1bb-47f0-914d-32a22e3a8804";
