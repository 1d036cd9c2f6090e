//! `<disk>`: the image, its `<backingStore>` chain, its `<dataStore>`, and the sockets or
//! devices of sources that are not local files.

use super::{abs, attr_path, Context, Domain, Family};
use crate::domain::AbsPath;
use crate::error::{quote, Error, Result};
use crate::image::ImageFormat;
use crate::origin::Origin;
use crate::xml::Element;

pub const FAMILY: Family = Family {
    root: &[],
    devices: &["disk"],
    parse,
};

/// `<disk type=...>` values libvirt 9.0 knows (`virStorageType`).
const DISK_TYPES: [&str; 8] = [
    "file",
    "block",
    "dir",
    "network",
    "volume",
    "nvme",
    "vhostuser",
    "vhostvdpa",
];

/// A `<disk>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// `disk <target dev>`, or `disk #<index>` without a target.
    pub origin: Origin,
    /// `<target dev=...>`, for messages.
    pub target: Option<String>,
    /// `<source>` of the top image.
    pub source: Source,
    /// `<driver type=...>`: the declared image format.
    pub format: Option<ImageFormat>,
    /// `<readonly/>`, or a CD-ROM (libvirt forces those read-only).
    pub readonly: bool,
    /// `device='lun'`: SCSI commands pass through to the host device, which may then be a
    /// SCSI generic node (`/dev/sg<N>`, `policy::Role::Device`).
    pub lun: bool,
    /// `<backingStore>`.
    pub backing: Backing,
    /// `<source><dataStore>` (libvirt >= 10.10): the qcow2 external data file, declared by
    /// the XML. The only way a data file gets the disk's own permissions: a name read from
    /// the image header gets at most read-only.
    pub data_store: Option<Source>,
    /// See [`Layer::relabel`].
    pub relabel: bool,
}

/// Where a disk's data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// No medium (empty CD-ROM or floppy): no rule.
    Empty,
    /// A local file, block device or directory.
    Local { kind: LocalKind, path: AbsPath },
    /// Network storage (nbd, iscsi, rbd, gluster, http...): no file, except the unix
    /// sockets it is reached through (`<host transport='unix' socket=...>`).
    Network { sockets: Vec<AbsPath> },
    /// A vhost-user disk: the unix socket of the backend.
    VhostUser { socket: AbsPath },
    /// An NVMe disk assigned with VFIO: its PCI address `dddd:bb:ss.f`.
    Nvme { address: String },
    /// A storage pool volume the XML does not translate (`<source pool=... volume=...>`
    /// without `actualType`, as libvirt 9.0 formats it): looked up in the pool definitions.
    Volume { pool: String, volume: String },
    /// Anything else not on the local filesystem (vhostvdpa...).
    NotLocal { kind: String },
}

/// `<disk type=...>` for local sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalKind {
    /// `type='file'`.
    File,
    /// `type='block'`.
    Block,
    /// `type='dir'` (a vvfat directory).
    Dir,
}

/// How the layers below a disk's top image are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backing {
    /// No `<backingStore>` in the XML: discover the chain from image headers, if the
    /// format is declared (libvirt never probes a top image's format).
    Discover,
    /// `<backingStore/>` (empty): the image has no backing file.
    None,
    /// An explicit chain, top-most backing layer first. libvirt uses the listed layers as
    /// given and reads none of their headers, but a chain the XML does not terminate is
    /// continued: libvirt's qemu driver (`qemuDomainDetermineDiskChain`) reads the chain
    /// below the last listed layer from its header before it starts QEMU. A kept external
    /// snapshot (`virsh snapshot-create-as --disk-only`) leaves such XML: the persistent
    /// definition lists the chain down to the old top only.
    Explicit {
        /// The listed layers (at least one).
        layers: Vec<Layer>,
        /// Whether an empty `<backingStore/>` ends the list: then nothing lies below it.
        terminated: bool,
    },
}

/// One explicit `<backingStore>` layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// `disk vda backing <depth>`.
    pub origin: Origin,
    /// `<source>` of the layer.
    pub source: Source,
    /// `<format type=...>`.
    pub format: Option<ImageFormat>,
    /// `<source><dataStore>`: its qcow2 external data file, declared by the XML.
    pub data_store: Option<Source>,
    /// False when the source carries `<seclabel model='apparmor' relabel='no'/>`: the admin
    /// manages its access, so no rule is written (sVirt).
    pub relabel: bool,
}

fn parse(disk: &Element, d: &mut Domain, cx: &mut Context) -> Result<()> {
    let index = cx.next_index("disk");
    let target = disk
        .child("target")
        .and_then(|t| t.attr("dev"))
        .map(str::to_string);
    let (what, origin) = match &target {
        Some(t) => (
            format!("<disk> {}", quote(t)),
            Origin::new("disk", t.clone()),
        ),
        None => (
            "<disk>".to_string(),
            Origin::new("disk", format!("#{index}")),
        ),
    };
    let origin = origin.at(disk.offset);
    let source = parse_source(disk, disk.attr("type").unwrap_or("file"), &what, &origin)?;
    let format = disk
        .child("driver")
        .and_then(|d| d.attr("type"))
        .map(ImageFormat::parse);
    let backing = parse_backing(disk, &what, &origin)?;
    let data_store = parse_data_store(disk, &what, &origin)?;
    d.disks.push(Disk {
        data_store,
        relabel: relabel(disk),
        target,
        source,
        format,
        // libvirt forces CD-ROMs read-only (virDomainDiskDefPostParse).
        readonly: disk.child("readonly").is_some() || disk.attr("device") == Some("cdrom"),
        lun: disk.attr("device") == Some("lun"),
        backing,
        origin,
    });
    Ok(())
}

/// sVirt: `<seclabel model='apparmor' relabel='no'/>` on a source (or disk) means the
/// admin manages the file's access; libvirt then leaves it out of the profile.
fn relabel(el: &Element) -> bool {
    let labels = el.children_named("seclabel").chain(
        el.child("source")
            .into_iter()
            .flat_map(|s| s.children_named("seclabel")),
    );
    !labels
        .into_iter()
        .any(|l| l.attr("model").is_none_or(|m| m == "apparmor") && l.attr("relabel") == Some("no"))
}

/// The `<source>` of a disk or backing layer of the given storage type.
fn parse_source(el: &Element, storage_type: &str, what: &str, origin: &Origin) -> Result<Source> {
    if !DISK_TYPES.contains(&storage_type) {
        return Err(Error::domain(
            what,
            format!("unknown storage type {}", quote(storage_type)),
        ));
    }
    let src = el.child("source");
    let attr = match storage_type {
        "file" => "file",
        "block" => "dev",
        "dir" => "dir",
        "network" => {
            let socket_origin = origin.with("socket");
            let sockets = src
                .into_iter()
                .flat_map(|s| s.children_named("host"))
                .filter(|h| h.attr("transport") == Some("unix"))
                .filter_map(|h| attr_path(h, "socket", &socket_origin).transpose())
                .collect::<Result<_>>()?;
            return Ok(Source::Network { sockets });
        }
        "vhostuser" => {
            let o = origin.with("vhost-user socket");
            return Ok(match src.map(|s| attr_path(s, "path", &o)).transpose()? {
                Some(Some(socket)) => Source::VhostUser { socket },
                _ => Source::Empty,
            });
        }
        "nvme" => {
            return Ok(match src {
                Some(_) => match super::hostdev::pci_address(el, what)? {
                    Some(address) => Source::Nvme { address },
                    None => Source::Empty,
                },
                None => Source::Empty,
            })
        }
        "volume" => {
            // libvirtd >= 9.x formats the XML it hands the helper with
            // VIR_DOMAIN_DEF_FORMAT_VOLUME_TRANSLATED (libvirt 11.3 `load_profile`,
            // src/security/security_apparmor.c): the volume's storage type as the pool
            // resolved it (`actualType`) and its path in that type's own attribute
            // (`file=`, `dev=`, `dir=`, or the `<host>` children of a network volume).
            // That path is the disk's source, read as a disk of that type: the pool
            // definitions are read only for XML formatted without the translation (9.0).
            if let Some(actual) = src.and_then(|s| s.attr("actualType")) {
                if actual == "volume" {
                    return Err(Error::domain(
                        what,
                        "a volume cannot translate to another volume (actualType='volume')",
                    ));
                }
                return parse_source(el, actual, what, origin);
            }
            let pool = src.and_then(|s| s.attr("pool")).unwrap_or_default();
            let volume = src.and_then(|s| s.attr("volume")).unwrap_or_default();
            if pool.is_empty() || volume.is_empty() {
                return Ok(Source::Empty);
            }
            for (what_attr, v) in [("pool", pool), ("volume", volume)] {
                if v.contains('/') || v == ".." || v == "." {
                    return Err(Error::domain(
                        what,
                        format!("{what_attr} {} is not a plain name", quote(v)),
                    ));
                }
            }
            return Ok(Source::Volume {
                pool: pool.to_string(),
                volume: volume.to_string(),
            });
        }
        other => {
            return Ok(Source::NotLocal {
                kind: other.to_string(),
            })
        }
    };
    let kind = match storage_type {
        "file" => LocalKind::File,
        "block" => LocalKind::Block,
        _ => LocalKind::Dir,
    };
    match el.child("source").and_then(|s| s.attr(attr)) {
        Some(p) if !p.is_empty() => Ok(Source::Local {
            kind,
            path: abs(p, origin)?,
        }),
        _ => Ok(Source::Empty),
    }
}

/// `<source><dataStore type=...><format/><source .../></dataStore></source>` of a disk or
/// backing layer (libvirt >= 10.10, `formatdomain`: the qcow2 image's external data file).
fn parse_data_store(el: &Element, what: &str, origin: &Origin) -> Result<Option<Source>> {
    let Some(ds) = el.child("source").and_then(|s| s.child("dataStore")) else {
        return Ok(None);
    };
    let what = format!("{what} <dataStore>");
    parse_source(
        ds,
        ds.attr("type").unwrap_or("file"),
        &what,
        &origin.with("dataStore"),
    )
    .map(Some)
}

/// Reads a `<backingStore>` chain iteratively (it can be 200 layers deep).
fn parse_backing(disk: &Element, what: &str, origin: &Origin) -> Result<Backing> {
    let Some(mut bs) = disk.child("backingStore") else {
        return Ok(Backing::Discover);
    };
    let mut layers = Vec::new();
    let terminated = loop {
        // An empty <backingStore/> terminates the chain.
        if bs.attr("type").is_none() && bs.child("source").is_none() {
            break true;
        }
        let depth = layers.len() + 1;
        let layer_what = format!("{what} <backingStore> {depth}");
        let lo = origin.with(format_args!("backing {depth}"));
        let source = parse_source(bs, bs.attr("type").unwrap_or("file"), &layer_what, &lo)?;
        let format = bs
            .child("format")
            .and_then(|f| f.attr("type"))
            .map(ImageFormat::parse);
        layers.push(Layer {
            data_store: parse_data_store(bs, &layer_what, &lo)?,
            source,
            format,
            relabel: relabel(bs),
            origin: lo,
        });
        match bs.child("backingStore") {
            Some(next) => bs = next,
            // The last listed layer has no <backingStore> of its own: unterminated.
            None => break false,
        }
    };
    if layers.is_empty() {
        Ok(Backing::None)
    } else {
        Ok(Backing::Explicit { layers, terminated })
    }
}
