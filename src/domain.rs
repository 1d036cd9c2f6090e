//! The narrow domain model: only what decides a file rule.
//!
//! Built by [`crate::parse`] from the XML without touching the filesystem. Paths are kept
//! exactly as the XML gives them ([`XmlPath`]); canonicalization happens later, in
//! [`crate::resolve`].

use uuid::Uuid;

/// A path string as written in the domain XML (not yet validated or canonicalized).
pub type XmlPath = String;

/// libvirt's virtualization types (`<domain type=...>`, `virDomainVirtType` in 9.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VirtType {
    /// `qemu`, `kqemu` and `kvm`: the QEMU driver. Gets base rules and `TEMPLATE.qemu`.
    Qemu(&'static str),
    /// `lxc`: containers. `TEMPLATE.lxc`, no `.files` include (as libvirt does).
    Lxc,
    /// Any other type libvirt knows (`xen`, `test`, ...): needs an installed `TEMPLATE.<type>`.
    Other(&'static str),
}

impl VirtType {
    /// Every type string libvirt 9.0 accepts.
    pub const KNOWN: [&'static str; 17] = [
        "none",
        "qemu",
        "kqemu",
        "kvm",
        "xen",
        "lxc",
        "uml",
        "openvz",
        "test",
        "vmware",
        "hyperv",
        "vbox",
        "phyp",
        "parallels",
        "bhyve",
        "vz",
        "hvf",
    ];

    /// Parses libvirt's type string; `None` for an unknown type.
    pub fn from_name(s: &str) -> Option<Self> {
        let name = *Self::KNOWN.iter().find(|k| **k == s)?;
        Some(match name {
            "qemu" | "kqemu" | "kvm" => VirtType::Qemu(name),
            "lxc" => VirtType::Lxc,
            other => VirtType::Other(other),
        })
    }

    /// The type string, which also names the template (`TEMPLATE.<template_name>`).
    pub fn template_name(self) -> &'static str {
        match self {
            VirtType::Qemu(_) => "qemu",
            VirtType::Lxc => "lxc",
            VirtType::Other(n) => n,
        }
    }

    /// The type as written in the XML.
    pub fn name(self) -> &'static str {
        match self {
            VirtType::Qemu(n) | VirtType::Other(n) => n,
            VirtType::Lxc => "lxc",
        }
    }
}

/// The parts of a domain that produce file rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    /// `<domain type=...>`.
    pub virt_type: VirtType,
    /// `<domain id=...>` of a running domain; libvirt's helper writes `-1` when absent.
    pub id: Option<i64>,
    /// `<name>`: non-empty, no `/`, no control characters (otherwise anything: it is escaped).
    pub name: String,
    /// `<uuid>`.
    pub uuid: Uuid,
    /// `<os>`.
    pub os: Os,
    /// `<devices><disk>` in document order.
    pub disks: Vec<Disk>,
    /// `<serial>`, `<console>`, `<parallel>` and `<channel>` in document order.
    pub chardevs: Vec<Chardev>,
    /// `<graphics>`.
    pub graphics: Vec<Graphics>,
    /// `<hostdev mode='subsystem'>`.
    pub hostdevs: Vec<Hostdev>,
    /// `<filesystem>` with a host directory.
    pub filesystems: Vec<Filesystem>,
    /// `<input type='evdev'|'passthrough'>` host devices.
    pub inputs: Vec<XmlPath>,
    /// `<interface>`.
    pub interfaces: Vec<Interface>,
    /// `<memory model='nvdimm'>` backing paths.
    pub nvdimms: Vec<XmlPath>,
    /// `<sysinfo type='fwcfg'><entry file=...>`.
    pub fw_cfg_files: Vec<XmlPath>,
    /// `<shmem>`.
    pub shmems: Vec<Shmem>,
    /// `<tpm>`.
    pub tpms: Vec<Tpm>,
    /// `<smartcard>`.
    pub smartcards: Vec<Smartcard>,
    /// Other host paths QEMU opens, each with how it uses it (gaps libvirt 9.0 left:
    /// chardev logs, virtio-pmem, pstore, audio files, rng and redirdev sockets...).
    pub others: Vec<OtherPath>,
    /// Fixed device nodes the domain's features need (`/dev/sev`, `/dev/sgx_vepc`...).
    pub features: Vec<Feature>,
}

/// A host path from an element libvirt 9.0's helper ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherPath {
    /// Element and index, for provenance (`serial 0 log`, `rng 0`...).
    pub element: &'static str,
    /// Detail for provenance.
    pub detail: String,
    /// The path.
    pub path: XmlPath,
    /// How QEMU opens it.
    pub access: Access,
}

/// How QEMU uses a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads it.
    Read,
    /// Writes it (logs).
    Write,
    /// Reads and writes it (sockets, memory backends).
    ReadWrite,
}

/// A domain feature that needs fixed device nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feature {
    /// `<launchSecurity type='sev'|'sev-snp'>`: `/dev/sev`.
    Sev,
    /// `<memory model='sgx-epc'>`: `/dev/sgx_vepc`, `/dev/sgx_provision`.
    Sgx,
    /// `<tpm><backend type='passthrough'><device path=...>`: the device and its cancel file.
    TpmPassthrough(XmlPath),
    /// `<interface type='bridge'>` (index): QEMU may run the set-uid bridge helper.
    BridgeHelper(usize),
    /// `<interface type='user'><backend type='passt'>` (index): QEMU connects to passt.
    Passt(usize),
}

/// A `<graphics>` device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graphics {
    /// `type=...` (vnc, spice, sdl, egl-headless, dbus, ...).
    pub kind: String,
    /// `<gl enable='yes'>` (spice, dbus).
    pub gl: bool,
    /// `<gl rendernode=...>`.
    pub rendernode: Option<XmlPath>,
    /// Unix socket listens (`<listen type='socket' socket=...>`, or vnc's `socket=`).
    pub sockets: Vec<XmlPath>,
    /// sdl `xauth=...`.
    pub xauth: Option<XmlPath>,
}

/// A `<hostdev mode='subsystem'>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hostdev {
    /// USB: found on the host by vendor/product and/or bus/device.
    Usb {
        vendor: Option<u16>,
        product: Option<u16>,
        bus: Option<u16>,
        device: Option<u16>,
    },
    /// PCI: the address `dddd:bb:ss.f`, and whether the backend is VFIO (or the default).
    Pci { address: String, vfio: bool },
    /// Mediated device (vfio-pci, vfio-ap, vfio-ccw): `<source><address uuid=...>`,
    /// `None` when absent or not a UUID.
    Mdev { uuid: Option<uuid::Uuid> },
    /// SCSI, scsi_host and others: no rule in libvirt 9.0.
    Other(String),
}

/// A `<filesystem>` passed through from a host directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filesystem {
    /// `<source dir=...>`.
    pub source: XmlPath,
    /// `<readonly/>`.
    pub readonly: bool,
    /// `<target dir=...>`, for provenance.
    pub target: Option<String>,
}

/// An `<interface>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interface {
    /// `type=...`.
    pub kind: String,
    /// `<model type=...>`.
    pub model: Option<String>,
    /// `<driver name=...>`.
    pub driver: Option<String>,
    /// vhost-user: `<source type=... path=...>` type and path.
    pub vhostuser: Option<(String, XmlPath)>,
}

/// A `<shmem>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shmem {
    /// `name=...`.
    pub name: String,
    /// `<model type=...>` (libvirt's default is `ivshmem`).
    pub model: String,
    /// `<server path=...>`.
    pub server_path: Option<XmlPath>,
}

/// A `<tpm>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tpm {
    /// `model=...`.
    pub model: Option<String>,
    /// `<backend type=...>`.
    pub backend: String,
    /// `<backend version=...>`.
    pub version: Option<String>,
}

/// A `<smartcard>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smartcard {
    /// `mode=...`.
    pub mode: String,
    /// `<database>`.
    pub database: Option<XmlPath>,
}

/// `<os>`: boot files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Os {
    /// `<type>` (hvm, linux, ...).
    pub os_type: String,
    /// `<type arch=...>`.
    pub arch: Option<String>,
    /// `<type machine=...>`.
    pub machine: Option<String>,
    /// `<kernel>`.
    pub kernel: Option<XmlPath>,
    /// `<initrd>`.
    pub initrd: Option<XmlPath>,
    /// `<dtb>`.
    pub dtb: Option<XmlPath>,
    /// `<acpi><table type='slic'>`.
    pub slic_table: Option<XmlPath>,
    /// `<loader>` path.
    pub loader: Option<XmlPath>,
    /// `<nvram>` path (text form or `<source file=...>`).
    pub nvram: Option<XmlPath>,
}

/// Where a disk's data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// No medium (empty CD-ROM or floppy): no rule.
    Empty,
    /// A local file, block device or directory.
    Local { kind: LocalKind, path: XmlPath },
    /// Network storage (nbd, iscsi, rbd, gluster, http...): no file, except the unix
    /// sockets it is reached through (`<host transport='unix' socket=...>`).
    Network { sockets: Vec<XmlPath> },
    /// A vhost-user disk: the unix socket of the backend.
    VhostUser { socket: XmlPath },
    /// An NVMe disk assigned with VFIO: its PCI address `dddd:bb:ss.f`.
    Nvme { address: String },
    /// A storage pool volume (`<source pool=... volume=...>`).
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
    /// An explicit chain, top-most backing layer first. libvirt trusts it completely and
    /// reads no header, even if the last layer has no terminating `<backingStore/>`.
    Explicit(Vec<Layer>),
}

/// One explicit `<backingStore>` layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// `<source>` of the layer.
    pub source: Source,
    /// `<format type=...>`.
    pub format: Option<String>,
    /// `<source><dataStore>`: its qcow2 external data file, declared by the XML.
    pub data_store: Option<Source>,
    /// False when the source carries `<seclabel model='apparmor' relabel='no'/>`: the admin
    /// manages its access, so no rule is written (sVirt).
    pub relabel: bool,
}

/// A `<disk>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// `<target dev=...>`, for messages and provenance.
    pub target: Option<String>,
    /// `<source>` of the top image.
    pub source: Source,
    /// `<driver type=...>`: the declared image format.
    pub format: Option<String>,
    /// `<readonly/>`, or a CD-ROM (libvirt forces those read-only).
    pub readonly: bool,
    /// `<backingStore>`.
    pub backing: Backing,
    /// `<source><dataStore>` (libvirt >= 10.10): the qcow2 external data file, declared by
    /// the XML. The only way a data file gets the disk's own permissions: a name read from
    /// the image header gets at most read-only.
    pub data_store: Option<Source>,
    /// See [`Layer::relabel`].
    pub relabel: bool,
}

/// Which kind of character device element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChardevClass {
    /// `<serial>`.
    Serial,
    /// `<console>`.
    Console,
    /// `<parallel>`.
    Parallel,
    /// `<channel>`.
    Channel,
}

impl ChardevClass {
    /// The element name.
    pub fn element(self) -> &'static str {
        match self {
            ChardevClass::Serial => "serial",
            ChardevClass::Console => "console",
            ChardevClass::Parallel => "parallel",
            ChardevClass::Channel => "channel",
        }
    }
}

/// A character device with a host path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chardev {
    /// Element kind.
    pub class: ChardevClass,
    /// Position among the elements of its kind (0-based), for provenance.
    pub index: usize,
    /// `type=...`: `pty`, `dev`, `file`, `unix`, `pipe` carry a path.
    pub kind: String,
    /// `<source path=...>`, when present and non-empty.
    pub path: Option<XmlPath>,
}
