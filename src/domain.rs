//! The leaf types of the domain model, shared by every element family.
//!
//! The model is built by [`crate::parse`] from the XML without touching the filesystem: its
//! root, [`crate::parse::Domain`], is declared in `parse/mod.rs`, and each element family
//! declares its own part next to its parser, in `parse/<family>.rs`. This file holds what
//! families share and imports nothing but [`Origin`]: every host path in the model is an
//! [`AbsPath`], checked once where the XML is parsed, and every element carries the
//! [`Origin`] its rules and warnings will name.

use crate::origin::Origin;
use crate::policy::ElementFamily;
use std::path::Path;

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

/// A host path an element names, and nothing else (see [`Domain::host_paths`](crate::parse::Domain::host_paths)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPath {
    /// The element (`serial 0 log`, `rng 0`...).
    pub origin: Origin,
    /// The path, or the relative text the element gave (libvirt's helper skipped those
    /// with a warning; these elements got no rule at all from it, so one is not an error).
    pub path: std::result::Result<AbsPath, String>,
    /// How QEMU opens it.
    pub access: Access,
    /// The element family, for the device trees it may name (`policy::Role::Device`): an `<rng>`
    /// may be the hardware RNG, a pstore or audio file no device node of another element.
    pub family: ElementFamily,
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
