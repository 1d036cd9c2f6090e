//! Canonical paths: what AppArmor will see when QEMU opens a path.
//!
//! AppArmor mediates the object the kernel resolves, not the string QEMU was given, so a
//! rule must name the fully resolved path: `/./`, `//` and `..` folded, every symlink
//! followed (the final one too). A path that does not exist yet (a disk created later, a
//! socket QEMU will bind, a dangling symlink's target) cannot be resolved completely;
//! libvirt 9.0 then emitted the string verbatim, `..` and all, which never matches anything
//! (`vah_add_path`, `virt-aa-helper.c:714-732`; `docs/weak-spots.md#w1`) and, with the glob
//! characters it did not escape, could match something else.
//!
//! [`canonicalize`] is GNU `realpath -m` (uutils: `MissingHandling::Missing` with
//! `ResolveMode::Physical`): it walks the path one component at a time, resolving against
//! the filesystem while the components exist, and folds the rest lexically:
//!
//! - an existing component that is a symlink is replaced by its target, which is walked in
//!   turn (relative targets from the link's directory), at most [`MAX_SYMLINKS`] times;
//! - `..` after an existing component goes to the *physical* parent of what has been
//!   resolved so far (never a lexical fold over a symlink);
//! - once a component is missing, later components are kept lexically and `..` removes
//!   the last kept one; when the missing tail is folded away completely, resolution
//!   against the filesystem resumes (`/a/missing/../link/x` resolves `link`);
//! - components under an existing non-directory are treated as missing (the kernel answers
//!   `ENOTDIR` today; the rule still names the only file it could ever be).
//!
//! Lexical folding is right only for the missing tail, which is why the canonicalizer folds
//! it itself as it walks instead of cleaning the whole string with a lexical cleaner.

use crate::path::CanonicalPath;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Symlinks followed before giving up with "too many levels of symbolic links" (the
/// kernel's limit, `MAXSYMLINKS`).
pub const MAX_SYMLINKS: usize = 40;

/// The kernel's `PATH_MAX`, terminating NUL included: a path of this many bytes or more
/// can never be opened (`ENAMETOOLONG`), and `apparmor_parser`'s lexer cannot hold its
/// escaped form (a quoted token over 16 KiB: "input buffer overflow, can't enlarge buffer
/// because scanner uses REJECT"), so the whole profile would fail to load.
pub const PATH_MAX: usize = 4096;

/// The result of [`canonicalize`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canonical {
    /// The canonical path.
    pub path: CanonicalPath,
    /// `None` if the whole path exists; else the first component that does not, for the
    /// warning that says the rest was folded without the filesystem.
    pub missing_from: Option<PathBuf>,
}

/// Why a path cannot be canonicalized.
#[derive(Debug)]
pub enum CanonError {
    /// The path is not absolute.
    NotAbsolute,
    /// More than [`MAX_SYMLINKS`] symlinks on the way (a loop, or a hostile chain).
    SymlinkLoop(PathBuf),
    /// A component could not be examined (permission denied, I/O error, a name too long).
    /// Never treated as missing: folding the rest of the path as text would name a file
    /// the helper could not check.
    Io(PathBuf, io::Error),
    /// The path, as given or once resolved, is [`PATH_MAX`] bytes or longer.
    TooLong(usize),
}

impl fmt::Display for CanonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CanonError::NotAbsolute => f.write_str("is not an absolute path"),
            CanonError::SymlinkLoop(at) => write!(
                f,
                "too many levels of symbolic links (more than {MAX_SYMLINKS}) at {}",
                crate::error::quote_path(at)
            ),
            CanonError::Io(at, e) => write!(
                f,
                "cannot examine {}: {}",
                crate::error::quote_path(at),
                crate::error::io_reason(e)
            ),
            CanonError::TooLong(len) => write!(
                f,
                "is {len} bytes long, longer than the kernel's PATH_MAX ({} bytes)",
                PATH_MAX - 1
            ),
        }
    }
}

/// Resolves `input` as described in the module documentation.
pub fn canonicalize(input: &Path) -> Result<Canonical, CanonError> {
    if !input.is_absolute() {
        return Err(CanonError::NotAbsolute);
    }
    check_len(input)?;
    let mut pending: VecDeque<OsString> = VecDeque::new();
    push_components(&mut pending, input, false);

    let mut resolved = PathBuf::from("/");
    let mut resolved_is_dir = true;
    let mut missing: Vec<OsString> = Vec::new();
    let mut missing_from: Option<PathBuf> = None;
    let mut links = 0usize;

    while let Some(comp) = pending.pop_front() {
        if comp == "." {
            continue;
        }
        if comp == ".." {
            if missing.pop().is_none() {
                resolved.pop();
                resolved_is_dir = true;
            }
            continue;
        }
        if !missing.is_empty() || !resolved_is_dir {
            if missing.is_empty() {
                missing_from.get_or_insert_with(|| resolved.join(&comp));
            }
            missing.push(comp);
            continue;
        }
        let candidate = resolved.join(&comp);
        match std::fs::symlink_metadata(&candidate) {
            Ok(md) if md.file_type().is_symlink() => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(CanonError::SymlinkLoop(candidate));
                }
                let target = std::fs::read_link(&candidate)
                    .map_err(|e| CanonError::Io(candidate.clone(), e))?;
                if target.is_absolute() {
                    resolved = PathBuf::from("/");
                    resolved_is_dir = true;
                }
                push_components(&mut pending, &target, true);
            }
            Ok(md) => {
                resolved = candidate;
                resolved_is_dir = md.is_dir();
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing_from.get_or_insert_with(|| candidate.clone());
                missing.push(comp);
            }
            Err(e) => return Err(CanonError::Io(candidate, e)),
        }
    }
    let mut path = resolved;
    for m in missing {
        path.push(m);
    }
    // Symlinks can make the resolved path longer than the input.
    check_len(&path)?;
    Ok(Canonical {
        path: CanonicalPath::from_resolved(path),
        missing_from,
    })
}

fn check_len(p: &Path) -> Result<(), CanonError> {
    let len = p.as_os_str().len();
    if len >= PATH_MAX {
        return Err(CanonError::TooLong(len));
    }
    Ok(())
}

/// Queues the components of `p` (without the root), in front of the queue if `front`.
fn push_components(queue: &mut VecDeque<OsString>, p: &Path, front: bool) {
    let comps: Vec<OsString> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::CurDir => Some(".".into()),
            Component::ParentDir => Some("..".into()),
            Component::RootDir | Component::Prefix(_) => None,
        })
        .collect();
    if front {
        for c in comps.into_iter().rev() {
            queue.push_front(c);
        }
    } else {
        queue.extend(comps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn canon(p: impl AsRef<Path>) -> PathBuf {
        canonicalize(p.as_ref())
            .unwrap()
            .path
            .as_path()
            .to_path_buf()
    }

    #[test]
    fn folds_dots_and_follows_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        std::fs::create_dir_all(root.join("real/sub")).unwrap();
        std::fs::write(root.join("real/a.img"), b"").unwrap();
        symlink(root.join("real"), root.join("link")).unwrap();
        symlink("real/sub/../a.img", root.join("rel.img")).unwrap();
        let want = root.join("real/a.img");
        assert_eq!(canon(root.join("link/./a.img")), want);
        assert_eq!(
            canon(format!("{}/link//sub/../a.img", root.display())),
            want
        );
        assert_eq!(canon(root.join("rel.img")), want);
        // `..` after a symlinked directory is the physical parent, not a lexical fold.
        symlink(root.join("real/sub"), root.join("deep")).unwrap();
        assert_eq!(canon(root.join("deep/../a.img")), want);
    }

    #[test]
    fn missing_tails_fold_lexically_and_never_keep_dotdot() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        std::fs::create_dir(root.join("dir")).unwrap();
        let c = canonicalize(&root.join("dir/missing/../x.img")).unwrap();
        assert_eq!(c.path.as_path(), root.join("dir/x.img"));
        assert_eq!(c.missing_from, Some(root.join("dir/missing")));
        assert_eq!(
            canon(root.join("dir/a/b/../../../dir/y")),
            root.join("dir/y")
        );
        assert_eq!(canon("/nonexistent-vah/../../x"), PathBuf::from("/x"));
    }

    #[test]
    fn dangling_symlink_names_its_target() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        std::fs::create_dir(root.join("images")).unwrap();
        symlink("images/later.img", root.join("dangling.img")).unwrap();
        let c = canonicalize(&root.join("dangling.img")).unwrap();
        assert_eq!(c.path.as_path(), root.join("images/later.img"));
        assert!(c.missing_from.is_some());
    }

    #[test]
    fn resolution_resumes_after_a_folded_missing_tail() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        std::fs::create_dir(root.join("real")).unwrap();
        symlink(root.join("real"), root.join("link")).unwrap();
        assert_eq!(canon(root.join("missing/../link/x")), root.join("real/x"));
    }

    #[test]
    fn components_below_a_file_are_missing() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        std::fs::write(root.join("1.img"), b"").unwrap();
        assert_eq!(canon(root.join("1.img/../2.img")), root.join("2.img"));
        assert_eq!(canon(root.join("1.img/x")), root.join("1.img/x"));
    }

    #[test]
    fn loops_and_relative_paths_are_errors() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        symlink(root.join("b"), root.join("a")).unwrap();
        symlink(root.join("a"), root.join("b")).unwrap();
        assert!(matches!(
            canonicalize(&root.join("a/x")),
            Err(CanonError::SymlinkLoop(_))
        ));
        assert!(matches!(
            canonicalize(Path::new("rel/x")),
            Err(CanonError::NotAbsolute)
        ));
    }

    /// A path of `n` bytes made of missing components (at most 255 bytes each, so only the
    /// total length matters).
    fn long_path(root: &Path, n: usize) -> PathBuf {
        let mut s = root.display().to_string();
        while s.len() < n {
            let left = n - s.len() - 1;
            s.push('/');
            s.push_str(&"a".repeat(left.min(200)));
        }
        PathBuf::from(s)
    }

    #[test]
    fn path_max_boundary() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        let ok = long_path(&root, PATH_MAX - 1);
        assert_eq!(ok.as_os_str().len(), PATH_MAX - 1);
        assert_eq!(canon(&ok), ok);
        let long = long_path(&root, PATH_MAX);
        match canonicalize(&long) {
            Err(e @ CanonError::TooLong(PATH_MAX)) => {
                assert!(e.to_string().contains("PATH_MAX (4095 bytes)"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        // A short path that a symlink makes too long once resolved.
        let target = long_path(&root, PATH_MAX - 3);
        symlink(&target, root.join("l")).unwrap();
        assert_eq!(canon(root.join("l")), target);
        assert!(matches!(
            canonicalize(&root.join("l/xy")),
            Err(CanonError::TooLong(n)) if n == PATH_MAX
        ));
    }

    #[test]
    fn a_component_that_cannot_be_examined_is_refused_not_folded() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        // ENAMETOOLONG (a component over NAME_MAX): not "missing", so the rest of the path
        // is never folded as text.
        let long = root.join("n".repeat(256)).join("../x.img");
        match canonicalize(&long) {
            Err(CanonError::Io(at, e)) => {
                assert_eq!(at, root.join("n".repeat(256)));
                assert_ne!(e.kind(), io::ErrorKind::NotFound);
            }
            other => panic!("{other:?}"),
        }
        // 255 bytes is a valid name that does not exist.
        assert_eq!(
            canon(root.join("n".repeat(255)).join("../x.img")),
            root.join("x.img")
        );
    }

    #[test]
    fn forty_symlinks_resolve_forty_one_do_not() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        std::fs::write(root.join("f"), b"").unwrap();
        // l1 -> l2 -> ... -> l41 -> f
        for i in 1..=41 {
            let to = if i == 41 {
                "f".to_string()
            } else {
                format!("l{}", i + 1)
            };
            symlink(to, root.join(format!("l{i}"))).unwrap();
        }
        // The kernel agrees: 40 links resolve, 41 are a loop (ELOOP).
        assert_eq!(canon(root.join("l2")), root.join("f"));
        assert_eq!(
            std::fs::canonicalize(root.join("l2")).unwrap(),
            root.join("f")
        );
        assert!(std::fs::canonicalize(root.join("l1")).is_err());
        assert!(matches!(
            canonicalize(&root.join("l1")),
            Err(CanonError::SymlinkLoop(_))
        ));
    }

    #[test]
    fn root_and_trailing_slashes() {
        assert_eq!(canon("/"), PathBuf::from("/"));
        assert_eq!(canon("/.."), PathBuf::from("/"));
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        assert_eq!(canon(format!("{}/", root.display())), root);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]

        /// Random walks over a tree with directories, files, symlinks (relative, absolute,
        /// dangling, looping) and missing names: the output is absolute with no `.`, `..`
        /// or empty components, and equals the kernel's answer (std::fs::canonicalize)
        /// whenever the path exists.
        #[test]
        fn canonical_paths_are_clean_and_agree_with_the_kernel(
            comps in proptest::collection::vec(
                proptest::sample::select(vec!["a", "b", "f", "la", "lb", "ld", "lf", "abs", "loop", ".", "..", "", "missing", "x y"]),
                0..12,
            )
        ) {
            let t = tempfile::tempdir().unwrap();
            let root = std::fs::canonicalize(t.path()).unwrap();
            std::fs::create_dir_all(root.join("a/b")).unwrap();
            std::fs::create_dir_all(root.join("b")).unwrap();
            std::fs::write(root.join("f"), b"").unwrap();
            std::fs::write(root.join("a/f"), b"").unwrap();
            for dir in [root.clone(), root.join("a"), root.join("b")] {
                let _ = symlink("a", dir.join("la"));
                let _ = symlink("../b", dir.join("lb"));
                let _ = symlink("nowhere/x", dir.join("ld"));
                let _ = symlink("f", dir.join("lf"));
                let _ = symlink(&root, dir.join("abs"));
                let _ = symlink("loop", dir.join("loop"));
            }
            let input = format!("{}/{}", root.display(), comps.join("/"));
            match canonicalize(Path::new(&input)) {
                Ok(c) => {
                    let out = c.path.as_path();
                    proptest::prop_assert!(out.is_absolute());
                    proptest::prop_assert!(out.components().all(|c| matches!(c, Component::RootDir | Component::Normal(_))));
                    proptest::prop_assert!(!out.to_string_lossy().contains("//"));
                    if let Ok(kernel) = std::fs::canonicalize(&input) {
                        proptest::prop_assert_eq!(out, kernel.as_path(), "input {}", input);
                        proptest::prop_assert!(c.missing_from.is_none());
                    }
                }
                Err(CanonError::SymlinkLoop(_)) => {
                    proptest::prop_assert!(comps.contains(&"loop"));
                }
                Err(e) => proptest::prop_assert!(false, "{input}: {e}"),
            }
        }
    }
}
