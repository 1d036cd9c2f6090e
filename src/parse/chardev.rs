//! Character devices: `<serial>`, `<console>`, `<parallel>` and `<channel>` (libvirt's
//! `virDomainChrDef`), with their `<source path>` and `<log file>`.

use super::{abs, Context, Domain, Family};
use crate::domain::{AbsPath, Access, HostPath};
use crate::error::Result;
use crate::origin::Origin;
use crate::policy::ElementFamily;
use crate::xml::Element;

pub const FAMILY: Family = Family {
    root: &[],
    devices: &["serial", "console", "parallel", "channel"],
    parse,
};

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
    /// Every class, in the order libvirt 9.0's helper writes their rules (`get_files`).
    pub const ORDER: [ChardevClass; 4] = [
        ChardevClass::Serial,
        ChardevClass::Console,
        ChardevClass::Parallel,
        ChardevClass::Channel,
    ];

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

/// A chardev's `type=...` (libvirt's default is `pty`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChardevKind {
    /// `pipe`: QEMU opens `<path>.in` and `<path>.out`, or `<path>` itself.
    Pipe,
    /// `pty`, `dev`, `file`, `unix`: QEMU opens `<source path>` (libvirt's helper,
    /// `get_files`).
    Path,
    /// Any other type (`tcp`, `udp`, `null`, `spicevmc`...): no host file.
    Other,
}

impl ChardevKind {
    /// Reads `type=...` (also of an rng's egd `<backend>`).
    pub fn from_type(t: Option<&str>) -> Self {
        match t.unwrap_or("pty") {
            "pipe" => ChardevKind::Pipe,
            "pty" | "dev" | "file" | "unix" => ChardevKind::Path,
            _ => ChardevKind::Other,
        }
    }
}

/// A character device with a host path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chardev {
    /// Element kind.
    pub class: ChardevClass,
    /// `serial 0`, `channel 2`... (position among the elements of its class).
    pub origin: Origin,
    /// `type=...`.
    pub kind: ChardevKind,
    /// `<source path=...>`, when the type has one and it is not empty.
    pub path: Option<AbsPath>,
}

fn parse(dev: &Element, d: &mut Domain, cx: &mut Context) -> Result<()> {
    let class = match dev.name.as_str() {
        "serial" => ChardevClass::Serial,
        "console" => ChardevClass::Console,
        "parallel" => ChardevClass::Parallel,
        _ => ChardevClass::Channel,
    };
    let index = cx.next_index(class.element());
    let origin = Origin::new(class.element(), index.to_string()).at(dev.offset);
    // QEMU writes the chardev log itself when libvirt's stdio handler is "file" (with
    // virtlogd it gets a file descriptor instead).
    if let Some(log) = dev
        .child("log")
        .and_then(|l| l.attr("file"))
        .filter(|p| !p.is_empty())
    {
        d.host_paths.push(HostPath {
            origin: origin.with("log"),
            path: AbsPath::new(log).ok_or_else(|| log.to_string()),
            access: Access::Write,
            family: ElementFamily::Other,
        });
    }
    let kind = ChardevKind::from_type(dev.attr("type"));
    let path = match kind {
        ChardevKind::Other => None,
        _ => source_path(dev).map(|p| abs(p, &origin)).transpose()?,
    };
    d.chardevs.push(Chardev {
        class,
        origin,
        kind,
        path,
    });
    Ok(())
}

/// The first `<source path=...>`, when not empty (a chardev, an rng's egd backend, a
/// redirdev).
pub fn source_path(el: &Element) -> Option<&str> {
    el.children_named("source")
        .find_map(|s| s.attr("path"))
        .filter(|p| !p.is_empty())
}
