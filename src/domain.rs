//! The narrow domain model: only what decides a file rule.
//!
//! Built by [`crate::parse`] from the XML without touching the filesystem. Every host path
//! in it is an [`AbsPath`], checked once where the XML is parsed, and every element carries
//! the [`Origin`] its rules will name. Each element family declares its own part of the
//! model next to its parser, in `parse/<family>.rs`; this file holds the root and the types
//! families share.

use crate::origin::Origin;
use std::path::Path;
use uuid::Uuid;

pub use crate::parse::chardev::{Chardev, ChardevClass, ChardevKind};
pub use crate::parse::disk::{Backing, Disk, Layer, LocalKind, Source};
pub use crate::parse::filesystem::Filesystem;
pub use crate::parse::graphics::{Graphics, GraphicsKind};
pub use crate::parse::hostdev::{Assigned, Hostdev};
pub use crate::parse::input::Input;
pub use crate::parse::memory::{Memory, Nvdimm};
pub use crate::parse::net::{Interface, InterfaceType, Net};
pub use crate::parse::os::Os;
pub use crate::parse::shmem::{Shmem, ShmemModel};
pub use crate::parse::smartcard::{Smartcard, SmartcardMode};
pub use crate::parse::sysinfo::FwCfgFile;
pub use crate::parse::tpm::{Tpm, TpmBackend};

/// An absolute host path as written in the domain XML (not yet canonicalized): the only
/// form a path from the XML takes in the model. Built only by [`AbsPath::new`], which
/// [`crate::parse`] calls once per path; a relative path is refused there with the element
/// named (libvirt 9.0's helper refused it later, in `vah_add_path`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AbsPath(String);

impl AbsPath {
    /// `Some` for an absolute path (`/...`).
    pub fn new(s: &str) -> Option<Self> {
        s.starts_with('/').then(|| AbsPath(s.to_string()))
    }

    /// The path.
    pub fn as_path(&self) -> &Path {
        Path::new(&self.0)
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

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

    /// Run by libvirt's QEMU driver (`qemu`, `kqemu`, `kvm`).
    pub fn is_qemu_driver(self) -> bool {
        matches!(self, VirtType::Qemu(_))
    }

    /// `kvm`: hardware acceleration (vhost devices are used only then).
    pub fn is_kvm(self) -> bool {
        self == VirtType::Qemu("kvm")
    }
}

/// The parts of a domain that produce file rules: the root facts, then one field per
/// element family (see `parse/<family>.rs` for each family's elements).
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
    /// `<hostdev mode='subsystem'>` and SR-IOV `<interface type='hostdev'>`.
    pub hostdevs: Vec<Assigned>,
    /// `<filesystem>` with a host directory.
    pub filesystems: Vec<Filesystem>,
    /// `<input type='evdev'|'passthrough'>` host devices.
    pub inputs: Vec<Input>,
    /// `<interface>` and `<vsock>`.
    pub net: Net,
    /// `<memory>` devices and `<launchSecurity>`.
    pub memory: Memory,
    /// `<sysinfo type='fwcfg'><entry file=...>`.
    pub fw_cfg_files: Vec<FwCfgFile>,
    /// `<shmem>`.
    pub shmems: Vec<Shmem>,
    /// `<tpm>`.
    pub tpms: Vec<Tpm>,
    /// `<smartcard>`.
    pub smartcards: Vec<Smartcard>,
    /// The generic extension point: one host path an element names, with how QEMU opens
    /// it, and no other rule (chardev logs, virtio-pmem, pstore, audio files, rng and
    /// redirdev sockets...). A new element that only names a path pushes one of these from
    /// its parser and needs no rules code (`rules/host_path.rs` writes them all).
    pub host_paths: Vec<HostPath>,
}

/// A host path an element names, and nothing else (see [`Domain::host_paths`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPath {
    /// The element (`serial 0 log`, `rng 0`...).
    pub origin: Origin,
    /// The path, or the relative text the element gave (libvirt's helper skipped those
    /// with a warning; these elements got no rule at all from it, so one is not an error).
    pub path: std::result::Result<AbsPath, String>,
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
