//! Bounded, type-checked reads of whole files: storage pool definitions, the profile and
//! `.files` the helper wrote, templates and the configuration. Shared by [`crate::store`], [`crate::resolve`] and [`crate::app`], and
//! importing nothing from the crate but [`crate::error`], so the resolver does not depend
//! on the store (`tests/it/layering.rs`).
//!
//! Every read opens without blocking and checks the type on the opened descriptor, and
//! stops at [`MAX_FILE`].

// This is an I/O module: it may touch the filesystem and processes (clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use crate::error::{allow_hint, allow_rule, io_reason, is_denied, Error, Result};
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Largest profile, `.files` or template read (libvirt's `MAX_FILE_LEN`).
pub const MAX_FILE: u64 = 10 * 1024 * 1024;

/// Reads a file if it exists, refusing files over [`MAX_FILE`] and anything but a regular
/// file (a FIFO in its place would block the helper forever while it holds the lock).
/// Follows symbolic links: for files the admin manages (storage pool definitions).
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    read_regular(path, Follow::Links)
}

/// Reads a profile or `.files` the helper wrote itself, if it exists: a regular file, never
/// read through a symbolic link. A `.files` symlinked to another file would otherwise copy
/// that file's lines (say, another VM's rules) into the regenerated rules on `-F`, and a
/// FIFO would hang `-r` while it holds the lock. The helper only ever
/// renames regular files into place, so anything else was planted or broken: an error.
pub fn read_own(path: &Path) -> Result<Option<Vec<u8>>> {
    read_regular(path, Follow::Never)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Follow {
    Links,
    Never,
}

/// Opens `path` for reading without blocking (`O_NONBLOCK`: opening a FIFO does not wait
/// for a writer) and, with [`Follow::Never`], without following a final symbolic link
/// (`O_NOFOLLOW`); then checks the type on the opened descriptor, so nothing swapped in
/// between a check and the open is read.
fn read_regular(path: &Path, follow: Follow) -> Result<Option<Vec<u8>>> {
    use rustix::fs::OFlags;
    let mut flags = OFlags::NONBLOCK | OFlags::NOCTTY;
    if follow == Follow::Never {
        flags |= OFlags::NOFOLLOW;
    }
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e)
            if follow == Follow::Never
                && e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) =>
        {
            return Err(Error::io(
                path,
                "read",
                std::io::Error::other(
                    "it is a symbolic link; the helper reads only the files it wrote itself",
                ),
            ))
        }
        Err(e) => return Err(Error::io(path, "open", e)),
    };
    let kind = file
        .metadata()
        .map_err(|e| Error::io(path, "stat", e))?
        .file_type();
    if !kind.is_file() {
        return Err(Error::io(
            path,
            "read",
            std::io::Error::other(format!("it is {}, not a regular file", describe(kind))),
        ));
    }
    read_capped(file, path).map(Some)
}

/// "a FIFO", "a directory"...: what a non-regular file is, for messages.
fn describe(kind: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else {
        "a special file"
    }
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
/// reported through `refuse` (a template error or a configuration error). A file that
/// exists but may not be read (`EACCES`/`EPERM`, e.g. the helper's AppArmor profile has no
/// rule for it) is refused too, naming the rule to add: the admin asked for that file, so
/// going on with the defaults would silently drop their settings. (A missing file under
/// AppArmor is `ENOENT`, as without it: the defaults.)
pub fn read_trusted(path: &Path, refuse: fn(PathBuf, String) -> Error) -> Result<Option<Vec<u8>>> {
    // O_NONBLOCK: a FIFO in place of a template or the configuration is opened without
    // waiting for a writer, then refused below as not a regular file.
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY).bits() as i32)
        .open(path);
    let file = match opened {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if is_denied(&e) => {
            return Err(refuse(
                path.to_path_buf(),
                format!(
                    "cannot be read ({}); {}",
                    io_reason(&e),
                    allow_hint(&allow_rule(path, "", "r"))
                ),
            ))
        }
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
