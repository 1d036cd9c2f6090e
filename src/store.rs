//! The profile directory: atomic writes, a per-profile lock, template reads, rollback.
//!
//! libvirt 9.0 rewrote `.files` in place with `O_TRUNC` and took no lock
//! (`docs/weak-spots.md#w5`: of 40 concurrent `-F` appends, one survived; a crash leaves a
//! truncated file that the next `apparmor_parser` run rejects). Here every write goes to a
//! temporary file in the same directory, is flushed with fsync and renamed over the target, and
//! the directory is synced; a read-modify-write-load sequence holds an exclusive `flock` on a
//! per-profile lock file.
//!
//! Only a held [`Lock`] writes: [`Store`] reads (paths, the profiles, the installed
//! templates) and takes locks, so that code given no lock (a dry run) cannot write.
//!
//! Every file created in `libvirt/` is named `libvirt-<uuid>...` (the profile, `.files`,
//! `.lock`, and `<name>.XXXXXX.tmp` temporaries): the helper's own AppArmor profile lets it
//! write only `libvirt-<uuid>*` there (Debian 12's stock
//! `/etc/apparmor.d/usr.lib.libvirt.virt-aa-helper`; newer libvirt's `libvirt-@{UUID}*`).
//! The lock and the directory fsync are safety steps that profile does not allow (no `k`,
//! no read of the directory): when they are denied the run goes on without them, as
//! libvirt 9.0 always did, with one warning naming the rule that enables them.

// This is an I/O module: it may touch the filesystem and processes (clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use crate::domain::VirtType;
use crate::error::{
    allow_hint, allow_rule, io_reason, is_denied, quote_path, Diagnostics, Error, Result,
};
use crate::fsio::{read_own, read_trusted};
use crate::name::ProfileName;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of written profile files (libvirt writes 0644).
pub const FILE_MODE: u32 = 0o644;

/// Attempts to open the lock file when it keeps disappearing between the exclusive create
/// and the plain open (another run's `-D`); a dangling symlink in its place would otherwise
/// loop forever.
const LOCK_OPEN_ATTEMPTS: usize = 100;

/// The policy tree's `libvirt/` directory: where the profiles are, read, and locked.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store for policy tree root `apparmor_dir` (profiles live in its `libvirt/`).
    pub fn new(apparmor_dir: &Path) -> Self {
        Store {
            dir: apparmor_dir.join("libvirt"),
        }
    }

    /// `libvirt/`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `libvirt/libvirt-<uuid>`.
    pub fn profile_path(&self, name: &ProfileName) -> PathBuf {
        self.dir.join(name.to_string())
    }

    /// `libvirt/libvirt-<uuid>.files`.
    pub fn files_path(&self, name: &ProfileName) -> PathBuf {
        self.dir.join(format!("{name}.files"))
    }

    /// `libvirt/libvirt-<uuid>.lock`: named like the profile because the helper's own
    /// AppArmor profile lets it create only `libvirt-<uuid>*` in `libvirt/` (a hidden
    /// `.libvirt-<uuid>.lock` is denied). Its name does not matter to `apparmor_parser`,
    /// which never loads the contents of `libvirt/` by itself, only the profile libvirt
    /// passes it (and the `.files` that profile includes).
    pub fn lock_path(&self, name: &ProfileName) -> PathBuf {
        self.dir.join(format!("{name}.lock"))
    }

    /// Takes the exclusive per-profile lock, creating `libvirt/` if needed. Blocks until
    /// other runs for the same profile are done. If opening or locking the file is denied
    /// (`EACCES`/`EPERM`: the helper's AppArmor profile has no `k` for it), goes on
    /// without the lock, as libvirt 9.0 does, with a warning naming the rule to add.
    pub fn lock(&self, name: &ProfileName, diag: &mut Diagnostics) -> Result<Lock> {
        self.ensure_dir()?;
        let path = self.lock_path(name);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (file, created) = match open_lock_file(&path) {
                Ok(opened) => opened,
                Err(e) if is_denied(&e) => return Ok(self.without_lock(path, &e, diag)),
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound
                        && attempts < LOCK_OPEN_ATTEMPTS =>
                {
                    continue
                }
                Err(e) => return Err(Error::io(&path, "open the lock file", e)),
            };
            if let Err(e) = file.lock() {
                if created {
                    // Leave nothing behind: the file exists only because this run made it.
                    let _ = std::fs::remove_file(&path);
                }
                if is_denied(&e) {
                    return Ok(self.without_lock(path, &e, diag));
                }
                return Err(Error::io(&path, "lock", e));
            }
            // If another run removed the lock file (-D) while we waited, we hold a lock on
            // an orphaned inode: start again on the current file.
            let held = file.metadata().map_err(|e| Error::io(&path, "stat", e))?;
            match std::fs::metadata(&path) {
                Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => {
                    return Ok(Lock {
                        file: Some(file),
                        path,
                        dir_sync_denied: false,
                    });
                }
                _ => continue,
            }
        }
    }

    /// The profiles in `libvirt/`, sorted: the regular files whose whole name is a
    /// canonical profile name ([`ProfileName::parse`]), so never a `.files`, a `.lock`, a
    /// temporary, a template, a directory or a symbolic link. No `libvirt/` means none.
    pub fn profiles(&self) -> Result<Vec<ProfileName>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) if is_denied(&e) => {
                return Err(Error::Denied {
                    hint: allow_hint(&allow_rule(&self.dir, "/", "r")),
                    path: self.dir.clone(),
                    source: e,
                })
            }
            Err(e) => return Err(Error::io(&self.dir, "list", e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&self.dir, "list", e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let Ok(profile) = ProfileName::parse(&name) else {
                continue;
            };
            // The entry's own type (a symbolic link is not followed).
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                names.push(profile);
            }
        }
        names.sort_by_key(ProfileName::uuid);
        Ok(names)
    }

    fn without_lock(&self, path: PathBuf, e: &std::io::Error, diag: &mut Diagnostics) -> Lock {
        diag.note(format!(
            "{}: cannot lock ({}): running without the per-profile lock, as libvirt 9.0 does; {}",
            quote_path(&path),
            io_reason(e),
            allow_hint(&allow_rule(&self.dir, "/libvirt-*.lock", "rwk"))
        ));
        Lock {
            file: None,
            path,
            dir_sync_denied: false,
        }
    }

    fn ensure_dir(&self) -> Result<()> {
        if !self.dir.is_dir() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(&self.dir)
                .map_err(|e| Error::io(&self.dir, "create directory", e))?;
        }
        Ok(())
    }

    /// `libvirt/TEMPLATE.<type>`: where the installed template for a virtualization type is
    /// looked for.
    pub fn template_path(&self, virt: VirtType) -> PathBuf {
        self.dir.join(format!("TEMPLATE.{}", virt.template_name()))
    }

    /// The text of the installed template for a virtualization type ([`Self::template_path`]),
    /// `None` if there is none. Which template to use instead is not the store's choice
    /// (`render::Template::choose`).
    pub fn installed_template(&self, virt: VirtType) -> Result<Option<String>> {
        let path = self.template_path(virt);
        match read_trusted(&path, |path, why| Error::Template { path, why })? {
            Some(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| Error::Template {
                    path,
                    why: "is not valid UTF-8".into(),
                }),
            None => Ok(None),
        }
    }
}

/// The prefix of the temporary file written before it is renamed to `target`: the target's
/// own name and a dot (the random part and `.tmp` follow), so it starts with
/// `libvirt-<uuid>` like every file the helper's profile lets it create.
pub fn temp_prefix(target: &Path) -> String {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{name}.")
}

/// Opens the lock file, creating it if needed; also says whether this call created it (so a
/// failed lock can remove what this run made, and only that). `NotFound` if it vanished
/// between the exclusive create and the plain open (a `-D` of another run).
fn open_lock_file(path: &Path) -> std::io::Result<(File, bool)> {
    let mut options = OpenOptions::new();
    // Never through a symbolic link: a link planted in place of the lock would make the
    // helper open (and create) whatever it names.
    options
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    match options.clone().create_new(true).open(path) {
        Ok(file) => return Ok((file, true)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    options.open(path).map(|file| (file, false))
}

/// Holds the per-profile lock until dropped (or stands for it when it could not be taken),
/// and is the only writer of the profile directory.
#[derive(Debug)]
pub struct Lock {
    /// `None` when taking the lock was denied and the run goes on without it.
    file: Option<File>,
    path: PathBuf,
    /// Opening the directory to fsync it was denied: every later sync of this run is
    /// skipped too (one warning per run, not per write). Every write of a run is in `dir`.
    dir_sync_denied: bool,
}

impl Lock {
    /// Writes `bytes` to `path` atomically: temporary file `<name>.XXXXXX.tmp` in the same
    /// directory (so it matches the same `libvirt-<uuid>*` rule as the target), mode 0644,
    /// fsync, rename, fsync of the directory.
    pub fn write_atomic(
        &mut self,
        path: &Path,
        bytes: &[u8],
        diag: &mut Diagnostics,
    ) -> Result<()> {
        let dir = path.parent().unwrap_or_else(|| Path::new("/"));
        let mut tmp = tempfile::Builder::new()
            .prefix(&temp_prefix(path))
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(|e| Error::io(dir, "create a temporary file in", e))?;
        tmp.write_all(bytes)
            .and_then(|_| {
                tmp.as_file()
                    .set_permissions(std::fs::Permissions::from_mode(FILE_MODE))
            })
            .and_then(|_| tmp.as_file().sync_all())
            .map_err(|e| Error::io(tmp.path(), "write", e))?;
        tmp.persist(path)
            .map_err(|e| Error::io(path, "replace", e.error))?;
        self.sync_dir(dir, diag)
    }

    /// Removes `path` if it exists (and syncs the directory).
    pub fn remove_optional(&mut self, path: &Path, diag: &mut Diagnostics) -> Result<()> {
        match std::fs::remove_file(path) {
            Ok(()) => self.sync_dir(path.parent().unwrap_or_else(|| Path::new("/")), diag),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(path, "remove", e)),
        }
    }

    /// Makes a rename or removal in `dir` durable. Opening the directory is denied by the
    /// helper's stock AppArmor profile (it may read `libvirt/*`, not `libvirt/`): then the
    /// run goes on without, as libvirt 9.0 does, with one warning per run.
    fn sync_dir(&mut self, dir: &Path, diag: &mut Diagnostics) -> Result<()> {
        if self.dir_sync_denied {
            return Ok(());
        }
        let handle = match File::open(dir) {
            Ok(handle) => handle,
            Err(e) if is_denied(&e) => {
                self.dir_sync_denied = true;
                diag.note(format!(
                    "{}: cannot open the directory to fsync it ({}): going on without the directory fsync after renames, as libvirt 9.0 does; {}",
                    quote_path(dir),
                    io_reason(&e),
                    allow_hint(&allow_rule(dir, "/", "r"))
                ));
                return Ok(());
            }
            Err(e) => return Err(Error::io(dir, "sync directory", e)),
        };
        handle
            .sync_all()
            .map_err(|e| Error::io(dir, "sync directory", e))
    }

    /// Whether the lock is really held (false in the degraded mode of [`Store::lock`]).
    pub fn is_held(&self) -> bool {
        self.file.is_some()
    }

    /// Removes the lock file (when the profile is deleted): while holding the lock, waiters
    /// notice the changed inode and retry on a fresh file; without it (denied), this removes
    /// a lock file an earlier run left, so `-D` leaves nothing behind either way.
    pub fn remove_file(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The previous contents of the files a run changes, to put back if loading fails.
#[derive(Debug, Default)]
pub struct Snapshot {
    saved: Vec<(PathBuf, Option<Vec<u8>>)>,
}

impl Snapshot {
    /// Records the current content (or absence) of `path`.
    pub fn save(&mut self, path: &Path) -> Result<()> {
        let before = read_own(path)?;
        self.saved.push((path.to_path_buf(), before));
        Ok(())
    }

    /// The recorded content of `path`.
    pub fn before(&self, path: &Path) -> Option<&[u8]> {
        self.saved
            .iter()
            .find(|(p, _)| p == path)
            .and_then(|(_, b)| b.as_deref())
    }

    /// Puts every recorded file back as it was (rewritten atomically under `lock`, or
    /// removed).
    pub fn restore(&self, lock: &mut Lock, diag: &mut Diagnostics) -> Result<()> {
        for (path, before) in self.saved.iter().rev() {
            match before {
                Some(bytes) => {
                    if read_own(path)?.as_deref() != Some(bytes.as_slice()) {
                        lock.write_atomic(path, bytes, diag)?;
                    }
                }
                None => lock.remove_optional(path, diag)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "libvirt-00000000-0000-0000-0000-0123456789ab";

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn atomic_write_replaces_and_sets_mode() {
        let t = tempfile::tempdir().unwrap();
        let store = Store::new(t.path());
        let mut diag = Diagnostics::default();
        let mut lock = store
            .lock(&ProfileName::parse(NAME).unwrap(), &mut diag)
            .unwrap();
        let p = store.dir().join("f");
        lock.write_atomic(&p, b"one", &mut diag).unwrap();
        lock.write_atomic(&p, b"two", &mut diag).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::metadata(&p).unwrap().mode() & 0o777, 0o644);
        assert_eq!(
            names(store.dir()),
            ["f", &format!("{NAME}.lock")],
            "no temporary file is left behind"
        );
        assert!(diag.is_empty());
    }

    #[test]
    fn temporaries_are_named_after_their_target() {
        // The helper's AppArmor profile allows only libvirt-<uuid>* in libvirt/.
        assert_eq!(
            temp_prefix(&Path::new("/x/libvirt").join(format!("{NAME}.files"))),
            format!("{NAME}.files.")
        );
        let store = Store::new(Path::new("/x"));
        let name = ProfileName::parse(NAME).unwrap();
        assert_eq!(
            store.lock_path(&name),
            Path::new("/x/libvirt").join(format!("{NAME}.lock"))
        );
    }

    #[test]
    fn snapshot_restores_content_and_absence() {
        let t = tempfile::tempdir().unwrap();
        let store = Store::new(t.path());
        let mut diag = Diagnostics::default();
        let mut lock = store
            .lock(&ProfileName::parse(NAME).unwrap(), &mut diag)
            .unwrap();
        let a = store.dir().join("a");
        let b = store.dir().join("b");
        std::fs::write(&a, b"old").unwrap();
        let mut s = Snapshot::default();
        s.save(&a).unwrap();
        s.save(&b).unwrap();
        lock.write_atomic(&a, b"new", &mut diag).unwrap();
        lock.write_atomic(&b, b"new", &mut diag).unwrap();
        s.restore(&mut lock, &mut diag).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"old");
        assert!(!b.exists());
    }

    #[test]
    fn templates_writable_by_others_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let store = Store::new(t.path());
        std::fs::create_dir(store.dir()).unwrap();
        let p = store.dir().join("TEMPLATE.qemu");
        std::fs::write(&p, "x").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).unwrap();
        let e = store.installed_template(VirtType::Qemu("kvm")).unwrap_err();
        assert!(e.to_string().contains("writable by group or others"), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            store.installed_template(VirtType::Qemu("kvm")).unwrap(),
            Some("x".into())
        );
        assert_eq!(store.installed_template(VirtType::Lxc).unwrap(), None);
        assert_eq!(
            store.template_path(VirtType::Other("xen")),
            store.dir().join("TEMPLATE.xen")
        );
    }

    #[test]
    fn lock_is_exclusive_per_profile() {
        let t = tempfile::tempdir().unwrap();
        let store = Store::new(t.path());
        let name = ProfileName::parse(NAME).unwrap();
        let mut diag = Diagnostics::default();
        let held = store.lock(&name, &mut diag).unwrap();
        assert!(held.is_held());
        let other = File::open(store.lock_path(&name)).unwrap();
        assert!(other.try_lock().is_err());
        drop(held);
        assert!(other.try_lock().is_ok());
        assert!(diag.is_empty());
    }

    #[test]
    fn a_dangling_lock_symlink_is_an_error_not_a_loop() {
        let t = tempfile::tempdir().unwrap();
        let store = Store::new(t.path());
        let name = ProfileName::parse(NAME).unwrap();
        std::fs::create_dir(store.dir()).unwrap();
        std::os::unix::fs::symlink(t.path().join("nowhere/x"), store.lock_path(&name)).unwrap();
        let e = store.lock(&name, &mut Diagnostics::default()).unwrap_err();
        assert_eq!(e.code(), 6);
        assert!(e.to_string().contains("cannot open the lock file"), "{e}");
    }
}
