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
//! [`canonicalize_cached`] gives the same answers with a [`PrefixCache`] kept for a run:
//! a name is looked up in a resolved directory once. The walk is a function of the
//! components taken in order, and each step depends only on the directory resolved so far
//! and the next component, so the cache maps (resolved directory, component) to what the
//! component is there: a directory (which gets a number, the key of the names below it), a
//! file, a symlink and its target, or nothing. Every path, however it is spelt (through a
//! symlink, `..`, an absolute link), reuses what an earlier one found, and symlinks are
//! still counted one by one toward [`MAX_SYMLINKS`]. The cache once keyed
//! every prefix of every path as written, whose bytes grow with the square of a path's
//! length (990 MB for 300 paths of `a/../a/../...`); an entry now holds one name, so the
//! cache grows with the names the input makes the walk look up, and never past
//! `CACHE_BUDGET`. A tree changed by someone else during the run is seen as it was when
//! first walked: the same as if the change had come after the run.
//!
//! A name is looked up from a descriptor of its directory (`O_PATH`, then `fstatat` and
//! `readlinkat`), so the kernel looks up one component a call: an `lstat` of each prefix
//! as a whole path walked the prefix again, O(depth²) component look-ups for a path 1,900
//! directories deep. Steps the cache answers are taken by the kernel
//! only when a name is next looked up, as one relative open. A candidate of [`PATH_MAX`]
//! bytes or more, or a directory that cannot be opened, is looked up by its whole path as
//! before, for the same answers.

// This is an I/O module: it may touch the filesystem and processes (clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use crate::path::CanonicalPath;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
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

pub use crate::path::Kind;

impl Kind {
    fn of(t: FileType) -> Kind {
        match t {
            FileType::Directory => Kind::Directory,
            FileType::RegularFile => Kind::File,
            FileType::BlockDevice => Kind::BlockDevice,
            _ => Kind::Other,
        }
    }
}

/// What the walks of a run found, for [`canonicalize_cached`] (see the module
/// documentation): one entry per name looked up in a resolved directory.
#[derive(Debug)]
pub struct PrefixCache {
    /// (directory, name) to what the name is in it. Directories are numbers (the root is
    /// [`ROOT`]): a key holds one component, never a path, so an entry costs the bytes of
    /// the name (and of a symlink's target), however deep the directory.
    entries: HashMap<(u32, OsString), Entry>,
    /// Each directory's parent (the root's is the root), indexed by its number.
    parents: Vec<u32>,
    /// Bytes of names and targets held; no entry is added past `CACHE_BUDGET`.
    bytes: usize,
    /// `lstat` calls made by the walks through this cache.
    lstats: usize,
    /// Components the kernel looked up for those walks: one a call through a directory's
    /// descriptor, every component of a path given whole.
    kernel_steps: usize,
}

/// The number of `/` in a [`PrefixCache`].
const ROOT: u32 = 0;

/// The most bytes of names and symlink targets a [`PrefixCache`] holds:
/// the entries grow with the names an input makes the walk look up, at most a few per
/// input byte, and a filesystem full of long symlinks cannot make them grow past this.
/// Past it, names are looked up without being kept: the answers are the same.
const CACHE_BUDGET: usize = 64 << 20;

/// What an entry costs besides its name and target: the key's number and string, the
/// value, the hash table's slot and a directory's parent.
const ENTRY_COST: usize = 96;

/// What a name in a resolved directory is.
#[derive(Debug, Clone)]
enum Entry {
    /// A directory, and its number (always one in the cache; `None` from a look-up the
    /// cache had no room for).
    Dir(Option<u32>),
    /// Anything else that exists.
    Other(Kind),
    /// A symbolic link to this target.
    Link(PathBuf),
    /// Nothing.
    Missing,
}

impl Default for PrefixCache {
    fn default() -> Self {
        PrefixCache {
            entries: HashMap::new(),
            parents: vec![ROOT],
            bytes: 0,
            lstats: 0,
            kernel_steps: 0,
        }
    }
}

impl PrefixCache {
    /// `lstat` calls made by the walks through this cache.
    pub fn lstats(&self) -> usize {
        self.lstats
    }

    /// Bytes held: names, symlink targets and `ENTRY_COST` an entry.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Keeps what `name` is in directory `dir`; a directory gets a number, which is
    /// returned. Nothing is kept (and `None` returned for a directory) past the budget.
    fn insert(&mut self, dir: u32, name: OsString, entry: Entry) -> Option<u32> {
        let cost = ENTRY_COST
            + name.len()
            + match &entry {
                Entry::Link(t) => t.as_os_str().len(),
                _ => 0,
            };
        if self.bytes + cost > CACHE_BUDGET {
            return None;
        }
        let Ok(next) = u32::try_from(self.parents.len()) else {
            return None;
        };
        let (entry, number) = match entry {
            Entry::Dir(_) => {
                self.parents.push(dir);
                (Entry::Dir(Some(next)), Some(next))
            }
            other => (other, None),
        };
        self.bytes += cost;
        self.entries.insert((dir, name), entry);
        number
    }
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
    let mut w = Walk {
        resolved: PathBuf::from("/"),
        kind: Kind::Directory,
        dir: Some(ROOT),
        missing: Vec::new(),
        missing_from: None,
        links: 0,
        fd: None,
        ups: 0,
        downs: Vec::new(),
    };
    let mut pending: VecDeque<OsString> = VecDeque::new();
    push_components(&mut pending, input, false);
    w.run(&mut pending, &mut cache)?;
    let exists = w.missing.is_empty();
    let mut path = w.resolved;
    for m in w.missing {
        path.push(m);
    }
    // Symlinks can make the resolved path longer than the input.
    check_len(&path)?;
    Ok(Canonical {
        path: CanonicalPath::from_resolved(path),
        missing_from: w.missing_from,
        kind: exists.then_some(w.kind),
    })
}

/// The state of a walk after the components taken so far.
struct Walk {
    /// What the existing components resolved to.
    resolved: PathBuf,
    /// What `resolved` is.
    kind: Kind,
    /// The cache's number of `resolved` if a directory, else of the directory holding it;
    /// `None` if the cache has none (no cache, or past its budget).
    dir: Option<u32>,
    /// The components after the first missing one (or the first below a non-directory),
    /// folded lexically.
    missing: Vec<OsString>,
    /// The first missing component, for the warning.
    missing_from: Option<PathBuf>,
    /// Symlinks followed so far, over the whole path.
    links: usize,
    /// An `O_PATH` descriptor of a directory on the way, from which the kernel looks up
    /// one component a call: an `lstat` of a whole path walks it all again, O(depth²) for
    /// a walk. `None`: the walk opens `resolved` whole when it next
    /// looks a name up (at the start, after an absolute symlink, or if an open failed).
    fd: Option<OwnedFd>,
    /// With `fd`: `resolved` is `fd`'s directory, then `ups` times `..`, then `downs`
    /// (steps the cache answered, taken by the kernel only when a name is looked up next,
    /// so each step of the walk costs the kernel one component at most once).
    ups: usize,
    downs: Vec<OsString>,
}

/// How directories are held: by path only (no read access needed, as for `lstat`).
const DIR_FLAGS: OFlags = OFlags::PATH.union(OFlags::DIRECTORY).union(OFlags::CLOEXEC);

impl Walk {
    /// Walks the components in `pending` (the input's, then the targets of the symlinks it
    /// meets, each in front of the rest). With a cache, each name is looked up in its
    /// resolved directory once a run: the walk is the same as without
    /// it, step by step, so symlinks count toward [`MAX_SYMLINKS`] as they would uncached.
    fn run(
        &mut self,
        pending: &mut VecDeque<OsString>,
        cache: &mut Option<&mut PrefixCache>,
    ) -> Result<(), CanonError> {
        while let Some(comp) = pending.pop_front() {
            if comp == "." {
                continue;
            }
            if comp == ".." {
                if self.missing.pop().is_none() {
                    if self.kind == Kind::Directory {
                        self.dir = match (self.dir, cache.as_deref()) {
                            (Some(d), Some(c)) => c.parents.get(d as usize).copied(),
                            _ => None,
                        };
                        if self.downs.pop().is_none() {
                            self.ups += 1;
                        }
                    }
                    self.resolved.pop();
                    self.kind = Kind::Directory;
                }
                continue;
            }
            if !self.missing.is_empty() || self.kind != Kind::Directory {
                if self.missing.is_empty() {
                    self.missing_from
                        .get_or_insert_with(|| self.resolved.join(&comp));
                }
                self.missing.push(comp);
                continue;
            }
            let (known, comp) = match (self.dir, cache.as_deref()) {
                (Some(d), Some(c)) => {
                    let key = (d, comp);
                    (c.entries.get(&key).cloned(), key.1)
                }
                _ => (None, comp),
            };
            let (entry, child) = match known {
                Some(e) => (e, None),
                None => self.look_up(&comp, cache)?,
            };
            match entry {
                Entry::Dir(n) => {
                    self.resolved.push(&comp);
                    self.kind = Kind::Directory;
                    self.dir = n;
                    match child {
                        Some(fd) => {
                            self.fd = Some(fd);
                            self.ups = 0;
                            self.downs.clear();
                        }
                        // A cached step, or a directory that could not be opened: taken
                        // from `fd` when a name below is next looked up.
                        None => self.downs.push(comp),
                    }
                }
                Entry::Other(kind) => {
                    self.resolved.push(&comp);
                    self.kind = kind;
                }
                Entry::Missing => {
                    self.missing_from
                        .get_or_insert_with(|| self.resolved.join(&comp));
                    self.missing.push(comp);
                }
                Entry::Link(target) => {
                    self.links += 1;
                    if self.links > MAX_SYMLINKS {
                        return Err(CanonError::SymlinkLoop(self.resolved.join(&comp)));
                    }
                    if target.is_absolute() {
                        self.resolved = PathBuf::from("/");
                        self.kind = Kind::Directory;
                        self.dir = Some(ROOT);
                        self.fd = None;
                    }
                    push_components(pending, &target, true);
                }
            }
        }
        Ok(())
    }

    /// What `comp` is in the directory `resolved`, from the filesystem, kept in the cache
    /// (a directory kept gets its number), and a directory's descriptor for the step into
    /// it.
    fn look_up(
        &mut self,
        comp: &OsString,
        cache: &mut Option<&mut PrefixCache>,
    ) -> Result<(Entry, Option<OwnedFd>), CanonError> {
        let candidate = self.resolved.join(comp);
        // The kernel refuses a path of PATH_MAX bytes or more before looking at it: the
        // answer an `lstat` of the whole candidate always gave.
        if candidate.as_os_str().len() >= PATH_MAX {
            let e = io::Error::from_raw_os_error(rustix::io::Errno::NAMETOOLONG.raw_os_error());
            return Err(CanonError::Io(candidate, e));
        }
        let mut steps = 1;
        let io = |e: rustix::io::Errno| CanonError::Io(candidate.clone(), e.into());
        let dir = self.sync(&mut steps).map_err(io)?;
        let (entry, child) =
            match rustix::fs::statat(dir, comp.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => match FileType::from_raw_mode(st.st_mode) {
                    FileType::Symlink => {
                        steps += 1;
                        let target = rustix::fs::readlinkat(dir, comp.as_os_str(), Vec::new())
                            .map_err(io)?;
                        let target = PathBuf::from(OsString::from_vec(target.into_bytes()));
                        (Entry::Link(target), None)
                    }
                    t => match Kind::of(t) {
                        Kind::Directory => {
                            steps += 1;
                            // O_NOFOLLOW: a symlink swapped in since the stat is not entered
                            // (the next look-up below it then fails to open it, and says so).
                            let flags = DIR_FLAGS.union(OFlags::NOFOLLOW);
                            let child =
                                rustix::fs::openat(dir, comp.as_os_str(), flags, Mode::empty())
                                    .ok();
                            (Entry::Dir(None), child)
                        }
                        kind => (Entry::Other(kind), None),
                    },
                },
                Err(rustix::io::Errno::NOENT) => (Entry::Missing, None),
                Err(e) => return Err(io(e)),
            };
        let Some(c) = cache.as_deref_mut() else {
            return Ok((entry, child));
        };
        c.lstats += 1;
        c.kernel_steps += steps;
        let number = match self.dir {
            Some(d) => c.insert(d, comp.clone(), entry.clone()),
            None => None,
        };
        Ok(match entry {
            // A directory the cache keeps no number for: the walk goes on uncached below it.
            Entry::Dir(_) => (Entry::Dir(number), child),
            other => (other, child),
        })
    }

    /// The descriptor of the directory `resolved`: `fd` moved by the steps taken since
    /// (`..` `ups` times, then `downs`), or `resolved` opened whole. Adds the components the
    /// kernel looks up to `steps`.
    fn sync(&mut self, steps: &mut usize) -> rustix::io::Result<BorrowedFd<'_>> {
        let fd = match self.fd.take() {
            Some(fd) if self.ups == 0 && self.downs.is_empty() => fd,
            Some(fd) => {
                let mut rel = PathBuf::new();
                for _ in 0..self.ups {
                    rel.push("..");
                }
                for d in &self.downs {
                    rel.push(d);
                }
                *steps += self.ups + self.downs.len();
                rustix::fs::openat(&fd, &rel, DIR_FLAGS, Mode::empty())?
            }
            None => {
                *steps += self.resolved.components().count();
                rustix::fs::open(&self.resolved, DIR_FLAGS, Mode::empty())?
            }
        };
        self.ups = 0;
        self.downs.clear();
        let fd: &OwnedFd = self.fd.insert(fd);
        Ok(fd.as_fd())
    }
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
        // Every component was looked up once: the root's, link, real (its target), a, f.
        let first = root.components().count() - 1 + 4;
        assert_eq!(cache.lstats(), first);
        // Each entry holds its name (and a link's target) and ENTRY_COST.
        let names: usize = root
            .components()
            .skip(1)
            .map(|c| c.as_os_str().len())
            .sum::<usize>()
            + "link".len()
            + "real".len() * 2
            + "a".len()
            + "f".len();
        assert_eq!(cache.bytes(), names + first * ENTRY_COST);
        // Whatever names them again (as written, through the link, `..`, the absolute
        // link) costs no look-up; only new names do.
        for p in [
            "link/a/f",
            "real/a/f",
            "link/../real/a/./f",
            "abs/f",
            "link/a/f/..",
        ] {
            let c = canonicalize_cached(&root.join(p), &mut cache).unwrap();
            assert_eq!(c, canonicalize(&root.join(p)).unwrap(), "{p}");
        }
        assert_eq!(cache.lstats(), first + 1, "abs");
        canonicalize_cached(&root.join("real/a/g"), &mut cache).unwrap();
        canonicalize_cached(&root.join("real/a/g/../f"), &mut cache).unwrap();
        assert_eq!(
            cache.lstats(),
            first + 2,
            "g, once: missing names are kept too"
        );
        // The link now points elsewhere: the cached walk still answers from what it
        // resolved (it did not look again), the plain one sees the change.
        std::fs::remove_file(root.join("link")).unwrap();
        symlink("other", root.join("link")).unwrap();
        let again = canonicalize_cached(&root.join("link/a/g"), &mut cache).unwrap();
        assert_eq!(again.path.as_path(), root.join("real/a/g"));
        assert_eq!(canon(root.join("link/a/g")), root.join("other/a/g"));
    }

    /// A walk costs the kernel O(depth), not O(depth²). An `lstat` of
    /// each prefix as a whole path makes the kernel walk the prefix again: a path 1,900
    /// directories deep cost 1.8 million component look-ups.
    #[test]
    fn a_deep_walk_costs_the_kernel_one_step_a_component() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        let depth = 500;
        let deep: String = "/d".repeat(depth);
        let tree = PathBuf::from(format!("{}/tree{deep}", root.display()));
        std::fs::create_dir_all(&tree).unwrap();
        std::fs::write(tree.join("f"), b"").unwrap();
        symlink(".", tree.join("l")).unwrap();
        let mut cache = PrefixCache::default();
        // Down, through a link, up by `..` and down again: every name once.
        let p = format!("{}/tree{deep}/l/f/../../d/f", root.display());
        let c = canonicalize_cached(Path::new(&p), &mut cache).unwrap();
        assert_eq!(c.path.as_path(), tree.join("f"));
        assert_eq!(c, canonicalize(Path::new(&p)).unwrap());
        let lstats = root.components().count() - 1 + 1 + depth + 2;
        assert_eq!(cache.lstats(), lstats);
        // Through descriptors: two steps a name (its stat, then the open of a directory
        // or the read of a link), one for the file, one to open `/`.
        assert_eq!(cache.kernel_steps, 1 + 2 * lstats - 1);
        // A new name at the bottom, after cached steps all the way down: the directory is
        // opened whole once (each of its components), then one stat.
        let before = cache.kernel_steps;
        let p = format!("{}/tree{deep}/g", root.display());
        canonicalize_cached(Path::new(&p), &mut cache).unwrap();
        assert_eq!(cache.lstats(), lstats + 1);
        let opened = tree.components().count();
        assert_eq!(cache.kernel_steps - before, opened + 1);
        // In one walk, after a new name, up and down through cached names to another: the
        // descriptor of the last directory opened moves by what was walked since (`..`,
        // then `d`), not the whole path again.
        let before = cache.kernel_steps;
        let p = format!("{}/tree{deep}/h/../../d/i", root.display());
        let c = canonicalize_cached(Path::new(&p), &mut cache).unwrap();
        assert_eq!(c.path.as_path(), tree.join("i"));
        assert_eq!(cache.kernel_steps - before, opened + 1 + 2 + 1);
        // Down again through cached names only, from a descriptor opened near the top: the
        // name is looked up at the bottom (`y` is a file beside the top, not there).
        std::fs::write(root.join("tree/y"), b"").unwrap();
        let before = cache.kernel_steps;
        let p = format!("{}/tree/x/..{deep}/y", root.display());
        let c = canonicalize_cached(Path::new(&p), &mut cache).unwrap();
        assert_eq!(c.path.as_path(), tree.join("y"));
        assert_eq!(c.kind, None);
        let top = root.join("tree").components().count();
        assert_eq!(cache.kernel_steps - before, top + 1 + depth + 1);
    }

    /// An existing directory `len` bytes long (components of at most 200 bytes).
    fn long_dir(root: &Path, len: usize) -> PathBuf {
        let dir = long_path(root, len);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The kernel refuses a name of PATH_MAX bytes or more before looking at it
    /// (ENAMETOOLONG): a walk through descriptors, which never hands the kernel the whole
    /// name, refuses it the same way; one byte less is looked up.
    #[test]
    fn a_name_reaching_path_max_through_a_link_is_refused_as_the_kernel_does() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        let at_max = long_dir(&root.join("m"), PATH_MAX - 2);
        symlink(&at_max, root.join("l")).unwrap();
        let below = long_dir(&root.join("n"), PATH_MAX - 3);
        symlink(&below, root.join("k")).unwrap();
        for cache in [None, Some(&mut PrefixCache::default())] {
            match walk(&root.join("l/x"), cache) {
                Err(CanonError::Io(at, e)) => {
                    assert_eq!(at, at_max.join("x"));
                    assert_eq!(e.raw_os_error(), Some(36), "ENAMETOOLONG");
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(canon(root.join("k/x")), below.join("x"));
    }

    /// What a name is, from the walk's own stat: a block device made here.
    #[test]
    fn kinds_come_from_the_walks_own_stat() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        // The loop device's numbers (7, 0); creating it needs CAP_MKNOD (the tests run as
        // root).
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.join("blk"),
            FileType::BlockDevice,
            Mode::from_raw_mode(0o600),
            rustix::fs::makedev(7, 0),
        )
        .unwrap();
        std::fs::create_dir(root.join("d")).unwrap();
        std::fs::write(root.join("d/f"), b"").unwrap();
        let kind = |p: &str| canonicalize(&root.join(p)).unwrap().kind;
        assert_eq!(kind("blk"), Some(Kind::BlockDevice));
        assert_eq!(kind("d"), Some(Kind::Directory));
        assert_eq!(kind("d/f"), Some(Kind::File));
        assert_eq!(kind("d/g"), None);
        assert_eq!(
            canonicalize(Path::new("/dev/null")).unwrap().kind,
            Some(Kind::Other)
        );
    }

    /// Past its budget the cache keeps nothing more, and the answers stay the same.
    #[test]
    fn a_full_cache_keeps_nothing_and_answers_the_same() {
        let (_t, root) = cache_tree();
        let mut cache = PrefixCache {
            bytes: CACHE_BUDGET - ENTRY_COST - 1,
            ..PrefixCache::default()
        };
        for row in CACHE_TABLE {
            let input = PathBuf::from(format!("{}/{row}", root.display()));
            let (plain, cached) = both(&input, &mut cache);
            assert_eq!(plain, cached, "{row}");
        }
        assert_eq!(cache.bytes, CACHE_BUDGET - ENTRY_COST - 1);
        assert!(cache.entries.is_empty());
        assert_eq!(cache.parents, vec![ROOT]);
        // Just under it, one name fits (`/` and its first component).
        let mut cache = PrefixCache {
            bytes: CACHE_BUDGET - ENTRY_COST - 1,
            ..PrefixCache::default()
        };
        canonicalize_cached(Path::new("/a"), &mut cache).unwrap();
        assert_eq!(cache.bytes, CACHE_BUDGET);
        assert_eq!(cache.entries.len(), 1);
        // Counted all the same: opening `/`, then one stat.
        assert_eq!((cache.lstats(), cache.kernel_steps), (1, 2));
    }

    /// `/d<i>/a/../a/../...` up to PATH_MAX, each path through a
    /// directory of its own. A cache keyed by every prefix as written held the square of
    /// each path's length (990 MB for 300 such paths); keyed by resolved directory and next
    /// component it holds a few names per path.
    #[test]
    fn cache_memory_is_linear_in_the_input() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        let mut cache = PrefixCache::default();
        let mut input_bytes = 0;
        for i in 0..20 {
            let base = root.join(format!("d{i}"));
            std::fs::create_dir_all(base.join("a")).unwrap();
            let mut p = base.display().to_string();
            while p.len() < PATH_MAX - 20 {
                p.push_str("/a/..");
            }
            p.push_str("/disk.img");
            input_bytes += p.len();
            let p = PathBuf::from(p);
            let (plain, cached) = both(&p, &mut cache);
            assert_eq!(plain, cached);
            assert_eq!(canon(&p), base.join("disk.img"));
        }
        assert!(
            cache.bytes() <= input_bytes,
            "{} bytes cached for {input_bytes} bytes of input",
            cache.bytes()
        );
        // Each directory was examined once: the root's components, d<i>, a, and disk.img.
        let expected = root.components().count() - 1 + 20 * 3;
        assert_eq!(cache.lstats(), expected);
    }

    /// A deep tree named through many symlinks is walked once. Keyed by
    /// the input as written, each spelling walked the whole depth again (2,600 paths
    /// 1,900 directories deep: millions of `lstat`s, each itself a walk of the path).
    #[test]
    fn a_deep_tree_is_walked_once_whatever_names_it() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        let depth = 300;
        let deep: String = "/d".repeat(depth);
        let tree = PathBuf::from(format!("{}/tree{deep}", root.display()));
        std::fs::create_dir_all(&tree).unwrap();
        std::fs::write(tree.join("f"), b"").unwrap();
        let mut cache = PrefixCache::default();
        let links = 10;
        for i in 0..links {
            symlink("tree", root.join(format!("l{i}"))).unwrap();
            let p = PathBuf::from(format!("{}/l{i}{deep}/f", root.display()));
            let c = canonicalize_cached(&p, &mut cache).unwrap();
            assert_eq!(c.path.as_path(), tree.join("f"));
            assert_eq!(c.kind, Some(Kind::File));
        }
        // The root's components, then tree, d x depth and f once, and each link once.
        let expected = root.components().count() - 1 + depth + 2 + links;
        assert_eq!(cache.lstats(), expected);
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
