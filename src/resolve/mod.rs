//! Resolve: the only stage that reads the filesystem.
//!
//! It answers two questions for the rules stage, through the [`Resolve`] trait: what is the
//! canonical form of a path ([`canonical`]), and which files lie below a disk image
//! (backing chain discovery). Keeping every filesystem access behind the trait keeps
//! [`crate::rules`] a pure function that tests can drive with a fake resolver.
//!
//! Chain policy (libvirt's own advice, `docs/kbase/backing_chains.rst` and
//! `virStorageFileProbeFormat`: "Best option: Don't use this function"): a header is read
//! only when the layer's format is *declared*, by the XML for the top image and by the
//! parent's header (qcow2 backing-format extension) below it. A raw image is never parsed,
//! whatever its bytes look like, because the guest writes those bytes. A layer whose
//! format is unknown still gets its own rule, but the chain ends there with a warning.

pub mod canonical;

pub use canonical::{canonicalize, CanonError, Canonical, CanonicalPath};

use crate::error::{quote, quote_path, Error, Result, Warning};
use crate::image::{self, HEADER_READ};
use crate::origin::Origin;
use std::collections::HashSet;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Deepest backing chain followed, as in libvirt and QEMU.
pub const MAX_CHAIN_DEPTH: usize = 200;

/// One backing layer found by reading headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLayer {
    /// The path as the parent's header names it, made absolute.
    pub raw: PathBuf,
    /// Its canonical form.
    pub path: CanonicalPath,
    /// Its format as recorded by the parent, if any.
    pub format: Option<String>,
}

/// Filesystem questions the rules stage asks.
pub trait Resolve {
    /// The canonical form of an absolute path from the XML or the command line.
    fn canonical(&mut self, raw: &Path, origin: &Origin) -> Result<CanonicalPath>;

    /// The backing layers below the image `raw` (canonical form `top`), whose declared
    /// format is `format`. Top-most backing layer first; empty when there is none or the
    /// chain cannot be followed safely.
    fn backing_chain(
        &mut self,
        raw: &Path,
        top: &CanonicalPath,
        format: Option<&str>,
        origin: &Origin,
    ) -> Result<Vec<ChainLayer>>;

    /// Takes the warnings collected so far.
    fn take_warnings(&mut self) -> Vec<Warning>;
}

/// The real resolver.
#[derive(Debug, Default)]
pub struct FsResolver {
    warnings: Vec<Warning>,
}

impl FsResolver {
    /// A resolver with no warnings yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn warn(&mut self, msg: String) {
        self.warnings.push(Warning(msg));
    }
}

impl Resolve for FsResolver {
    fn canonical(&mut self, raw: &Path, origin: &Origin) -> Result<CanonicalPath> {
        match canonicalize(raw) {
            Ok(c) => {
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
                    self.warn(msg);
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

    fn backing_chain(
        &mut self,
        raw: &Path,
        top: &CanonicalPath,
        format: Option<&str>,
        origin: &Origin,
    ) -> Result<Vec<ChainLayer>> {
        let mut layers: Vec<ChainLayer> = Vec::new();
        let mut seen: HashSet<CanonicalPath> = HashSet::from([top.clone()]);
        let mut trail: Vec<PathBuf> = vec![top.as_path().to_path_buf()];
        let mut cur_raw = raw.to_path_buf();
        let mut cur = top.clone();
        let mut cur_format = format.map(str::to_string);

        loop {
            let Some(fmt) = cur_format.as_deref() else {
                if !layers.is_empty() {
                    self.warn(format!(
                        "{} (from {origin}) has no backing format recorded by its parent; it is not probed (a guest could forge its header), so its own backing chain is not followed",
                        quote_path(cur.as_path())
                    ));
                }
                break;
            };
            let found = match fmt {
                "raw" => None,
                "qcow2" => match read_header(cur.as_path()) {
                    Ok(Some(header)) => image::qcow2_backing(&header).map_err(|e| Error::Path {
                        path: cur.as_path().to_path_buf(),
                        origin: origin.to_string(),
                        why: format!("declared qcow2 but {e}"),
                    })?,
                    Ok(None) => None,
                    Err(why) => {
                        self.warn(format!(
                            "cannot read the header of {} (from {origin}): {why}; its rule is kept but the backing chain ends there",
                            quote_path(cur.as_path())
                        ));
                        None
                    }
                },
                other => {
                    self.warn(format!(
                        "{} (from {origin}) is a {} image, whose header this version does not read; its backing chain is not followed",
                        quote_path(cur.as_path()),
                        quote(other)
                    ));
                    None
                }
            };
            let Some(backing) = found else { break };

            if is_network_name(&backing.name) {
                self.warn(format!(
                    "{} (from {origin}) has the non-local backing {}; no file rule is needed for it",
                    quote_path(cur.as_path()),
                    quote(&backing.name)
                ));
                break;
            }
            let next_raw = if Path::new(&backing.name).is_absolute() {
                PathBuf::from(&backing.name)
            } else {
                // QEMU resolves a relative name against the directory of the image as it
                // was opened (bdrv_get_full_backing_filename), not against its realpath.
                cur_raw
                    .parent()
                    .unwrap_or_else(|| Path::new("/"))
                    .join(&backing.name)
            };
            let depth = layers.len() + 1;
            let layer_origin = origin.with(format_args!("backing {depth}"));
            let next = self.canonical(&next_raw, &layer_origin)?;
            trail.push(next.as_path().to_path_buf());
            if !seen.insert(next.clone()) {
                let cycle: Vec<String> = trail.iter().map(|p| quote_path(p)).collect();
                return Err(Error::Path {
                    path: cur.as_path().to_path_buf(),
                    origin: origin.to_string(),
                    why: format!("backing chain loop: {}", cycle.join(" -> ")),
                });
            }
            if depth > MAX_CHAIN_DEPTH {
                return Err(Error::Path {
                    path: raw.to_path_buf(),
                    origin: origin.to_string(),
                    why: format!("backing chain deeper than {MAX_CHAIN_DEPTH} layers"),
                });
            }
            layers.push(ChainLayer {
                raw: next_raw.clone(),
                path: next.clone(),
                format: backing.format.clone(),
            });
            cur_raw = next_raw;
            cur = next;
            cur_format = backing.format;
        }
        Ok(layers)
    }

    fn take_warnings(&mut self) -> Vec<Warning> {
        std::mem::take(&mut self.warnings)
    }
}

/// QEMU's protocol syntax: `json:{...}`, `nbd:...`, `rbd:...`, `gluster://...`: a colon
/// before the first slash (libvirt's `virStorageIsFile` test, `ss.c`).
fn is_network_name(name: &str) -> bool {
    match (name.find(':'), name.find('/')) {
        (Some(colon), Some(slash)) => colon < slash,
        (Some(_), None) => true,
        _ => false,
    }
}

/// Reads the first [`HEADER_READ`] bytes of a regular file or block device. `Ok(None)` if
/// the file does not exist (yet). FIFOs, sockets and character devices are never opened:
/// reading them could block the helper forever (O_NONBLOCK guards the race).
fn read_header(path: &Path) -> std::result::Result<Option<Vec<u8>>, String> {
    let md = match std::fs::metadata(path) {
        Ok(md) => md,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(crate::error::io_reason(&e)),
    };
    let ft = md.file_type();
    if !(ft.is_file() || ft.is_block_device()) {
        return Err("not a regular file or block device".into());
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(|e| crate::error::io_reason(&e))?;
    let ft = file
        .metadata()
        .map_err(|e| crate::error::io_reason(&e))?
        .file_type();
    if !(ft.is_file() || ft.is_block_device()) {
        return Err("not a regular file or block device".into());
    }
    let mut buf = Vec::with_capacity(HEADER_READ);
    file.take(HEADER_READ as u64)
        .read_to_end(&mut buf)
        .map_err(|e| crate::error::io_reason(&e))?;
    Ok(Some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_names_are_not_files() {
        for n in [
            "nbd:unix:/s",
            "json:{\"file.filename\":\"/x\"}",
            "gluster://h/v/i",
            "rbd:pool/img",
        ] {
            assert!(is_network_name(n), "{n}");
        }
        for n in ["/a:b/c", "base.qcow2", "../x:y", "/abs"] {
            assert!(!is_network_name(n), "{n}");
        }
    }
}
