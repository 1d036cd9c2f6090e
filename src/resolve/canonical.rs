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
//!
//! [`canonicalize_cached`] gives the same answers with a [`PrefixCache`] kept for a run: a
//! directory reached once is not walked again. The walk is a function of the input's
//! components taken in order (a symlink's target is walked before the next input component,
//! and `..` goes to the physical parent of what was resolved), so after the first `k`
//! components it is always in the same state on an unchanged tree: the cache maps those `k`
//! components, as written (`..` and symlinks included), to that state when it is an existing
//! directory with nothing missing, together with the symlinks followed to get there (the
//! [`MAX_SYMLINKS`] limit counts over the whole path). A later path with the same first `k`
//! components resumes there. A tree changed by someone else during the run is seen as it
//! was when first walked: the same as if the change had come after the run.

use crate::path::CanonicalPath;
use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::fmt;
use std::fs::FileType;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
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
    /// What the path names, from the canonicalizer's own `lstat` of its last component (a
    /// directory for `/` and a `..`): `None` if it does not exist. Lets a caller refuse a
    /// device node or FIFO without another `stat` before opening it.
    pub kind: Option<Kind>,
}

/// The type of an existing file, as far as opening it is concerned.
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

impl Kind {
    fn of(t: FileType) -> Kind {
        if t.is_dir() {
            Kind::Directory
        } else if t.is_file() {
            Kind::File
        } else if t.is_block_device() {
            Kind::BlockDevice
        } else {
            Kind::Other
        }
    }
}

/// Directories already resolved in a run, for [`canonicalize_cached`] (see the module
/// documentation).
#[derive(Debug, Default)]
pub struct PrefixCache {
    /// The first components of an input, as written (`/a/link/..`), to its canonical
    /// directory and the symlinks followed to reach it.
    dirs: HashMap<Vec<u8>, (PathBuf, usize)>,
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
    walk(input, None)
}

/// [`canonicalize`], resuming from the longest first components of `input` that `cache`
/// holds, and adding the directories it resolves.
pub fn canonicalize_cached(input: &Path, cache: &mut PrefixCache) -> Result<Canonical, CanonError> {
    walk(input, Some(cache))
}

fn walk(input: &Path, mut cache: Option<&mut PrefixCache>) -> Result<Canonical, CanonError> {
    if !input.is_absolute() {
        return Err(CanonError::NotAbsolute);
    }
    check_len(input)?;
    let mut comps: VecDeque<OsString> = VecDeque::new();
    push_components(&mut comps, input, false);
    // The cache keys: "/c1/c2/.../ck" for each k, as bytes of one string.
    let mut key: Vec<u8> = Vec::new();
    let mut key_ends = Vec::with_capacity(comps.len());
    for c in &comps {
        key.push(b'/');
        key.extend_from_slice(c.as_bytes());
        key_ends.push(key.len());
    }

    let mut resolved = PathBuf::from("/");
    let mut kind = Kind::Directory;
    let mut missing: Vec<OsString> = Vec::new();
    let mut missing_from: Option<PathBuf> = None;
    let mut links = 0usize;

    let mut done = 0;
    if let Some(cache) = cache.as_deref() {
        if let Some((k, (dir, n))) = (1..=comps.len())
            .rev()
            .find_map(|k| cache.dirs.get(&key[..key_ends[k - 1]]).map(|hit| (k, hit)))
        {
            resolved.clone_from(dir);
            links = *n;
            done = k;
        }
    }
    let mut pending: VecDeque<OsString> = VecDeque::new();
    for (k, next) in comps.into_iter().enumerate().skip(done) {
        pending.push_back(next);
        step(
            &mut pending,
            &mut resolved,
            &mut kind,
            &mut missing,
            &mut missing_from,
            &mut links,
        )?;
        if let Some(cache) = cache.as_deref_mut() {
            if kind == Kind::Directory && missing.is_empty() && missing_from.is_none() {
                cache
                    .dirs
                    .insert(key[..key_ends[k]].to_vec(), (resolved.clone(), links));
            }
        }
    }
    let exists = missing.is_empty();
    let mut path = resolved;
    for m in missing {
        path.push(m);
    }
    // Symlinks can make the resolved path longer than the input.
    check_len(&path)?;
    Ok(Canonical {
        path: CanonicalPath::from_resolved(path),
        missing_from,
        kind: exists.then_some(kind),
    })
}

/// Walks the components in `pending` (one of the input's, then the targets of the symlinks
/// it meets), from the state the earlier ones left.
fn step(
    pending: &mut VecDeque<OsString>,
    resolved: &mut PathBuf,
    kind: &mut Kind,
    missing: &mut Vec<OsString>,
    missing_from: &mut Option<PathBuf>,
    links: &mut usize,
) -> Result<(), CanonError> {
    while let Some(comp) = pending.pop_front() {
        if comp == "." {
            continue;
        }
        if comp == ".." {
            if missing.pop().is_none() {
                resolved.pop();
                *kind = Kind::Directory;
            }
            continue;
        }
        if !missing.is_empty() || *kind != Kind::Directory {
            if missing.is_empty() {
                missing_from.get_or_insert_with(|| resolved.join(&comp));
            }
            missing.push(comp);
            continue;
        }
        let candidate = resolved.join(&comp);
        match std::fs::symlink_metadata(&candidate) {
            Ok(md) if md.file_type().is_symlink() => {
                *links += 1;
                if *links > MAX_SYMLINKS {
                    return Err(CanonError::SymlinkLoop(candidate));
                }
                let target = std::fs::read_link(&candidate)
                    .map_err(|e| CanonError::Io(candidate.clone(), e))?;
                if target.is_absolute() {
                    *resolved = PathBuf::from("/");
                    *kind = Kind::Directory;
                }
                push_components(pending, &target, true);
            }
            Ok(md) => {
                *resolved = candidate;
                *kind = Kind::of(md.file_type());
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing_from.get_or_insert_with(|| candidate.clone());
                missing.push(comp);
            }
            Err(e) => return Err(CanonError::Io(candidate, e)),
        }
    }
    Ok(())
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

    /// The tree of the cache tests: directories, a file, a symlinked directory (relative
    /// and absolute), a dangling link, a loop, and a chain of 30 directory links and one of
    /// 11 file links (41 together: the limit counts over a cached prefix).
    fn cache_tree() -> (tempfile::TempDir, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        std::fs::create_dir_all(root.join("real/a")).unwrap();
        std::fs::create_dir_all(root.join("other/a")).unwrap();
        std::fs::write(root.join("real/a/f"), b"").unwrap();
        std::fs::write(root.join("f"), b"").unwrap();
        symlink("real", root.join("link")).unwrap();
        symlink(root.join("real/a"), root.join("abs")).unwrap();
        symlink("nowhere/x", root.join("dangling")).unwrap();
        symlink("loop", root.join("loop")).unwrap();
        for i in 1..=30 {
            let to = if i == 30 {
                "real".to_string()
            } else {
                format!("c{}", i + 1)
            };
            symlink(to, root.join(format!("c{i}"))).unwrap();
        }
        for i in 1..=11 {
            let to = if i == 11 {
                "a/f".to_string()
            } else {
                format!("f{}", i + 1)
            };
            symlink(to, root.join(format!("real/f{i}"))).unwrap();
        }
        (t, root)
    }

    fn both(input: &Path, cache: &mut PrefixCache) -> (String, String) {
        (
            format!("{:?}", canonicalize(input)),
            format!("{:?}", canonicalize_cached(input, cache)),
        )
    }

    const CACHE_TABLE: [&str; 22] = [
        "link/a/f",
        "link/a/../a/f",
        "link/../real/a",
        "link/./a//f",
        "abs/f",
        "abs/../a/f",
        "f/x",
        "f/../link/a",
        "missing/x",
        "missing/../link/a/f",
        "link/missing/../a",
        "link/a/f/../f",
        "dangling",
        "loop/x",
        "c1/x",
        "c1/f1",
        "c1/f2",
        "c1/a/f",
        "link",
        "",
        "..",
        "link/..",
    ];

    #[test]
    fn cached_and_uncached_agree_on_a_table() {
        let (_t, root) = cache_tree();
        for order in [false, true] {
            let mut cache = PrefixCache::default();
            let mut rows: Vec<&str> = CACHE_TABLE.to_vec();
            if order {
                rows.reverse();
            }
            // Twice: the second pass resumes from what the first one cached.
            for row in rows.iter().chain(rows.iter()) {
                let input = PathBuf::from(format!("{}/{row}", root.display()));
                let (plain, cached) = both(&input, &mut cache);
                assert_eq!(plain, cached, "{row}");
            }
        }
        // The types of what the paths name.
        let kind = |p: &str| canonicalize(&root.join(p)).unwrap().kind;
        assert_eq!(kind("link/a/f"), Some(Kind::File));
        assert_eq!(kind("link/a/f/.."), Some(Kind::Directory));
        assert_eq!(kind("link"), Some(Kind::Directory));
        assert_eq!(kind("missing"), None);
        assert_eq!(kind("missing/.."), Some(Kind::Directory));
        assert_eq!(kind("f/x"), None);
        assert_eq!(
            canonicalize(Path::new("/")).unwrap().kind,
            Some(Kind::Directory)
        );
        assert_eq!(
            canonicalize(Path::new("/dev/null")).unwrap().kind,
            Some(Kind::Other)
        );
        // The limit counts the links of the cached prefix: 30 + 11 is one too many.
        let mut cache = PrefixCache::default();
        canonicalize_cached(&root.join("c1/x"), &mut cache).unwrap();
        assert!(matches!(
            canonicalize_cached(&root.join("c1/f1"), &mut cache),
            Err(CanonError::SymlinkLoop(_))
        ));
    }

    #[test]
    fn a_resolved_directory_is_not_walked_again() {
        let (_t, root) = cache_tree();
        let mut cache = PrefixCache::default();
        let c = canonicalize_cached(&root.join("link/a/f"), &mut cache).unwrap();
        assert_eq!(c.path.as_path(), root.join("real/a/f"));
        assert_eq!(c.kind, Some(Kind::File));
        // Every existing directory on the way is cached, under the components as written,
        // with the links followed to reach it; the file is not.
        let key = |p: &str| format!("{}{p}", root.display()).into_bytes();
        assert_eq!(cache.dirs.get(&key("/link")), Some(&(root.join("real"), 1)));
        assert_eq!(
            cache.dirs.get(&key("/link/a")),
            Some(&(root.join("real/a"), 1))
        );
        assert_eq!(cache.dirs.get(&key("")), Some(&(root.clone(), 0)));
        assert_eq!(cache.dirs.get(&key("/link/a/f")), None);
        assert_eq!(cache.dirs.get(b"/".as_slice()), None);
        let n = cache.dirs.len();
        assert_eq!(n, root.components().count() + 1);
        // Nothing under a missing component or a file, nor after one (its warning would be
        // lost).
        for p in [
            "missing/x",
            "missing/..",
            "missing/../link",
            "f/..",
            "f/../link",
        ] {
            canonicalize_cached(&root.join(p), &mut cache).unwrap();
        }
        assert_eq!(cache.dirs.get(&key("/missing/..")), None);
        assert_eq!(cache.dirs.get(&key("/f")), None);
        assert_eq!(cache.dirs.len(), n + 2, "f/.. and f/../link are cached");
        // The link now points elsewhere: the cached walk still answers from what it
        // resolved (it did not look again), the plain one sees the change.
        std::fs::remove_file(root.join("link")).unwrap();
        symlink("other", root.join("link")).unwrap();
        let again = canonicalize_cached(&root.join("link/a/g"), &mut cache).unwrap();
        assert_eq!(again.path.as_path(), root.join("real/a/g"));
        assert_eq!(canon(root.join("link/a/g")), root.join("other/a/g"));
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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(100))]

        /// Sequences of random paths through one cache give what each gives alone.
        #[test]
        fn cached_paths_agree_with_uncached_ones(
            paths in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::sample::select(vec!["link", "abs", "real", "a", "f", "f1", "c1", "loop", "dangling", "missing", ".", "..", ""]),
                    0..7,
                ),
                1..6,
            )
        ) {
            let (_t, root) = cache_tree();
            let mut cache = PrefixCache::default();
            for comps in &paths {
                let input = PathBuf::from(format!("{}/{}", root.display(), comps.join("/")));
                let (plain, cached) = both(&input, &mut cache);
                proptest::prop_assert_eq!(plain, cached, "{}", input.display());
            }
        }
    }
}
