//! Site configuration: `/etc/libvirt/virt-aa-helper.conf`.
//!
//! libvirtd runs the helper with a fixed command line, so a host's choices live in a file.
//! Every setting but one defaults to libvirt 9.0's behaviour; the newer libvirt fixes are
//! opt-in. The exception is `backing_deny_write`, whose 9.0 behaviour breaks block jobs:
//!
//! ```text
//! # Read-only disks (<readonly/>, CD-ROMs, their <dataStore>) and backing layers: libvirt
//! # 9.0 writes `"<file>" rk,` plus `deny "<file>" w,`. The deny rule overrides the `rwk`
//! # that libvirtd grants with -F during block-commit or block-pull, so those jobs fail
//! # (libvirt work item 806). libvirt 12.1 writes only `"<file>" rk,` (add_file_path,
//! # commit 0fe20ddc), and so does the default "no": QEMU still cannot write the file until
//! # libvirtd grants it. "yes" restores 9.0's deny rule. Firmware, kernels and other
//! # read-only files keep theirs either way, as in libvirt 12.1.
//! backing_deny_write = no
//!
//! # The profile's include of its rules: libvirt 9.0 writes `#include <libvirt/<name>.files>`,
//! # so a missing .files makes the profile unparsable (docs/weak-spots.md#w4); newer libvirt writes
//! # `#include if exists <...>`. Applies to profiles created from now on.
//! files_include = required        # or: if-exists
//!
//! bridge_helper = /usr/lib/qemu/qemu-bridge-helper
//! pool_dir = /etc/libvirt/storage
//!
//! # qemu.conf's memory_backing_dir, only where it is not libvirt's default
//! # /var/lib/libvirt/qemu/ram: libvirtd grants the running domain's <id>-<short> entry
//! # there with everything below it, the only subtree it asks for outside libvirt's own
//! # directories and hugetlbfs mounts (every other -F DIR/{,**} is refused).
//! memory_backing_dir = /srv/membacking
//! ```
//!
//! Unknown keys and bad values are errors naming the file and line: a typo must not
//! silently keep a behaviour the admin meant to change.

use crate::error::{Error, Result};
use crate::escape::AaPattern;
use std::path::{Path, PathBuf};

/// Where the configuration is read from by default.
pub const DEFAULT_CONFIG: &str = "/etc/libvirt/virt-aa-helper.conf";

/// How the profile includes its `.files`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilesInclude {
    /// `#include <libvirt/<name>.files>` (libvirt 9.0).
    Required,
    /// `#include if exists <libvirt/<name>.files>` (newer libvirt).
    IfExists,
}

/// The settings, with libvirt 9.0's behaviour as defaults but for `backing_deny_write`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Read-only disks and backing layers also get `deny ... w` (libvirt 9.0; off by
    /// default, as in libvirt 12.1).
    pub backing_deny_write: bool,
    /// How the profile includes its `.files`.
    pub files_include: FilesInclude,
    /// The set-uid bridge helper, if set here: escaped where it is read, so that a name no
    /// rule can hold is an error naming this file and line.
    pub bridge_helper: Option<AaPattern>,
    /// The storage pool definitions directory, if set here.
    pub pool_dir: Option<PathBuf>,
    /// qemu.conf's `memory_backing_dir`, where the admin moved it from libvirt's default:
    /// the domain's `<id>-<short>` entry there may then be granted as a runtime directory
    /// (`-F DIR/{,**}`).
    pub memory_backing_dir: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            backing_deny_write: false,
            files_include: FilesInclude::Required,
            bridge_helper: None,
            pool_dir: None,
            memory_backing_dir: None,
        }
    }
}

impl Config {
    /// Parses the text of a configuration file (`path` is for messages only).
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let mut c = Config::default();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let bad = |why: String| Error::Config {
                path: path.to_path_buf(),
                line: Some(n + 1),
                why,
            };
            let (key, value) = line
                .split_once('=')
                .map(|(k, v)| (k.trim(), v.trim()))
                .ok_or_else(|| bad("expected `key = value`".into()))?;
            match key {
                "backing_deny_write" => {
                    c.backing_deny_write = match value {
                        "yes" | "true" => true,
                        "no" | "false" => false,
                        _ => {
                            return Err(bad(format!(
                                "backing_deny_write is yes or no, not {value:?}"
                            )))
                        }
                    }
                }
                "files_include" => {
                    c.files_include = match value {
                        "required" => FilesInclude::Required,
                        "if-exists" => FilesInclude::IfExists,
                        _ => {
                            return Err(bad(format!(
                                "files_include is required or if-exists, not {value:?}"
                            )))
                        }
                    }
                }
                "bridge_helper" | "pool_dir" | "memory_backing_dir" => {
                    if !Path::new(value).is_absolute() {
                        return Err(bad(format!("{key} must be an absolute path")));
                    }
                    match key {
                        "bridge_helper" => {
                            c.bridge_helper = Some(
                                AaPattern::literal(value)
                                    .map_err(|e| bad(format!("bridge_helper: {e}")))?,
                            )
                        }
                        "pool_dir" => c.pool_dir = Some(PathBuf::from(value)),
                        _ => c.memory_backing_dir = Some(PathBuf::from(value)),
                    }
                }
                other => return Err(bad(format!("unknown setting {other:?}"))),
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_libvirt_9_but_block_jobs_work() {
        let c = Config::parse("", Path::new("x")).unwrap();
        assert_eq!(c, Config::default());
        // libvirt 12.1's: no deny rule on read-only disks and backing layers.
        assert!(!c.backing_deny_write);
        assert_eq!(c.files_include, FilesInclude::Required);
    }

    #[test]
    fn settings_and_comments() {
        let c = Config::parse(
            "# site\nbacking_deny_write = yes  # libvirt 9.0\nfiles_include=if-exists\nbridge_helper = /usr/libexec/qemu-bridge-helper\n",
            Path::new("x"),
        )
        .unwrap();
        assert!(c.backing_deny_write);
        assert_eq!(c.files_include, FilesInclude::IfExists);
        assert_eq!(
            c.bridge_helper.as_ref().map(AaPattern::as_str),
            Some("/usr/libexec/qemu-bridge-helper")
        );
    }

    #[test]
    fn mistakes_name_the_line() {
        for (text, want) in [
            ("backing_deny_write = maybe", "line 1"),
            ("\nfiles_include = optional", "line 2"),
            ("bakcing_deny_write = no", "unknown setting"),
            ("pool_dir = relative", "absolute"),
            ("just words", "key = value"),
            // A name no rule can hold names this file and line, not a flag.
            (
                "\n\nbridge_helper = /usr/lib/q\u{1}x",
                "virt-aa-helper.conf' line 3: bridge_helper: contains the control character",
            ),
        ] {
            let e = Config::parse(text, Path::new("/etc/libvirt/virt-aa-helper.conf")).unwrap_err();
            assert!(e.to_string().contains(want), "{text}: {e}");
            assert_eq!(e.code(), 2);
        }
    }
}
