//! The Debian package `cargo deb` builds (`Cargo.toml` `[package.metadata.deb]`), for the
//! tests that install it: `tests/package.rs` on this machine and `tests/libvirtd.rs` in the
//! guest. `.ci/run` builds it before them; a missing or stale package fails the test with
//! the command to run, so a test never installs a package built from other sources.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// The project's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What the package is built from: a change to any of these after the package was built
/// makes it stale.
const SOURCES: &[&str] = &[
    "Cargo.toml",
    "Cargo.lock",
    "src",
    "debian",
    "profiles",
    "templates",
    "abstractions",
    "man",
    "README.md",
    "docs/operating.md",
    "docs/differences.md",
    "docs/restricted-paths.md",
    "docs/runtime-grants.md",
    "docs/weak-spots.md",
];

/// This machine's Debian architecture (`dpkg --print-architecture`).
pub fn arch() -> String {
    let o = Command::new("dpkg")
        .arg("--print-architecture")
        .output()
        .unwrap_or_else(|e| panic!("dpkg --print-architecture: {e}"));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// The package's version: the crate's, with cargo-deb's default Debian revision.
pub fn version() -> String {
    format!("{}-1", env!("CARGO_PKG_VERSION"))
}

/// `target/debian/virt-aa-helper_<version>_<arch>.deb`, checked to exist and to be newer
/// than every file it is built from.
pub fn built() -> PathBuf {
    let deb = root().join(format!(
        "target/debian/virt-aa-helper_{}_{}.deb",
        version(),
        arch()
    ));
    let built = std::fs::metadata(&deb)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}: build the package first with `cargo deb --locked` (.ci/run does)",
                deb.display()
            )
        });
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    for s in SOURCES {
        newest_below(&root().join(s), &mut newest);
    }
    if let Some((t, p)) = newest {
        assert!(
            t <= built,
            "{} is older than {}: rebuild it with `cargo deb --locked`",
            deb.display(),
            p.display()
        );
    }
    deb
}

fn newest_below(p: &Path, newest: &mut Option<(SystemTime, PathBuf)>) {
    let Ok(m) = std::fs::symlink_metadata(p) else {
        return;
    };
    if m.is_dir() {
        if let Ok(entries) = std::fs::read_dir(p) {
            for e in entries.flatten() {
                newest_below(&e.path(), newest);
            }
        }
    } else if let Ok(t) = m.modified() {
        if newest.as_ref().is_none_or(|(n, _)| t > *n) {
            *newest = Some((t, p.to_path_buf()));
        }
    }
}
