//! Resolve: the only stage that reads the filesystem for the rules.
//!
//! It answers two questions for the rules stage, through the [`Resolve`] trait: what is the
//! canonical form of a path ([`canonical`]), and which files lie below a disk image
//! (backing chain discovery). Keeping every filesystem access behind the trait keeps
//! [`crate::rules`] a pure function that tests can drive with a fake resolver.
//!
//! This file holds only the trait and the values it returns, and is pure: the rules stage
//! depends on it. The filesystem is read in [`canonical`] and in `fs` ([`FsResolver`]),
//! which only [`crate::app`] builds (`tests/layering.rs` checks the split).
//!
//! Chain policy (libvirt's own advice, `docs/kbase/backing_chains.rst` and
//! `virStorageFileProbeFormat`: "Best option: Don't use this function"): a header is read
//! only when the layer's format is *declared*, by the XML for the top image (or for the last
//! layer of a `<backingStore>` chain the XML does not terminate, where the walk starts: see
//! [`ChainStart`]) and by the parent's header (qcow2 backing-format extension) below it. A raw image is never parsed,
//! whatever its bytes look like, because the guest writes those bytes. A layer whose
//! format is unknown still gets its own rule, but the chain ends there with a warning.

pub mod canonical;
mod fs;

pub use crate::path::CanonicalPath;
pub use canonical::{canonicalize, canonicalize_cached, CanonError, Canonical, Kind, PrefixCache};
pub use fs::{FsResolver, DEFAULT_POOL_DIR, DEFAULT_SYSFS, MAX_CHAIN_DEPTH};

use crate::error::{Diagnostics, Result};
use crate::image::{CompanionKind, ImageFormat};
use crate::origin::Origin;
use std::path::{Path, PathBuf};

/// A file an image needs besides its backing file (qcow2 data file, VMDK extent), found
/// only where QEMU itself opens one (see [`crate::image`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanionFile {
    /// What it is.
    pub kind: CompanionKind,
    /// The path as the header names it, made absolute.
    pub raw: PathBuf,
    /// Its canonical form.
    pub path: CanonicalPath,
}

/// One backing layer found by reading headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLayer {
    /// The path as the parent's header names it, made absolute.
    pub raw: PathBuf,
    /// Its canonical form.
    pub path: CanonicalPath,
    /// Its format as recorded by the parent, if any.
    pub format: Option<ImageFormat>,
    /// Files this layer needs besides its own.
    pub companions: Vec<CompanionFile>,
}

/// What lies below a disk image, read from headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chain {
    /// Files the top image needs besides itself.
    pub top_companions: Vec<CompanionFile>,
    /// Backing layers, top-most first.
    pub layers: Vec<ChainLayer>,
}

/// Where [`Resolve::image_chain`] starts reading headers: a disk's top image
/// ([`ChainStart::top`]), or the last layer of a `<backingStore>` chain the XML does not
/// terminate, which libvirt's qemu driver continues from that layer's header
/// (`qemuDomainDetermineDiskChain`).
#[derive(Debug, Clone, Copy)]
pub struct ChainStart<'a> {
    /// The image as named: a relative name in its header is resolved against its directory.
    pub raw: &'a Path,
    /// Its canonical form.
    pub image: &'a CanonicalPath,
    /// Its declared format: no header is read without one.
    pub format: Option<&'a ImageFormat>,
    /// The image's own origin (the disk, or its last listed layer), for messages about it.
    pub origin: &'a Origin,
    /// The disk's origin: the layers found are `<disk> backing <depth + n>`.
    pub disk: &'a Origin,
    /// How many layers lie above the ones found: 0 below the top image, the number of
    /// listed layers below the last one. They count toward [`MAX_CHAIN_DEPTH`].
    pub depth: usize,
    /// The images above `image` (the disk's, the listed layers'): a header naming one of
    /// them is a loop, as one naming `image` itself is.
    pub above: &'a [CanonicalPath],
}

impl<'a> ChainStart<'a> {
    /// The walk below a disk's top image `raw` (canonical form `image`), whose declared
    /// format is `format`.
    pub fn top(
        raw: &'a Path,
        image: &'a CanonicalPath,
        format: Option<&'a ImageFormat>,
        origin: &'a Origin,
    ) -> Self {
        ChainStart {
            raw,
            image,
            format,
            origin,
            disk: origin,
            depth: 0,
            above: &[],
        }
    }
}

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
    /// down (the chain's total depth capped at [`MAX_CHAIN_DEPTH`], counting the layers
    /// above the start). Empty when there is none or the chain cannot be followed safely.
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
