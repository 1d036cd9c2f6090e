//! Resolve: the only stage that reads the filesystem for the rules.
//!
//! It answers two questions for the rules stage, through the [`Resolve`] trait: what is the
//! canonical form of a path ([`canonical`]), and which files lie below a disk image
//! (backing chain discovery). Keeping every filesystem access behind the trait keeps
//! [`crate::rules`] a pure function that tests can drive with a fake resolver.
//!
//! This file holds only the trait and the values it returns, and is pure: the rules stage
//! depends on it. The filesystem is read in [`canonical`] and in `fs` ([`FsResolver`]),
//! which only [`crate::app`] builds (`tests/it/layering.rs` checks the split).
//!
//! Backing chains are walked by [`crate::chain::walk`], pure, which holds their policy
//! (declared formats only, nothing probed, QEMU's rule for relative names, loops, the depth
//! cap); [`FsResolver`] answers its two questions from the filesystem.

pub mod canonical;
mod fs;

pub use crate::chain::{Chain, ChainLayer, ChainStart, CompanionFile, MAX_CHAIN_DEPTH};
pub use crate::path::CanonicalPath;
pub use canonical::{canonicalize, canonicalize_cached, CanonError, Canonical, Kind, PrefixCache};
pub use fs::{FsResolver, DEFAULT_POOL_DIR, DEFAULT_SYSFS};

use crate::error::{Diagnostics, Result};
use crate::origin::Origin;
use std::path::{Path, PathBuf};

/// Filesystem questions the rules stage asks.
pub trait Resolve {
    /// The canonical form of an absolute path from the XML or the command line. Findings
    /// (a path that does not exist yet) go to `diag`, about `origin`.
    fn canonical(
        &mut self,
        raw: &Path,
        origin: &Origin,
        diag: &mut Diagnostics,
    ) -> Result<CanonicalPath>;

    /// The files below and beside the image `start` names, read from headers from there
    /// down by [`crate::chain::walk`] (the chain's total depth capped at
    /// [`MAX_CHAIN_DEPTH`], counting the layers above the start). Empty when there is none
    /// or the chain cannot be followed safely.
    fn image_chain(&mut self, start: &ChainStart<'_>, diag: &mut Diagnostics) -> Result<Chain>;

    /// The device node of a host USB device (`/dev/bus/usb/BBB/DDD`), found in sysfs by
    /// vendor/product and/or bus/device like libvirt's `virHostdevFindUSBDevice`; `None` if
    /// the host has no such device.
    fn usb_device(&mut self, id: UsbId, origin: &Origin, diag: &mut Diagnostics)
        -> Option<PathBuf>;

    /// The sysfs files QEMU opens for an assigned PCI device (`config`, `resource*`, `rom`,
    /// `vendor`, `device`, `reset` under `/sys/bus/pci/devices/<address>/`, as libvirt's
    /// `virPCIDeviceFileIterate`), those that exist.
    fn pci_files(&mut self, address: &str) -> Vec<PathBuf>;

    /// The host's DRM render node for GL without an explicit one (`virHostGetDRMRenderNode`):
    /// the first `/dev/dri/renderD*`.
    fn drm_render_node(&mut self) -> Option<PathBuf>;

    /// The path of a volume of a storage pool (`<disk type='volume'>`): the pool's
    /// `<target><path>` joined with the volume name, from the pool definitions libvirt
    /// keeps (`/etc/libvirt/storage/<pool>.xml`). `None` if the pool is unknown or has no
    /// local target (network pools). An error if the pool's definition exists but may not
    /// be read (the helper's AppArmor profile lacks the rule): the disk would get no rule.
    fn volume_path(
        &mut self,
        pool: &str,
        volume: &str,
        origin: &Origin,
        diag: &mut Diagnostics,
    ) -> Result<Option<PathBuf>>;

    /// The IOMMU group number of a PCI device (`/sys/bus/pci/devices/<addr>/iommu_group`).
    fn iommu_group(&mut self, address: &str) -> Option<u32>;

    /// The IOMMU group number of a mediated device
    /// (`/sys/bus/mdev/devices/<uuid>/iommu_group`, libvirt's
    /// `virMediatedDeviceGetIOMMUGroupNum`). `None` by default: a resolver that does not
    /// look (the fuzz target's) grants no group.
    fn mdev_iommu_group(&mut self, _uuid: &uuid::Uuid) -> Option<u32> {
        None
    }

    /// What a kept runtime grant's path names now (the ledger, `rules/runtime.rs`): its
    /// canonical form and kind, or `None` when it no longer exists (an unplugged NIC's tap
    /// device) or cannot be resolved. Reports nothing: a grant whose path went away is
    /// dropped silently. `None` by default: a resolver that does not look keeps nothing.
    fn existing(&mut self, _path: &Path) -> Option<(CanonicalPath, NodeKind)> {
        None
    }

    /// The interface index of a host network device (`/sys/class/net/<dev>/ifindex`): a
    /// macvtap's character device is `/dev/tap<ifindex>`. `None` by default.
    fn net_ifindex(&mut self, _dev: &str) -> Option<u32> {
        None
    }

    /// Whether `path` is on a hugetlbfs mount (libvirt's `hugetlbfs_mount`, any page size).
    /// False by default.
    fn on_hugetlbfs(&mut self, _path: &Path) -> bool {
        false
    }

    /// The cancel file of a passed-through TPM whose device path (as the XML names it) is
    /// `device`, as libvirt's `virTPMCreateCancelPath` finds it by the path's last
    /// component: `/sys/class/tpm/<name>/device/cancel`, else
    /// `/sys/class/misc/<name>/device/cancel`, the one that exists. `None` unless `device`
    /// resolves to a character device with the number sysfs lists for that TPM
    /// (`<class>/<name>/dev`): a regular file or another device named `tpm0` gets no
    /// cancel file.
    fn tpm_cancel(&mut self, device: &Path) -> Option<PathBuf>;
}

/// What an existing path names, as far as a kept runtime grant is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A directory.
    Directory,
    /// A regular file.
    Regular,
    /// A device node, socket or FIFO.
    Special,
}

/// How a `<hostdev type='usb'>` names its device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsbId {
    /// `<vendor id=...>`.
    pub vendor: Option<u16>,
    /// `<product id=...>`.
    pub product: Option<u16>,
    /// `<address bus=...>`.
    pub bus: Option<u16>,
    /// `<address device=...>`.
    pub device: Option<u16>,
}
