#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // integration tests are not layered
//! The helper where users run it: exec'd by Debian's libvirtd, confined by a helper profile,
//! in Debian's AppArmor kernel, on Debian 12 and on Debian 13, one test each.
//!
//! `libvirtd_on_debian12` boots the kernel harness's guest (`tests/vm`: Debian 12's kernel
//! with AppArmor, the host's `/` read-only under a tmpfs overlay) with Debian 12's
//! qemu-system-x86 as a layer over it, so that the guest has the host's libvirt 9.0
//! (libvirt-daemon-system and ovmf, installed by `tests/setup.sh`) and QEMU at
//! `/usr/bin/qemu-system-x86_64`. `libvirtd_on_debian13` boots trixie's kernel 6.12
//! (`lsm=...,apparmor,...`) over trixie's root from `tests/roots/build.sh trixie` (libvirt
//! 11.3, AppArmor 4.1, QEMU 10.0, OVMF), the host files the guest reads (this script, the
//! helper, the package, the profiles) copied in at their host paths; the outer emulator is
//! the same. In either, `tests/libvirtd/guest.sh` loads
//! `usr.sbin.libvirtd`, starts `virtlogd` and `libvirtd` (confined, enforce), puts the helper
//! under test at `/usr/lib/libvirt/virt-aa-helper`, and runs the same plan once per scenario:
//!
//! - `c` (for comparison, first): libvirt's C helper under Debian's profile; its checks are
//!   reported and fill the C column of the operations table, but do not fail the test (it
//!   is known to fail some: `deny w` on backing layers breaks block commit, and a plain `-r`
//!   drops the hugepage grant);
//! - `stock`: our helper under Debian's own `/etc/apparmor.d/usr.lib.libvirt.virt-aa-helper`;
//! - `ours`: our helper under the profile we ship (`profiles/usr.lib.libvirt.virt-aa-helper`),
//!   which must cause no AppArmor denial at all, both installed by the Debian package
//!   (`tests/deb`: `cargo deb --locked` builds it; a missing or stale one fails the test):
//!   `dpkg -i` in the guest (the postinst loads our profile), `dpkg -i` again while the VM
//!   runs beside another domain's profile that does not compile (the postinst's
//!   `--reload-all` must reload the VM's, name the broken one, and not fail), and `dpkg -P`
//!   at the end (libvirt's helper and profile back as dpkg installed them, libvirt's profile
//!   back in the kernel);
//! - `lexical` (negative control, unconfined): our helper behind
//!   `tests/kernel/lexical-helper.sh`, which folds `..` as text: the start must fail (the plan
//!   stops there for it: every later step needs a running VM).
//!
//! The plan: define and start a VM whose qcow2 disk has a relative backing file and is named
//! through a symlink, `/./` and `..`; QEMU's label and open files; hotplug and unplug a qcow2
//! disk on virtio-scsi; insert and eject a CD-ROM; a compromised QEMU (the monitor's
//! `blockdev-add`) reaching for another VM's image and `/etc/shadow`, and for a second
//! running VM's UEFI variable store in `nvram/` (Debian's abstraction grants every
//! `*_VARS.fd`: docs/weak-spots.md W14), while its own store opens; destroy and undefine;
//! and the kernel's DENIED records for the helper and for the VM. Then operations on the
//! running VM (hugepage memory, a tap NIC, a 3-layer qcow2 chain and a 2-layer one), each a
//! check that passes only if it succeeds and the kernel logs no DENIED record for the VM's
//! profile meanwhile: a disk-only external snapshot without metadata and a write through
//! its overlay (the monitor's `qemu-io`), a start after it (the persistent definition lists
//! the overlay), save and restore, managedsave and start, a memory-only dump, a hugepage
//! DIMM hotplugged after a plain `-r`, a file chardev hotplugged, an inactive and an active
//! block commit, a block pull, a block copy with pivot and a push backup; then, after one
//! more plain `-r` (an unplug), what QEMU must still reach (a second DIMM, frames from its
//! tap, its chardev file) and no longer reach (the unplugged disk, the block copy's source,
//! the save file, the dump); a qcow2 volume of a `dir` storage pool hotplugged as
//! `<disk type='volume'>`, kept through a plain `-r` (libvirt 11 hands the helper the
//! volume's translated path); and small VMs of their own: a writable pflash loader (a copy of
//! OVMF's code, `readonly='no'`) with its varstore, a raw ACPI table and a `<shim>` (libvirt
//! 11.2: not applicable on Debian 12, whose libvirt lacks them: the guest says so, `INFO n/a`,
//! and the operations table shows `N/A`). For every step it reports the helper runs libvirtd
//! made (its own log) and the policy compiles the parser did (`apparmor_parser` is a counting
//! wrapper in the guest), and ends with a table of the operations per scenario. The closing
//! line names the release, its libvirt and kernel, and the helper's DENIED records per
//! scenario.
//!
//! `VAH_LIBVIRTD_HELPER=c` runs the plan with libvirt's C helper instead of ours (under both
//! profiles, without the control), judged as ours is; `VAH_LIBVIRTD_SCENARIOS=c,stock` (names,
//! comma-separated) runs only those scenarios, to iterate faster; `VAH_LIBVIRTD_HELPER=lexical` puts the
//! broken helper in the scenarios that must pass (the test must then fail). The kernel
//! harness's variables (`VAH_KERNEL_DIR`, `VAH_KERNEL_ACCEL`, `VAH_KERNEL_TIMEOUT`) apply. The
//! guest's console is kept in `target/kernel/libvirtd-run/console.log` (Debian 13:
//! `libvirtd-trixie-run`).
//!
//! Each takes 15 to 40 minutes under TCG (Debian 12 36, Debian 13 26 on two busy cores), so the quick
//! `cargo test` leaves them out
//! (`#[ignore]`); `.ci/run` runs both with `cargo test --test libvirtd -- --ignored`, after
//! `cargo deb --locked` (and `tests/setup.sh`, which builds the trixie root).

mod deb;
mod vm;

use std::path::PathBuf;
use std::time::Duration;
use vm::{root, sections, shell_quote, Section};

/// Checks in the preamble (the kernel, libvirtd) and in each scenario.
const PREAMBLE_CHECKS: usize = 8;
const SCENARIO_CHECKS: usize = 84;
/// Checks the negative control runs: the helper profile's mode and the start (the guest's
/// plan stops there for it: every later step needs a running VM).
const CONTROL_CHECKS: usize = 11;
/// Checks the packaged scenario (our helper under our profile) adds.
const PACKAGE_CHECKS: usize = 8;

/// The probes libvirt's C helper must fail with "QEMU opened it": under Debian's abstraction
/// nothing else keeps one VM's QEMU from another's UEFI variables (docs/weak-spots.md W14).
const NVRAM_HOLE: &[&str] = &[
    "nvram: a compromised QEMU is denied the second running VM's <name>_VARS.fd",
    "nvram: a compromised QEMU is denied another VM's <name>_VARS.ms.fd",
];

/// Checks the lexical control must fail: QEMU cannot open the disk the profile names wrongly.
const CONTROL_MUST_FAIL: &[&str] = &[
    "start: virsh start",
    "start: QEMU holds the overlay open (canonical path)",
    "start: .files grants the overlay's canonical path",
];

/// A release the plan runs on: its kernel and root, and what its libvirt lacks.
struct Distro {
    /// "Debian 12": the closing line names it.
    name: &'static str,
    /// The run directory under target/kernel.
    run: &'static str,
    system: vm::System,
    /// Lower layers over the root (Debian 12: its qemu-system-x86, unpacked).
    layers: Vec<PathBuf>,
    /// Features of the plan this release's libvirt lacks (keys of [`NOT_APPLICABLE`]): the
    /// guest reports their checks as not applicable (`INFO n/a ...`) instead of running them.
    lacks: &'static [&'static str],
}

/// The plan's features a release may lack: the key (run.env's `NA`), the number of checks it
/// covers, and the one helper profile it is limited to (`None`: every scenario).
const NOT_APPLICABLE: &[(&str, usize, Option<&str>)] = &[
    // <os><acpi><table type='raw'> (libvirt 11.2; 9.0's parser knows only slic).
    ("acpi-raw", 2, None),
    // <os><shim> (libvirt 11.2; 9.0's parser drops the element).
    ("shim", 2, None),
    // A volume disk's path in the XML libvirtd hands the helper (VOLUME_TRANSLATED, 10.x):
    // without it the helper must read the pool's definition, which Debian's helper profile
    // denies, so no helper can grant the volume after a plain -r.
    ("volume-untranslated", 2, Some("stock")),
];

/// How many of a scenario's checks are not applicable where libvirt `lacks` those features,
/// under helper profile `profile`.
fn not_applicable(lacks: &[&str], profile: &str) -> usize {
    NOT_APPLICABLE
        .iter()
        .filter(|(k, _, only)| lacks.contains(k) && only.is_none_or(|p| p == profile))
        .map(|(_, n, _)| n)
        .sum()
}

#[test]
#[ignore = "boots a VM with libvirtd (15 to 40 minutes under TCG): cargo deb --locked && cargo test --test libvirtd -- --ignored (.ci/run does)"]
fn libvirtd_on_debian12() {
    // The loader check copies OVMF from the host (the guest's root is the host's /).
    let ovmf = std::path::Path::new("/usr/share/OVMF/OVMF_CODE_4M.fd");
    assert!(
        ovmf.is_file(),
        "{} missing: run tests/setup.sh as root (it installs ovmf)",
        ovmf.display()
    );
    run(Distro {
        name: "Debian 12",
        run: "libvirtd-run",
        system: vm::System::host(),
        layers: vec![vm::assets().dir.join("qemu")],
        lacks: &["acpi-raw", "shim", "volume-untranslated"],
    });
}

#[test]
#[ignore = "boots a trixie VM with libvirtd (20 to 60 minutes under TCG): tests/roots/build.sh trixie && cargo deb --locked && cargo test --test libvirtd -- --ignored (.ci/run does)"]
fn libvirtd_on_debian13() {
    run(Distro {
        name: "Debian 13",
        run: "libvirtd-trixie-run",
        // AppArmor by name, as trixie's kernel documents it (security= is deprecated).
        system: vm::System::release("trixie", "lsm=landlock,lockdown,yama,apparmor,bpf"),
        // Its own qemu-system-x86 (10.0) is in the root.
        layers: Vec::new(),
        lacks: &[],
    });
}

fn run(d: Distro) {
    let ours = PathBuf::from(env!("CARGO_BIN_EXE_virt-aa-helper"));
    let kind = std::env::var("VAH_LIBVIRTD_HELPER").unwrap_or_else(|_| "ours".into());
    assert!(
        matches!(kind.as_str(), "ours" | "c" | "lexical"),
        "VAH_LIBVIRTD_HELPER must be ours, c or lexical, not {kind:?}"
    );
    // With our helper, libvirt's C helper under Debian's profile runs first, for comparison:
    // its results are reported (the operations table), but do not fail the test.
    let mut scenarios = Vec::new();
    if kind == "ours" {
        scenarios.push(("c".to_string(), "c".to_string(), "stock"));
    }
    scenarios.push(("stock".to_string(), kind.clone(), "stock"));
    scenarios.push(("ours".to_string(), kind.clone(), "ours"));
    if kind != "c" {
        scenarios.push(("lexical".into(), "lexical".into(), "none"));
    }
    for (name, k, _) in scenarios.iter_mut() {
        if k == "c" && name != "c" {
            *name = format!("c-{name}");
        }
    }
    // VAH_LIBVIRTD_SCENARIOS=NAME,NAME runs only those (debugging; the test then covers less).
    if let Ok(only) = std::env::var("VAH_LIBVIRTD_SCENARIOS") {
        let only: Vec<&str> = only.split(',').map(str::trim).collect();
        scenarios.retain(|(n, _, _)| only.contains(&n.as_str()));
        assert!(
            !scenarios.is_empty(),
            "VAH_LIBVIRTD_SCENARIOS={only:?} names none of the scenarios"
        );
    }
    let control = scenarios.iter().any(|(n, _, _)| n == "lexical");
    let words: Vec<String> = scenarios
        .iter()
        .map(|(n, k, p)| format!("{n}:{k}:{p}"))
        .collect();
    // Our helper under our profile is the packaged one (not in the comparison with C).
    let package = (kind == "ours").then(deb::built);
    let mut host_files = vec![root().join("profiles"), ours.clone()];
    host_files.extend(package.clone());
    let boot = vm::boot(&vm::Spec {
        run: d.run,
        script: root().join("tests/libvirtd/guest.sh"),
        env: format!(
            "PROJECT={}\nOURS={}\nSCENARIOS={}\nDEB={}\nNA={}\n",
            shell_quote(root().to_str().expect("UTF-8 project path")),
            shell_quote(ours.to_str().expect("UTF-8 helper path")),
            shell_quote(&words.join(" ")),
            shell_quote(
                package
                    .as_deref()
                    .map_or("", |p| p.to_str().expect("UTF-8 package path"))
            ),
            shell_quote(&d.lacks.join(" ")),
        ),
        system: d.system,
        layers: d.layers.clone(),
        host_files,
        memory_mib: 2048,
        // A guard against a hung guest: on two cores shared with other jobs a run took 26
        // (Debian 13) to 36 minutes (Debian 12).
        timeout: Duration::from_secs(5400),
    });
    let secs = sections(&boot.lines);
    let get = |name: &str| secs.iter().find(|(n, _)| n == name).map(|(_, s)| s);

    let mut passed = 0;
    let mut failed: Vec<String> = Vec::new();
    // informational: the checks are reported, their failures do not fail the test (the
    // counts must still add up). na: how many of the `want` checks this release cannot run:
    // the guest must name exactly that many as not applicable (`INFO n/a CHECK: why`).
    let mut judge = |name: &str,
                     s: Option<&Section>,
                     want: usize,
                     na: usize,
                     informational: bool| {
        println!(
            "== {name}{}",
            if informational {
                " (for comparison: its failures do not fail the test)"
            } else {
                ""
            }
        );
        let Some(s) = s else {
            println!("FAIL {name}: no results");
            failed.push(format!("{name}: no results"));
            return;
        };
        for c in &s.passed {
            println!("PASS {c}");
        }
        for c in &s.failed {
            println!("FAIL {c}");
        }
        for i in &s.info {
            println!("INFO {i}");
        }
        if !informational {
            passed += s.passed.len();
            failed.extend(s.failed.iter().map(|c| format!("{name}: {c}")));
        }
        let total = s.passed.len() + s.failed.len();
        let said_na = s.info.iter().filter(|i| i.starts_with("n/a ")).count();
        if s.closing != Some((s.passed.len(), s.failed.len())) {
            failed.push(format!(
                "{name}: the guest's count {:?} differs from its lines: a check was cut short",
                s.closing
            ));
        } else if total + na != want || said_na != na {
            failed.push(format!(
                "{name}: {total} checks ran and {said_na} were not applicable; {} and {na} expected",
                want - na
            ));
        }
    };
    judge("libvirtd", get("libvirtd"), PREAMBLE_CHECKS, 0, false);
    for (name, k, p) in scenarios.iter().filter(|(n, _, _)| n != "lexical") {
        let packaged = package.is_some() && k == "ours" && *p == "ours";
        println!(
            "-- scenario {name}: helper {k}, helper profile {p}{}",
            if packaged {
                ", from the Debian package"
            } else {
                ""
            }
        );
        let want = SCENARIO_CHECKS + if packaged { PACKAGE_CHECKS } else { 0 };
        judge(
            name,
            get(name),
            want,
            not_applicable(d.lacks, p),
            name == "c",
        );
    }
    // The nvram probes' own negative control: with libvirt's C helper, which adds nothing
    // against Debian's `owner nvram/*_VARS.fd rwk`, the first VM's QEMU opens the second
    // VM's store (docs/weak-spots.md W14). If it did not, a PASS of the probes under our
    // helper would prove nothing (a lock, DAC or a missing file could refuse it as well).
    if let Some(s) = scenarios
        .iter()
        .any(|(n, _, _)| n == "c")
        .then(|| get("c"))
        .flatten()
    {
        let missed: Vec<&str> = NVRAM_HOLE
            .iter()
            .copied()
            .filter(|c| {
                !s.failed.iter().any(|l| {
                    l.strip_prefix(c)
                        .is_some_and(|r| r.starts_with(": QEMU opened it"))
                })
            })
            .collect();
        if missed.is_empty() {
            passed += 1;
            println!(
                "PASS negative control c: with libvirt's C helper QEMU opens the other VM's stores"
            );
        } else {
            let why =
                format!("negative control c: with libvirt's C helper QEMU did not open {missed:?}");
            println!("FAIL {why}");
            failed.push(why);
        }
    }
    if control {
        println!("== lexical (negative control): the plan with tests/kernel/lexical-helper.sh");
        match get("lexical") {
            None => {
                println!("FAIL negative control: no results");
                failed.push("negative control: no results".into());
            }
            Some(s) => {
                for c in &s.failed {
                    println!("  [lexical] FAIL {c}");
                }
                let total = s.passed.len() + s.failed.len();
                let want = CONTROL_CHECKS;
                let missed: Vec<&str> = CONTROL_MUST_FAIL
                    .iter()
                    .copied()
                    .filter(|c| !s.fails(c))
                    .collect();
                if missed.is_empty() && total == want {
                    passed += 1;
                    println!(
                        "PASS negative control lexical: the harness fails it ({} of {total} checks failed)",
                        s.failed.len()
                    );
                } else {
                    let why = format!(
                        "negative control lexical: {} of {total} checks failed ({want} expected); not failed although they must: {missed:?}",
                        s.failed.len()
                    );
                    println!("FAIL {why}");
                    failed.push(why);
                }
            }
        }
    }
    let names: Vec<&str> = scenarios
        .iter()
        .map(|(n, _, _)| n.as_str())
        .filter(|n| *n != "lexical")
        .collect();
    print!("{}", operations_table(&names, &secs));
    // The closing line names the release, its libvirt and kernel (the guest's first line:
    // "== libvirtd VERSION kernel RELEASE"), and what the kernel denied the helper.
    let head = boot
        .lines
        .iter()
        .find_map(|l| l.strip_prefix("== libvirtd "))
        .unwrap_or("? kernel ?");
    let (libvirt, kernel) = head.split_once(" kernel ").unwrap_or((head, "?"));
    let denied: Vec<String> = scenarios
        .iter()
        .map(|(n, k, p)| {
            let count = get(n)
                .and_then(|s| {
                    s.info
                        .iter()
                        .find_map(|i| i.strip_prefix("denials virt-aa-helper: "))
                })
                .unwrap_or("?");
            format!("{count} for helper {k} under profile {p}")
        })
        .collect();
    vm::conclude(
        &format!(
            "libvirtd harness on {} (libvirt {libvirt}, kernel {kernel})",
            d.name
        ),
        &boot,
        &secs,
        passed,
        failed,
        &format!("; AppArmor DENIED records: {}", denied.join(", ")),
    );
}

/// The operations table: one row per operation the plan measures (`INFO op NAME: PASS|FAIL`,
/// and `INFO calls NAME: N runs, C compiles, ...` for every phase), one column per scenario:
/// the result, the helper runs libvirtd made and the parser runs that compiled a policy (a
/// probe, which runs no helper, has its result only; a phase without a check of its own has
/// `-` for it).
fn operations_table(scenarios: &[&str], secs: &[(String, Section)]) -> String {
    let mut ops: Vec<String> = Vec::new();
    // (operation, scenario) -> (result, runs, compiles)
    let mut cell: std::collections::HashMap<(String, String), (String, String, String)> =
        std::collections::HashMap::new();
    for sc in scenarios {
        let Some((_, s)) = secs.iter().find(|(n, _)| n == sc) else {
            continue;
        };
        for i in &s.info {
            let (result, rest) = if let Some(r) = i.strip_prefix("op ") {
                let Some((name, r)) = r.split_once(": ") else {
                    continue;
                };
                (
                    Some(r.split(',').next().unwrap_or("").to_string()),
                    (name, None),
                )
            } else if let Some(r) = i.strip_prefix("calls ") {
                let Some((name, r)) = r.split_once(": ") else {
                    continue;
                };
                if name == "total" {
                    continue;
                }
                let num = |what: &str| {
                    r.split(", ")
                        .find_map(|f| f.strip_suffix(what))
                        .unwrap_or("?")
                        .to_string()
                };
                (None, (name, Some((num(" runs"), num(" compiles")))))
            } else {
                continue;
            };
            let (name, counts) = rest;
            if !ops.iter().any(|o| o == name) {
                ops.push(name.to_string());
            }
            let e = cell
                .entry((name.to_string(), sc.to_string()))
                .or_insert_with(|| ("-".into(), "?".into(), "?".into()));
            if let Some(r) = result {
                e.0 = r;
            }
            if let Some((runs, compiles)) = counts {
                e.1 = runs;
                e.2 = compiles;
            }
        }
    }
    let mut t =
        String::from("\n== operations: result, helper runs / parser compiles, per scenario\n");
    t.push_str(&format!("{:<18}", "operation"));
    for sc in scenarios {
        t.push_str(&format!(" | {sc:<14}"));
    }
    t.truncate(t.trim_end().len());
    t.push('\n');
    for op in &ops {
        t.push_str(&format!("{op:<18}"));
        for sc in scenarios {
            let c = cell
                .get(&(op.clone(), sc.to_string()))
                .map(|(r, n, c)| {
                    if n == "?" {
                        r.clone()
                    } else {
                        format!("{r} {n}/{c}")
                    }
                })
                .unwrap_or_else(|| "(none)".into());
            t.push_str(&format!(" | {c:<14}"));
        }
        t.truncate(t.trim_end().len());
        t.push('\n');
    }
    t
}
