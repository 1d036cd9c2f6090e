#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // integration tests are not layered
//! Confinement in a real AppArmor kernel: the libvirt AppArmor test plan, automated.
//!
//! Boots Debian's kernel (AppArmor on by default) under QEMU (TCG; KVM only where it works)
//! with a busybox initramfs that mounts the host's `/` read-only over virtio-9p under a tmpfs
//! overlay and `switch_root`s into it. There `tests/kernel/guest.sh` runs the test plan with
//! our helper: profiles created, replaced, removed and deleted in the kernel, and `qemu-io`
//! playing QEMU under the profile (`aa-exec -p libvirt-<uuid>`): disks named through
//! symlinks, `/./` and `/../` with a relative backing file, denials (EACCES), hotplug and
//! unplug, paths that appear later, a failing replace. Results come back on a second serial
//! port, one line per check.
//!
//! The same boot runs the plan twice more with deliberately broken helpers (the negative
//! controls, `tests/kernel/widen-helper.sh` and `tests/kernel/lexical-helper.sh`): each must
//! make the checks fail that its breakage touches, so the harness is shown able to fail.
//! With `VAH_KERNEL_MUTANTS=1`, four more (`tests/kernel/mutant-helper.sh`) run too, and every
//! check of the plan must then fail with at least one broken helper (about 4 minutes).
//!
//! Needs `tests/setup.sh` (which runs `tests/kernel/setup.sh`: kernel, busybox-static and
//! qemu-system-x86 unpacked into `target/kernel/`). It takes one to three minutes, so the quick
//! `cargo test` leaves it out (`#[ignore]`); `.ci/run` runs it with
//! `cargo test --test kernel -- --ignored`. Nothing skips: missing pieces fail the test with
//! that instruction. `VAH_KERNEL_HELPER=PATH` runs the plan with another helper in
//! place of ours (the test then fails if that helper fails a check);
//! `VAH_KERNEL_ACCEL=tcg|kvm` forces an accelerator; `VAH_KERNEL_DIR` replaces
//! `target/kernel`; `VAH_KERNEL_TIMEOUT=SECONDS` (default
//! 600) bounds the boot; `VAH_KERNEL_GUEST_SCRIPT=PATH` boots into another guest script
//! (debugging). The guest's console is kept in `target/kernel/run/console.log`.

// Shared with tests/libvirtd.rs, which also boots other releases (vm::System::release).
#[allow(dead_code)]
mod vm;

use std::path::PathBuf;
use std::time::Duration;
use vm::{root, sections, shell_quote, Boot};

/// Checks tests/kernel/guest.sh runs per scenario, and in its kernel preamble.
const SCENARIO_CHECKS: usize = 47;
const KERNEL_CHECKS: usize = 3;

/// Boots the guest once, running every scenario (`NAME=HELPER`), and returns the result
/// port's lines.
fn boot(scenarios: &[(&str, PathBuf)]) -> Boot {
    let real = env!("CARGO_BIN_EXE_virt-aa-helper");
    let words: Vec<String> = scenarios
        .iter()
        .map(|(n, h)| {
            let h = h.to_str().expect("helper path is UTF-8");
            assert!(
                !h.contains(char::is_whitespace),
                "helper path {h:?} has spaces"
            );
            format!("{n}={h}")
        })
        .collect();
    vm::boot(&vm::Spec {
        run: "run",
        script: root().join("tests/kernel/guest.sh"),
        env: format!(
            "PROJECT={}\nVAH_REAL_HELPER={}\nSCENARIOS={}\n",
            shell_quote(root().to_str().expect("UTF-8 project path")),
            shell_quote(real),
            shell_quote(&words.join(" "))
        ),
        system: vm::System::host(),
        layers: Vec::new(),
        host_files: Vec::new(),
        memory_mib: 2048,
        timeout: Duration::from_secs(1800),
    })
}

/// A broken helper: its scenario name, its wrapper script, and checks it must fail.
type Control = (&'static str, &'static str, &'static [&'static str]);

/// The negative controls, run every time.
const CONTROLS: &[Control] = &[
    (
        "widened",
        "tests/kernel/widen-helper.sh",
        &[
            "deny: /etc/shadow",
            "deny: another VM's disk",
            "unplug: the unplugged disk is denied",
            "running: the unplugged disk is denied to the running process",
        ],
    ),
    (
        "lexical",
        "tests/kernel/lexical-helper.sh",
        &[
            "read: the disk's backing data (symlink, /./, /../, relative backing file)",
            "hotplug: the plugged disk is readable",
            "running: the plugged disk opens in the running process",
        ],
    ),
];

/// With VAH_KERNEL_MUTANTS=1, more broken helpers (tests/kernel/mutant-helper.sh): with the
/// controls, they must make every check of the plan fail at least once.
const MUTANTS: &[Control] = &[
    (
        "mutant-paths",
        "tests/kernel/mutant-helper.sh",
        &[
            "deny: writing the backing file",
            "hotplug: the plugged disk is readable",
            "later: a dangling symlink, once its target exists",
            "later: dir/missing/../x.img, once dir/missing exists",
        ],
    ),
    (
        "mutant-complain",
        "tests/kernel/mutant-helper.sh",
        &[
            "create: the kernel lists the profile in enforce mode",
            "running: the long-running process is confined by the profile (enforce)",
            "deny: /etc/shadow",
            "add: the kernel lists the profile again",
        ],
    ),
    (
        "mutant-failure",
        "tests/kernel/mutant-helper.sh",
        &[
            "failed replace: -r with an invalid template fails",
            "failed replace: the old profile stays loaded",
            "add: the kernel lists the profile again",
        ],
    ),
    (
        "mutant-exit",
        "tests/kernel/mutant-helper.sh",
        &[
            "create: -c",
            "remove: the kernel no longer lists the profile",
            "delete: .files deleted, the profile file kept",
        ],
    ),
];

#[test]
#[ignore = "boots a VM (1 to 3 minutes): cargo test --test kernel -- --ignored (.ci/run does)"]
fn confinement_in_a_real_apparmor_kernel() {
    let real = PathBuf::from(env!("CARGO_BIN_EXE_virt-aa-helper"));
    let ours = std::env::var_os("VAH_KERNEL_HELPER")
        .map(PathBuf::from)
        .unwrap_or(real);
    let mutants = std::env::var("VAH_KERNEL_MUTANTS").is_ok_and(|v| v == "1");
    let controls: Vec<Control> = CONTROLS
        .iter()
        .chain(if mutants { MUTANTS } else { &[] })
        .copied()
        .collect();
    let mut scenarios = vec![("good", ours.clone())];
    scenarios.extend(controls.iter().map(|(n, w, _)| (*n, root().join(w))));
    let boot = boot(&scenarios);
    let secs = sections(&boot.lines);
    let get = |name: &str| secs.iter().find(|(n, _)| n == name).map(|(_, s)| s);

    let mut passed = 0;
    let mut failed = Vec::new();
    // The kernel preamble and our helper: every check passes.
    for (name, want, helper) in [
        ("kernel", KERNEL_CHECKS, None),
        ("good", SCENARIO_CHECKS, Some(&ours)),
    ] {
        match helper {
            Some(h) => println!("== {name}: the plan with {}", h.display()),
            None => println!("== {name}"),
        }
        let Some(s) = get(name) else {
            failed.push(format!("{name}: no results"));
            println!("FAIL {name}: no results");
            continue;
        };
        for c in &s.passed {
            println!("PASS {c}");
        }
        for c in &s.failed {
            println!("FAIL {c}");
        }
        passed += s.passed.len();
        failed.extend(s.failed.iter().map(|c| format!("{name}: {c}")));
        let total = s.passed.len() + s.failed.len();
        if s.closing != Some((s.passed.len(), s.failed.len())) {
            failed.push(format!(
                "{name}: the guest's count {:?} differs from its lines ({} passed, {} failed): a check was cut short",
                s.closing,
                s.passed.len(),
                s.failed.len()
            ));
        } else if total != want {
            failed.push(format!("{name}: {total} checks ran, {want} expected"));
        }
    }
    // Each broken helper: the same plan must fail, at least where its breakage shows.
    for (name, wrapper, must_fail) in &controls {
        println!("== {name} (negative control): the plan with {wrapper}");
        let Some(s) = get(name) else {
            failed.push(format!("negative control {name}: no results"));
            println!("FAIL negative control {name}: no results");
            continue;
        };
        for c in &s.failed {
            println!("  [{name}] FAIL {c}");
        }
        let total = s.passed.len() + s.failed.len();
        let missed: Vec<&str> = must_fail.iter().copied().filter(|c| !s.fails(c)).collect();
        if missed.is_empty() && total == SCENARIO_CHECKS && !s.failed.is_empty() {
            passed += 1;
            println!(
                "PASS negative control {name}: the harness fails it ({} of {total} checks failed)",
                s.failed.len()
            );
        } else {
            let why = format!(
                "negative control {name}: {} of {total} checks failed ({SCENARIO_CHECKS} expected); not failed although they must: {missed:?}",
                s.failed.len()
            );
            println!("FAIL {why}");
            failed.push(why);
        }
    }
    // Which checks some broken helper made fail: with the mutants, every one.
    if let Some(good) = get("good") {
        let uncovered: Vec<&String> = good
            .passed
            .iter()
            .chain(&good.failed)
            .filter(|c| {
                !controls
                    .iter()
                    .filter_map(|(n, _, _)| get(n))
                    .any(|s| s.fails(c))
            })
            .collect();
        let n = good.passed.len() + good.failed.len();
        if mutants {
            if uncovered.is_empty() {
                passed += 1;
                println!(
                    "PASS mutants: every one of the {n} checks failed with some broken helper"
                );
            } else {
                let why =
                    format!("mutants: no broken helper made these checks fail: {uncovered:?}");
                println!("FAIL {why}");
                failed.push(why);
            }
        } else {
            println!(
                "note: {} of the {n} checks failed with some negative control (VAH_KERNEL_MUTANTS=1 adds mutants for the others)",
                n - uncovered.len()
            );
        }
    }
    vm::conclude("kernel", &boot, &secs, passed, failed, "");
}
