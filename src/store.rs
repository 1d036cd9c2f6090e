//! The profile directory: atomic writes, a per-profile lock, template reads, rollback.
//!
//! libvirt 9.0 rewrote `.files` in place with `O_TRUNC` and took no lock (weak spot W5: of
//! 40 concurrent `-F` appends, one survived; a crash leaves a truncated file that the next
//! `apparmor_parser` run rejects). Here every write goes to a temporary file in the same
//! directory, is flushed with fsync and renamed over the target, and the directory is synced;
//! a read-modify-write-load sequence holds an exclusive `flock` on a per-profile lock file.

use crate::domain::VirtType;
use crate::error::{Error, Result};
use crate::name::ProfileName;
use crate::render::Template;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Largest profile, `.files` or template read (libvirt's `MAX_FILE_LEN`).
pub const MAX_FILE: u64 = 10 * 1024 * 1024;

/// Mode of written profile files (libvirt writes 0644).
pub const FILE_MODE: u32 = 0o644;

/// The policy tree's `libvirt/` directory.
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

    /// `libvirt/.libvirt-<uuid>.lock`: hidden, so `apparmor_parser` never loads it when it is
    /// given the directory.
    pub fn lock_path(&self, name: &ProfileName) -> PathBuf {
        self.dir.join(format!(".{name}.lock"))
    }

    /// Takes the exclusive per-profile lock, creating `libvirt/` if needed. Blocks until
    /// other runs for the same profile are done.
    pub fn lock(&self, name: &ProfileName) -> Result<Lock> {
        self.ensure_dir()?;
        let path = self.lock_path(name);
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&path)
                .map_err(|e| Error::io(&path, "open the lock file", e))?;
            file.lock().map_err(|e| Error::io(&path, "lock", e))?;
            // If another run removed the lock file (-D) while we waited, we hold a lock on
            // an orphaned inode: start again on the current file.
            let held = file.metadata().map_err(|e| Error::io(&path, "stat", e))?;
            match std::fs::metadata(&path) {
                Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => {
                    return Ok(Lock { _file: file, path });
                }
                _ => continue,
            }
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

    /// The template for a virtualization type: the installed `TEMPLATE.<type>` if there is
    /// one, else the built-in one.
    pub fn template(&self, virt: VirtType) -> Result<Template> {
        let path = self.dir.join(format!("TEMPLATE.{}", virt.template_name()));
        match read_trusted(&path, |path, why| Error::Template { path, why })? {
            Some(bytes) => {
                let text = String::from_utf8(bytes).map_err(|_| Error::Template {
                    path: path.clone(),
                    why: "is not valid UTF-8".into(),
                })?;
                Ok(Template::Installed { path, text })
            }
            None => Template::builtin(virt).ok_or_else(|| Error::Template {
                path,
                why: format!(
                    "does not exist, and there is no built-in template for virtualization type '{}'",
                    virt.name()
                ),
            }),
        }
    }
}

/// Holds the per-profile lock until dropped.
#[derive(Debug)]
pub struct Lock {
    _file: File,
    path: PathBuf,
}

impl Lock {
    /// Removes the lock file while holding the lock (when the profile is deleted). Waiters
    /// notice the changed inode and retry on a fresh file.
    pub fn remove_file(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads a file if it exists, refusing files over [`MAX_FILE`].
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, "open", e)),
    };
    read_capped(file, path).map(Some)
}

fn read_capped(file: File, path: &Path) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(path, "read", e))?;
    if buf.len() as u64 > MAX_FILE {
        return Err(Error::io(
            path,
            "read",
            std::io::Error::other("larger than 10 MiB"),
        ));
    }
    Ok(buf)
}

/// Reads a template or the configuration, refusing one that another user could have
/// written: a template writable by a non-root user is a way around the whole policy (sudo-rs checks its sudoers the same
/// way, `secure_open`). The checks are made on the opened file, not the path; a refusal is
/// reported through `refuse` (a template error or a configuration error).
pub fn read_trusted(path: &Path, refuse: fn(PathBuf, String) -> Error) -> Result<Option<Vec<u8>>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, "open", e)),
    };
    let md = file.metadata().map_err(|e| Error::io(path, "stat", e))?;
    let euid = rustix::process::geteuid().as_raw();
    if md.uid() != 0 && md.uid() != euid {
        return Err(refuse(
            path.to_path_buf(),
            format!("is owned by uid {}, not by root", md.uid()),
        ));
    }
    if md.mode() & 0o022 != 0 {
        return Err(refuse(
            path.to_path_buf(),
            "is writable by group or others".into(),
        ));
    }
    if !md.is_file() {
        return Err(refuse(path.to_path_buf(), "is not a regular file".into()));
    }
    read_capped(file, path).map(Some)
}

/// Writes `bytes` to `path` atomically: temporary file in the same directory, mode 0644,
/// fsync, rename, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("/"));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
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
    sync_dir(dir)
}

/// Removes `path` if it exists (and syncs the directory).
pub fn remove_optional(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => sync_dir(path.parent().unwrap_or_else(|| Path::new("/"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, "remove", e)),
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, "sync directory", e))
}

/// The previous contents of the files a run changes, to put back if loading fails.
#[derive(Debug, Default)]
pub struct Snapshot {
    saved: Vec<(PathBuf, Option<Vec<u8>>)>,
}

impl Snapshot {
    /// Records the current content (or absence) of `path`.
    pub fn save(&mut self, path: &Path) -> Result<()> {
        let before = read_optional(path)?;
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

    /// Puts every recorded file back as it was (rewritten atomically, or removed).
    pub fn restore(&self) -> Result<()> {
        for (path, before) in self.saved.iter().rev() {
            match before {
                Some(bytes) => {
                    if read_optional(path)?.as_deref() != Some(bytes.as_slice()) {
                        write_atomic(path, bytes)?;
                    }
                }
                None => remove_optional(path)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_sets_mode() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("f");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::metadata(&p).unwrap().mode() & 0o777, 0o644);
        let leftovers: Vec<_> = std::fs::read_dir(t.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn snapshot_restores_content_and_absence() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("a");
        let b = t.path().join("b");
        std::fs::write(&a, b"old").unwrap();
        let mut s = Snapshot::default();
        s.save(&a).unwrap();
        s.save(&b).unwrap();
        write_atomic(&a, b"new").unwrap();
        write_atomic(&b, b"new").unwrap();
        s.restore().unwrap();
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
        let e = store.template(VirtType::Qemu("kvm")).unwrap_err();
        assert!(e.to_string().contains("writable by group or others"), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            store.template(VirtType::Qemu("kvm")).unwrap(),
            Template::Installed { .. }
        ));
        assert!(matches!(
            store.template(VirtType::Lxc).unwrap(),
            Template::BuiltIn(VirtType::Lxc)
        ));
        assert!(store.template(VirtType::Other("xen")).is_err());
    }

    #[test]
    fn lock_is_exclusive_per_profile() {
        let t = tempfile::tempdir().unwrap();
        let store = Store::new(t.path());
        let name = ProfileName::parse("libvirt-00000000-0000-0000-0000-0123456789ab").unwrap();
        let held = store.lock(&name).unwrap();
        let other = File::open(store.lock_path(&name)).unwrap();
        assert!(other.try_lock().is_err());
        drop(held);
        assert!(other.try_lock().is_ok());
    }
}
