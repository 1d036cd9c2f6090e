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

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Checks tests/kernel/guest.sh runs per scenario, and in its kernel preamble.
const SCENARIO_CHECKS: usize = 38;
const KERNEL_CHECKS: usize = 3;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Assets {
    vmlinuz: PathBuf,
    modules: PathBuf,
    busybox: PathBuf,
    qemu: PathBuf,
    qemu_libs: String,
    firmware: Vec<PathBuf>,
    dir: PathBuf,
}

fn assets() -> Assets {
    let k = std::env::var_os("VAH_KERNEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/kernel"));
    let missing = |what: &str| -> ! {
        panic!(
            "{what} missing under {}: run tests/setup.sh as root first (it runs \
             tests/kernel/setup.sh, which unpacks Debian's kernel, busybox-static and \
             qemu-system-x86 there)",
            k.display()
        )
    };
    let one = |dir: PathBuf, prefix: &str| -> Option<PathBuf> {
        fs::read_dir(&dir).ok()?.find_map(|e| {
            let e = e.ok()?;
            e.file_name()
                .to_str()?
                .starts_with(prefix)
                .then(|| e.path())
        })
    };
    let vmlinuz = one(k.join("kernel/boot"), "vmlinuz-").unwrap_or_else(|| missing("the kernel"));
    let modules = one(k.join("kernel/lib/modules"), "")
        .map(|p| p.join("kernel"))
        .filter(|p| p.is_dir())
        .unwrap_or_else(|| missing("the kernel modules"));
    let busybox = k.join("busybox");
    if !busybox.is_file() {
        missing("busybox");
    }
    let q = k.join("qemu");
    let qemu = q.join("usr/bin/qemu-system-x86_64");
    if !qemu.is_file() {
        missing("qemu-system-x86_64");
    }
    let qemu_libs = format!(
        "{}:{}",
        q.join("usr/lib/x86_64-linux-gnu").display(),
        q.join("lib/x86_64-linux-gnu").display()
    );
    let firmware = vec![q.join("usr/share/qemu"), q.join("usr/share/seabios")];
    Assets {
        vmlinuz,
        modules,
        busybox,
        qemu,
        qemu_libs,
        firmware,
        dir: k,
    }
}

/// The value of `key=` in a kernel module's `.modinfo` section.
fn modinfo(ko: &[u8], key: &str) -> Option<String> {
    let pat = format!("\0{key}=");
    let pat = pat.as_bytes();
    let at = ko.windows(pat.len()).position(|w| w == pat)? + pat.len();
    let end = ko[at..].iter().position(|&b| b == 0)? + at;
    Some(String::from_utf8_lossy(&ko[at..end]).into_owned())
}

/// The modules to insmod, dependencies first (from each module's `depends=`).
fn module_order(dir: &Path, wanted: &[&str]) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut std::collections::HashMap<String, PathBuf>) {
        for e in fs::read_dir(dir).expect("read modules") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "ko") {
                let name = p.file_stem().unwrap().to_string_lossy().replace('-', "_");
                out.insert(name, p);
            }
        }
    }
    let mut all = std::collections::HashMap::new();
    walk(dir, &mut all);
    fn visit(
        name: &str,
        all: &std::collections::HashMap<String, PathBuf>,
        order: &mut Vec<PathBuf>,
        stack: &mut Vec<String>,
    ) {
        let name = name.replace('-', "_");
        let path = all
            .get(&name)
            .unwrap_or_else(|| panic!("kernel module {name} not unpacked (needed by {stack:?})"));
        if order.contains(path) {
            return;
        }
        assert!(!stack.contains(&name), "module dependency loop: {stack:?}");
        stack.push(name.clone());
        let ko = fs::read(path).expect("read module");
        for dep in modinfo(&ko, "depends")
            .unwrap_or_default()
            .split(',')
            .filter(|d| !d.is_empty())
        {
            visit(dep, all, order, stack);
        }
        stack.pop();
        order.push(path.clone());
    }
    let mut order = Vec::new();
    for w in wanted {
        visit(w, &all, &mut order, &mut Vec::new());
    }
    order
}

/// A `newc` cpio archive (what the kernel unpacks as an initramfs).
#[derive(Default)]
struct Cpio {
    buf: Vec<u8>,
    ino: u32,
}

impl Cpio {
    fn entry(&mut self, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]) {
        self.ino += 1;
        let fields = [
            self.ino,
            mode,
            0,
            0,
            1,
            0,
            data.len() as u32,
            0,
            0,
            rdev.0,
            rdev.1,
            name.len() as u32 + 1,
            0,
        ];
        self.buf.extend_from_slice(b"070701");
        for f in fields {
            self.buf.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(0);
        self.pad();
        self.buf.extend_from_slice(data);
        self.pad();
    }
    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }
    fn dir(&mut self, name: &str) {
        self.entry(name, 0o040755, (0, 0), b"");
    }
    fn file(&mut self, name: &str, mode: u32, data: &[u8]) {
        self.entry(name, 0o100000 | mode, (0, 0), data);
    }
    fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, (0, 0), b"");
        self.buf
    }
}

fn initramfs(a: &Assets) -> Vec<u8> {
    let mut c = Cpio::default();
    for d in [
        "bin", "dev", "proc", "sys", "modules", "lower", "rw", "newroot",
    ] {
        c.dir(d);
    }
    c.entry("dev/console", 0o020600, (5, 1), b"");
    c.file(
        "bin/busybox",
        0o755,
        &fs::read(&a.busybox).expect("busybox"),
    );
    let init = fs::read(root().join("tests/kernel/init.sh")).expect("tests/kernel/init.sh");
    c.file("init", 0o755, &init);
    let mut order = String::new();
    for (i, m) in module_order(&a.modules, &["virtio_pci", "9pnet_virtio", "9p", "overlay"])
        .iter()
        .enumerate()
    {
        let name = format!("{i:02}-{}", m.file_name().unwrap().to_string_lossy());
        c.file(
            &format!("modules/{name}"),
            0o644,
            &fs::read(m).expect("module"),
        );
        order.push_str(&name);
        order.push('\n');
    }
    c.file("modules/order", 0o644, order.as_bytes());
    c.finish()
}

/// Accelerators to try, in order: KVM only when the CPU has VMX/SVM and /dev/kvm opens (its
/// mere existence proves nothing here), then TCG.
fn accelerators() -> Vec<&'static str> {
    match std::env::var("VAH_KERNEL_ACCEL").as_deref() {
        Ok("tcg") => return vec!["tcg"],
        Ok("kvm") => return vec!["kvm"],
        _ => {}
    }
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let virt = cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .any(|l| l.split_whitespace().any(|f| f == "vmx" || f == "svm"));
    let dev = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    if virt && dev {
        vec!["kvm", "tcg"]
    } else {
        vec!["tcg"]
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

struct Boot {
    /// The result port's lines.
    lines: Vec<String>,
    accel: &'static str,
    elapsed: Duration,
    run: PathBuf,
}

/// Boots the guest once, running every scenario (`NAME=HELPER`), and returns the result
/// port's lines.
fn boot(scenarios: &[(&str, PathBuf)]) -> Boot {
    let a = assets();
    // One boot at a time: they share target/kernel/run. The lock is released when the test
    // process ends.
    let lock = fs::File::create(a.dir.join("run.lock")).expect("create target/kernel/run.lock");
    lock.lock().expect("lock target/kernel/run.lock");
    std::mem::forget(lock);
    let run = a.dir.join("run");
    let _ = fs::remove_dir_all(&run);
    fs::create_dir_all(&run).expect("create target/kernel/run");
    let initrd = run.join("initramfs.cpio");
    fs::write(&initrd, initramfs(&a)).expect("write the initramfs");
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
    fs::write(
        run.join("run.env"),
        format!(
            "PROJECT={}\nVAH_REAL_HELPER={}\nSCENARIOS={}\n",
            shell_quote(root().to_str().expect("UTF-8 project path")),
            shell_quote(real),
            shell_quote(&words.join(" "))
        ),
    )
    .expect("write run.env");
    // A debugging aid: another guest script. Like guest.sh it gets the run directory as $1,
    // mounts /proc and the rest itself, writes to /dev/ttyS1 and ends with "== end".
    let script = std::env::var_os("VAH_KERNEL_GUEST_SCRIPT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("tests/kernel/guest.sh"));
    let timeout = Duration::from_secs(
        std::env::var("VAH_KERNEL_TIMEOUT")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(600),
    );
    let accels = accelerators();
    let mut notes = Vec::new();
    for (i, accel) in accels.iter().enumerate() {
        let result = run.join("result.log");
        let console = run.join("console.log");
        let _ = fs::remove_file(&result);
        let mut cmd = Command::new(&a.qemu);
        cmd.env("LD_LIBRARY_PATH", &a.qemu_libs);
        for f in &a.firmware {
            cmd.arg("-L").arg(f);
        }
        if *accel == "kvm" {
            cmd.args(["-accel", "kvm", "-cpu", "host"]);
        } else {
            cmd.args(["-accel", "tcg,thread=multi", "-cpu", "max"]);
        }
        cmd.args(["-machine", "pc", "-smp", "2", "-m", "2048"])
            .args([
                "-display",
                "none",
                "-no-user-config",
                "-nodefaults",
                "-no-reboot",
            ])
            .arg("-serial")
            .arg(format!("file:{}", console.display()))
            .arg("-serial")
            .arg(format!("file:{}", result.display()))
            .arg("-kernel")
            .arg(&a.vmlinuz)
            .arg("-initrd")
            .arg(&initrd)
            .arg("-append")
            .arg(format!(
                "console=ttyS0 panic=-1 quiet vah_script={} vah_run={}",
                script.display(),
                run.display()
            ))
            .args([
                "-fsdev",
                "local,id=hostroot,path=/,readonly=on,security_model=none,multidevs=remap",
                "-device",
                "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
            ])
            .stdin(Stdio::null())
            .stdout(fs::File::create(run.join("qemu.log")).expect("qemu.log"))
            .stderr(fs::File::create(run.join("qemu.err")).expect("qemu.err"));
        let start = Instant::now();
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}: run tests/setup.sh", a.qemu.display()));
        let mut ended = None;
        let status = loop {
            if let Some(st) = child.try_wait().expect("wait for qemu") {
                break Some(st);
            }
            let done = fs::read_to_string(&result)
                .map(|s| s.lines().any(|l| l.trim_end() == "== end"))
                .unwrap_or(false);
            match (done, ended) {
                (true, None) => ended = Some(Instant::now()),
                // The guest powers off right after "== end"; do not wait long for it.
                (true, Some(t)) if t.elapsed() > Duration::from_secs(20) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                _ => {}
            }
            if start.elapsed() > timeout {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the guest ({accel}) gave no result within {timeout:?} (VAH_KERNEL_TIMEOUT); \
                     results so far:\n{}\n--- console (tail) ---\n{}",
                    fs::read_to_string(&result).unwrap_or_default(),
                    tail(&console, 40)
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        };
        let elapsed = start.elapsed();
        let text = fs::read_to_string(&result).unwrap_or_default();
        let lines: Vec<String> = text
            .lines()
            .map(|l| l.trim_end_matches('\r').to_string())
            .collect();
        if lines.iter().any(|l| l == "== end") {
            for n in notes {
                eprintln!("{n}");
            }
            return Boot {
                lines,
                accel,
                elapsed,
                run,
            };
        }
        let why = format!(
            "qemu ({accel}) ended ({status:?}) after {elapsed:?} without a result (if it could not \
             start, run tests/setup.sh):\n{}\n{}\n--- console (tail) ---\n{}",
            fs::read_to_string(run.join("qemu.err")).unwrap_or_default(),
            text,
            tail(&console, 40)
        );
        if i + 1 == accels.len() {
            panic!("{why}");
        }
        notes.push(format!(
            "note: {why}\nnote: retrying with {}",
            accels[i + 1]
        ));
    }
    unreachable!()
}

fn tail(p: &Path, n: usize) -> String {
    let s = fs::read_to_string(p).unwrap_or_default();
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(n)..].join("\n")
}

/// One scenario's checks, from its `== scenario` line to its `-- NAME:` line.
#[derive(Debug, Default)]
struct Section {
    passed: Vec<String>,
    failed: Vec<String>,
    /// The counts on the guest's closing line for the section.
    closing: Option<(usize, usize)>,
}

fn sections(lines: &[String]) -> Vec<(String, Section)> {
    let mut out: Vec<(String, Section)> = Vec::new();
    for l in lines {
        if l.starts_with("== kernel") {
            out.push(("kernel".into(), Section::default()));
        } else if let Some(rest) = l.strip_prefix("== scenario ") {
            let name = rest.split_whitespace().next().unwrap_or("").to_string();
            out.push((name, Section::default()));
        } else if let Some(rest) = l.strip_prefix("-- ") {
            if let (Some((_, s)), Some((_, counts))) = (out.last_mut(), rest.split_once(": ")) {
                let n: Vec<usize> = counts
                    .split(|c: char| !c.is_ascii_digit())
                    .filter_map(|w| w.parse().ok())
                    .collect();
                if n.len() == 2 {
                    s.closing = Some((n[0], n[1]));
                }
            }
        } else if let Some(check) = l.strip_prefix("PASS ") {
            if let Some((_, s)) = out.last_mut() {
                s.passed.push(check.to_string());
            }
        } else if let Some(check) = l.strip_prefix("FAIL ") {
            // A FAIL before any section ("FAIL guest ...") is reported by the caller.
            if let Some((_, s)) = out.last_mut() {
                s.failed.push(check.to_string());
            }
        }
    }
    out
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

/// Whether a FAIL line ("CHECK: why") is about `check`.
fn fails(s: &Section, check: &str) -> bool {
    s.failed
        .iter()
        .any(|l| l.strip_prefix(check).is_some_and(|r| r.starts_with(": ")))
}

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
        let missed: Vec<&str> = must_fail.iter().copied().filter(|c| !fails(s, c)).collect();
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
                    .any(|s| fails(s, c))
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
    for l in boot.lines.iter().filter(|l| l.starts_with("FAIL guest")) {
        failed.push(l.clone());
    }
    println!(
        "guest: {} under {}, {:.0} s from boot to result (console: {})",
        secs.iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        boot.accel,
        boot.elapsed.as_secs_f64(),
        boot.run.join("console.log").display()
    );
    println!("kernel: {passed} passed, {} failed", failed.len());
    assert!(
        failed.is_empty(),
        "confinement checks failed:\n  {}\n(the guest's results: {}; console: {})",
        failed.join("\n  "),
        boot.run.join("result.log").display(),
        boot.run.join("console.log").display()
    );
}
