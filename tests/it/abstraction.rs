//! The built-in `abstractions/libvirt-qemu` grants every rule of each Debian release's
//! (Debian 12's libvirt 9.0, the roots' 11.3 and 12.x: `tests/roots/build.sh`), but for the
//! few listed below with the reason: a domain that runs under libvirt's abstraction runs
//! under ours. Rules are compared as text, one per line, comments and indentation aside.

use crate::support::*;
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

const ABSTRACTION: &str = "/etc/apparmor.d/abstractions/libvirt-qemu";

/// Rules of libvirt's abstractions ours has in another form or leaves out on purpose, with
/// the libvirt series whose abstraction alone has it (`0`: every release's).
const NOT_LITERAL: [(&str, &str, u32); 7] = [
    (
        "/usr/share/qemu/** r,",
        "Debian 12's: ours is rk, as 11.x's (QEMU locks firmware images)",
        9,
    ),
    (
        "/{dev,run}/shmpulse-shm* r,",
        "ours has the same path rwk, as libvirt's next line does",
        0,
    ),
    (
        "deny /dev/shm/lttng-ust-wait-* r,",
        "merged: deny /{dev,run}/shm/lttng-ust-wait-* r,",
        0,
    ),
    (
        "deny /run/shm/lttng-ust-wait-* r,",
        "merged: deny /{dev,run}/shm/lttng-ust-wait-* r,",
        0,
    ),
    (
        "owner /var/lib/libvirt/qemu/nvram/*_VARS.fd rwk,",
        "every domain's UEFI variables to every QEMU: the helper grants the domain's own \
         (docs/weak-spots.md W14)",
        0,
    ),
    (
        "owner /var/lib/libvirt/qemu/nvram/*_VARS.ms.fd rwk,",
        "as above (W14)",
        0,
    ),
    (
        "include <local/abstractions/libvirt-qemu>",
        "Debian 12's #include fails when the file is missing: ours is `include if exists`",
        9,
    ),
];

/// The major version of a Debian libvirt version (`9.0.0-4+deb12u2` is 9).
fn major(version: &str) -> u32 {
    let v = version.split_once(':').map_or(version, |(_, v)| v);
    v.split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("libvirt version {version:?}"))
}

/// Rule lines: comments (whole-line or trailing) and indentation dropped, `#include` as
/// `include`.
fn rules(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && (!l.starts_with('#') || l.starts_with("#include")))
        .map(|l| {
            let l = l.strip_prefix('#').unwrap_or(l);
            l.split(" #").next().unwrap_or(l).trim().to_string()
        })
        .collect()
}

#[test]
fn the_built_in_abstraction_grants_every_rule_of_each_releases() {
    let ours = rules(
        &fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("abstractions/libvirt-qemu"),
        )
        .expect("abstractions/libvirt-qemu"),
    );
    // (where from, the file, its libvirt series)
    let host = std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "libvirt-daemon"])
        .output()
        .expect("dpkg-query");
    let mut theirs = vec![(
        "the host".to_string(),
        libvirts_own(ABSTRACTION),
        major(&String::from_utf8_lossy(&host.stdout)),
    )];
    for r in ReleaseRoot::all() {
        let versions = r.dir.with_extension("versions");
        let v =
            fs::read_to_string(&versions).unwrap_or_else(|e| panic!("{}: {e}", versions.display()));
        let v = v
            .lines()
            .find_map(|l| l.strip_prefix("libvirt-daemon "))
            .unwrap_or_else(|| panic!("{}: no libvirt-daemon line", versions.display()));
        theirs.push((
            format!("the {} root", r.suite),
            r.path(ABSTRACTION),
            major(v),
        ));
    }
    let seen: BTreeSet<u32> = theirs.iter().map(|t| t.2).collect();
    let mut used = BTreeSet::new();
    for (from, path, _) in theirs {
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}: run tests/setup.sh as root", path.display()));
        let mut missing = Vec::new();
        for r in rules(&text) {
            if ours.contains(&r) {
                continue;
            }
            match NOT_LITERAL.iter().find(|(l, _, _)| *l == r) {
                Some((l, _, _)) => {
                    used.insert(*l);
                }
                None => missing.push(r),
            }
        }
        assert!(
            missing.is_empty(),
            "{from}'s {ABSTRACTION} grants what abstractions/libvirt-qemu does not:\n{}",
            missing.join("\n")
        );
    }
    // Each listed rule is still in some release compared here (a release-only one only
    // when that release is: a Debian 13 host has no Debian 12 abstraction).
    for (l, why, only) in NOT_LITERAL {
        if only != 0 && !seen.contains(&only) {
            continue;
        }
        assert!(
            used.contains(l),
            "{l:?} ({why}) is in no release's abstraction any more"
        );
    }
}
