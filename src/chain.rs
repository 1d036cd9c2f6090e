//! The backing-chain walker: which files lie below and beside a disk image, read from
//! headers, as a pure function over the two questions it asks ([`Images`]): the canonical
//! form of a name, and an image's header read as its declared format. The filesystem
//! answers them in [`crate::resolve::FsResolver`]; the tests below answer them from memory.
//!
//! The policy (libvirt's own advice, `docs/kbase/backing_chains.rst` and
//! `virStorageFileProbeFormat`: "Best option: Don't use this function"; the hazards are
//! `docs/weak-spots.md` W11):
//!
//! - A header is read only when the layer's format is *declared*: by the XML for the top
//!   image (or for the last layer of a `<backingStore>` chain the XML does not terminate,
//!   where the walk starts: see [`ChainStart`]) and by the parent's header below it. A raw
//!   image is never parsed, whatever its bytes look like, because the guest writes those
//!   bytes; nothing is ever probed. A layer whose format is unknown still gets its own
//!   rule, but the chain ends there with a warning.
//! - A relative name is resolved against the directory of the image *as it was opened*,
//!   not its realpath, as QEMU does (`bdrv_get_full_backing_filename`).
//! - A file named only by image bytes must be a regular file (or not exist yet).
//! - A qcow2 data file is followed only where QEMU opens it (the incompatible bit,
//!   [`crate::image`]) and only by an absolute name.
//! - A loop is an error naming the cycle; a chain deeper than [`MAX_CHAIN_DEPTH`] layers,
//!   counting the layers listed above the start, is an error.
//! - What the files found get is decided by [`grants`]: at most read-only, and nothing for
//!   the files the header of a writable image names.

use crate::error::{quote, quote_path, Diagnostics, Error, Result};
use crate::image::{Companion, CompanionKind, HeaderError, ImageFormat, ImageInfo};
use crate::origin::Origin;
use crate::path::{CanonicalPath, Kind};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Deepest backing chain followed, as in libvirt and QEMU.
pub const MAX_CHAIN_DEPTH: usize = 200;

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

/// Where a walk starts reading headers: a disk's top image ([`ChainStart::top`]), or the
/// last layer of a `<backingStore>` chain the XML does not terminate, which libvirt's qemu
/// driver continues from that layer's header (`qemuDomainDetermineDiskChain`).
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

/// Why a header gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderFail {
    /// The file could not be opened or read: a warning, the chain ends there.
    Unreadable(String),
    /// The bytes are not a header of the declared format: an error.
    Bad(HeaderError),
}

/// What [`Images::header`] answers: the header (`None`: the image does not exist yet).
pub type HeaderAnswer = std::result::Result<Option<ImageInfo>, HeaderFail>;

/// What the walk asks of the filesystem, and nothing more.
pub trait Images {
    /// The canonical form of `raw` (an absolute name from a header) and what it names now
    /// (`None`: it does not exist yet). Findings (a missing path) go to `diag`, about
    /// `origin`.
    fn locate(
        &mut self,
        raw: &Path,
        origin: &Origin,
        diag: &mut Diagnostics,
    ) -> Result<(CanonicalPath, Option<Kind>)>;

    /// The header of the image at `image`, read as `format` and as nothing else: the
    /// walk asks only for a format the XML or a parent header declared, and only one
    /// [`ImageFormat::is_readable`].
    fn header(&mut self, image: &CanonicalPath, format: &ImageFormat) -> HeaderAnswer;
}

/// How QEMU opens the image a walk starts from, which decides what the files its own
/// header names get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// Read-only (a read-only disk's top image, a listed backing layer): the files its
    /// header names are read-only like a backing file.
    ReadOnly,
    /// Read-write (a writable disk's top image): they get no rule, with a warning.
    Writable,
    /// Its access is the admin's (`relabel='no'`): so is that of the files it names.
    Managed,
}

/// A file a header names, which the rules grant read-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Its canonical form.
    pub path: CanonicalPath,
    /// `<disk> backing <n>`, with `data file` or `extent` for a companion.
    pub origin: Origin,
    /// The name as the header gives it, made absolute: a refusal names it.
    pub raw: PathBuf,
}

/// What the files a walk found get: the layers and their companions read-only, and the
/// start image's own companions as it is [`Opened`]. No writable grant ever comes from
/// image bytes (OpenStack CVE-2022-47951, CVE-2024-32498). `declared_data`: the XML
/// declares the start image's data file (`<dataStore>`), which libvirt passes as QEMU's
/// data-file option, so QEMU never opens the name in the header.
pub fn grants(
    chain: Chain,
    start: &ChainStart<'_>,
    opened: Opened,
    declared_data: bool,
    diag: &mut Diagnostics,
) -> Vec<Grant> {
    let mut out = Vec::new();
    for c in chain.top_companions {
        if opened == Opened::Managed || (c.kind == CompanionKind::DataFile && declared_data) {
            continue;
        }
        let origin = start.origin.with(c.kind.what());
        // QEMU opens a writable disk's data file or extent read-write, so a read-only
        // grant cannot make the disk work, and it would only give the image's uploader
        // read access to the file it names (another VM's image). No rule: the admin
        // declares it.
        if opened == Opened::Writable {
            let advice = match c.kind {
                CompanionKind::DataFile => "declare it with <dataStore> in the disk's <source>",
                CompanionKind::Extent => "add a rule for it to the VM's own profile or convert the image (docs/operating.md: VMDK descriptors)",
            };
            diag.warn(&origin, format!(
                "{origin}: {} is named by the image, not by the XML, so it gets no rule (QEMU opens it read-write with the disk, and a grant never comes from image bytes for a writable disk); {advice}",
                quote_path(c.path.as_path())
            ));
            continue;
        }
        out.push(Grant {
            path: c.path,
            origin,
            raw: c.raw,
        });
    }
    for (i, layer) in chain.layers.into_iter().enumerate() {
        let origin = start
            .disk
            .with(format_args!("backing {}", start.depth + i + 1));
        let companions = layer.companions.into_iter().map(|c| Grant {
            path: c.path,
            origin: origin.with(c.kind.what()),
            raw: c.raw,
        });
        let companions: Vec<Grant> = companions.collect();
        out.push(Grant {
            path: layer.path,
            origin,
            raw: layer.raw,
        });
        out.extend(companions);
    }
    out
}

/// The image a walk is at.
struct Cursor {
    /// As named (relative names in its header resolve against its directory).
    raw: PathBuf,
    image: CanonicalPath,
    format: Option<ImageFormat>,
    origin: Origin,
}

/// The images a walk has been through, for the loop check and the message naming it.
struct Trail {
    seen: HashSet<CanonicalPath>,
    order: Vec<PathBuf>,
}

impl Trail {
    /// The start image and the images listed above it: a header naming one of them is a
    /// loop as much as one naming an image found below.
    fn new(start: &ChainStart<'_>) -> Self {
        let mut trail = Trail {
            seen: HashSet::new(),
            order: Vec::new(),
        };
        for p in start.above.iter().chain([start.image]) {
            trail.seen.insert(p.clone());
            trail.order.push(p.as_path().to_path_buf());
        }
        trail
    }

    /// Enters `next`; the cycle (`a -> b -> a`) if it was already entered.
    fn enter(&mut self, next: &CanonicalPath) -> Option<String> {
        self.order.push(next.as_path().to_path_buf());
        if self.seen.insert(next.clone()) {
            return None;
        }
        let cycle: Vec<String> = self.order.iter().map(|p| quote_path(p)).collect();
        Some(cycle.join(" -> "))
    }
}

/// The files below and beside the image `start` names, read from headers from there down
/// through `io`, by the policy in the module documentation.
pub fn walk(io: &mut dyn Images, start: &ChainStart<'_>, diag: &mut Diagnostics) -> Result<Chain> {
    let mut chain = Chain::default();
    let mut trail = Trail::new(start);
    let mut cur = Cursor {
        raw: start.raw.to_path_buf(),
        image: start.image.clone(),
        format: start.format.cloned(),
        origin: start.origin.clone(),
    };
    while let Some(info) = read_layer(io, &cur, !chain.layers.is_empty(), diag)? {
        for c in &info.companions {
            if let Some(file) = companion(io, &cur, c, diag)? {
                match chain.layers.last_mut() {
                    Some(layer) => layer.companions.push(file),
                    None => chain.top_companions.push(file),
                }
            }
        }
        let Some(backing) = info.backing else { break };
        // The layer's depth in the whole chain: the cap counts the listed layers too.
        let depth = start.depth + chain.layers.len() + 1;
        let origin = start.disk.with(format_args!("backing {depth}"));
        let Some(raw) = local_name(&backing.name, &cur, &origin, diag) else {
            break;
        };
        let (image, kind) = io.locate(&raw, &origin, diag)?;
        named_by_bytes(&image, kind, &cur.image, &origin)?;
        if let Some(cycle) = trail.enter(&image) {
            return Err(Error::Path {
                path: cur.image.as_path().to_path_buf(),
                origin: start.disk.to_string(),
                why: format!("backing chain loop: {cycle}"),
            });
        }
        if depth > MAX_CHAIN_DEPTH {
            return Err(Error::Path {
                path: start.raw.to_path_buf(),
                origin: start.disk.to_string(),
                why: format!("backing chain deeper than {MAX_CHAIN_DEPTH} layers"),
            });
        }
        chain.layers.push(ChainLayer {
            raw: raw.clone(),
            path: image.clone(),
            format: backing.format.clone(),
            companions: Vec::new(),
        });
        cur = Cursor {
            raw,
            image,
            format: backing.format,
            origin,
        };
    }
    Ok(chain)
}

/// The header of the image the walk is at, if its format is declared and one whose header
/// is read (`below_top`: its format came from the header above, not the XML). `None`, with
/// a warning where the chain is cut short, when the walk ends there.
fn read_layer(
    io: &mut dyn Images,
    cur: &Cursor,
    below_top: bool,
    diag: &mut Diagnostics,
) -> Result<Option<ImageInfo>> {
    let origin = &cur.origin;
    let Some(fmt) = &cur.format else {
        if below_top {
            diag.warn(origin, format!(
                "{} (from {origin}) has no format recorded by the image above it; it is not probed (a guest could forge its header), so its own backing chain is not followed",
                quote_path(cur.image.as_path())
            ));
        }
        return Ok(None);
    };
    if !fmt.is_readable() {
        if *fmt != ImageFormat::Raw {
            diag.warn(origin, format!(
                "{} (from {origin}) is a {} image, whose header is not read; its backing chain is not followed",
                quote_path(cur.image.as_path()),
                quote(fmt.name())
            ));
        }
        return Ok(None);
    }
    match io.header(&cur.image, fmt) {
        Ok(info) => Ok(info),
        Err(HeaderFail::Bad(e)) => Err(Error::Path {
            path: cur.image.as_path().to_path_buf(),
            origin: origin.to_string(),
            why: format!("declared {fmt} but {e}"),
        }),
        Err(HeaderFail::Unreadable(why)) => {
            diag.warn(origin, format!(
                "cannot read the header of {} (from {origin}): {why}; its own rule is kept but the chain ends there",
                quote_path(cur.image.as_path())
            ));
            Ok(None)
        }
    }
}

/// A companion the header of the image the walk is at names: located and checked, or
/// `None` (with a warning) where no rule can be written for it.
fn companion(
    io: &mut dyn Images,
    cur: &Cursor,
    c: &Companion,
    diag: &mut Diagnostics,
) -> Result<Option<CompanionFile>> {
    let origin = cur.origin.with(c.kind.what());
    // QEMU opens a header's data file name as given (qcow2_do_open), not against the
    // image's directory like a backing name: a relative one is relative to QEMU's working
    // directory, which the helper cannot know.
    if c.kind == CompanionKind::DataFile && !Path::new(&c.name).is_absolute() {
        diag.warn(&origin, format!(
            "{} (from {origin}) names the data file {}, not an absolute path: QEMU opens it relative to its own working directory, so no rule is written for it (declare the data file with <dataStore>)",
            quote_path(cur.image.as_path()),
            quote(&c.name)
        ));
        return Ok(None);
    }
    let Some(raw) = local_name(&c.name, cur, &origin, diag) else {
        return Ok(None);
    };
    let (path, kind) = io.locate(&raw, &origin, diag)?;
    named_by_bytes(&path, kind, &cur.image, &origin)?;
    Ok(Some(CompanionFile {
        kind: c.kind,
        raw,
        path,
    }))
}

/// A file named only by image bytes (a backing file, a data file, an extent) must be a
/// regular file once resolved, or not exist yet. A header naming `/dev/sda` would
/// otherwise get the host's whole disk: the restricted-path check allows host disks on
/// purpose, for `<disk type='block'>`, which the admin writes. Block and character devices,
/// FIFOs, sockets and directories come only from the XML (a chain on block devices is
/// declared with `<backingStore type='block'>`). An error, not a warning: QEMU would open
/// the name anyway and fail, and the admin reads why here.
fn named_by_bytes(
    path: &CanonicalPath,
    kind: Option<Kind>,
    image: &CanonicalPath,
    origin: &Origin,
) -> Result<()> {
    let what = match kind {
        None | Some(Kind::File) => return Ok(()),
        Some(Kind::BlockDevice) => "a block device",
        Some(Kind::Directory) => "a directory",
        Some(Kind::Other) => "a character device, FIFO or socket",
    };
    Err(Error::Path {
        path: path.as_path().to_path_buf(),
        origin: origin.to_string(),
        why: format!(
            "is {what}, named by the header of {}: a file named by image bytes must be a regular file (declare a chain on block devices in the XML, with <backingStore type='block'>)",
            quote_path(image.as_path())
        ),
    })
}

/// The local path a header names, made absolute: QEMU resolves a relative name against
/// the directory of the image as it was opened (`bdrv_get_full_backing_filename`), not
/// against its realpath. `None`, with a warning, for a non-local name (network protocols
/// need no file rule).
fn local_name(
    name: &str,
    cur: &Cursor,
    origin: &Origin,
    diag: &mut Diagnostics,
) -> Option<PathBuf> {
    let local = match classify(name) {
        Name::Local(p) => p,
        Name::Network => {
            diag.warn(
                origin,
                format!(
                    "{} (from {origin}) names the non-local {}; no file rule is needed for it",
                    quote_path(cur.image.as_path()),
                    quote(name)
                ),
            );
            return None;
        }
    };
    Some(if Path::new(&local).is_absolute() {
        PathBuf::from(local)
    } else {
        cur.raw
            .parent()
            .unwrap_or_else(|| Path::new("/"))
            .join(local)
    })
}

/// What a name in a header refers to.
#[derive(Debug, PartialEq, Eq)]
enum Name {
    /// A local file (possibly relative).
    Local(String),
    /// A network protocol or a JSON description of a non-file driver.
    Network,
}

/// Classifies a backing name the way QEMU and libvirt do (`virStorageSourceNewFromBackingAbsolute`):
/// `json:{...}` is a JSON description whose `file` driver with a `filename` is a local
/// file; a colon before the first slash, or in a name without one, is a protocol (`nbd:`,
/// `rbd:`, `gluster://`, `http://`...); anything else is a file name.
fn classify(name: &str) -> Name {
    if let Some(json) = name.strip_prefix("json:") {
        return match serde_json::from_str::<serde_json::Value>(json) {
            Ok(v) => json_file(&v).map_or(Name::Network, Name::Local),
            Err(_) => Name::Network,
        };
    }
    if name.chars().find(|c| *c == ':' || *c == '/') == Some(':') {
        Name::Network
    } else {
        Name::Local(name.to_string())
    }
}

/// The local file of a `json:` description: `{"file.filename": ...}` (flattened),
/// `{"file": {"driver": "file", "filename": ...}}` or `{"driver": "file", "filename": ...}`.
fn json_file(v: &serde_json::Value) -> Option<String> {
    let obj = v.as_object()?;
    let is_file = |o: &serde_json::Map<String, serde_json::Value>, prefix: &str| {
        o.get(&format!("{prefix}driver"))
            .and_then(|d| d.as_str())
            .is_none_or(|d| d == "file")
    };
    if let Some(f) = obj.get("file.filename").and_then(|f| f.as_str()) {
        return is_file(obj, "file.").then(|| f.to_string());
    }
    if let Some(inner) = obj.get("file").and_then(|f| f.as_object()) {
        if let Some(f) = inner.get("filename").and_then(|f| f.as_str()) {
            return is_file(inner, "").then(|| f.to_string());
        }
        return json_file(&serde_json::Value::Object(inner.clone()));
    }
    match (
        obj.get("driver").and_then(|d| d.as_str()),
        obj.get("filename").and_then(|f| f.as_str()),
    ) {
        (Some("file"), Some(f)) => Some(f.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image;
    use proptest::prelude::*;
    use std::collections::HashMap;
    use std::path::Component;

    /// A filesystem in memory: files by canonical path, with their kind and bytes, and
    /// symbolic links (to canonical targets). It counts every header read, with the format
    /// it was read as.
    #[derive(Default)]
    struct Mem {
        files: HashMap<PathBuf, (Kind, Vec<u8>)>,
        links: HashMap<PathBuf, PathBuf>,
        reads: Vec<(PathBuf, ImageFormat)>,
    }

    impl Mem {
        fn file(&mut self, path: &str, bytes: Vec<u8>) -> &mut Self {
            self.files.insert(path.into(), (Kind::File, bytes));
            self
        }
        fn node(&mut self, path: &str, kind: Kind) -> &mut Self {
            self.files.insert(path.into(), (kind, Vec::new()));
            self
        }
        fn link(&mut self, path: &str, target: &str) -> &mut Self {
            self.links.insert(path.into(), target.into());
            self
        }
        /// What a path names, one component at a time, following links as it goes.
        fn resolve(&self, raw: &Path) -> PathBuf {
            let mut out = PathBuf::from("/");
            for c in raw.components() {
                match c {
                    Component::ParentDir => {
                        out.pop();
                    }
                    Component::Normal(n) => {
                        out.push(n);
                        if let Some(to) = self.links.get(&out) {
                            out = to.clone();
                        }
                    }
                    _ => {}
                }
            }
            out
        }
    }

    impl Images for Mem {
        fn locate(
            &mut self,
            raw: &Path,
            origin: &Origin,
            diag: &mut Diagnostics,
        ) -> Result<(CanonicalPath, Option<Kind>)> {
            let path = self.resolve(raw);
            let kind = self.files.get(&path).map(|(k, _)| *k);
            if kind.is_none() {
                diag.warn(
                    origin,
                    format!("{} (from {origin}) does not exist yet", path.display()),
                );
            }
            Ok((CanonicalPath::from_canonical_literal(&path).unwrap(), kind))
        }

        fn header(&mut self, image: &CanonicalPath, format: &ImageFormat) -> HeaderAnswer {
            self.reads
                .push((image.as_path().to_path_buf(), format.clone()));
            match self.files.get(image.as_path()) {
                None => Ok(None),
                Some((Kind::File | Kind::BlockDevice, bytes)) => {
                    image::read(format, bytes).map_err(HeaderFail::Bad)
                }
                Some(_) => Err(HeaderFail::Unreadable("not a regular file".into())),
            }
        }
    }

    fn put(h: &mut [u8], at: usize, bytes: &[u8]) {
        h[at..at + bytes.len()].copy_from_slice(bytes);
    }

    /// A qcow2 (v3) header, as `qemu-img create -b NAME -F FMT` writes it, with an external
    /// data file extension naming `data` (and the incompatible bit QEMU needs to open it set
    /// or not).
    fn qcow2(backing: Option<(&str, Option<&str>)>, data: Option<(&str, bool)>) -> Vec<u8> {
        let mut h = vec![0u8; 4096];
        put(&mut h, 0, b"QFI\xfb\0\0\0\x03");
        put(&mut h, 100, &104u32.to_be_bytes());
        let mut at = 104;
        let mut ext = |h: &mut Vec<u8>, kind: u32, data: &[u8]| {
            put(h, at, &kind.to_be_bytes());
            put(h, at + 4, &(data.len() as u32).to_be_bytes());
            put(h, at + 8, data);
            at += 8 + data.len().div_ceil(8) * 8;
        };
        if let Some((_, Some(fmt))) = backing {
            ext(&mut h, 0xE279_2ACA, fmt.as_bytes());
        }
        if let Some((name, bit)) = data {
            ext(&mut h, 0x4441_5441, name.as_bytes());
            if bit {
                put(&mut h, 72, &(1u64 << 2).to_be_bytes());
            }
        }
        if let Some((name, _)) = backing {
            put(&mut h, 8, &2048u64.to_be_bytes());
            put(&mut h, 16, &(name.len() as u32).to_be_bytes());
            put(&mut h, 2048, name.as_bytes());
        }
        h
    }

    /// A qcow2 image over a qcow2 backing file `name`.
    fn over(name: &str) -> Vec<u8> {
        qcow2(Some((name, Some("qcow2"))), None)
    }

    fn canon(p: &str) -> CanonicalPath {
        CanonicalPath::from_canonical_literal(Path::new(p)).unwrap()
    }

    fn disk() -> Origin {
        Origin::new("disk", "vda")
    }

    /// The walk below the top image `raw` declared `format`.
    fn walk_top(m: &mut Mem, raw: &str, format: &str) -> (Result<Chain>, Vec<String>) {
        let origin = disk();
        let image = canon(&m.resolve(Path::new(raw)).display().to_string());
        let format = ImageFormat::parse(format);
        let start = ChainStart::top(Path::new(raw), &image, Some(&format), &origin);
        let mut diag = Diagnostics::default();
        let r = walk(m, &start, &mut diag);
        let w = diag.into_warnings().iter().map(|w| w.to_string()).collect();
        (r, w)
    }

    fn layers(c: &Chain) -> Vec<&Path> {
        c.layers.iter().map(|l| l.path.as_path()).collect()
    }

    fn why(r: Result<Chain>) -> String {
        why_of(&r)
    }

    fn why_of(r: &Result<Chain>) -> String {
        match r {
            Err(Error::Path { why, .. }) => why.clone(),
            other => panic!("not a path error: {other:?}"),
        }
    }

    #[test]
    fn a_chain_is_read_through_declared_formats() {
        let mut m = Mem::default();
        m.file("/i/top", over("mid"))
            .file("/i/mid", over("/i/base"))
            .file("/i/base", qcow2(None, None));
        let (c, w) = walk_top(&mut m, "/i/top", "qcow2");
        let c = c.unwrap();
        assert_eq!(layers(&c), [Path::new("/i/mid"), Path::new("/i/base")]);
        assert_eq!(c.layers[0].format, Some(ImageFormat::Qcow2));
        assert_eq!(c.layers[0].raw, Path::new("/i/mid"));
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(m.reads.len(), 3);
    }
    #[test]
    fn a_loop_is_an_error_naming_the_cycle() {
        let mut m = Mem::default();
        m.file("/i/a", over("b")).file("/i/b", over("a"));
        let (r, _) = walk_top(&mut m, "/i/a", "qcow2");
        assert_eq!(why(r), "backing chain loop: '/i/a' -> '/i/b' -> '/i/a'");
        // An image naming itself.
        m.file("/i/self", over("/i/self"));
        let (r, _) = walk_top(&mut m, "/i/self", "qcow2");
        assert_eq!(why(r), "backing chain loop: '/i/self' -> '/i/self'");
        // Through another name of the same file: the loop is on canonical paths.
        m.link("/i/alias", "/i/c").file("/i/c", over("alias"));
        let (r, _) = walk_top(&mut m, "/i/c", "qcow2");
        assert_eq!(why(r), "backing chain loop: '/i/c' -> '/i/c'");
        // A continued chain naming a layer the XML lists above it: the error is about the
        // disk and the image whose header closes the loop.
        m.file("/i/last", over("/i/listed"));
        let (origin, lo) = (disk(), disk().with("backing 2"));
        let (image, above) = (canon("/i/last"), [canon("/i/top"), canon("/i/listed")]);
        let format = ImageFormat::Qcow2;
        let start = ChainStart {
            raw: Path::new("/i/last"),
            image: &image,
            format: Some(&format),
            origin: &lo,
            disk: &origin,
            depth: 2,
            above: &above,
        };
        let r = walk(&mut m, &start, &mut Diagnostics::default());
        let Err(Error::Path { path, origin, why }) = r else {
            panic!("{r:?}")
        };
        assert_eq!(
            (path.as_path(), origin.as_str()),
            (Path::new("/i/last"), "disk vda")
        );
        assert_eq!(
            why,
            "backing chain loop: '/i/top' -> '/i/listed' -> '/i/last' -> '/i/listed'"
        );
    }

    /// `n` qcow2 images `/c/0` over `/c/1`... over `/c/n`, the last without a backing file.
    fn deep(n: usize) -> Mem {
        let mut m = Mem::default();
        for i in 0..n {
            m.file(&format!("/c/{i}"), over(&(i + 1).to_string()));
        }
        m.file(&format!("/c/{n}"), qcow2(None, None));
        m
    }

    #[test]
    fn the_chain_is_capped_at_200_layers_counting_the_listed_ones() {
        let (c, _) = walk_top(&mut deep(MAX_CHAIN_DEPTH), "/c/0", "qcow2");
        assert_eq!(c.unwrap().layers.len(), MAX_CHAIN_DEPTH);
        let (r, _) = walk_top(&mut deep(MAX_CHAIN_DEPTH + 1), "/c/0", "qcow2");
        assert_eq!(why(r), "backing chain deeper than 200 layers");
        // Below 5 listed layers, 195 more are the cap.
        for (n, ok) in [(MAX_CHAIN_DEPTH - 5, true), (MAX_CHAIN_DEPTH - 4, false)] {
            let mut m = deep(n);
            let (origin, image, format) = (disk(), canon("/c/0"), ImageFormat::Qcow2);
            let start = ChainStart {
                depth: 5,
                ..ChainStart::top(Path::new("/c/0"), &image, Some(&format), &origin)
            };
            let r = walk(&mut m, &start, &mut Diagnostics::default());
            assert_eq!(r.is_ok(), ok, "{n}");
            if let Ok(c) = r {
                let last = c.layers.last().map(|l| l.raw.clone());
                assert_eq!(last, Some(PathBuf::from(format!("/c/{n}"))));
            }
        }
        // The layers found are numbered after the listed ones.
        let mut m = deep(1);
        let (origin, image, format) = (disk(), canon("/c/0"), ImageFormat::Qcow2);
        let start = ChainStart {
            depth: 3,
            ..ChainStart::top(Path::new("/c/0"), &image, Some(&format), &origin)
        };
        m.files.remove(Path::new("/c/1"));
        let mut diag = Diagnostics::default();
        walk(&mut m, &start, &mut diag).unwrap();
        let w = diag.into_warnings();
        assert!(w[0].to_string().contains("disk vda backing 4"), "{w:?}");
    }

    #[test]
    fn relative_names_resolve_against_the_image_as_opened() {
        // /vm/top is a link to /store/top: QEMU opens `base` next to /vm/top, not next to
        // the file the link points to.
        let mut m = Mem::default();
        m.link("/vm/top", "/store/top")
            .file("/store/top", over("base"))
            .file("/vm/base", over("lib/base2"))
            .file("/store/base", qcow2(None, None))
            .link("/vm/lib", "/store/lib")
            .file("/store/lib/base2", over("./deeper/../b3"))
            .file("/store/lib/b3", qcow2(None, None));
        let (c, w) = walk_top(&mut m, "/vm/top", "qcow2");
        let c = c.unwrap();
        assert!(w.is_empty(), "{w:?}");
        let raws: Vec<&Path> = c.layers.iter().map(|l| l.raw.as_path()).collect();
        assert_eq!(
            raws,
            [
                Path::new("/vm/base"),
                Path::new("/vm/lib/base2"),
                Path::new("/vm/lib/./deeper/../b3"),
            ]
        );
        assert_eq!(
            layers(&c),
            [
                Path::new("/vm/base"),
                Path::new("/store/lib/base2"),
                Path::new("/store/lib/b3")
            ]
        );
    }

    #[test]
    fn a_file_named_only_by_image_bytes_must_be_a_regular_file() {
        for (kind, what) in [
            (Kind::BlockDevice, "a block device"),
            (Kind::Directory, "a directory"),
            (Kind::Other, "a character device, FIFO or socket"),
        ] {
            let mut m = Mem::default();
            m.node("/dev/x", kind).file("/i/top", over("/dev/x"));
            let (r, _) = walk_top(&mut m, "/i/top", "qcow2");
            let Err(Error::Path { path, origin, why }) = r else {
                panic!("{r:?}")
            };
            assert_eq!(
                (path.as_path(), origin.as_str()),
                (Path::new("/dev/x"), "disk vda backing 1")
            );
            assert_eq!(why, format!("is {what}, named by the header of '/i/top': a file named by image bytes must be a regular file (declare a chain on block devices in the XML, with <backingStore type='block'>)"));
            // A data file the header names, too.
            m.file("/i/top", qcow2(None, Some(("/dev/x", true))));
            let (r, _) = walk_top(&mut m, "/i/top", "qcow2");
            assert!(why_of(&r).starts_with(&format!("is {what}")), "{r:?}");
        }
        // A file that does not exist yet is allowed (QEMU would fail to open it).
        let mut m = Mem::default();
        m.file("/i/top", over("gone"));
        let (c, w) = walk_top(&mut m, "/i/top", "qcow2");
        assert_eq!(layers(&c.unwrap()), [Path::new("/i/gone")]);
        assert_eq!(w.len(), 1, "{w:?}");
    }

    #[test]
    fn forged_formats_are_never_parsed_and_nothing_is_probed() {
        // A raw disk whose bytes are a qcow2 header naming the host's keys: never read.
        let mut m = Mem::default();
        m.file("/i/raw", over("/etc/shadow"))
            .file("/etc/shadow", Vec::new());
        let (c, w) = walk_top(&mut m, "/i/raw", "raw");
        assert_eq!(c.unwrap(), Chain::default());
        assert!(w.is_empty(), "{w:?}");
        assert!(m.reads.is_empty());
        // A format whose header is not read: a warning, nothing read.
        let (c, w) = walk_top(&mut m, "/i/raw", "luks");
        assert_eq!(c.unwrap(), Chain::default());
        assert_eq!(w, ["'/i/raw' (from disk vda) is a 'luks' image, whose header is not read; its backing chain is not followed"]);
        assert!(m.reads.is_empty());
        // A header recording its backing file as raw: the backing file gets its rule, and
        // its qcow2-looking bytes are not read.
        m.file("/i/top", qcow2(Some(("/i/raw", Some("raw"))), None));
        let (c, w) = walk_top(&mut m, "/i/top", "qcow2");
        let c = c.unwrap();
        assert_eq!(layers(&c), [Path::new("/i/raw")]);
        assert_eq!(c.layers[0].format, Some(ImageFormat::Raw));
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(m.reads, [(PathBuf::from("/i/top"), ImageFormat::Qcow2)]);
        // No recorded format: the backing file gets its rule but is not probed.
        m.reads.clear();
        m.file("/i/top", qcow2(Some(("/i/raw", None)), None));
        let (c, w) = walk_top(&mut m, "/i/top", "qcow2");
        assert_eq!(c.unwrap().layers[0].format, None);
        assert_eq!(w, ["'/i/raw' (from disk vda backing 1) has no format recorded by the image above it; it is not probed (a guest could forge its header), so its own backing chain is not followed"]);
        assert_eq!(m.reads, [(PathBuf::from("/i/top"), ImageFormat::Qcow2)]);
        // The recorded format is the only one a header is read as: qcow2 bytes recorded as
        // vmdk are refused, not read as what they look like.
        m.reads.clear();
        m.file("/i/top", qcow2(Some(("/i/q", Some("vmdk"))), None))
            .file("/i/q", over("/etc/shadow"));
        let (r, _) = walk_top(&mut m, "/i/top", "qcow2");
        assert_eq!(
            why(r),
            "declared vmdk but is not a vmdk image (wrong magic number)"
        );
        assert_eq!(m.reads[1], (PathBuf::from("/i/q"), ImageFormat::Vmdk));
        // An undeclared top image: nothing read, nothing said (libvirt never probes one).
        m.reads.clear();
        let (origin, image) = (disk(), canon("/i/top"));
        let start = ChainStart::top(Path::new("/i/top"), &image, None, &origin);
        let mut diag = Diagnostics::default();
        assert_eq!(walk(&mut m, &start, &mut diag).unwrap(), Chain::default());
        assert!(diag.is_empty() && m.reads.is_empty());
    }

    #[test]
    fn an_unreadable_header_ends_the_chain_with_a_warning() {
        let mut m = Mem::default();
        m.file("/i/top", over("dir"))
            .node("/i/dir", Kind::Directory);
        // The kind check refuses the directory before any read; a header the filesystem
        // cannot read is a warning naming the file.
        let (r, _) = walk_top(&mut m, "/i/top", "qcow2");
        assert!(why(r).starts_with("is a directory"));
        m.file("/i/top", qcow2(None, None));
        m.files.insert("/i/top".into(), (Kind::Other, Vec::new()));
        let (c, w) = walk_top(&mut m, "/i/top", "qcow2");
        assert_eq!(c.unwrap(), Chain::default());
        assert_eq!(w, ["cannot read the header of '/i/top' (from disk vda): not a regular file; its own rule is kept but the chain ends there"]);
    }

    #[test]
    fn network_names_get_no_file() {
        let mut m = Mem::default();
        m.file("/i/top", over("nbd:unix:/s"));
        let (c, w) = walk_top(&mut m, "/i/top", "qcow2");
        assert_eq!(c.unwrap(), Chain::default());
        assert_eq!(w, ["'/i/top' (from disk vda backing 1) names the non-local 'nbd:unix:/s'; no file rule is needed for it"]);
        // A json: description of a local file is that file.
        m.file("/i/top", over(r#"json:{"file.filename":"/i/b"}"#))
            .file("/i/b", qcow2(None, None));
        let (c, _) = walk_top(&mut m, "/i/top", "qcow2");
        assert_eq!(layers(&c.unwrap()), [Path::new("/i/b")]);
    }

    #[test]
    fn a_header_data_file_only_with_the_incompatible_bit_and_an_absolute_name() {
        let mut m = Mem::default();
        m.file("/d/data", Vec::new())
            .file("/i/top", qcow2(None, Some(("/d/data", true))));
        let (c, w) = walk_top(&mut m, "/i/top", "qcow2");
        let want = CompanionFile {
            kind: CompanionKind::DataFile,
            raw: "/d/data".into(),
            path: canon("/d/data"),
        };
        assert_eq!(c.unwrap().top_companions, std::slice::from_ref(&want));
        assert!(w.is_empty(), "{w:?}");
        // The bit clear: QEMU ignores the extension, and so does the walk.
        m.file("/i/top", qcow2(None, Some(("/d/data", false))));
        let (c, w) = walk_top(&mut m, "/i/top", "qcow2");
        assert_eq!(c.unwrap(), Chain::default());
        assert!(w.is_empty(), "{w:?}");
        // A relative name: relative to QEMU's working directory, so no file.
        m.file("/i/top", qcow2(None, Some(("data", true))));
        let (c, w) = walk_top(&mut m, "/i/top", "qcow2");
        assert_eq!(c.unwrap(), Chain::default());
        assert_eq!(w, ["'/i/top' (from disk vda data file) names the data file 'data', not an absolute path: QEMU opens it relative to its own working directory, so no rule is written for it (declare the data file with <dataStore>)"]);
        // A backing layer's data file is the layer's.
        m.file("/i/top", over("mid"))
            .file("/i/mid", qcow2(None, Some(("/d/data", true))));
        let (c, _) = walk_top(&mut m, "/i/top", "qcow2");
        let c = c.unwrap();
        assert!(c.top_companions.is_empty());
        assert_eq!(c.layers[0].companions, [want]);
    }

    /// What [`grants`] gives for the chain below `/i/top` (which names the data file
    /// `/d/top`, over `mid`, which names `/d/mid`), as `(path, origin)`, and its warnings.
    fn granted(opened: Opened, declared_data: bool) -> (Vec<(String, String)>, Vec<String>) {
        let mut m = Mem::default();
        m.file("/d/top", Vec::new())
            .file("/d/mid", Vec::new())
            .file(
                "/i/top",
                qcow2(Some(("mid", Some("qcow2"))), Some(("/d/top", true))),
            )
            .file("/i/mid", qcow2(None, Some(("/d/mid", true))));
        let (origin, image) = (disk(), canon("/i/top"));
        let start = ChainStart::top(
            Path::new("/i/top"),
            &image,
            Some(&ImageFormat::Qcow2),
            &origin,
        );
        let mut diag = Diagnostics::default();
        let chain = walk(&mut m, &start, &mut diag).unwrap();
        assert!(diag.is_empty());
        let g = grants(chain, &start, opened, declared_data, &mut diag)
            .into_iter()
            .map(|g| {
                assert_eq!(g.raw, g.path.as_path());
                (g.path.to_string(), g.origin.to_string())
            })
            .collect();
        (
            g,
            diag.into_warnings().iter().map(|w| w.to_string()).collect(),
        )
    }

    #[test]
    fn header_files_are_read_only_and_a_writable_images_own_get_nothing() {
        let s = |p: &str, o: &str| (p.to_string(), o.to_string());
        let below = [
            s("/i/mid", "disk vda backing 1"),
            s("/d/mid", "disk vda backing 1 data file"),
        ];
        // A read-only disk: its data file read-only, like the layers below it.
        let (g, w) = granted(Opened::ReadOnly, false);
        let mut all = vec![s("/d/top", "disk vda data file")];
        all.extend(below.clone());
        assert_eq!((g, w.len()), (all, 0));
        // A writable disk: no rule from image bytes for what QEMU opens read-write with it.
        let (g, w) = granted(Opened::Writable, false);
        assert_eq!(g, below);
        assert_eq!(w, ["disk vda data file: '/d/top' is named by the image, not by the XML, so it gets no rule (QEMU opens it read-write with the disk, and a grant never comes from image bytes for a writable disk); declare it with <dataStore> in the disk's <source>"]);
        // The XML declares the data file: QEMU never opens the header's name.
        for opened in [Opened::ReadOnly, Opened::Writable] {
            assert_eq!(granted(opened, true), (below.to_vec(), vec![]));
        }
        // A layer the admin manages: its own files are the admin's, the layers below not.
        assert_eq!(granted(Opened::Managed, false), (below.to_vec(), vec![]));
    }

    #[test]
    fn a_writable_images_extent_gets_advice_of_its_own() {
        let c = Chain {
            top_companions: vec![CompanionFile {
                kind: CompanionKind::Extent,
                raw: "/i/e".into(),
                path: canon("/i/e"),
            }],
            layers: vec![],
        };
        let (origin, lo, image) = (disk(), disk().with("backing 2"), canon("/i/d"));
        let start = ChainStart {
            origin: &lo,
            depth: 2,
            ..ChainStart::top(Path::new("/i/d"), &image, None, &origin)
        };
        let mut diag = Diagnostics::default();
        assert!(grants(c.clone(), &start, Opened::Writable, true, &mut diag).is_empty());
        let w = diag.into_warnings();
        assert!(
            w[0].to_string()
                .starts_with("disk vda backing 2 extent: '/i/e' is named"),
            "{w:?}"
        );
        assert!(w[0]
            .to_string()
            .ends_with("convert the image (docs/operating.md: VMDK descriptors)"));
        let g = grants(
            c,
            &start,
            Opened::ReadOnly,
            true,
            &mut Diagnostics::default(),
        );
        assert_eq!(g[0].origin.to_string(), "disk vda backing 2 extent");
    }

    proptest! {
        /// On any graph of images, each naming another or none and recording `qcow2`, `raw`
        /// or no format for it: the walk reads exactly the headers a declared format allows
        /// (a raw image's qcow2 bytes never), lists the images it passes, fails exactly
        /// when one comes back, and warns exactly where a recorded format is missing.
        #[test]
        fn walks_read_only_declared_formats_and_stop_at_loops(
            edges in prop::collection::vec((prop::option::of(0usize..8), 0usize..3), 1..8)
        ) {
            let n = edges.len();
            let fmts = [Some("qcow2"), Some("raw"), None];
            let mut m = Mem::default();
            for (i, (next, fmt)) in edges.iter().enumerate() {
                let name = next.map(|j| (j % n).to_string());
                let backing = name.as_deref().map(|b| (b, fmts[*fmt]));
                m.file(&format!("/g/{i}"), qcow2(backing, None));
            }
            // The model: follow the edges from image 0, declared qcow2.
            let (mut cur, mut fmt, mut seen) = (0, Some("qcow2"), vec![0]);
            let (mut reads, mut warned, mut looped) = (Vec::new(), false, false);
            loop {
                match fmt {
                    None => { warned = seen.len() > 1; break }
                    Some("raw") => break,
                    _ => {}
                }
                reads.push((PathBuf::from(format!("/g/{cur}")), ImageFormat::Qcow2));
                let (next, f) = edges[cur];
                let Some(j) = next.map(|j| j % n) else { break };
                if seen.contains(&j) { looped = true; break }
                seen.push(j);
                (cur, fmt) = (j, fmts[f]);
            }
            let (r, w) = walk_top(&mut m, "/g/0", "qcow2");
            prop_assert_eq!(&m.reads, &reads);
            match r {
                Ok(c) => {
                    prop_assert!(!looped);
                    let want: Vec<PathBuf> = seen[1..].iter().map(|j| format!("/g/{j}").into()).collect();
                    let got: Vec<PathBuf> = c.layers.iter().map(|l| l.path.as_path().to_path_buf()).collect();
                    prop_assert_eq!(got, want);
                    prop_assert_eq!(w.len(), usize::from(warned));
                }
                Err(e) => {
                    prop_assert!(looped, "{}", e);
                    prop_assert!(why(Err(e)).starts_with("backing chain loop: '/g/0' -> "));
                }
            }
        }

        /// A raw image is never read, whatever its bytes; a declared format is the only one
        /// a header is read as.
        #[test]
        fn a_declared_format_is_the_only_one_read(
            bytes in prop::collection::vec(any::<u8>(), 0..256),
            fmt in prop::sample::select(vec!["raw", "qcow", "qcow2", "qed", "vmdk", "luks", "QCOW2"]),
        ) {
            let mut m = Mem::default();
            m.file("/i/x", bytes);
            let _ = walk_top(&mut m, "/i/x", fmt);
            let f = ImageFormat::parse(fmt);
            let want = if f.is_readable() { vec![(PathBuf::from("/i/x"), f)] } else { vec![] };
            prop_assert_eq!(m.reads, want);
        }
    }

    #[test]
    fn protocol_names_are_not_files() {
        for n in [
            "nbd:unix:/s",
            "gluster://h/v/i",
            "rbd:pool/img",
            "rbd:pool",
            "nbd:localhost:10809",
            "http://h/x",
            r#"json:{"driver":"nbd","server":{}}"#,
            "json:not json",
        ] {
            assert_eq!(classify(n), Name::Network, "{n}");
        }
        for n in ["/a:b/c", "base.qcow2", "../x:y", "/abs", "b/c:d", ""] {
            assert_eq!(classify(n), Name::Local(n.into()), "{n}");
        }
    }

    #[test]
    fn json_pseudo_paths_with_a_local_file() {
        for n in [
            r#"json:{"file.filename":"/img/a.qcow2"}"#,
            r#"json:{"file.driver":"file","file.filename":"/img/a.qcow2"}"#,
            r#"json:{"driver":"qcow2","file":{"driver":"file","filename":"/img/a.qcow2"}}"#,
            r#"json:{"driver":"file","filename":"/img/a.qcow2"}"#,
        ] {
            assert_eq!(classify(n), Name::Local("/img/a.qcow2".into()), "{n}");
        }
        assert_eq!(
            classify(r#"json:{"file.driver":"nbd","file.filename":"/x"}"#),
            Name::Network
        );
    }
}
