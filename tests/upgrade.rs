#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // integration tests are not layered
//! A Debian 12 host with libvirt and this package, dist-upgraded to Debian 13
//! (`tests/upgrade/run.sh`, which lists its checks): our helper, our profile link and both
//! diversions survive, libvirt 11.3's files land at the diverted names, no conffile prompt
//! stops the upgrade, `dpkg --verify` is clean, and a purge gives libvirt 11.3's files back.
//!
//! It debootstraps a Debian 12 root and upgrades it (about 4 minutes, 700 MB from Debian's
//! archive), so the quick `cargo test` leaves it out (`#[ignore]`); `.ci/run` runs it after
//! `cargo deb --locked` (a missing or stale package fails it, `tests/deb`).

mod deb;

use std::process::Command;

#[test]
#[ignore = "debootstraps and dist-upgrades a Debian root (about 4 minutes): .ci/run runs it"]
fn a_debian12_host_upgraded_to_13_keeps_our_helper_and_diversions() {
    let package = deb::built();
    let work = deb::root().join("target/upgrade");
    let status = Command::new("bash")
        .arg(deb::root().join("tests/upgrade/run.sh"))
        .arg(&package)
        .arg(&work)
        .status()
        .expect("bash tests/upgrade/run.sh");
    assert!(
        status.success(),
        "the upgrade failed a check (lines above; logs in {})",
        work.display()
    );
}
