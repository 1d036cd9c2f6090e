//! Image header readers: pure functions over the first bytes of an image.
//!
//! A header is untrusted input: a guest can write the image it runs on, and an overlay's
//! header names files on the host. The readers never trust a length or offset field: every
//! range is checked against the bytes actually read ([`HEADER_READ`] at most), and the
//! backing name is capped at 1023 bytes like QEMU does (`docs/interop/qcow2.txt`).
//!
//! Only formats declared by the XML or by the parent image's header are read (see
//! [`crate::resolve`]); nothing here guesses a format from the bytes.

/// How many bytes of an image are read to find its backing file.
pub const HEADER_READ: usize = 64 * 1024;

/// Longest backing file name QEMU writes (qcow2 spec: "must not be longer than 1023 bytes").
pub const MAX_BACKING_NAME: usize = 1023;

/// What a header says about the image below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackingRef {
    /// The backing file name exactly as stored (relative names are relative to the image).
    pub name: String,
    /// The backing format recorded in the header, if any (qcow2 extension `0xE2792ACA`).
    pub format: Option<String>,
}

/// Why a header cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// The magic number is not the declared format's.
    BadMagic(&'static str),
    /// A version this reader does not know.
    Version(u32),
    /// A field points outside the bytes read or exceeds a limit.
    Corrupt(&'static str),
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderError::BadMagic(fmt) => write!(f, "is not a {fmt} image (wrong magic number)"),
            HeaderError::Version(v) => write!(f, "has an unsupported qcow2 version {v}"),
            HeaderError::Corrupt(why) => write!(f, "has a corrupt header: {why}"),
        }
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// qcow2 header extension: backing file format name.
const EXT_BACKING_FORMAT: u32 = 0xE279_2ACA;
/// qcow2 header extension list terminator.
const EXT_END: u32 = 0;

/// Reads the backing file of a qcow2 (version 2 or 3) image from its first bytes.
pub fn qcow2_backing(h: &[u8]) -> Result<Option<BackingRef>, HeaderError> {
    if h.get(0..4) != Some(b"QFI\xfb") {
        return Err(HeaderError::BadMagic("qcow2"));
    }
    let version = be32(h, 4).ok_or(HeaderError::Corrupt("truncated header"))?;
    let header_len = match version {
        2 => 72usize,
        3 => be32(h, 100).ok_or(HeaderError::Corrupt("truncated header"))? as usize,
        v => return Err(HeaderError::Version(v)),
    };
    if header_len < 72 {
        return Err(HeaderError::Corrupt("header length below 72"));
    }
    let offset = be64(h, 8).ok_or(HeaderError::Corrupt("truncated header"))?;
    let size = be32(h, 16).ok_or(HeaderError::Corrupt("truncated header"))? as usize;
    if offset == 0 || size == 0 {
        return Ok(None);
    }
    if size > MAX_BACKING_NAME {
        return Err(HeaderError::Corrupt(
            "backing file name longer than 1023 bytes",
        ));
    }
    let start = usize::try_from(offset).map_err(|_| HeaderError::Corrupt("backing file offset"))?;
    let raw = start
        .checked_add(size)
        .and_then(|end| h.get(start..end))
        .ok_or(HeaderError::Corrupt("backing file name outside the header"))?;
    let name = std::str::from_utf8(raw)
        .map_err(|_| HeaderError::Corrupt("backing file name is not UTF-8"))?;
    if name.contains('\0') {
        return Err(HeaderError::Corrupt(
            "backing file name contains a NUL byte",
        ));
    }
    // Extensions live between the end of the header and the backing file name.
    let format = extension(h, header_len, start, EXT_BACKING_FORMAT)?
        .map(|data| {
            std::str::from_utf8(data)
                .map(|s| s.trim_end_matches('\0').to_string())
                .map_err(|_| HeaderError::Corrupt("backing format is not UTF-8"))
        })
        .transpose()?;
    Ok(Some(BackingRef {
        name: name.to_string(),
        format,
    }))
}

/// Finds extension `wanted` in the qcow2 extension area `[from, until)`.
fn extension(
    h: &[u8],
    from: usize,
    until: usize,
    wanted: u32,
) -> Result<Option<&[u8]>, HeaderError> {
    let mut at = from;
    let end = until.min(h.len());
    while at + 8 <= end {
        let kind = be32(h, at).ok_or(HeaderError::Corrupt("extension header"))?;
        let len = be32(h, at + 4).ok_or(HeaderError::Corrupt("extension header"))? as usize;
        if kind == EXT_END {
            return Ok(None);
        }
        let data_start = at + 8;
        let data = data_start
            .checked_add(len)
            .and_then(|e| h.get(data_start..e))
            .ok_or(HeaderError::Corrupt("extension runs past the header"))?;
        if kind == wanted {
            return Ok(Some(data));
        }
        // Extension data is padded to a multiple of 8 bytes.
        at = data_start
            .checked_add(len.div_ceil(8) * 8)
            .ok_or(HeaderError::Corrupt("extension length"))?;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal qcow2 v3 header with an optional backing name and format extension.
    pub(crate) fn qcow2(backing: Option<&str>, format: Option<&str>) -> Vec<u8> {
        let mut h = vec![0u8; 4096];
        h[0..4].copy_from_slice(b"QFI\xfb");
        h[4..8].copy_from_slice(&3u32.to_be_bytes());
        h[100..104].copy_from_slice(&104u32.to_be_bytes());
        let mut at = 104;
        if let Some(f) = format {
            h[at..at + 4].copy_from_slice(&EXT_BACKING_FORMAT.to_be_bytes());
            h[at + 4..at + 8].copy_from_slice(&(f.len() as u32).to_be_bytes());
            h[at + 8..at + 8 + f.len()].copy_from_slice(f.as_bytes());
            at += 8 + f.len().div_ceil(8) * 8;
        }
        h[at..at + 8].copy_from_slice(&[0; 8]);
        if let Some(b) = backing {
            let off = 1024usize;
            h[8..16].copy_from_slice(&(off as u64).to_be_bytes());
            h[16..20].copy_from_slice(&(b.len() as u32).to_be_bytes());
            h[off..off + b.len()].copy_from_slice(b.as_bytes());
        }
        h
    }

    #[test]
    fn reads_name_and_format() {
        let h = qcow2(Some("../base.qcow2"), Some("qcow2"));
        assert_eq!(
            qcow2_backing(&h),
            Ok(Some(BackingRef {
                name: "../base.qcow2".into(),
                format: Some("qcow2".into())
            }))
        );
        assert_eq!(qcow2_backing(&qcow2(None, None)), Ok(None));
        let h = qcow2(Some("/b.raw"), None);
        assert_eq!(qcow2_backing(&h).unwrap().unwrap().format, None);
    }

    #[test]
    fn never_trusts_lengths() {
        let mut h = qcow2(Some("/b"), None);
        h[16..20].copy_from_slice(&5000u32.to_be_bytes());
        assert!(matches!(qcow2_backing(&h), Err(HeaderError::Corrupt(_))));
        let mut h = qcow2(Some("/b"), None);
        h[8..16].copy_from_slice(&u64::MAX.to_be_bytes());
        assert!(matches!(qcow2_backing(&h), Err(HeaderError::Corrupt(_))));
        let h = qcow2(Some("/b"), Some("qcow2"));
        assert!(qcow2_backing(&h[..50]).is_err());
        let mut h = qcow2(Some("/b"), Some("qcow2"));
        h[108..112].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(qcow2_backing(&h), Err(HeaderError::Corrupt(_))));
    }

    #[test]
    fn wrong_magic_and_version() {
        assert_eq!(
            qcow2_backing(b"RAW DATA"),
            Err(HeaderError::BadMagic("qcow2"))
        );
        let mut h = qcow2(None, None);
        h[4..8].copy_from_slice(&1u32.to_be_bytes());
        assert_eq!(qcow2_backing(&h), Err(HeaderError::Version(1)));
    }
}
