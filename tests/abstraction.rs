//! The built-in `abstractions/libvirt-qemu` grants every rule of each Debian release's
//! (Debian 12's libvirt 9.0, the roots' 11.3 and 12.x: `tests/roots/build.sh`), but for the
//! few listed below with the reason: a domain that runs under libvirt's abstraction runs
//! under ours. Rules are compared as text, one per line, comments and indentation aside.

mod common;
use common::*;
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

const ABSTRACTION: &str = "/etc/apparmor.d/abstractions/libvirt-qemu";

/// Rules of libvirt's abstractions ours has in another form or leaves out on purpose.
const NOT_LITERAL: [(&str, &str); 7] = [
    (
        "/usr/share/qemu/** r,",
        "Debian 12's: ours is rk, as 11.x's (QEMU locks firmware images)",
    ),
    (
        "/{dev,run}/shmpulse-shm* r,",
        "ours has the same path rwk, as libvirt's next line does",
    ),
    (
        "deny /dev/shm/lttng-ust-wait-* r,",
        "merged: deny /{dev,run}/shm/lttng-ust-wait-* r,",
    ),
    (
        "deny /run/shm/lttng-ust-wait-* r,",
        "merged: deny /{dev,run}/shm/lttng-ust-wait-* r,",
    ),
    (
        "owner /var/lib/libvirt/qemu/nvram/*_VARS.fd rwk,",
        "every domain's UEFI variables to every QEMU: the helper grants the domain's own \
         (docs/weak-spots.md W14)",
    ),
    (
        "owner /var/lib/libvirt/qemu/nvram/*_VARS.ms.fd rwk,",
        "as above (W14)",
    ),
    (
        "include <local/abstractions/libvirt-qemu>",
        "Debian 12's #include fails when the file is missing: ours is `include if exists`",
    ),
];

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
    let mut theirs = vec![("the host".to_string(), libvirts_own(ABSTRACTION))];
    theirs.extend(
        ReleaseRoot::all()
            .into_iter()
            .map(|r| (format!("the {} root", r.suite), r.path(ABSTRACTION))),
    );
    let mut used = BTreeSet::new();
    for (from, path) in theirs {
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}: run tests/setup.sh as root", path.display()));
        let mut missing = Vec::new();
        for r in rules(&text) {
            if ours.contains(&r) {
                continue;
            }
            match NOT_LITERAL.iter().find(|(l, _)| *l == r) {
                Some((l, _)) => {
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
    for (l, why) in NOT_LITERAL {
        assert!(
            used.contains(l),
            "{l:?} ({why}) is in no release's abstraction any more"
        );
    }
}
