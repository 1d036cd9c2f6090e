//! `<shmem>`: shared memory between guests (ivshmem).

use super::{attr_path, Context, Domain, Family};
use crate::domain::AbsPath;
use crate::error::Result;
use crate::origin::Origin;
use crate::xml::Element;

pub const FAMILY: Family = Family {
    root: &[],
    devices: &["shmem"],
    parse,
};

/// `<model type=...>` (libvirt's default is `ivshmem`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShmemModel {
    /// `ivshmem` and `ivshmem-doorbell`: a server socket.
    Doorbell,
    /// `ivshmem-plain`: a file in `/dev/shm`.
    Plain,
    /// Anything else: no default path.
    Other,
}

/// A `<shmem>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shmem {
    /// `shmem <name>`.
    pub origin: Origin,
    /// `name=...`.
    pub name: String,
    /// `<model type=...>`.
    pub model: ShmemModel,
    /// `<server path=...>`.
    pub server_path: Option<AbsPath>,
}

fn parse(dev: &Element, d: &mut Domain, _: &mut Context) -> Result<()> {
    let name = dev.attr("name").unwrap_or_default().to_string();
    let origin = Origin::new("shmem", name.clone()).at(dev.offset);
    let model = match dev.child("model").and_then(|m| m.attr("type")) {
        None | Some("ivshmem" | "ivshmem-doorbell") => ShmemModel::Doorbell,
        Some("ivshmem-plain") => ShmemModel::Plain,
        Some(_) => ShmemModel::Other,
    };
    let server_path = dev
        .child("server")
        .map(|s| attr_path(s, "path", &origin))
        .transpose()?
        .flatten();
    d.shmems.push(Shmem {
        origin,
        name,
        model,
        server_path,
    });
    Ok(())
}
