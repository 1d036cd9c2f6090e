//! Image header readers: pure functions over the first bytes of an image.
//!
//! A header is untrusted input: an overlay's header names files on the host, and a guest
//! writes the data of the image it runs on. The readers never trust a length or offset
//! field: every range is checked against the bytes actually read ([`HEADER_READ`] at most),
//! and names are capped at [`MAX_NAME`] bytes like QEMU does (`docs/interop/qcow2.txt`).
//!
//! Only a format declared by the XML or recorded by the parent image is read (see
//! [`crate::resolve`]); nothing here guesses a format from the bytes. [`read`] takes the
//! declared format and fails if the magic number does not match it.
//!
//! What each reader reports (format specifications: QEMU's `docs/interop/qcow2.txt`,
//! `docs/interop/qed_spec.txt`, VMware's "Virtual Disk Format 1.1"; libvirt's readers are
//! in `src/storage_file/storage_file_probe.c`):
//!
//! | format | backing name | backing format | companions |
//! |---|---|---|---|
//! | qcow (v1) | offset u64 BE @8, size u32 BE @16 | never recorded | - |
//! | qcow2 (v2, v3) | as qcow | extension `0xE2792ACA` | external data file, extension `0x44415441`, only if incompatible feature bit 2 is set (v3) |
//! | QED | offset u32 LE @56, size u32 LE @60, if feature bit 0 | `raw` if feature bit 2, else not recorded | - |
//! | VMDK | `parentFileNameHint="..."` in the descriptor | always VMDK (QEMU opens the parent as VMDK) | `RW` extent files of a descriptor file |
//!
//! Companions are reported only where QEMU itself opens them (image
//! content never widens a profile; OpenStack CVE-2022-47951 and CVE-2024-32498 are this
//! attack). QEMU's `qcow2_do_open` opens the data file a header names only when the
//! external-data-file incompatible bit is set, and a version 2 header has no feature
//! fields (they read as zero), so its extension is ignored. QEMU's `vmdk_open` parses extent
//! lines only in a descriptor file (`vmdk_open_desc_file`): the descriptor embedded in a
//! sparse extent (`KDMV`) is read for the parent hint and CIDs only, unless its capacity is
//! zero, in which case `vmdk_open_vmdk4` opens it as a descriptor file. What the rules
//! stage grants them is decided there: at most read-only (see [`crate::rules`]).

/// How many bytes of an image are read at most.
pub const HEADER_READ: usize = 64 * 1024;

/// How many bytes are read first: the fixed headers of every format read here and the
/// extension area and backing name `qemu-img` writes (in the first cluster, right after the
/// header) fit. [`read_start`] says when a header needs more (a name further in).
pub const FIRST_READ: usize = 4096;

/// Longest name accepted from a header (qcow2 spec: "must not be longer than 1023 bytes").
pub const MAX_NAME: usize = 1023;

/// An image format, as the XML declares it (`<driver type=...>`, `<format type=...>`) or a
/// parent's header records it. Parsed once, where the name is read: nothing downstream
/// compares format names as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    /// `raw`: no header, whatever its bytes look like (the guest writes them).
    Raw,
    /// `qcow` (version 1).
    Qcow,
    /// `qcow2`.
    Qcow2,
    /// `qed`.
    Qed,
    /// `vmdk`.
    Vmdk,
    /// Any other name (`luks`, `vpc`, `iso`, a misspelling...), kept as written for the
    /// messages that name it. Its header is never read.
    Other(String),
}

impl ImageFormat {
    /// The format a name declares. Case matters, as it does to libvirt and QEMU: `QCOW2`
    /// is another name, whose header is not read.
    pub fn parse(name: &str) -> Self {
        match name {
            "raw" => ImageFormat::Raw,
            "qcow" => ImageFormat::Qcow,
            "qcow2" => ImageFormat::Qcow2,
            "qed" => ImageFormat::Qed,
            "vmdk" => ImageFormat::Vmdk,
            other => ImageFormat::Other(other.to_string()),
        }
    }

    /// The name, as declared.
    pub fn name(&self) -> &str {
        match self {
            ImageFormat::Raw => "raw",
            ImageFormat::Qcow => "qcow",
            ImageFormat::Qcow2 => "qcow2",
            ImageFormat::Qed => "qed",
            ImageFormat::Vmdk => "vmdk",
            ImageFormat::Other(name) => name,
        }
    }

    /// Whether a header of this format is read: one that can name a backing file or
    /// companion, and that [`read`] knows.
    pub fn is_readable(&self) -> bool {
        matches!(
            self,
            ImageFormat::Qcow | ImageFormat::Qcow2 | ImageFormat::Qed | ImageFormat::Vmdk
        )
    }
}

impl From<&str> for ImageFormat {
    fn from(name: &str) -> Self {
        ImageFormat::parse(name)
    }
}

impl std::fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a header says about the files an image needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageInfo {
    /// The image below this one, if any.
    pub backing: Option<BackingRef>,
    /// Other files QEMU opens for this image (qcow2 external data file, VMDK extents),
    /// as named in the header (relative names are relative to the image), only those
    /// QEMU really opens.
    pub companions: Vec<Companion>,
}

/// The backing file named by a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackingRef {
    /// The name exactly as stored (relative names are relative to the image).
    pub name: String,
    /// The backing format recorded in the header, if any.
    pub format: Option<ImageFormat>,
}

/// A file an image uses besides its backing file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Companion {
    /// The name as stored.
    pub name: String,
    /// What it is.
    pub kind: CompanionKind,
}

/// The kinds of [`Companion`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompanionKind {
    /// A qcow2 external data file (the XML can declare it with `<dataStore>`).
    DataFile,
    /// A VMDK extent named by a descriptor file.
    Extent,
}

impl CompanionKind {
    /// For messages and provenance.
    pub fn what(self) -> &'static str {
        match self {
            CompanionKind::DataFile => "data file",
            CompanionKind::Extent => "extent",
        }
    }
}

/// Why a header cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// The magic number is not the declared format's.
    BadMagic(&'static str),
    /// A version this reader does not know.
    Version(&'static str, u64),
    /// A field points outside the bytes read or exceeds a limit.
    Corrupt(&'static str),
    /// Only from [`read_start`]: the answer needs the first `n` bytes of the file, more than
    /// were given (and at most [`HEADER_READ`]).
    Short(usize),
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderError::BadMagic(fmt) => write!(f, "is not a {fmt} image (wrong magic number)"),
            HeaderError::Version(fmt, v) => write!(f, "has an unsupported {fmt} version {v}"),
            HeaderError::Corrupt(why) => write!(f, "has a corrupt header: {why}"),
            HeaderError::Short(n) => write!(f, "needs the first {n} bytes of its header"),
        }
    }
}

/// Reads the header of an image of the declared `format`: `h` is all there is of it (the
/// whole file, or its first [`HEADER_READ`] bytes). `Ok(None)` for formats that have no
/// backing file or companions to read (raw and every format not
/// [`ImageFormat::is_readable`]).
pub fn read(format: &ImageFormat, h: &[u8]) -> Result<Option<ImageInfo>, HeaderError> {
    read_hdr(format, Hdr { b: h, more: false })
}

/// Like [`read`], but `h` is only the start of a file that goes on: where the answer depends
/// on bytes past `h` (within [`HEADER_READ`]), `Err(HeaderError::Short(n))` asks for the
/// first `n` bytes instead of guessing. Any other answer is the one [`read`] gives on the
/// file's first [`HEADER_READ`] bytes, so a caller reads [`FIRST_READ`] bytes and reads on
/// only when told to.
pub fn read_start(format: &ImageFormat, h: &[u8]) -> Result<Option<ImageInfo>, HeaderError> {
    read_hdr(format, Hdr { b: h, more: true })
}

fn read_hdr(format: &ImageFormat, h: Hdr<'_>) -> Result<Option<ImageInfo>, HeaderError> {
    let mut info = match format {
        ImageFormat::Qcow => qcow1(h)?,
        ImageFormat::Qcow2 => qcow2(h)?,
        ImageFormat::Qed => qed(h)?,
        ImageFormat::Vmdk => vmdk(h)?,
        ImageFormat::Raw | ImageFormat::Other(_) => return Ok(None),
    };
    // An empty name is no backing file for QEMU (`bdrv_open_backing_file`); as a path it
    // would name the image's own directory.
    info.backing = info.backing.filter(|b| !b.name.is_empty());
    Ok(Some(info))
}

/// The bytes of a header that were read, and whether the file may go on past them.
#[derive(Clone, Copy)]
struct Hdr<'a> {
    b: &'a [u8],
    /// [`read_start`]: bytes past `b` exist and may be asked for.
    more: bool,
}

impl<'a> Hdr<'a> {
    /// `Short(end)` when the first `end` bytes would answer and may still be read: the file
    /// goes on, `end` lies past the bytes given and within [`HEADER_READ`]. Past
    /// [`HEADER_READ`] nothing is ever read, so the caller gives its own answer.
    fn short(self, end: usize) -> Option<HeaderError> {
        (self.more && end > self.b.len() && end <= HEADER_READ).then_some(HeaderError::Short(end))
    }

    /// `b[start..end]` (`start <= end`), else `Short(end)` or `err`.
    fn range(self, start: usize, end: usize, err: HeaderError) -> Result<&'a [u8], HeaderError> {
        self.b
            .get(start..end)
            .ok_or_else(|| self.short(end).unwrap_or(err))
    }

    fn starts_with(self, magic: &[u8]) -> Result<bool, HeaderError> {
        match self.short(magic.len()) {
            Some(e) => Err(e),
            None => Ok(self.b.starts_with(magic)),
        }
    }

    /// The C string at `start`, at most `max` bytes: up to the first NUL, or to the end of
    /// the bytes read (`None` if `start` lies past them). `Short` when the string may go on
    /// past the bytes given.
    fn c_str_at(self, start: usize, max: usize) -> Result<Option<&'a [u8]>, HeaderError> {
        let window_end = start.saturating_add(max);
        let got = self.b.get(start..window_end.min(self.b.len()));
        if let Some(s) = got {
            if let Some(nul) = s.iter().position(|&c| c == 0) {
                return Ok(Some(&s[..nul]));
            }
        }
        match self.short(window_end.min(HEADER_READ)) {
            Some(e) => Err(e),
            None => Ok(got),
        }
    }
}

/// The `N` bytes at `at`.
fn field<const N: usize>(h: Hdr<'_>, at: usize) -> Result<[u8; N], HeaderError> {
    let s = h.range(at, at + N, HeaderError::Corrupt("truncated header"))?;
    let mut a = [0u8; N];
    a.copy_from_slice(s);
    Ok(a)
}

fn be32(h: Hdr<'_>, at: usize) -> Result<u32, HeaderError> {
    field(h, at).map(u32::from_be_bytes)
}

fn be64(h: Hdr<'_>, at: usize) -> Result<u64, HeaderError> {
    field(h, at).map(u64::from_be_bytes)
}

fn le32(h: Hdr<'_>, at: usize) -> Result<u32, HeaderError> {
    field(h, at).map(u32::from_le_bytes)
}

fn le64(h: Hdr<'_>, at: usize) -> Result<u64, HeaderError> {
    field(h, at).map(u64::from_le_bytes)
}

/// The `size` bytes at `offset`, checked against the buffer and [`MAX_NAME`], as a name.
fn name_at(h: Hdr<'_>, offset: u64, size: u64, what: &'static str) -> Result<String, HeaderError> {
    if size > MAX_NAME as u64 {
        return Err(HeaderError::Corrupt(what));
    }
    let start = usize::try_from(offset).map_err(|_| HeaderError::Corrupt(what))?;
    let end = start
        .checked_add(size as usize)
        .ok_or(HeaderError::Corrupt(what))?;
    text(h.range(start, end, HeaderError::Corrupt(what))?, what)
}

/// A name from a header: UTF-8, no NUL (a NUL would end the name for QEMU, which reads C
/// strings, while the rule would name the longer string).
fn text(bytes: &[u8], what: &'static str) -> Result<String, HeaderError> {
    let s = std::str::from_utf8(bytes).map_err(|_| HeaderError::Corrupt(what))?;
    if s.contains('\0') {
        return Err(HeaderError::Corrupt(what));
    }
    Ok(s.to_string())
}

const QCOW_MAGIC: &[u8] = b"QFI\xfb";
/// qcow2 header extension: backing file format name.
const EXT_BACKING_FORMAT: u32 = 0xE279_2ACA;
/// qcow2 header extension: external data file name.
const EXT_DATA_FILE: u32 = 0x4441_5441;
/// qcow2 header extension list terminator.
const EXT_END: u32 = 0;
/// qcow2 incompatible feature bit 2: the image uses an external data file.
const QCOW2_INCOMPAT_DATA_FILE: u64 = 1 << 2;
/// Length of a qcow2 version 2 header; extensions follow it.
const QCOW2_V2_HEADER: usize = 72;
/// Shortest qcow2 version 3 header (QEMU: "qcow2 header too short").
const QCOW2_V3_HEADER: usize = 104;

fn qcow_backing_name(h: Hdr<'_>) -> Result<Option<(u64, String)>, HeaderError> {
    let offset = be64(h, 8)?;
    let size = be32(h, 16)? as u64;
    if offset == 0 || size == 0 {
        return Ok(None);
    }
    let name = name_at(
        h,
        offset,
        size,
        "backing file name out of bounds or too long",
    )?;
    Ok(Some((offset, name)))
}

fn qcow1(h: Hdr<'_>) -> Result<ImageInfo, HeaderError> {
    if !h.starts_with(QCOW_MAGIC)? {
        return Err(HeaderError::BadMagic("qcow"));
    }
    match be32(h, 4)? {
        1 => {}
        v => return Err(HeaderError::Version("qcow", v.into())),
    }
    Ok(ImageInfo {
        backing: qcow_backing_name(h)?.map(|(_, name)| BackingRef { name, format: None }),
        companions: Vec::new(),
    })
}

fn qcow2(h: Hdr<'_>) -> Result<ImageInfo, HeaderError> {
    if !h.starts_with(QCOW_MAGIC)? {
        return Err(HeaderError::BadMagic("qcow2"));
    }
    // Version 2 has no feature fields: QEMU's qcow2_do_open reads them as zero, so a v2
    // image never has an external data file. Version 3 stores its header length at 100
    // and QEMU refuses one shorter than the 104 bytes of the v3 fields.
    let (header_len, incompatible) = match be32(h, 4)? {
        2 => (QCOW2_V2_HEADER, 0),
        3 => match be32(h, 100)? as usize {
            len if len < QCOW2_V3_HEADER => {
                return Err(HeaderError::Corrupt("header length below 104"))
            }
            len => (len, be64(h, 72)?),
        },
        v => return Err(HeaderError::Version("qcow2", v.into())),
    };
    let backing = qcow_backing_name(h)?;
    // Extensions follow the header and end before the backing file name, if any, else at
    // the end of the bytes read.
    let until = backing.as_ref().map_or(usize::MAX, |(o, _)| {
        usize::try_from(*o).unwrap_or(usize::MAX)
    });
    let mut format = None;
    let mut data_file = None;
    for (kind, data) in extensions(h, header_len, until)? {
        match kind {
            EXT_BACKING_FORMAT => {
                let name = text(trim_nul(data), "backing format is not text")?;
                format = Some(ImageFormat::parse(&name));
            }
            // Several extensions: QEMU keeps the last one read.
            EXT_DATA_FILE => data_file = Some(data),
            _ => {}
        }
    }
    let mut companions = Vec::new();
    if let Some(data) = data_file.filter(|_| incompatible & QCOW2_INCOMPAT_DATA_FILE != 0) {
        let name = text(trim_nul(data), "data file name is not text")?;
        if name.len() > MAX_NAME {
            return Err(HeaderError::Corrupt("data file name too long"));
        }
        companions.push(Companion {
            name,
            kind: CompanionKind::DataFile,
        });
    }
    Ok(ImageInfo {
        backing: backing.map(|(_, name)| BackingRef { name, format }),
        companions,
    })
}

fn trim_nul(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
    &b[..end]
}

/// The qcow2 extensions in `[from, until)` and the bytes read: `(type, data)` pairs.
fn extensions<'a>(
    h: Hdr<'a>,
    from: usize,
    until: usize,
) -> Result<Vec<(u32, &'a [u8])>, HeaderError> {
    let mut out = Vec::new();
    let mut at = from;
    while let Some(head_end) = at.checked_add(8).filter(|e| *e <= until) {
        // An extension header cut by the end of the bytes read is not read (the list ends
        // there), unless more may be read.
        if head_end > h.b.len() {
            match h.short(head_end) {
                Some(e) => return Err(e),
                None => break,
            }
        }
        let kind = be32(h, at)?;
        let len = be32(h, at + 4)? as usize;
        if kind == EXT_END {
            break;
        }
        let data_start = head_end;
        const PAST: HeaderError = HeaderError::Corrupt("extension runs past the header");
        let data_end = data_start
            .checked_add(len)
            .filter(|e| *e <= until)
            .ok_or(PAST)?;
        let data = h.range(data_start, data_end, PAST)?;
        out.push((kind, data));
        // Extension data is padded to a multiple of 8 bytes.
        at = data_start
            .checked_add(len.div_ceil(8) * 8)
            .ok_or(HeaderError::Corrupt("extension length"))?;
    }
    Ok(out)
}

const QED_MAGIC: &[u8] = b"QED\0";
const QED_F_BACKING_FILE: u64 = 0x01;
const QED_F_BACKING_FORMAT_NO_PROBE: u64 = 0x04;

fn qed(h: Hdr<'_>) -> Result<ImageInfo, HeaderError> {
    if !h.starts_with(QED_MAGIC)? {
        return Err(HeaderError::BadMagic("qed"));
    }
    let features = le64(h, 16)?;
    if features & QED_F_BACKING_FILE == 0 {
        return Ok(ImageInfo::default());
    }
    let offset = le32(h, 56)? as u64;
    let size = le32(h, 60)? as u64;
    let name = name_at(
        h,
        offset,
        size,
        "backing file name out of bounds or too long",
    )?;
    // QED records no format; the "no probe" flag says the backing file is raw.
    let format = (features & QED_F_BACKING_FORMAT_NO_PROBE != 0).then_some(ImageFormat::Raw);
    Ok(ImageInfo {
        backing: Some(BackingRef { name, format }),
        companions: Vec::new(),
    })
}

/// A VMDK4 sparse extent (monolithicSparse, streamOptimized...).
const VMDK4_MAGIC: &[u8] = b"KDMV";
/// A VMDK3 (ESX "COWD") sparse extent.
const VMDK3_MAGIC: &[u8] = b"COWD";
const VMDK_DESCRIPTOR_TEXT: &[u8] = b"# Disk DescriptorFile";
/// Where QEMU reads a sparse extent's parent hint (`vmdk_open`: `s->desc_offset = 0x200`),
/// whatever the header's descriptor offset says.
const VMDK_SPARSE_DESC: usize = 0x200;
/// How much of the descriptor QEMU's `vmdk_parent_open` searches (`DESC_SIZE`).
const VMDK_DESC_SIZE: usize = 20 * 512;
/// The longest extent name QEMU's `vmdk_parse_extents` reads (`%511[^\n\r"]`).
const VMDK_EXTENT_NAME: usize = 511;
/// The descriptor types QEMU's `vmdk_open_desc_file` opens.
const VMDK_DESC_TYPES: [&str; 6] = [
    "monolithicFlat",
    "vmfs",
    "vmfsSparse",
    "seSparse",
    "twoGbMaxExtentSparse",
    "twoGbMaxExtentFlat",
];
/// The extent types QEMU opens a file for (`ZERO` has none).
const VMDK_EXTENT_TYPES: [&[u8]; 5] = [b"FLAT", b"SPARSE", b"VMFS", b"VMFSSPARSE", b"SESPARSE"];

fn vmdk(h: Hdr<'_>) -> Result<ImageInfo, HeaderError> {
    // (where the parent hint is read, the descriptor whose extents QEMU opens, up to its
    // first NUL: QEMU reads descriptors as C strings)
    let (hint_at, extents_from): (usize, Option<&[u8]>) = if h.starts_with(VMDK4_MAGIC)? {
        // VMDK4 header after the magic: version u32 @4, capacity u64 @12, descriptor
        // offset in sectors u64 @28 (all LE). vmdk_open_vmdk4 opens the embedded
        // descriptor as a descriptor file (extents included) only for a zero capacity;
        // it checks the version after that.
        let capacity = le64(h, 12)?;
        let desc_sector = le64(h, 28)?;
        if capacity == 0 && desc_sector != 0 {
            let start = desc_sector
                .checked_mul(512)
                .and_then(|s| usize::try_from(s).ok())
                .ok_or(HeaderError::Corrupt("descriptor offset"))?;
            let desc = h
                .c_str_at(start, usize::MAX)?
                .ok_or(HeaderError::Corrupt("descriptor outside the bytes read"))?;
            (VMDK_SPARSE_DESC, Some(desc))
        } else {
            let version = le32(h, 4)?;
            if version > 3 {
                return Err(HeaderError::Version("vmdk", version.into()));
            }
            (VMDK_SPARSE_DESC, None)
        }
    } else if h.starts_with(VMDK3_MAGIC)? {
        (VMDK_SPARSE_DESC, None)
    } else if h.starts_with(VMDK_DESCRIPTOR_TEXT)? {
        // A separate (text) descriptor file.
        (0, h.c_str_at(0, usize::MAX)?)
    } else {
        return Err(HeaderError::BadMagic("vmdk"));
    };
    let mut info = ImageInfo::default();
    if let Some(desc) = extents_from {
        match c_value(desc, b"createType") {
            Some(Ok(t)) if VMDK_DESC_TYPES.iter().any(|k| k.as_bytes() == t) => {}
            _ => {
                return Err(HeaderError::Corrupt(
                    "descriptor without a createType QEMU opens",
                ))
            }
        }
        info.companions = extents(desc)?;
    }
    let hint_area = h.c_str_at(hint_at, VMDK_DESC_SIZE)?.unwrap_or_default();
    if let Some(name) = c_value(hint_area, b"parentFileNameHint") {
        let name = name.map_err(|_| HeaderError::Corrupt("parentFileNameHint is not quoted"))?;
        if name.len() > MAX_NAME {
            return Err(HeaderError::Corrupt("parentFileNameHint too long"));
        }
        info.backing = Some(BackingRef {
            name: text(name, "parentFileNameHint is not text")?,
            format: Some(ImageFormat::Vmdk),
        });
    }
    Ok(info)
}

/// A descriptor value as QEMU's `vmdk_parse_description` and `vmdk_parent_open` find it:
/// the first occurrence of `key` anywhere, two bytes skipped (`="`), up to the next `"`.
/// `None` without the key, `Some(Err(()))` without the closing quote (QEMU fails).
fn c_value<'a>(desc: &'a [u8], key: &[u8]) -> Option<Result<&'a [u8], ()>> {
    let at = desc.windows(key.len()).position(|w| w == key)?;
    let rest = desc.get(at + key.len() + 2..).unwrap_or_default();
    Some(match rest.iter().position(|&c| c == b'"') {
        Some(end) => Ok(&rest[..end]),
        None => Err(()),
    })
}

/// The extent files QEMU's `vmdk_parse_extents` opens: on every line,
/// `sscanf(line, "%10s %" SCNd64 " %10s \"%511[^\n\r\"]\" %" SCNd64, ...)`; only `RW`
/// extents of a type with a file and a positive size are opened (`RDONLY` and `NOACCESS`
/// lines are skipped). A line QEMU calls invalid makes the image fail to open: an error.
fn extents(desc: &[u8]) -> Result<Vec<Companion>, HeaderError> {
    let mut out = Vec::new();
    // QEMU scans from each line start; scanning from the newline before it is the same,
    // as the scan begins by skipping white space.
    let starts = std::iter::once(0).chain(
        desc.iter()
            .enumerate()
            .filter(|(_, &c)| c == b'\n')
            .map(|(i, _)| i),
    );
    for start in starts {
        let Some(e) = Extent::scan(&desc[start..]) else {
            continue;
        };
        if e.access != b"RW" {
            continue;
        }
        let valid = match e.kind {
            b"FLAT" => e.offset.is_some_and(|o| o >= 0),
            _ => e.offset.is_none(),
        };
        if !valid {
            return Err(HeaderError::Corrupt("invalid extent line"));
        }
        if e.sectors <= 0 || !VMDK_EXTENT_TYPES.contains(&e.kind) {
            continue;
        }
        out.push(Companion {
            name: text(e.name, "extent file name is not text")?,
            kind: CompanionKind::Extent,
        });
    }
    Ok(out)
}

/// One extent line as `sscanf` converts it, when it converts at least four fields.
struct Extent<'a> {
    access: &'a [u8],
    sectors: i64,
    kind: &'a [u8],
    name: &'a [u8],
    offset: Option<i64>,
}

impl<'a> Extent<'a> {
    fn scan(s: &'a [u8]) -> Option<Self> {
        let mut c = Cursor { s, at: 0 };
        let access = c.word(10)?;
        let sectors = c.int()?;
        let kind = c.word(10)?;
        c.space();
        if !c.lit(b'"') {
            return None;
        }
        let name = c.take_while(VMDK_EXTENT_NAME, |b| !matches!(b, b'\n' | b'\r' | b'"'))?;
        let offset = if c.lit(b'"') { c.int() } else { None };
        Some(Extent {
            access,
            sectors,
            kind,
            name,
            offset,
        })
    }
}

/// C `isspace`.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// A `sscanf` cursor over a C string.
struct Cursor<'a> {
    s: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// White space, as a space in a `sscanf` format.
    fn space(&mut self) {
        while self.s.get(self.at).is_some_and(|&b| is_c_space(b)) {
            self.at += 1;
        }
    }

    fn lit(&mut self, want: u8) -> bool {
        let hit = self.s.get(self.at) == Some(&want);
        self.at += usize::from(hit);
        hit
    }

    /// At least one and at most `max` bytes matching `ok`.
    fn take_while(&mut self, max: usize, ok: impl Fn(u8) -> bool) -> Option<&'a [u8]> {
        let start = self.at;
        while self.at - start < max && self.s.get(self.at).is_some_and(|&b| ok(b)) {
            self.at += 1;
        }
        (self.at > start).then(|| &self.s[start..self.at])
    }

    /// `%Ns`.
    fn word(&mut self, max: usize) -> Option<&'a [u8]> {
        self.space();
        self.take_while(max, |b| !is_c_space(b))
    }

    /// `%lld`: optional sign, decimal digits; out of range saturates like `strtoll`.
    fn int(&mut self) -> Option<i64> {
        self.space();
        let negative = if self.lit(b'-') {
            true
        } else {
            self.lit(b'+');
            false
        };
        let digits = self.take_while(usize::MAX, |b| b.is_ascii_digit())?;
        let magnitude = digits.iter().fold(0i64, |n, &d| {
            n.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
        Some(if negative { -magnitude } else { magnitude })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`super::read`] of the format named `format`, as the XML would declare it.
    fn read(format: &str, h: &[u8]) -> Result<Option<ImageInfo>, HeaderError> {
        super::read(&ImageFormat::parse(format), h)
    }

    /// [`super::read_start`] of the format named `format`.
    fn read_start(format: &str, h: &[u8]) -> Result<Option<ImageInfo>, HeaderError> {
        super::read_start(&ImageFormat::parse(format), h)
    }

    fn put(h: &mut Vec<u8>, at: usize, bytes: &[u8]) {
        if h.len() < at + bytes.len() {
            h.resize(at + bytes.len(), 0);
        }
        h[at..at + bytes.len()].copy_from_slice(bytes);
    }

    /// A qcow2 extension: type, length, data padded to 8 bytes.
    fn ext(kind: u32, data: &[u8]) -> Vec<u8> {
        let mut e = kind.to_be_bytes().to_vec();
        e.extend_from_slice(&(data.len() as u32).to_be_bytes());
        e.extend_from_slice(data);
        e.resize(8 + data.len().div_ceil(8) * 8, 0);
        e
    }

    /// A qcow2 header of `version` (2 or 3) with the incompatible features `incompat`
    /// (v3), the given extensions after the header and an optional backing name at 1024.
    fn qcow2_hdr(version: u32, incompat: u64, exts: &[Vec<u8>], backing: Option<&str>) -> Vec<u8> {
        let mut h = vec![0u8; 4096];
        put(&mut h, 0, QCOW_MAGIC);
        put(&mut h, 4, &version.to_be_bytes());
        let mut at = if version == 3 {
            put(&mut h, 72, &incompat.to_be_bytes());
            put(&mut h, 100, &104u32.to_be_bytes());
            104
        } else {
            72
        };
        for e in exts {
            put(&mut h, at, e);
            at += e.len();
        }
        if let Some(b) = backing {
            put(&mut h, 8, &1024u64.to_be_bytes());
            put(&mut h, 16, &(b.len() as u32).to_be_bytes());
            put(&mut h, 1024, b.as_bytes());
        }
        h
    }

    fn info(format: &str, h: &[u8]) -> ImageInfo {
        read(format, h).unwrap().unwrap()
    }

    fn backing(name: &str, format: Option<&str>) -> Option<BackingRef> {
        Some(BackingRef {
            name: name.into(),
            format: format.map(Into::into),
        })
    }

    fn names(i: &ImageInfo) -> Vec<&str> {
        i.companions.iter().map(|c| c.name.as_str()).collect()
    }

    fn corrupt(format: &str, h: &[u8]) -> bool {
        matches!(read(format, h), Err(HeaderError::Corrupt(_)))
    }

    const DATA_BIT: u64 = QCOW2_INCOMPAT_DATA_FILE;

    #[test]
    fn qcow2_v3_data_file_only_with_the_incompatible_bit() {
        let exts = [
            ext(EXT_BACKING_FORMAT, b"qcow2"),
            ext(EXT_DATA_FILE, b"/d/x.data"),
        ];
        let i = info(
            "qcow2",
            &qcow2_hdr(3, DATA_BIT, &exts, Some("../base.qcow2")),
        );
        assert_eq!(i.backing, backing("../base.qcow2", Some("qcow2")));
        assert_eq!(
            i.companions,
            [Companion {
                name: "/d/x.data".into(),
                kind: CompanionKind::DataFile
            }]
        );
        assert_eq!(i.companions[0].kind.what(), "data file");
        // The bit clear (other bits set): QEMU ignores the extension.
        for incompat in [0, 1, 2, 8, !DATA_BIT] {
            let i = info("qcow2", &qcow2_hdr(3, incompat, &exts, None));
            assert!(i.companions.is_empty(), "{incompat:#x}");
        }
        // Several extensions: the last one, like QEMU.
        let two = [ext(EXT_DATA_FILE, b"/a"), ext(EXT_DATA_FILE, b"/b")];
        assert_eq!(
            names(&info("qcow2", &qcow2_hdr(3, DATA_BIT, &two, None))),
            ["/b"]
        );
        // Length limit and text.
        let long = "/".repeat(MAX_NAME);
        let ok = [ext(EXT_DATA_FILE, long.as_bytes())];
        assert_eq!(
            names(&info("qcow2", &qcow2_hdr(3, DATA_BIT, &ok, None))),
            [&long]
        );
        let long = "/".repeat(MAX_NAME + 1);
        let bad = [ext(EXT_DATA_FILE, long.as_bytes())];
        assert!(corrupt("qcow2", &qcow2_hdr(3, DATA_BIT, &bad, None)));
        let bad = [ext(EXT_DATA_FILE, b"/a\xff")];
        assert!(corrupt("qcow2", &qcow2_hdr(3, DATA_BIT, &bad, None)));
    }

    #[test]
    fn qcow2_v2_has_no_features_and_its_extensions_start_at_72() {
        let exts = [
            ext(EXT_BACKING_FORMAT, b"raw\0\0"),
            ext(EXT_DATA_FILE, b"/d/x.data"),
        ];
        let mut h = qcow2_hdr(2, 0, &exts, Some("/b.raw"));
        // Whatever lies where v3 keeps its feature bits.
        put(&mut h, 72 + 80, &u64::MAX.to_be_bytes());
        let i = info("qcow2", &h);
        assert_eq!(i.backing, backing("/b.raw", Some("raw")));
        assert!(i.companions.is_empty());
    }

    #[test]
    fn qcow2_header_length_and_versions() {
        let mut h = qcow2_hdr(3, 0, &[], Some("/b"));
        put(&mut h, 100, &103u32.to_be_bytes());
        assert!(corrupt("qcow2", &h));
        // A longer header: the extensions start after it.
        let mut h = qcow2_hdr(3, 0, &[], Some("/b"));
        put(&mut h, 100, &112u32.to_be_bytes());
        put(&mut h, 104, &ext(EXT_BACKING_FORMAT, b"vmdk")[..8]);
        put(&mut h, 112, &ext(EXT_BACKING_FORMAT, b"qcow2"));
        assert_eq!(info("qcow2", &h).backing, backing("/b", Some("qcow2")));
        for v in [0u32, 1, 4] {
            let h = qcow2_hdr(v, 0, &[], None);
            assert_eq!(
                read("qcow2", &h),
                Err(HeaderError::Version("qcow2", v.into()))
            );
        }
        assert_eq!(
            read("qcow2", b"RAW DATA"),
            Err(HeaderError::BadMagic("qcow2"))
        );
        // Truncated before the version, the v3 fields, the header length.
        let h = qcow2_hdr(3, 0, &[], None);
        for len in [6, 20, 80, 102] {
            assert!(corrupt("qcow2", &h[..len]), "{len}");
        }
    }

    #[test]
    fn qcow2_extensions() {
        // Padding: a 5-byte extension takes 8 bytes of data.
        let exts = [
            ext(0x1234_5678, b"12345"),
            ext(EXT_BACKING_FORMAT, b"qcow2"),
        ];
        assert_eq!(
            info("qcow2", &qcow2_hdr(3, 0, &exts, Some("/b"))).backing,
            backing("/b", Some("qcow2"))
        );
        // The end marker ends the list.
        let exts = [ext(EXT_END, b""), ext(EXT_BACKING_FORMAT, b"qcow2")];
        assert_eq!(
            info("qcow2", &qcow2_hdr(3, 0, &exts, Some("/b"))).backing,
            backing("/b", None)
        );
        // Trailing NULs are not part of the name; all NULs is an empty one.
        let exts = [ext(EXT_BACKING_FORMAT, b"qcow2\0\0\0")];
        assert_eq!(
            info("qcow2", &qcow2_hdr(3, 0, &exts, Some("/b"))).backing,
            backing("/b", Some("qcow2"))
        );
        let exts = [ext(EXT_BACKING_FORMAT, b"\0\0")];
        assert_eq!(
            info("qcow2", &qcow2_hdr(3, 0, &exts, Some("/b"))).backing,
            backing("/b", Some(""))
        );
        let exts = [ext(EXT_BACKING_FORMAT, b"q\0w")];
        assert!(corrupt("qcow2", &qcow2_hdr(3, 0, &exts, Some("/b"))));
        // Extensions end where the backing name starts: one that runs into it is corrupt,
        // one that ends exactly there is read.
        let mut h = qcow2_hdr(3, 0, &[ext(EXT_BACKING_FORMAT, b"qcow2")], Some("/b"));
        put(&mut h, 8, &112u64.to_be_bytes());
        put(&mut h, 112, b"/b");
        assert!(corrupt("qcow2", &h));
        let mut h = qcow2_hdr(3, 0, &[ext(EXT_BACKING_FORMAT, b"")], Some("/b"));
        put(&mut h, 8, &112u64.to_be_bytes());
        put(&mut h, 112, b"/b");
        assert_eq!(info("qcow2", &h).backing, backing("/b", Some("")));
        // An extension header cut by the end of the area is not read.
        let mut h = qcow2_hdr(3, 0, &[ext(EXT_BACKING_FORMAT, b"")], Some("/b"));
        put(&mut h, 8, &111u64.to_be_bytes());
        put(&mut h, 111, b"/b");
        assert_eq!(info("qcow2", &h).backing, backing("/b", None));
        // Lengths past the bytes read.
        let mut h = qcow2_hdr(3, 0, &[ext(EXT_BACKING_FORMAT, b"qcow2")], None);
        put(&mut h, 108, &u32::MAX.to_be_bytes());
        assert!(corrupt("qcow2", &h));
        let h = qcow2_hdr(3, 0, &[ext(EXT_BACKING_FORMAT, b"qcow2")], None);
        assert!(corrupt("qcow2", &h[..115]));
        // Extensions run to the end of the bytes read without a backing file.
        let mut h = qcow2_hdr(3, 0, &[], None);
        h.truncate(104);
        h.extend_from_slice(&ext(EXT_BACKING_FORMAT, b"qcow2")[..13]);
        assert_eq!(info("qcow2", &h).backing, None);
        assert_eq!(read("qcow2", &h).unwrap().unwrap().companions, []);
    }

    /// A qcow (v1) header with a backing name of `size` bytes at `offset`.
    fn qcow1_hdr(offset: u64, size: u32) -> Vec<u8> {
        let mut h = vec![0u8; 2048];
        put(&mut h, 0, QCOW_MAGIC);
        put(&mut h, 4, &1u32.to_be_bytes());
        put(&mut h, 8, &offset.to_be_bytes());
        put(&mut h, 16, &size.to_be_bytes());
        h
    }

    #[test]
    fn qcow1_backing_name_and_zero_fields() {
        let mut h = qcow1_hdr(48, 6);
        put(&mut h, 48, b"/b.img");
        assert_eq!(info("qcow", &h).backing, backing("/b.img", None));
        assert_eq!(info("qcow", &h).companions, []);
        // A zero offset means no backing file, whatever the size says (offset 0 holds the
        // magic, which is no name); a zero size too.
        assert_eq!(info("qcow", &qcow1_hdr(0, 5)).backing, None);
        assert_eq!(info("qcow", &qcow1_hdr(0, 0)).backing, None);
        assert_eq!(info("qcow", &qcow1_hdr(48, 0)).backing, None);
        let mut h = qcow1_hdr(48, 2);
        put(&mut h, 4, &2u32.to_be_bytes());
        assert_eq!(read("qcow", &h), Err(HeaderError::Version("qcow", 2)));
        assert_eq!(
            read("qcow", b"QED\0...."),
            Err(HeaderError::BadMagic("qcow"))
        );
        assert!(corrupt("qcow", &h[..6]));
        assert!(corrupt("qcow", &qcow1_hdr(48, 2)[..18]));
    }

    #[test]
    fn names_are_capped_and_bounded_by_the_bytes_read() {
        // MAX_NAME bytes accepted, one more refused.
        let mut h = qcow1_hdr(1024, MAX_NAME as u32);
        put(&mut h, 1024, "/".repeat(MAX_NAME).as_bytes());
        assert_eq!(info("qcow", &h).backing.unwrap().name.len(), MAX_NAME);
        put(&mut h, 1024, "/".repeat(MAX_NAME + 1).as_bytes());
        put(&mut h, 16, &(MAX_NAME as u32 + 1).to_be_bytes());
        assert!(corrupt("qcow", &h));
        put(&mut h, 16, &u32::MAX.to_be_bytes());
        assert!(corrupt("qcow", &h));
        // 64 KiB: qcow2's default cluster, where QEMU accepts a backing name.
        assert_eq!(HEADER_READ, 65536);
        // A name ending exactly at HEADER_READ is read; one byte past is refused.
        let mut h = qcow1_hdr((HEADER_READ - 8) as u64, 8);
        h.resize(HEADER_READ, 0);
        put(&mut h, HEADER_READ - 8, b"/end.img");
        assert_eq!(info("qcow", &h).backing, backing("/end.img", None));
        put(&mut h, 8, &((HEADER_READ - 7) as u64).to_be_bytes());
        assert!(corrupt("qcow", &h));
        // Offsets that overflow.
        put(&mut h, 8, &u64::MAX.to_be_bytes());
        assert!(corrupt("qcow", &h));
        // Not UTF-8, or a NUL inside (QEMU would stop at it; the rule would not).
        let mut h = qcow1_hdr(48, 4);
        put(&mut h, 48, b"/a\xffb");
        assert!(corrupt("qcow", &h));
        put(&mut h, 48, b"/a\0b");
        assert!(corrupt("qcow", &h));
        // An empty name is no backing file (QED can say so).
        let mut h = qed_hdr(QED_F_BACKING_FILE, 512, 0);
        put(&mut h, 512, b"x");
        assert_eq!(info("qed", &h).backing, None);
    }

    fn qed_hdr(features: u64, offset: u32, size: u32) -> Vec<u8> {
        let mut h = vec![0u8; 1024];
        put(&mut h, 0, QED_MAGIC);
        put(&mut h, 16, &features.to_le_bytes());
        put(&mut h, 56, &offset.to_le_bytes());
        put(&mut h, 60, &size.to_le_bytes());
        h
    }

    #[test]
    fn qed_backing_and_no_probe_flag() {
        let name = b"base.raw";
        let both = QED_F_BACKING_FILE | QED_F_BACKING_FORMAT_NO_PROBE;
        let mut h = qed_hdr(both, 512, name.len() as u32);
        put(&mut h, 512, name);
        assert_eq!(info("qed", &h).backing, backing("base.raw", Some("raw")));
        put(&mut h, 16, &QED_F_BACKING_FILE.to_le_bytes());
        assert_eq!(info("qed", &h).backing, backing("base.raw", None));
        // Other feature bits: no backing file.
        for f in [0u64, 2, QED_F_BACKING_FORMAT_NO_PROBE, !QED_F_BACKING_FILE] {
            put(&mut h, 16, &f.to_le_bytes());
            assert_eq!(info("qed", &h).backing, None, "{f:#x}");
        }
        put(&mut h, 16, &QED_F_BACKING_FILE.to_le_bytes());
        put(&mut h, 56, &u32::MAX.to_le_bytes());
        assert!(corrupt("qed", &h));
        assert!(corrupt("qed", &h[..20]));
        assert!(corrupt("qed", &h[..62]));
        assert_eq!(read("qed", b"QFI\xfb"), Err(HeaderError::BadMagic("qed")));
        assert_eq!(info("qed", &qed_hdr(0, 0, 0)), ImageInfo::default());
    }

    /// A VMDK4 sparse header: version, capacity, descriptor at sector 1 holding `desc`.
    fn kdmv(version: u32, capacity: u64, desc: &str) -> Vec<u8> {
        let mut h = vec![0u8; 4096];
        put(&mut h, 0, VMDK4_MAGIC);
        put(&mut h, 4, &version.to_le_bytes());
        put(&mut h, 12, &capacity.to_le_bytes());
        put(&mut h, 28, &1u64.to_le_bytes());
        put(&mut h, 36, &20u64.to_le_bytes());
        put(&mut h, 512, desc.as_bytes());
        h
    }

    const FLAT_DESC: &str = "# Disk DescriptorFile\nversion=1\nCID=fffffffe\n\
        parentCID=ffffffff\ncreateType=\"monolithicFlat\"\n\
        parentFileNameHint=\"/img/parent.vmdk\"\n\
        RW 2048 FLAT \"disk-flat.vmdk\" 0\nRW 10 ZERO\n";

    fn desc(create_type: &str, extents: &str) -> String {
        format!("# Disk DescriptorFile\ncreateType=\"{create_type}\"\n{extents}")
    }

    fn extents_of(lines: &str) -> Result<Vec<String>, HeaderError> {
        read("vmdk", desc("twoGbMaxExtentFlat", lines).as_bytes())
            .map(|i| i.unwrap().companions.into_iter().map(|c| c.name).collect())
    }

    #[test]
    fn vmdk_descriptor_file_extents() {
        let i = info("vmdk", FLAT_DESC.as_bytes());
        assert_eq!(i.backing, backing("/img/parent.vmdk", Some("vmdk")));
        assert_eq!(
            i.companions,
            [Companion {
                name: "disk-flat.vmdk".into(),
                kind: CompanionKind::Extent
            }]
        );
        assert_eq!(i.companions[0].kind.what(), "extent");
        // Every type with a file; QEMU skips RDONLY and NOACCESS extents entirely.
        let all = "RW 1 FLAT \"f\" 0\nRW 1 SPARSE \"s\"\nRW 1 VMFS \"v\"\nRW 1 VMFSSPARSE \"vs\"\n\
                   RW 1 SESPARSE \"se\"\nRDONLY 1 FLAT \"ro\" 0\nNOACCESS 1 FLAT \"na\" 0\n\
                   RW 1 ZERO\nRW 1 OTHER \"o\"\nRW 0 FLAT \"zero-size\" 0\nRW -5 SPARSE \"neg\"\n\
                   RW 1 FLAT \"\" 0\nRWXXXXXXXXXXX 1 FLAT \"long-access\" 0\n";
        assert_eq!(extents_of(all).unwrap(), ["f", "s", "v", "vs", "se"]);
        // sscanf's spelling: tabs, CRLF, a sign, a huge size, spaces in the name, an
        // absolute name, the second line of a file without a final newline.
        let odd = "\tRW\t+7\tFLAT\t\"a b\"\t0\r\nRW 99999999999999999999 SPARSE \"/abs/x\"\nRW 1 SPARSE \"y\"";
        assert_eq!(extents_of(odd).unwrap(), ["a b", "/abs/x", "y"]);
        // Lines QEMU calls invalid make the image fail to open.
        for bad in [
            "RW 1 FLAT \"f\"\n",
            "RW 1 FLAT \"f\" -1\n",
            "RW 1 VMFS \"v\" 0\n",
            "RW 1 SPARSE \"s\" 0\n",
            "RW 1 ZERO \"z\" 0\n",
        ] {
            assert!(
                matches!(extents_of(bad), Err(HeaderError::Corrupt(_))),
                "{bad}"
            );
        }
        let mut h = desc("vmfs", "RW 1 VMFS \"v").into_bytes();
        h.extend_from_slice(b"\xff\"\n");
        assert!(corrupt("vmdk", &h));
        // Incomplete lines are not extents.
        for skip in [
            "RW",
            "RW x FLAT \"f\" 0",
            "RW 1",
            "RW 1 FLAT f 0",
            "RW - FLAT \"f\" 0",
            "RW + FLAT \"f\" 0",
        ] {
            assert_eq!(extents_of(skip).unwrap(), Vec::<String>::new(), "{skip}");
        }
        // QEMU reads 511 bytes of a name: a longer SPARSE name is cut there (that file is
        // what QEMU opens), a longer FLAT one leaves no offset and is invalid.
        let n511 = "n".repeat(VMDK_EXTENT_NAME);
        assert_eq!(
            extents_of(&format!("RW 1 FLAT \"{n511}\" 0")).unwrap(),
            [n511.as_str()]
        );
        assert_eq!(
            extents_of(&format!("RW 1 SPARSE \"{n511}x\"")).unwrap(),
            [n511.as_str()]
        );
        assert!(extents_of(&format!("RW 1 FLAT \"{n511}x\" 0")).is_err());
        // A type word is at most 10 bytes (VMFSSPARSE is exactly 10).
        assert_eq!(
            extents_of("RW 1 VMFSSPARSEX \"x\"").unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn vmdk_descriptor_create_types() {
        for t in VMDK_DESC_TYPES {
            let i = info("vmdk", desc(t, "RW 1 FLAT \"f\" 0\n").as_bytes());
            assert_eq!(names(&i), ["f"], "{t}");
        }
        for bad in [
            desc("monolithicSparse", ""),
            desc("streamOptimized", ""),
            "# Disk DescriptorFile\nRW 1 FLAT \"f\" 0\n".to_string(),
            "# Disk DescriptorFile\ncreateType=\"monolithicFlat".to_string(),
            "# Disk DescriptorFile\ncreateType".to_string(),
        ] {
            assert!(corrupt("vmdk", bad.as_bytes()), "{bad}");
        }
        // A NUL ends the descriptor.
        let h = format!(
            "{}\0RW 1 FLAT \"after-nul\" 0\n",
            desc("monolithicFlat", "")
        );
        assert_eq!(info("vmdk", h.as_bytes()).companions, []);
        assert_eq!(read("vmdk", b"QFI\xfb"), Err(HeaderError::BadMagic("vmdk")));
        assert_eq!(
            read("vmdk", b"createType=\"vmfs\""),
            Err(HeaderError::BadMagic("vmdk"))
        );
    }

    #[test]
    fn vmdk_parent_hint_as_qemu_reads_it() {
        let d = |hint: &str| desc("vmfs", &format!("{hint}\n"));
        assert_eq!(
            info("vmdk", d("parentFileNameHint=\"p\"").as_bytes()).backing,
            backing("p", Some("vmdk"))
        );
        // The first occurrence anywhere, two bytes skipped after the key.
        let two = "# parentFileNameHint=\"first\"\nparentFileNameHint=\"second\"";
        assert_eq!(
            info("vmdk", d(two).as_bytes()).backing,
            backing("first", Some("vmdk"))
        );
        assert_eq!(
            info("vmdk", d("parentFileNameHint:'x\"").as_bytes()).backing,
            backing("x", Some("vmdk"))
        );
        assert_eq!(
            info("vmdk", d("parentFileNameHint=\"\"").as_bytes()).backing,
            None
        );
        for bad in [
            "parentFileNameHint=\"open",
            "parentFileNameHint=",
            "parentFileNameHint",
        ] {
            assert!(corrupt("vmdk", d(bad).as_bytes()), "{bad}");
        }
        let ok = format!("parentFileNameHint=\"{}\"", "p".repeat(MAX_NAME));
        assert_eq!(
            info("vmdk", d(&ok).as_bytes()).backing.unwrap().name.len(),
            MAX_NAME
        );
        let long = format!("parentFileNameHint=\"{}\"", "p".repeat(MAX_NAME + 1));
        assert!(corrupt("vmdk", d(&long).as_bytes()));
        assert!(corrupt(
            "vmdk",
            d("parentFileNameHint=\"\u{0}\"").as_bytes()
        ));
        let mut bad = d("parentFileNameHint=\"x").into_bytes();
        bad.extend_from_slice(b"\xff\"");
        assert!(corrupt("vmdk", &bad));
        // QEMU searches the first DESC_SIZE bytes: a hint whose closing quote is the last
        // of them is read, one byte later it is unterminated.
        // DESC_SIZE in block/vmdk.c: 20 sectors.
        assert_eq!(VMDK_DESC_SIZE, 10240);
        let key = "parentFileNameHint=\"";
        let pad = VMDK_DESC_SIZE - key.len() - 2;
        let at_end = format!("{}{key}p\"", " ".repeat(pad));
        assert_eq!(at_end.len(), VMDK_DESC_SIZE);
        assert_eq!(
            info("vmdk", &kdmv(1, 1, &at_end)).backing,
            backing("p", Some("vmdk"))
        );
        let past = format!("{}{key}pp\"", " ".repeat(pad));
        assert!(corrupt("vmdk", &kdmv(1, 1, &past)));
    }

    #[test]
    fn vmdk_sparse_extents_read_only_the_parent_hint_at_0x200() {
        let embedded = "# Disk DescriptorFile\ncreateType=\"monolithicSparse\"\n\
                        parentFileNameHint=\"/img/parent.vmdk\"\n\
                        RW 2048 SPARSE \"/root/.ssh/authorized_keys\"\n\
                        RW 2048 FLAT \"other-vm.img\" 0\n";
        for v in 0..=3 {
            let i = info("vmdk", &kdmv(v, 2048, embedded));
            assert_eq!(i.backing, backing("/img/parent.vmdk", Some("vmdk")), "{v}");
            assert_eq!(
                i.companions,
                [],
                "{v}: embedded extent lines are never opened"
            );
        }
        assert_eq!(
            read("vmdk", &kdmv(4, 2048, embedded)),
            Err(HeaderError::Version("vmdk", 4))
        );
        // The header's descriptor offset does not move where QEMU reads the hint.
        let mut h = kdmv(1, 2048, embedded);
        put(&mut h, 28, &5u64.to_le_bytes());
        put(&mut h, 5 * 512, b"parentFileNameHint=\"/elsewhere\"");
        assert_eq!(
            info("vmdk", &h).backing,
            backing("/img/parent.vmdk", Some("vmdk"))
        );
        // No hint, or fewer bytes than 0x200.
        assert_eq!(info("vmdk", &kdmv(1, 2048, "")), ImageInfo::default());
        assert_eq!(info("vmdk", &kdmv(1, 2048, "")[..64]), ImageInfo::default());
        assert!(corrupt("vmdk", &kdmv(1, 2048, "")[..30]));
        assert!(corrupt("vmdk", &kdmv(1, 2048, "")[..16]));
        // VMDK3 (COWD): the hint at 0x200 too, no extents.
        let mut h = vec![0u8; 2048];
        put(&mut h, 0, VMDK3_MAGIC);
        put(
            &mut h,
            512,
            b"RW 1 FLAT \"f\" 0\nparentFileNameHint=\"/p3\"",
        );
        assert_eq!(info("vmdk", &h).backing, backing("/p3", Some("vmdk")));
        assert_eq!(info("vmdk", &h).companions, []);
    }

    #[test]
    fn vmdk_sparse_with_zero_capacity_opens_its_descriptor_as_a_file() {
        // vmdk_open_vmdk4: capacity 0 and a descriptor: a descriptor file, extents and
        // all, whatever the version.
        let d = desc(
            "vmfs",
            "RW 1 VMFS \"vmfs.img\"\nparentFileNameHint=\"/p\"\n",
        );
        for v in [1, 7] {
            let i = info("vmdk", &kdmv(v, 0, &d));
            assert_eq!(names(&i), ["vmfs.img"]);
            assert_eq!(i.backing, backing("/p", Some("vmdk")));
        }
        // Its descriptor follows the header's offset.
        let mut h = kdmv(1, 0, "");
        put(&mut h, 28, &3u64.to_le_bytes());
        put(&mut h, 3 * 512, d.as_bytes());
        assert_eq!(names(&info("vmdk", &h)), ["vmfs.img"]);
        // ... and needs a createType QEMU opens.
        assert!(corrupt("vmdk", &kdmv(1, 0, "RW 1 VMFS \"vmfs.img\"\n")));
        // No descriptor offset: a plain sparse extent, version checked.
        let mut h = kdmv(1, 0, &d);
        put(&mut h, 28, &0u64.to_le_bytes());
        assert_eq!(names(&info("vmdk", &h)), Vec::<&str>::new());
        put(&mut h, 4, &4u32.to_le_bytes());
        assert_eq!(read("vmdk", &h), Err(HeaderError::Version("vmdk", 4)));
        // A descriptor past the bytes read, or an offset that overflows.
        let mut h = kdmv(1, 0, &d);
        put(&mut h, 28, &9u64.to_le_bytes());
        assert!(corrupt("vmdk", &h));
        put(&mut h, 28, &(u64::MAX / 256).to_le_bytes());
        assert!(corrupt("vmdk", &h));
        // Exactly at the end of the bytes read: empty, so no createType.
        let mut h = kdmv(1, 0, "");
        h.truncate(4096);
        put(&mut h, 28, &8u64.to_le_bytes());
        assert!(corrupt("vmdk", &h));
    }

    #[test]
    fn format_names_are_parsed_once_and_kept_as_written() {
        for (name, readable) in [
            ("raw", false),
            ("qcow", true),
            ("qcow2", true),
            ("qed", true),
            ("vmdk", true),
            ("luks", false),
            ("QCOW2", false),
            ("", false),
        ] {
            let f = ImageFormat::parse(name);
            assert_eq!((f.name(), f.is_readable()), (name, readable), "{name}");
            assert_eq!(f.to_string(), name);
        }
        assert_eq!(
            ImageFormat::parse("QCOW2"),
            ImageFormat::Other("QCOW2".into())
        );
    }

    #[test]
    fn other_formats_are_not_read() {
        assert_eq!(read("raw", b"QFI\xfb...").unwrap(), None);
        assert_eq!(read("luks", b"KDMV").unwrap(), None);
    }

    /// `read_start` on every cut of `h` (every `step` bytes) before its end either asks for
    /// more, past the cut and within HEADER_READ, or gives `read`'s answer on the whole; and
    /// reading on as asked, from FIRST_READ, ends in that answer.
    fn check_cuts(format: &str, h: &[u8], step: usize) {
        let whole = read(format, h);
        for cut in (0..h.len()).step_by(step) {
            match read_start(format, &h[..cut]) {
                Err(HeaderError::Short(n)) => {
                    assert!(n > cut && n <= HEADER_READ, "{format} cut {cut}: {n}")
                }
                other => assert_eq!(other, whole, "{format} cut {cut}"),
            }
        }
        let mut len = FIRST_READ.min(h.len());
        loop {
            let r = if len == h.len() {
                read(format, &h[..len])
            } else {
                read_start(format, &h[..len])
            };
            match r {
                Err(HeaderError::Short(n)) => len = n.min(h.len()),
                other => break assert_eq!(other, whole, "{format} from FIRST_READ"),
            }
        }
    }

    #[test]
    fn a_start_of_the_file_answers_as_the_whole_or_asks_for_more() {
        let exts = [
            ext(0x1234_5678, b"12345"),
            ext(EXT_BACKING_FORMAT, b"qcow2"),
            ext(EXT_DATA_FILE, b"/d/x.data"),
        ];
        let mut far = qcow2_hdr(3, DATA_BIT, &exts, None);
        put(&mut far, 8, &6000u64.to_be_bytes());
        put(&mut far, 16, &2u32.to_be_bytes());
        put(&mut far, 6000, b"/b");
        let mut cut_ext = qcow2_hdr(3, 0, &[], None);
        cut_ext.truncate(104);
        cut_ext.extend_from_slice(&ext(EXT_BACKING_FORMAT, b"qcow2")[..13]);
        let headers: Vec<(&str, Vec<u8>)> = vec![
            (
                "qcow2",
                qcow2_hdr(3, DATA_BIT, &exts, Some("../base.qcow2")),
            ),
            ("qcow2", qcow2_hdr(3, DATA_BIT, &exts, None)),
            ("qcow2", qcow2_hdr(2, 0, &exts, Some("/b"))),
            ("qcow2", qcow2_hdr(3, 0, &[ext(EXT_END, b"")], None)),
            ("qcow2", far),
            ("qcow2", cut_ext),
            ("qcow2", b"RAW DATA".to_vec()),
            ("qcow", qcow1_hdr(1024, 0)),
            ("qcow", qcow1_hdr(48, 4)),
            ("qed", qed_hdr(QED_F_BACKING_FILE, 512, 3)),
            ("qed", qed_hdr(0, 0, 0)),
            ("vmdk", kdmv(1, 2048, FLAT_DESC)),
            ("vmdk", kdmv(1, 0, &desc("vmfs", "RW 1 VMFS \"v\"\n"))),
            ("vmdk", FLAT_DESC.as_bytes().to_vec()),
            ("vmdk", b"COWD".to_vec()),
            ("vmdk", vec![b'#'; 5000]),
        ];
        for (format, h) in &headers {
            check_cuts(format, h, 1);
        }
        // 64 KiB: a name at the very end, and a descriptor with no NUL.
        let mut end = qcow1_hdr((HEADER_READ - 8) as u64, 8);
        put(&mut end, HEADER_READ - 8, b"/end.img");
        check_cuts("qcow", &end, 509);
        let mut long = desc("vmfs", "RW 1 VMFS \"v\"\n").into_bytes();
        long.resize(HEADER_READ, b' ');
        check_cuts("vmdk", &long, 509);
    }

    #[test]
    fn a_start_of_the_file_asks_for_exactly_what_it_needs() {
        let short = |n| Err(HeaderError::Short(n));
        // Magic numbers: the longest one the format checks.
        assert_eq!(read_start("qcow2", b"QF"), short(4));
        assert_eq!(read("qcow2", b"QF"), Err(HeaderError::BadMagic("qcow2")));
        assert_eq!(read_start("vmdk", b"# Disk"), short(21));
        assert_eq!(read_start("qed", b""), short(4));
        // A fixed field; a backing name ending at HEADER_READ; one byte further is never
        // read, so it is corrupt at once.
        assert_eq!(
            read_start("qcow2", &qcow2_hdr(3, 0, &[], None)[..100]),
            short(104)
        );
        let mut h = qcow1_hdr((HEADER_READ - 8) as u64, 8);
        put(&mut h, HEADER_READ - 8, b"/end.img");
        assert_eq!(read_start("qcow", &h[..FIRST_READ]), short(HEADER_READ));
        put(&mut h, 8, &((HEADER_READ - 7) as u64).to_be_bytes());
        assert!(matches!(
            read_start("qcow", &h[..FIRST_READ]),
            Err(HeaderError::Corrupt(_))
        ));
        // Extensions without a backing name run to the end of what can be read: an
        // extension header, then its data.
        let h = qcow2_hdr(3, 0, &[ext(EXT_BACKING_FORMAT, b"qcow2")], None);
        assert_eq!(read_start("qcow2", &h[..104]), short(112));
        assert_eq!(read_start("qcow2", &h[..112]), short(117));
        assert_eq!(read_start("qcow2", &h[..117]), short(128));
        assert_eq!(
            read_start("qcow2", &h[..128]).unwrap(),
            read("qcow2", &h).unwrap()
        );
        // An empty extension ending exactly at the bytes read is read.
        let h = qcow2_hdr(3, DATA_BIT, &[ext(EXT_DATA_FILE, b"")], None);
        assert_eq!(names(&info("qcow2", &h[..112])), [""]);
        // An extension header that would end past HEADER_READ is never read: the list
        // ends, as in the first HEADER_READ bytes.
        for (pad, want) in [(0, Ok(())), (8, Err(HeaderError::Short(HEADER_READ)))] {
            let data = vec![b'x'; HEADER_READ - 112 - 6 - pad];
            let h = qcow2_hdr(3, 0, &[ext(0x1234_5678, &data)], None);
            let h = &h[..112 + data.len()];
            assert_eq!(read_start("qcow2", h).map(|_| ()), want, "{pad}");
        }
        // A VMDK parent hint area, and a descriptor that fills HEADER_READ without a NUL.
        let k = kdmv(1, 2048, "");
        assert_eq!(read_start("vmdk", &k[..512]), short(512 + VMDK_DESC_SIZE));
        assert_eq!(read_start("vmdk", &k[..513]), read("vmdk", &k));
        let mut long = desc("vmfs", "").into_bytes();
        long.resize(HEADER_READ, b' ');
        assert_eq!(read_start("vmdk", &long[..FIRST_READ]), short(HEADER_READ));
        assert_eq!(read_start("vmdk", &long), read("vmdk", &long));
        assert_eq!(
            HeaderError::Short(5).to_string(),
            "needs the first 5 bytes of its header"
        );
    }

    #[test]
    fn errors_name_the_format_and_the_reason() {
        assert_eq!(
            HeaderError::BadMagic("qcow2").to_string(),
            "is not a qcow2 image (wrong magic number)"
        );
        assert_eq!(
            HeaderError::Version("vmdk", 4).to_string(),
            "has an unsupported vmdk version 4"
        );
        assert_eq!(
            HeaderError::Corrupt("why").to_string(),
            "has a corrupt header: why"
        );
    }
}
