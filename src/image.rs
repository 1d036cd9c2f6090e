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
//! | qcow2 (v2, v3) | as qcow | extension `0xE2792ACA` | external data file, extension `0x44415441` |
//! | QED | offset u32 LE @56, size u32 LE @60, if feature bit 0 | `raw` if feature bit 2, else not recorded | - |
//! | VMDK | `parentFileNameHint="..."` in the descriptor | always VMDK (QEMU opens the parent as VMDK) | extent files |

/// How many bytes of an image are read.
pub const HEADER_READ: usize = 64 * 1024;

/// Longest name accepted from a header (qcow2 spec: "must not be longer than 1023 bytes").
pub const MAX_NAME: usize = 1023;

/// Formats whose headers are read.
pub const READABLE: [&str; 4] = ["qcow", "qcow2", "qed", "vmdk"];

/// What a header says about the files an image needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageInfo {
    /// The image below this one, if any.
    pub backing: Option<BackingRef>,
    /// Other files QEMU opens for this image (qcow2 external data file, VMDK extents),
    /// as named in the header (relative names are relative to the image).
    pub companions: Vec<Companion>,
}

/// The backing file named by a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackingRef {
    /// The name exactly as stored (relative names are relative to the image).
    pub name: String,
    /// The backing format recorded in the header, if any.
    pub format: Option<String>,
}

/// A file an image uses besides its backing file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Companion {
    /// The name as stored.
    pub name: String,
    /// What it is, for messages and provenance (`data file`, `extent`).
    pub what: &'static str,
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
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderError::BadMagic(fmt) => write!(f, "is not a {fmt} image (wrong magic number)"),
            HeaderError::Version(fmt, v) => write!(f, "has an unsupported {fmt} version {v}"),
            HeaderError::Corrupt(why) => write!(f, "has a corrupt header: {why}"),
        }
    }
}

/// Reads the header of an image of the declared `format`. `Ok(None)` for formats that
/// have no backing file or companions to read (raw and everything not in [`READABLE`]).
pub fn read(format: &str, h: &[u8]) -> Result<Option<ImageInfo>, HeaderError> {
    match format {
        "qcow" => qcow1(h).map(Some),
        "qcow2" => qcow2(h).map(Some),
        "qed" => qed(h).map(Some),
        "vmdk" => vmdk(h).map(Some),
        _ => Ok(None),
    }
}

fn be32(b: &[u8], at: usize) -> Result<u32, HeaderError> {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_be_bytes)
        .ok_or(HeaderError::Corrupt("truncated header"))
}

fn be64(b: &[u8], at: usize) -> Result<u64, HeaderError> {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or(HeaderError::Corrupt("truncated header"))
}

fn le32(b: &[u8], at: usize) -> Result<u32, HeaderError> {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or(HeaderError::Corrupt("truncated header"))
}

fn le64(b: &[u8], at: usize) -> Result<u64, HeaderError> {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_le_bytes)
        .ok_or(HeaderError::Corrupt("truncated header"))
}

/// The `size` bytes at `offset`, checked against the buffer and [`MAX_NAME`], as a name.
fn name_at(h: &[u8], offset: u64, size: u64, what: &'static str) -> Result<String, HeaderError> {
    if size as usize > MAX_NAME || size > MAX_NAME as u64 {
        return Err(HeaderError::Corrupt(what));
    }
    let start = usize::try_from(offset).map_err(|_| HeaderError::Corrupt(what))?;
    let bytes = start
        .checked_add(size as usize)
        .and_then(|end| h.get(start..end))
        .ok_or(HeaderError::Corrupt(what))?;
    text(bytes, what)
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

fn qcow_backing_name(h: &[u8]) -> Result<Option<(u64, String)>, HeaderError> {
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

fn qcow1(h: &[u8]) -> Result<ImageInfo, HeaderError> {
    if h.get(0..4) != Some(QCOW_MAGIC) {
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

fn qcow2(h: &[u8]) -> Result<ImageInfo, HeaderError> {
    if h.get(0..4) != Some(QCOW_MAGIC) {
        return Err(HeaderError::BadMagic("qcow2"));
    }
    let header_len = match be32(h, 4)? {
        2 => 72usize,
        3 => be32(h, 100)? as usize,
        v => return Err(HeaderError::Version("qcow2", v.into())),
    };
    if header_len < 72 {
        return Err(HeaderError::Corrupt("header length below 72"));
    }
    let backing = qcow_backing_name(h)?;
    // Extensions follow the header and end before the backing file name, if any.
    let until = backing
        .as_ref()
        .map(|(o, _)| usize::try_from(*o).unwrap_or(usize::MAX))
        .unwrap_or(h.len());
    let mut format = None;
    let mut companions = Vec::new();
    for (kind, data) in extensions(h, header_len, until)? {
        match kind {
            EXT_BACKING_FORMAT => {
                format = Some(text(trim_nul(data), "backing format is not text")?);
            }
            EXT_DATA_FILE => companions.push(Companion {
                name: text(trim_nul(data), "data file name is not text")?,
                what: "data file",
            }),
            _ => {}
        }
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

/// The qcow2 extensions in `[from, until)`: `(type, data)` pairs.
fn extensions(h: &[u8], from: usize, until: usize) -> Result<Vec<(u32, &[u8])>, HeaderError> {
    let mut out = Vec::new();
    let mut at = from;
    let end = until.min(h.len());
    while at.checked_add(8).is_some_and(|e| e <= end) {
        let kind = be32(h, at)?;
        let len = be32(h, at + 4)? as usize;
        if kind == EXT_END {
            break;
        }
        let data_start = at + 8;
        let data = data_start
            .checked_add(len)
            .filter(|e| *e <= end)
            .and_then(|e| h.get(data_start..e))
            .ok_or(HeaderError::Corrupt("extension runs past the header"))?;
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

fn qed(h: &[u8]) -> Result<ImageInfo, HeaderError> {
    if h.get(0..4) != Some(QED_MAGIC) {
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
    let format = (features & QED_F_BACKING_FORMAT_NO_PROBE != 0).then(|| "raw".to_string());
    Ok(ImageInfo {
        backing: Some(BackingRef { name, format }),
        companions: Vec::new(),
    })
}

const VMDK_MAGIC: &[u8] = b"KDMV";
const VMDK_DESCRIPTOR_TEXT: &[u8] = b"# Disk DescriptorFile";

fn vmdk(h: &[u8]) -> Result<ImageInfo, HeaderError> {
    let descriptor: &[u8] = if h.starts_with(VMDK_MAGIC) {
        // Sparse extent with an embedded descriptor: version u32 LE @4, descriptor offset
        // and size in 512-byte sectors, u64 LE @28 and @36.
        let version = le32(h, 4)?;
        if !(1..=3).contains(&version) {
            return Err(HeaderError::Version("vmdk", version.into()));
        }
        let off = le64(h, 28)?;
        let len = le64(h, 36)?;
        if off == 0 || len == 0 {
            return Ok(ImageInfo::default());
        }
        let start = off
            .checked_mul(512)
            .and_then(|s| usize::try_from(s).ok())
            .ok_or(HeaderError::Corrupt("descriptor offset"))?;
        let size = len
            .checked_mul(512)
            .and_then(|s| usize::try_from(s).ok())
            .ok_or(HeaderError::Corrupt("descriptor size"))?;
        let end = start.saturating_add(size).min(h.len());
        h.get(start..end)
            .ok_or(HeaderError::Corrupt("descriptor outside the header"))?
    } else if h.starts_with(VMDK_DESCRIPTOR_TEXT) {
        // A separate (text) descriptor file.
        h
    } else {
        return Err(HeaderError::BadMagic("vmdk"));
    };
    // The descriptor ends at the first NUL (padding of the embedded area).
    let descriptor = &descriptor[..descriptor
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(descriptor.len())];
    let text = String::from_utf8_lossy(descriptor);
    let mut info = ImageInfo::default();
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("parentFileNameHint=") {
            let name =
                unquote(v).ok_or(HeaderError::Corrupt("parentFileNameHint is not quoted"))?;
            if name.len() > MAX_NAME {
                return Err(HeaderError::Corrupt("parentFileNameHint too long"));
            }
            info.backing = Some(BackingRef {
                name: name.to_string(),
                format: Some("vmdk".into()),
            });
        } else if let Some(name) = extent_file(line) {
            if name.len() > MAX_NAME {
                return Err(HeaderError::Corrupt("extent file name too long"));
            }
            info.companions.push(Companion {
                name: name.to_string(),
                what: "extent",
            });
        }
    }
    Ok(info)
}

/// `"text"` -> `text`.
fn unquote(v: &str) -> Option<&str> {
    v.trim().strip_prefix('"')?.strip_suffix('"')
}

/// The file of an extent line: `RW 2048 FLAT "disk-flat.vmdk" 0`. `ZERO` extents have none.
fn extent_file(line: &str) -> Option<&str> {
    let mut words = line.splitn(4, ' ');
    let access = words.next()?;
    if !matches!(access, "RW" | "RDONLY" | "NOACCESS") {
        return None;
    }
    let _sectors: u64 = words.next()?.parse().ok()?;
    let kind = words.next()?;
    if kind == "ZERO" {
        return None;
    }
    let rest = words.next()?.trim();
    let rest = rest.strip_prefix('"')?;
    let end = rest.find('"')?;
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal qcow2 v3 header with optional backing name, format and data file.
    fn qcow2_img(backing: Option<&str>, format: Option<&str>, data: Option<&str>) -> Vec<u8> {
        let mut h = vec![0u8; 4096];
        h[0..4].copy_from_slice(QCOW_MAGIC);
        h[4..8].copy_from_slice(&3u32.to_be_bytes());
        h[100..104].copy_from_slice(&104u32.to_be_bytes());
        let mut at = 104;
        for (kind, val) in [(EXT_BACKING_FORMAT, format), (EXT_DATA_FILE, data)] {
            if let Some(f) = val {
                h[at..at + 4].copy_from_slice(&kind.to_be_bytes());
                h[at + 4..at + 8].copy_from_slice(&(f.len() as u32).to_be_bytes());
                h[at + 8..at + 8 + f.len()].copy_from_slice(f.as_bytes());
                at += 8 + f.len().div_ceil(8) * 8;
            }
        }
        if let Some(b) = backing {
            let off = 1024usize;
            h[8..16].copy_from_slice(&(off as u64).to_be_bytes());
            h[16..20].copy_from_slice(&(b.len() as u32).to_be_bytes());
            h[off..off + b.len()].copy_from_slice(b.as_bytes());
        }
        h
    }

    fn backing(name: &str, format: Option<&str>) -> Option<BackingRef> {
        Some(BackingRef {
            name: name.into(),
            format: format.map(Into::into),
        })
    }

    #[test]
    fn qcow2_name_format_and_data_file() {
        let info = read(
            "qcow2",
            &qcow2_img(Some("../base.qcow2"), Some("qcow2"), Some("d.raw")),
        )
        .unwrap()
        .unwrap();
        assert_eq!(info.backing, backing("../base.qcow2", Some("qcow2")));
        assert_eq!(
            info.companions,
            [Companion {
                name: "d.raw".into(),
                what: "data file"
            }]
        );
        let info = read("qcow2", &qcow2_img(None, None, Some("/d/x.data")))
            .unwrap()
            .unwrap();
        assert_eq!(info.backing, None);
        assert_eq!(
            info.companions.len(),
            1,
            "data file found without a backing file"
        );
        let info = read("qcow2", &qcow2_img(Some("/b.raw"), None, None))
            .unwrap()
            .unwrap();
        assert_eq!(info.backing, backing("/b.raw", None));
    }

    #[test]
    fn qcow2_never_trusts_lengths() {
        let mut h = qcow2_img(Some("/b"), None, None);
        h[16..20].copy_from_slice(&5000u32.to_be_bytes());
        assert!(matches!(read("qcow2", &h), Err(HeaderError::Corrupt(_))));
        let mut h = qcow2_img(Some("/b"), None, None);
        h[8..16].copy_from_slice(&u64::MAX.to_be_bytes());
        assert!(matches!(read("qcow2", &h), Err(HeaderError::Corrupt(_))));
        let h = qcow2_img(Some("/b"), Some("qcow2"), None);
        assert!(read("qcow2", &h[..50]).is_err());
        let mut h = qcow2_img(Some("/b"), Some("qcow2"), None);
        h[108..112].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(read("qcow2", &h), Err(HeaderError::Corrupt(_))));
        let mut h = qcow2_img(Some("/b\0/etc/shadow"), None, None);
        h[20] = 0;
        assert!(matches!(read("qcow2", &h), Err(HeaderError::Corrupt(_))));
    }

    #[test]
    fn magic_and_versions() {
        assert_eq!(
            read("qcow2", b"RAW DATA"),
            Err(HeaderError::BadMagic("qcow2"))
        );
        let mut h = qcow2_img(None, None, None);
        h[4..8].copy_from_slice(&1u32.to_be_bytes());
        assert_eq!(read("qcow2", &h), Err(HeaderError::Version("qcow2", 1)));
        // The same bytes are a valid qcow (v1) header.
        assert_eq!(read("qcow", &h).unwrap().unwrap(), ImageInfo::default());
        assert_eq!(read("raw", b"QFI\xfb...").unwrap(), None);
        assert_eq!(read("qed", b"QFI\xfb"), Err(HeaderError::BadMagic("qed")));
        assert_eq!(read("vmdk", b"QFI\xfb"), Err(HeaderError::BadMagic("vmdk")));
    }

    #[test]
    fn qed_backing_and_no_probe_flag() {
        let mut h = vec![0u8; 1024];
        h[0..4].copy_from_slice(QED_MAGIC);
        let name = b"base.raw";
        h[16..24]
            .copy_from_slice(&(QED_F_BACKING_FILE | QED_F_BACKING_FORMAT_NO_PROBE).to_le_bytes());
        h[56..60].copy_from_slice(&512u32.to_le_bytes());
        h[60..64].copy_from_slice(&(name.len() as u32).to_le_bytes());
        h[512..512 + name.len()].copy_from_slice(name);
        assert_eq!(
            read("qed", &h).unwrap().unwrap().backing,
            backing("base.raw", Some("raw"))
        );
        h[16..24].copy_from_slice(&QED_F_BACKING_FILE.to_le_bytes());
        assert_eq!(
            read("qed", &h).unwrap().unwrap().backing,
            backing("base.raw", None)
        );
        h[16..24].copy_from_slice(&0u64.to_le_bytes());
        assert_eq!(read("qed", &h).unwrap().unwrap().backing, None);
        h[16..24].copy_from_slice(&QED_F_BACKING_FILE.to_le_bytes());
        h[56..60].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(read("qed", &h).is_err());
    }

    #[test]
    fn vmdk_descriptors() {
        let text = "# Disk DescriptorFile\nversion=1\nparentFileNameHint=\"/img/parent.vmdk\"\n\
                    RW 2048 FLAT \"disk-flat.vmdk\" 0\nRW 10 ZERO\nRDONLY 4 SPARSE \"s p.vmdk\"\n";
        let info = read("vmdk", text.as_bytes()).unwrap().unwrap();
        assert_eq!(info.backing, backing("/img/parent.vmdk", Some("vmdk")));
        let names: Vec<_> = info.companions.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["disk-flat.vmdk", "s p.vmdk"]);

        // Embedded descriptor in a sparse extent.
        let mut h = vec![0u8; 4096];
        h[0..4].copy_from_slice(VMDK_MAGIC);
        h[4..8].copy_from_slice(&1u32.to_le_bytes());
        h[28..36].copy_from_slice(&1u64.to_le_bytes());
        h[36..44].copy_from_slice(&2u64.to_le_bytes());
        h[512..512 + text.len()].copy_from_slice(text.as_bytes());
        assert_eq!(
            read("vmdk", &h).unwrap().unwrap().backing,
            backing("/img/parent.vmdk", Some("vmdk"))
        );
        // A descriptor pointing past the bytes read.
        h[28..36].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(read("vmdk", &h).is_err());
    }
}
