//! Canonical paths as a value: the type every stage after [`crate::resolve`] passes around.
//!
//! A leaf module on purpose: [`crate::policy`], [`crate::state`] and [`crate::rules`] take
//! a [`CanonicalPath`] without depending on the module that walks the filesystem to build
//! one (which would put the I/O stage under the pure ones, `tests/it/layering.rs`).

use std::fmt;
use std::path::{Component, Path, PathBuf};

/// An absolute path with no `.`, `..`, empty or symlink components in its existing part.
/// Built only by [`crate::resolve::canonicalize`] (through `CanonicalPath::from_resolved`,
/// which `tests/it/layering.rs` allows nowhere else) or, for paths that are canonical by
/// construction, [`CanonicalPath::from_canonical_literal`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CanonicalPath(PathBuf);

impl CanonicalPath {
    /// The path.
    pub fn as_path(&self) -> &Path {
        &self.0
    }

    /// Wraps the result of [`crate::resolve::canonicalize`], which resolved it against the
    /// filesystem. Crate-private: the only other way in is [`Self::from_canonical_literal`].
    pub(crate) fn from_resolved(p: PathBuf) -> Self {
        CanonicalPath(p)
    }

    /// A canonical path from a path that is already canonical by construction (a test
    /// fixture, or a fixed system path written without `.`/`..`). Refuses anything else.
    pub fn from_canonical_literal(p: &Path) -> Option<Self> {
        // `components()` silently drops `.`, repeated and trailing slashes: the path is
        // clean exactly when rebuilding it from its components gives the same bytes.
        let rebuilt: PathBuf = p.components().collect();
        let ok = p.is_absolute()
            && p.components()
                .all(|c| matches!(c, Component::RootDir | Component::Normal(_)))
            && rebuilt.as_os_str() == p.as_os_str();
        ok.then(|| CanonicalPath(p.to_path_buf()))
    }
}

/// The type of an existing file, as far as opening it is concerned: what
/// [`crate::resolve::canonicalize`] found at a canonical path, here so that the pure
/// backing-chain walker ([`crate::chain`]) can refuse a device node a header names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Directory,
    /// A regular file.
    File,
    /// A block device.
    BlockDevice,
    /// A character device, FIFO or socket: opening or reading one can block or act.
    Other,
}

impl fmt::Display for CanonicalPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.display().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_literals_are_only_clean_absolute_paths() {
        for ok in ["/", "/a", "/var/lib/x.img", "/a b/c"] {
            let c = CanonicalPath::from_canonical_literal(Path::new(ok));
            assert_eq!(c.map(|c| c.to_string()).as_deref(), Some(ok));
        }
        for bad in ["a/b", "", "/a/./b", "/a/../b", "//a", "/a//b", "/a/"] {
            assert_eq!(
                CanonicalPath::from_canonical_literal(Path::new(bad)),
                None,
                "{bad}"
            );
        }
    }
}
