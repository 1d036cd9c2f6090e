//! The real resolver: the filesystem behind [`Resolve`].
//!
//! Backing chains are walked by [`crate::chain::walk`], which holds their policy; this file
//! answers its questions ([`Images`]) with memos bounded by [`MEMO_BUDGET`]. Headers are
//! read by [`read_header`], which never opens anything but a regular file or block device,
//! and parsed by [`crate::image`]. Host devices come from sysfs, storage pool definitions
//! from `/etc/libvirt/storage` through [`crate::fsio`].

// This is an I/O module: it may touch the filesystem and processes (clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use super::{Chain, ChainStart, CompanionFile, NodeKind, Resolve, UsbId};
use crate::chain::{HeaderAnswer, HeaderFail, Images};
use crate::error::{quote, quote_path, Diagnostics, Error, Result};
use crate::fsio;
use crate::image::{self, HeaderError, ImageFormat, ImageInfo, FIRST_READ, HEADER_READ};
use crate::origin::Origin;
use crate::path::CanonicalPath;
use crate::resolve::canonical::{canonicalize_cached, Kind, PrefixCache};
use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Where sysfs is mounted.
pub const DEFAULT_SYSFS: &str = "/sys";

/// Where libvirtd keeps storage pool definitions.
pub const DEFAULT_POOL_DIR: &str = "/etc/libvirt/storage";

/// The real resolver.
#[derive(Debug)]
pub struct FsResolver {
    sysfs: PathBuf,
    pools: PathBuf,
    /// Directories resolved in this run: each is walked once.
    dirs: PrefixCache,
    /// What each path canonicalized in this run names (`None`: missing), from the
    /// canonicalizer's `lstat`: a header is opened without another one.
    kinds: HashMap<CanonicalPath, Option<Kind>>,
    /// Each header read in this run, by image and declared format (a
    /// chain shared by many disks is read once, not once a disk).
    headers: HashMap<(CanonicalPath, ImageFormat), HeaderAnswer>,
    /// Each chain walked in this run from a disk's top image with nothing to report, by
    /// the image as named (relative names in its header resolve against it), its canonical
    /// form and declared format: the same walk for another disk gives the same chain.
    chains: HashMap<(PathBuf, CanonicalPath, ImageFormat), Chain>,
    /// Bytes held by `headers` and `chains`; nothing more is kept past [`MEMO_BUDGET`].
    memo_bytes: usize,
    /// Headers read from the filesystem in this run.
    headers_read: usize,
}

/// The most bytes of names `FsResolver` keeps for headers and chains already read: enough for every chain of any input under the XML cap that shares its
/// images, so that memory stays bounded when a filesystem holds many distinct ones. Past
/// it, headers are read again: the answers are the same.
const MEMO_BUDGET: usize = 64 << 20;

/// What a kept header or chain layer costs besides its names.
const MEMO_ENTRY_COST: usize = 128;

impl Default for FsResolver {
    fn default() -> Self {
        FsResolver {
            sysfs: PathBuf::from(DEFAULT_SYSFS),
            pools: PathBuf::from(DEFAULT_POOL_DIR),
            dirs: PrefixCache::default(),
            kinds: HashMap::new(),
            headers: HashMap::new(),
            chains: HashMap::new(),
            memo_bytes: 0,
            headers_read: 0,
        }
    }
}

impl FsResolver {
    /// A resolver reading host devices from `/sys`.
    pub fn new() -> Self {
        Self::default()
    }

    /// A resolver reading host devices (USB and PCI lookups) from another sysfs tree, for
    /// tests and for hosts that mount it elsewhere.
    pub fn with_sysfs(sysfs: &Path) -> Self {
        FsResolver {
            sysfs: sysfs.to_path_buf(),
            ..Self::default()
        }
    }

    /// Reads storage pool definitions from `dir` instead of `/etc/libvirt/storage`.
    pub fn pool_dir(mut self, dir: &Path) -> Self {
        self.pools = dir.to_path_buf();
        self
    }
}

impl Resolve for FsResolver {
    fn canonical(
        &mut self,
        raw: &Path,
        origin: &Origin,
        diag: &mut Diagnostics,
    ) -> Result<CanonicalPath> {
        match canonicalize_cached(raw, &mut self.dirs) {
            Ok(c) => {
                self.kinds.insert(c.path.clone(), c.kind);
                if let Some(first) = c.missing_from {
                    let msg = if c.path.as_path() == raw {
                        format!("{} (from {origin}) does not exist yet", quote_path(raw))
                    } else {
                        format!(
                            "{} (from {origin}) does not exist yet ({} is missing); the rule names {}",
                            quote_path(raw),
                            quote_path(&first),
                            quote_path(c.path.as_path())
                        )
                    };
                    diag.warn(origin, msg);
                }
                Ok(c.path)
            }
            Err(e) => Err(Error::Path {
                path: raw.to_path_buf(),
                origin: origin.to_string(),
                why: e.to_string(),
            }),
        }
    }

    fn image_chain(&mut self, start: &ChainStart<'_>, diag: &mut Diagnostics) -> Result<Chain> {
        // A chain from a disk's top image (nothing listed above it) depends on the image as
        // named and its declared format only, unless its walk reports something about the
        // disk: a walk with no warning and no error is kept for the next disk on it.
        let key = match (start.format, start.depth, start.above) {
            (Some(fmt), 0, []) => Some((start.raw.to_path_buf(), start.image.clone(), fmt.clone())),
            _ => None,
        };
        if let Some(chain) = key.as_ref().and_then(|k| self.chains.get(k)) {
            return Ok(chain.clone());
        }
        let before = diag.len();
        let chain = crate::chain::walk(self, start, diag)?;
        if let Some(key) = key.filter(|_| diag.len() == before) {
            let names = |raw: &Path, path: &CanonicalPath| {
                MEMO_ENTRY_COST + raw.as_os_str().len() + path.as_path().as_os_str().len()
            };
            let companions =
                |cs: &[CompanionFile]| -> usize { cs.iter().map(|c| names(&c.raw, &c.path)).sum() };
            let cost = names(&key.0, &key.1)
                + companions(&chain.top_companions)
                + chain
                    .layers
                    .iter()
                    .map(|l| names(&l.raw, &l.path) + companions(&l.companions))
                    .sum::<usize>();
            if self.memo_bytes + cost <= MEMO_BUDGET {
                self.memo_bytes += cost;
                self.chains.insert(key, chain.clone());
            }
        }
        Ok(chain)
    }

    fn usb_device(
        &mut self,
        id: UsbId,
        origin: &Origin,
        diag: &mut Diagnostics,
    ) -> Option<PathBuf> {
        if id.vendor.is_none() && id.bus.is_none() {
            return None;
        }
        let read_hex = |p: PathBuf| {
            std::fs::read_to_string(p)
                .ok()
                .and_then(|s| u16::from_str_radix(s.trim(), 16).ok())
        };
        let read_dec = |p: PathBuf| {
            std::fs::read_to_string(p)
                .ok()
                .and_then(|s| s.trim().parse::<u16>().ok())
        };
        let mut entries: Vec<PathBuf> = std::fs::read_dir(self.sysfs.join("bus/usb/devices"))
            .ok()?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        let found: Vec<PathBuf> = entries
            .into_iter()
            .filter(|dev| {
                let matches = |want: Option<u16>, got: Option<u16>| want.is_none() || want == got;
                matches(id.vendor, read_hex(dev.join("idVendor")))
                    && matches(id.product, read_hex(dev.join("idProduct")))
                    && matches(id.bus, read_dec(dev.join("busnum")))
                    && matches(id.device, read_dec(dev.join("devnum")))
            })
            .filter_map(|dev| {
                let bus = read_dec(dev.join("busnum"))?;
                let num = read_dec(dev.join("devnum"))?;
                Some(PathBuf::from(format!("/dev/bus/usb/{bus:03}/{num:03}")))
            })
            .collect();
        // libvirt refuses an ambiguous vendor/product match ("Multiple USB devices ... use
        // <address> to specify one"), so its helper wrote no rule: neither do we.
        match found.as_slice() {
            [one] => Some(one.clone()),
            [] => None,
            many => {
                diag.warn(origin, format!(
                    "{} USB devices match vendor {:04x} product {:04x}; add <address> to choose one",
                    many.len(),
                    id.vendor.unwrap_or(0),
                    id.product.unwrap_or(0)
                ));
                None
            }
        }
    }

    fn pci_files(&mut self, address: &str) -> Vec<PathBuf> {
        let dir = self.sysfs.join("bus/pci/devices").join(address);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                matches!(n.as_ref(), "config" | "rom" | "vendor" | "device" | "reset")
                    || n.starts_with("resource")
            })
            .map(|e| dir.join(e.file_name()))
            .collect();
        files.sort();
        files
    }

    fn drm_render_node(&mut self) -> Option<PathBuf> {
        let mut nodes: Vec<PathBuf> = std::fs::read_dir("/dev/dri")
            .ok()?
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("renderD"))
            .map(|e| e.path())
            .collect();
        nodes.sort();
        nodes.into_iter().next()
    }

    fn volume_path(
        &mut self,
        pool: &str,
        volume: &str,
        origin: &Origin,
        diag: &mut Diagnostics,
    ) -> Result<Option<PathBuf>> {
        let file = self.pools.join(format!("{pool}.xml"));
        let text = match fsio::read_optional(&file) {
            Ok(Some(bytes)) => match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(_) => return Ok(None),
            },
            Ok(None) => return Ok(None),
            // The pool exists but the helper may not read it (Debian's stock helper profile
            // has no rule for /etc/libvirt/storage): an error naming the rule to add, not a
            // warning, or the disk would silently get no rule and the VM fail to open it.
            Err(Error::Io { source, .. }) if crate::error::is_denied(&source) => {
                let hint =
                    crate::error::allow_hint(&crate::error::allow_rule(&self.pools, "/*.xml", "r"));
                return Err(Error::Denied {
                    path: file,
                    source,
                    hint,
                });
            }
            Err(e) => {
                diag.warn(origin, format!("storage pool {}: {e}", quote(pool)));
                return Ok(None);
            }
        };
        let root = match crate::xml::parse(&text) {
            Ok(root) => root,
            Err(e) => {
                diag.warn(
                    origin,
                    format!("storage pool definition {}: {e}", quote_path(&file)),
                );
                return Ok(None);
            }
        };
        // Pools whose volumes are files or device nodes below the target path.
        if root.name != "pool"
            || !matches!(
                root.attr("type"),
                Some("dir" | "fs" | "netfs" | "logical" | "disk")
            )
        {
            return Ok(None);
        }
        let target = root
            .child("target")
            .and_then(|t| t.child("path"))
            .map(|p| p.trimmed_text());
        Ok(target
            .filter(|t| Path::new(t).is_absolute())
            .map(|t| Path::new(t).join(volume)))
    }

    fn iommu_group(&mut self, address: &str) -> Option<u32> {
        group_of(&self.sysfs.join("bus/pci/devices").join(address))
    }

    fn mdev_iommu_group(&mut self, uuid: &uuid::Uuid) -> Option<u32> {
        let name = uuid.hyphenated().to_string();
        group_of(&self.sysfs.join("bus/mdev/devices").join(name))
    }

    fn existing(&mut self, path: &Path) -> Option<(CanonicalPath, NodeKind)> {
        let c = canonicalize_cached(path, &mut self.dirs).ok()?;
        if c.missing_from.is_some() {
            return None;
        }
        let kind = match c.kind? {
            Kind::Directory => NodeKind::Directory,
            Kind::File => NodeKind::Regular,
            Kind::BlockDevice | Kind::Other => NodeKind::Special,
        };
        Some((c.path, kind))
    }

    fn net_ifindex(&mut self, dev: &str) -> Option<u32> {
        // A device name is one path component (`IFNAMSIZ`: at most 15 bytes).
        if dev.is_empty() || dev.len() > 15 || dev.contains('/') || dev == "." || dev == ".." {
            return None;
        }
        let file = self.sysfs.join("class/net").join(dev).join("ifindex");
        let bytes = fsio::read_optional(&file).ok().flatten()?;
        std::str::from_utf8(&bytes).ok()?.trim().parse().ok()
    }

    fn on_hugetlbfs(&mut self, path: &Path) -> bool {
        // `HUGETLBFS_MAGIC` (linux/magic.h).
        const HUGETLBFS_MAGIC: i64 = 0x9584_58f6;
        // `f_type`'s type differs between architectures (i64 here, u32 on some).
        #[allow(clippy::unnecessary_cast)]
        rustix::fs::statfs(path).is_ok_and(|s| s.f_type as i64 == HUGETLBFS_MAGIC)
    }

    fn tpm_cancel(&mut self, device: &Path) -> Option<PathBuf> {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        // libvirt builds the cancel path from the device path's last
        // component alone (`virTPMCreateCancelPath`), so a regular file named `tpm0` got the
        // host TPM's cancel file. Here the path must open a character device (followed
        // through links, as QEMU opens it) whose number is the one sysfs lists for that
        // TPM (`<class>/<name>/dev`, `major:minor`).
        let meta = std::fs::metadata(device).ok()?;
        if !meta.file_type().is_char_device() {
            return None;
        }
        let (major, minor) = (
            rustix::fs::major(meta.rdev()),
            rustix::fs::minor(meta.rdev()),
        );
        let name = device.file_name()?;
        let class = ["class/tpm", "class/misc"]
            .iter()
            .map(|class| self.sysfs.join(class).join(name))
            .find(|dir| dir.join("device/cancel").exists())?;
        let dev = fsio::read_optional(&class.join("dev")).ok().flatten()?;
        (std::str::from_utf8(&dev).ok()?.trim() == format!("{major}:{minor}"))
            .then(|| class.join("device/cancel"))
    }
}

/// The filesystem behind the backing-chain walker: names through the canonicalizer, whose
/// `lstat` records what each names, and headers through `read_header`.
impl Images for FsResolver {
    fn locate(
        &mut self,
        raw: &Path,
        origin: &Origin,
        diag: &mut Diagnostics,
    ) -> Result<(CanonicalPath, Option<Kind>)> {
        let path = self.canonical(raw, origin, diag)?;
        let kind = self.kinds.get(&path).copied().flatten();
        Ok((path, kind))
    }

    /// The header of the image `path` of the declared format `fmt`, read once a run.
    fn header(&mut self, path: &CanonicalPath, fmt: &ImageFormat) -> HeaderAnswer {
        let key = (path.clone(), fmt.clone());
        if let Some(answer) = self.headers.get(&key) {
            return answer.clone();
        }
        // Every path here came through `canonical` (the top from the rules stage, the
        // layers below), which recorded its type; one that did not is looked at now.
        let kind = match self.kinds.get(path) {
            Some(kind) => *kind,
            None => canonicalize_cached(path.as_path(), &mut self.dirs)
                .ok()
                .and_then(|c| c.kind),
        };
        self.headers_read += 1;
        let answer = read_header(path.as_path(), kind, fmt);
        let names = match &answer {
            Ok(Some(info)) => {
                info.backing.as_ref().map_or(0, |b| b.name.len())
                    + info.companions.iter().map(|c| c.name.len()).sum::<usize>()
            }
            _ => 0,
        };
        let cost = MEMO_ENTRY_COST + path.as_path().as_os_str().len() + names;
        if self.memo_bytes + cost <= MEMO_BUDGET {
            self.memo_bytes += cost;
            self.headers.insert(key, answer.clone());
        }
        answer
    }
}

/// The IOMMU group of a sysfs device directory: the number its `iommu_group` link points
/// to (`../../../kernel/iommu_groups/<N>`).
fn group_of(device: &Path) -> Option<u32> {
    let link = std::fs::read_link(device.join("iommu_group")).ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

const NOT_A_FILE: &str = "not a regular file or block device";
const BECAME_LINK: &str = "it became a symbolic link after its path was resolved";

/// Reads the header of the image at a canonical path, of the declared format `fmt`, whose
/// type `kind` the canonicalizer found with its own `lstat` of the last component (`None`:
/// it does not exist yet, `Ok(None)`). One open, one read of [`FIRST_READ`] bytes (another
/// only when the reader asks for bytes further in, up to [`HEADER_READ`]), one close.
///
/// FIFOs, sockets and character devices are never opened: reading them could block the
/// helper forever, and opening some has effects of their own (a watchdog starts counting
/// down). No `stat` is needed before the open: `kind` comes from the `lstat` that resolved
/// the path, and what could change since is covered by the open itself. A symbolic link
/// swapped in is refused by `O_NOFOLLOW` (`ELOOP`); a FIFO swapped in is opened without
/// waiting (`O_NONBLOCK`) and refused by the type check on the descriptor; and a device
/// node cannot be swapped in by whoever owns the image's directory unless they are root:
/// creating one takes `CAP_MKNOD`, and a hard link to an existing one needs write access to
/// it (`fs.protected_hardlinks`) and the same filesystem as `/dev`.
fn read_header(
    path: &Path,
    kind: Option<Kind>,
    fmt: &ImageFormat,
) -> std::result::Result<Option<ImageInfo>, HeaderFail> {
    use rustix::fs::OFlags;
    let unreadable = |e: std::io::Error| HeaderFail::Unreadable(crate::error::io_reason(&e));
    match kind {
        None => return Ok(None),
        Some(Kind::File | Kind::BlockDevice) => {}
        Some(Kind::Directory | Kind::Other) => {
            return Err(HeaderFail::Unreadable(NOT_A_FILE.into()))
        }
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags((OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::NOCTTY).bits() as i32)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
                HeaderFail::Unreadable(BECAME_LINK.into())
            } else {
                unreadable(e)
            }
        })?;
    let md = file.metadata().map_err(unreadable)?;
    let ft = md.file_type();
    if !(ft.is_file() || ft.is_block_device()) {
        return Err(HeaderFail::Unreadable(NOT_A_FILE.into()));
    }
    // A regular file's size bounds the read, so a short file costs no read returning 0; a
    // block device's size is not in its stat.
    let size = if ft.is_file() {
        usize::try_from(md.len()).unwrap_or(usize::MAX)
    } else {
        usize::MAX
    };
    let limit = size.min(HEADER_READ);
    let mut buf = Vec::new();
    let mut want = FIRST_READ.min(limit);
    loop {
        let at_end = fill(&mut file, &mut buf, want).map_err(unreadable)?;
        let answer = if at_end || buf.len() >= limit {
            image::read(fmt, &buf)
        } else {
            image::read_start(fmt, &buf)
        };
        match answer {
            // Whole pages: a header that asks for a few bytes at a time (a hostile
            // extension list) costs at most HEADER_READ / FIRST_READ reads.
            Err(HeaderError::Short(n)) => {
                want = n.div_ceil(FIRST_READ).saturating_mul(FIRST_READ).min(limit)
            }
            other => return other.map_err(HeaderFail::Bad),
        }
    }
}

/// Reads into `buf` until it holds `want` bytes; `true` if the file ended first.
fn fill(file: &mut std::fs::File, buf: &mut Vec<u8>, want: usize) -> std::io::Result<bool> {
    let mut got = buf.len();
    buf.resize(want, 0);
    while got < want {
        match file.read(&mut buf[got..]) {
            Ok(0) => {
                buf.truncate(got);
                return Ok(true);
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A qcow (v1) image of `len` bytes whose backing name `name` is at `offset`.
    fn qcow1(offset: usize, name: &str, len: usize) -> Vec<u8> {
        let mut h = vec![0u8; len.max(offset + name.len())];
        h[..8].copy_from_slice(b"QFI\xfb\0\0\0\x01");
        h[8..16].copy_from_slice(&(offset as u64).to_be_bytes());
        h[16..20].copy_from_slice(&(name.len() as u32).to_be_bytes());
        h[offset..offset + name.len()].copy_from_slice(name.as_bytes());
        h.truncate(len);
        h
    }

    fn backing_of(r: std::result::Result<Option<ImageInfo>, HeaderFail>) -> String {
        r.unwrap().unwrap().backing.unwrap().name
    }

    #[test]
    fn header_reads_refuse_links_and_fifos_without_blocking() {
        let t = tempfile::tempdir().unwrap();
        let img = t.path().join("img");
        std::fs::write(&img, qcow1(48, "/b", 64)).unwrap();
        let file = Some(Kind::File);
        assert_eq!(
            backing_of(read_header(&img, file, &ImageFormat::Qcow)),
            "/b"
        );
        // A link where the canonical path had a file: refused, not followed.
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&img, &link).unwrap();
        let became = HeaderFail::Unreadable(BECAME_LINK.into());
        assert_eq!(read_header(&link, file, &ImageFormat::Qcow), Err(became));
        // A FIFO: refused from the canonicalizer's type without an open, and refused from
        // the descriptor's type when one is swapped in after the lstat (opened at once
        // although it has no writer: a blocking open would never return).
        let fifo = t.path().join("fifo");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap();
        let not_file = Err(HeaderFail::Unreadable(NOT_A_FILE.into()));
        assert_eq!(
            read_header(&fifo, Some(Kind::Other), &ImageFormat::Qcow),
            not_file
        );
        assert_eq!(read_header(&fifo, file, &ImageFormat::Qcow), not_file);
        assert_eq!(
            read_header(t.path(), Some(Kind::Directory), &ImageFormat::Qcow),
            not_file
        );
        assert_eq!(read_header(t.path(), file, &ImageFormat::Qcow), not_file);
        // Missing: not yet there, no error (and nothing is opened).
        assert_eq!(
            read_header(&t.path().join("missing"), None, &ImageFormat::Qcow),
            Ok(None)
        );
        assert_eq!(read_header(&img, None, &ImageFormat::Qcow), Ok(None));
        // Gone between the lstat and the open: a warning, not "not there yet".
        assert!(matches!(
            read_header(&t.path().join("missing"), file, &ImageFormat::Qcow),
            Err(HeaderFail::Unreadable(_))
        ));
    }

    #[test]
    fn names_past_the_first_read_are_read_up_to_the_cap() {
        let t = tempfile::tempdir().unwrap();
        let img = t.path().join("img");
        let file = Some(Kind::File);
        let cases: [(usize, usize); 5] = [
            (48, 100),
            (FIRST_READ - 2, FIRST_READ),
            (FIRST_READ - 1, FIRST_READ + 1),
            (5000, 9000),
            (HEADER_READ - 2, HEADER_READ + 4096),
        ];
        for (offset, len) in cases {
            std::fs::write(&img, qcow1(offset, "/b", len)).unwrap();
            assert_eq!(
                backing_of(read_header(&img, file, &ImageFormat::Qcow)),
                "/b",
                "{offset}"
            );
        }
        // Past the cap, or past the end of the file: corrupt, as with one read of 64 KiB.
        for (offset, len) in [(HEADER_READ - 1, HEADER_READ + 4096), (5000, 5001)] {
            std::fs::write(&img, qcow1(offset, "/b", len)).unwrap();
            assert!(
                matches!(
                    read_header(&img, file, &ImageFormat::Qcow),
                    Err(HeaderFail::Bad(HeaderError::Corrupt(_)))
                ),
                "{offset}"
            );
        }
        // The declared format is checked.
        assert_eq!(
            read_header(&img, file, &ImageFormat::Qed),
            Err(HeaderFail::Bad(HeaderError::BadMagic("qed")))
        );
    }

    /// A qcow2 (v2) header recording its backing name and format, as `qemu-img create -b
    /// NAME -F qcow2` writes it.
    fn qcow2(backing: Option<&str>) -> Vec<u8> {
        let mut h = vec![0u8; 2048];
        h[..8].copy_from_slice(b"QFI\xfb\0\0\0\x02");
        if let Some(name) = backing {
            h[8..16].copy_from_slice(&1024u64.to_be_bytes());
            h[16..20].copy_from_slice(&(name.len() as u32).to_be_bytes());
            h[72..76].copy_from_slice(&0xE279_2ACAu32.to_be_bytes());
            h[76..80].copy_from_slice(&5u32.to_be_bytes());
            h[80..85].copy_from_slice(b"qcow2");
            h[1024..1024 + name.len()].copy_from_slice(name.as_bytes());
        }
        h
    }

    /// The chain below `raw` for a disk whose element is at `at`.
    fn chain_of(r: &mut FsResolver, raw: &Path, at: usize, diag: &mut Diagnostics) -> Chain {
        let origin = Origin::new("disk", "").at(at);
        let canon = r.canonical(raw, &origin, diag).unwrap();
        let start = ChainStart::top(raw, &canon, Some(&ImageFormat::Qcow2), &origin);
        r.image_chain(&start, diag).unwrap()
    }

    /// 57,000 disks on one chain of 200 read 13 million headers (three
    /// minutes). A header is read once a run per image and declared format; what the chain
    /// reports about a disk is still reported for each disk.
    #[test]
    fn a_chain_shared_by_many_disks_is_read_once() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        std::fs::write(root.join("base.qcow2"), qcow2(None)).unwrap();
        let base = root.join("base.qcow2").display().to_string();
        std::fs::write(root.join("mid.qcow2"), qcow2(Some(&base))).unwrap();
        std::fs::write(root.join("top.qcow2"), qcow2(Some("mid.qcow2"))).unwrap();
        std::os::unix::fs::symlink(".", root.join("again")).unwrap();
        let mut r = FsResolver::new();
        let mut diag = Diagnostics::default();
        let first = chain_of(&mut r, &root.join("top.qcow2"), 1, &mut diag);
        let layers: Vec<&Path> = first.layers.iter().map(|l| l.path.as_path()).collect();
        assert_eq!(layers, [root.join("mid.qcow2"), root.join("base.qcow2")]);
        assert_eq!(r.headers_read, 3);
        for at in 2..50 {
            assert_eq!(
                chain_of(&mut r, &root.join("top.qcow2"), at, &mut diag),
                first
            );
        }
        // Named another way, the top's relative names resolve against that name, so the
        // chain is walked again, without reading a header again.
        let other = chain_of(&mut r, &root.join("again/top.qcow2"), 50, &mut diag);
        assert_eq!(other.layers[0].raw, root.join("again/mid.qcow2"));
        assert_eq!(other.layers[1].path, first.layers[1].path);
        assert_eq!(r.headers_read, 3);
        assert!(diag.is_empty());
        // A chain whose base is missing warns about each disk on it.
        std::fs::write(root.join("dangling.qcow2"), qcow2(Some("gone.qcow2"))).unwrap();
        for at in 51..61 {
            let c = chain_of(&mut r, &root.join("dangling.qcow2"), at, &mut diag);
            assert_eq!(c.layers[0].path.as_path(), root.join("gone.qcow2"));
        }
        // The top's header and the answer for the missing base ("not there yet").
        assert_eq!(r.headers_read, 5);
        let warnings = diag.into_warnings();
        assert_eq!(warnings.len(), 10, "{warnings:?}");
    }
}
