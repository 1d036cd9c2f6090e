//! Booting Debian's AppArmor kernel for the harnesses that need a real kernel
//! (`tests/kernel.rs`, `tests/libvirtd.rs`).
//!
//! The guest is QEMU (TCG; KVM only where it really works) running Debian's kernel with a
//! busybox initramfs (`tests/kernel/init.sh`) that mounts a root read-only over virtio-9p
//! under a tmpfs overlay and `switch_root`s into it, then runs a guest script from the source
//! tree. The root is the host's `/` and its kernel the one `tests/kernel/setup.sh` unpacked
//! ([`System::host`]), or another Debian release's root and kernel from `tests/roots/build.sh`
//! ([`System::release`]): then the files the guest reads from the host are copied into a
//! layer of their own at their host paths, since the host's `/` is not there. The script writes its results to the second serial port, a file on the
//! host: one `PASS <check>` or `FAIL <check>: <why>` line per check, sections opened by
//! `== scenario NAME ...` and closed by `-- NAME: N passed, N failed`, and `== end` last.
//!
//! Everything it boots comes from `tests/kernel/setup.sh` (run by `tests/setup.sh`), unpacked
//! under `target/kernel/`; nothing is installed.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What `tests/kernel/setup.sh` unpacked.
pub struct Assets {
    pub busybox: PathBuf,
    pub qemu: PathBuf,
    pub qemu_libs: String,
    pub firmware: Vec<PathBuf>,
    /// `target/kernel` (or `VAH_KERNEL_DIR`).
    pub dir: PathBuf,
}

pub fn assets() -> Assets {
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
    if !k.join("kernel/boot").is_dir() {
        missing("the kernel");
    }
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
        busybox,
        qemu,
        qemu_libs,
        firmware,
        dir: k,
    }
}

/// The first entry of `dir` whose name starts with `prefix`.
fn first_entry(dir: &Path, prefix: &str) -> Option<PathBuf> {
    fs::read_dir(dir).ok()?.find_map(|e| {
        let e = e.ok()?;
        e.file_name()
            .to_str()?
            .starts_with(prefix)
            .then(|| e.path())
    })
}

/// What the guest boots: a kernel and the root it mounts as its lower layer.
pub struct System {
    /// The kernel's unpacked package: `boot/vmlinuz-*`, `boot/config-*` and the modules under
    /// `lib/modules/*/kernel` (before trixie) or `usr/lib/modules/*/kernel`.
    pub kernel: PathBuf,
    /// The root, or `None` for the host's `/`.
    pub root: Option<PathBuf>,
    /// Appended to the kernel's command line.
    pub cmdline: &'static str,
}

impl System {
    /// The host's `/` and the kernel `tests/kernel/setup.sh` unpacked.
    pub fn host() -> System {
        System {
            kernel: assets().dir.join("kernel"),
            root: None,
            cmdline: "",
        }
    }

    /// Debian `suite`'s root and kernel, from `tests/roots/build.sh` (`target/roots/`).
    pub fn release(suite: &str, cmdline: &'static str) -> System {
        let roots = root().join("target/roots");
        if !roots.join(format!("{suite}.versions")).is_file() {
            panic!(
                "{}: no {suite} root: run `tests/roots/build.sh {suite}` as root first \
                 (tests/setup.sh does)",
                roots.display()
            );
        }
        // 9p serves the directory it is given; a symlinked target/roots is resolved here.
        let canon = |p: PathBuf| {
            p.canonicalize()
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        };
        System {
            kernel: canon(roots.join(format!("{suite}-kernel"))),
            root: Some(canon(roots.join(suite))),
            cmdline,
        }
    }

    fn vmlinuz(&self) -> PathBuf {
        first_entry(&self.kernel.join("boot"), "vmlinuz-")
            .unwrap_or_else(|| panic!("no boot/vmlinuz-* in {}", self.kernel.display()))
    }

    /// The kernel's configuration (`boot/config-*`), to tell built-in drivers from modules.
    fn config(&self) -> String {
        first_entry(&self.kernel.join("boot"), "config-")
            .and_then(|p| fs::read_to_string(p).ok())
            .unwrap_or_else(|| panic!("no boot/config-* in {}", self.kernel.display()))
    }

    fn modules(&self) -> PathBuf {
        ["lib/modules", "usr/lib/modules"]
            .iter()
            .filter_map(|d| first_entry(&self.kernel.join(d), ""))
            .map(|p| p.join("kernel"))
            .find(|p| p.is_dir())
            .unwrap_or_else(|| {
                panic!(
                    "no {{usr/,}}lib/modules/*/kernel in {}",
                    self.kernel.display()
                )
            })
    }
}

/// A kernel module's bytes: `.ko.xz` files (trixie's) are decompressed with `xz`, as busybox's
/// insmod hands the kernel the image as it reads it.
fn module_bytes(path: &Path) -> Vec<u8> {
    if path.extension().is_some_and(|x| x == "xz") {
        let o = Command::new("xz")
            .arg("-dc")
            .arg(path)
            .output()
            .unwrap_or_else(|e| panic!("xz -dc {}: {e}: apt-get install xz-utils", path.display()));
        assert!(o.status.success(), "xz -dc {} failed", path.display());
        o.stdout
    } else {
        fs::read(path).expect("read module")
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
    fn walk(dir: &Path, out: &mut HashMap<String, PathBuf>) {
        for e in fs::read_dir(dir).expect("read modules") {
            let p = e.expect("entry").path();
            let file = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                walk(&p, out);
            } else if let Some(stem) = file
                .strip_suffix(".ko")
                .or_else(|| file.strip_suffix(".ko.xz"))
            {
                out.insert(stem.replace('-', "_"), p);
            }
        }
    }
    let mut all = HashMap::new();
    walk(dir, &mut all);
    fn visit(
        name: &str,
        all: &HashMap<String, PathBuf>,
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
        let ko = module_bytes(path);
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

/// The drivers the guest needs (virtio-pci, 9p over virtio, overlay, tun), each with the
/// configuration symbol that says whether the kernel has it built in.
const DRIVERS: &[(&str, &str)] = &[
    ("virtio_pci", "CONFIG_VIRTIO_PCI"),
    ("9pnet_virtio", "CONFIG_NET_9P_VIRTIO"),
    ("9p", "CONFIG_9P_FS"),
    ("overlay", "CONFIG_OVERLAY_FS"),
    ("tun", "CONFIG_TUN"),
];

fn initramfs(a: &Assets, system: &System) -> Vec<u8> {
    let mut c = Cpio::default();
    for d in [
        "bin", "dev", "proc", "sys", "modules", "lower", "top", "rw", "newroot",
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
    let config = system.config();
    let wanted: Vec<&str> = DRIVERS
        .iter()
        .filter(|(_, sym)| !config.lines().any(|l| l == format!("{sym}=y")))
        .map(|(m, _)| *m)
        .collect();
    let mut order = String::new();
    for (i, m) in module_order(&system.modules(), &wanted).iter().enumerate() {
        let file = m.file_name().unwrap().to_string_lossy();
        let name = format!("{i:02}-{}", file.strip_suffix(".xz").unwrap_or(&file));
        c.file(&format!("modules/{name}"), 0o644, &module_bytes(m));
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

pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// One boot.
pub struct Spec<'a> {
    /// The run directory's name under `target/kernel/` (the guest gets its path as `$1`).
    pub run: &'a str,
    /// The guest script, run as PID 1 in the switched root; `VAH_KERNEL_GUEST_SCRIPT`
    /// replaces it (debugging).
    pub script: PathBuf,
    /// The content of `run.env` in the run directory (the guest sources it).
    pub env: String,
    /// The kernel and the root.
    pub system: System,
    /// Host directories shared read-only (9p tags `top0`, `top1`, ...) and used as the
    /// overlay's lower layers over the root, the first on top: their files appear over the
    /// root's at the same paths in the guest.
    pub layers: Vec<PathBuf>,
    /// Host files and directories the guest reads (besides the script, its directory and the
    /// run directory's `run.env`): when the root is not the host's `/`, they are copied at
    /// their host paths into a layer of their own, the top one.
    pub host_files: Vec<PathBuf>,
    /// Guest memory, MiB.
    pub memory_mib: u32,
    /// `VAH_KERNEL_TIMEOUT` replaces it.
    pub timeout: Duration,
}

pub struct Boot {
    /// The result port's lines.
    pub lines: Vec<String>,
    pub accel: &'static str,
    pub elapsed: Duration,
    pub run: PathBuf,
}

/// Boots the guest once and returns the result port's lines when the script has written
/// `== end`.
pub fn boot(spec: &Spec) -> Boot {
    let a = assets();
    // One boot at a time per run directory (the assets under target/kernel are only read,
    // so boots of different harnesses may overlap: .ci/run runs Debian 12's and Debian 13's
    // libvirtd harnesses side by side). The lock is released when the test process ends.
    let lock_path = a.dir.join(format!("{}.lock", spec.run));
    let lock = fs::File::create(&lock_path)
        .unwrap_or_else(|e| panic!("create {}: {e}", lock_path.display()));
    lock.lock()
        .unwrap_or_else(|e| panic!("lock {}: {e}", lock_path.display()));
    std::mem::forget(lock);
    let run = a.dir.join(spec.run);
    let _ = fs::remove_dir_all(&run);
    fs::create_dir_all(&run).expect("create the run directory");
    let initrd = run.join("initramfs.cpio");
    fs::write(&initrd, initramfs(&a, &spec.system)).expect("write the initramfs");
    fs::write(run.join("run.env"), &spec.env).expect("write run.env");
    let script = std::env::var_os("VAH_KERNEL_GUEST_SCRIPT")
        .map(PathBuf::from)
        .unwrap_or_else(|| spec.script.clone());
    let mut layers = spec.layers.clone();
    if spec.system.root.is_some() {
        let stage = run.join("stage");
        let mut files = spec.host_files.clone();
        files.push(run.join("run.env"));
        // The script sources its neighbours (tests/vm/guest-lib.sh).
        files.push(
            script
                .parent()
                .and_then(Path::parent)
                .expect("script dir")
                .to_path_buf(),
        );
        for f in &files {
            stage_copy(
                f,
                &stage.join(f.strip_prefix("/").expect("absolute host path")),
            );
        }
        layers.insert(0, stage);
    }
    let lower = spec
        .system
        .root
        .clone()
        .unwrap_or_else(|| PathBuf::from("/"));
    let timeout = std::env::var("VAH_KERNEL_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(spec.timeout);
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
        let mut append = format!(
            "console=ttyS0 panic=-1 quiet vah_script={} vah_run={} {}",
            script.display(),
            run.display(),
            spec.system.cmdline
        );
        cmd.args(["-machine", "pc", "-smp", "2"])
            .arg("-m")
            .arg(spec.memory_mib.to_string())
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
            .arg("-fsdev")
            .arg(format!(
                "local,id=hostroot,path={},readonly=on,security_model=none,multidevs=remap",
                lower.display()
            ))
            .args(["-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot"]);
        let mut tags = Vec::new();
        for (i, layer) in layers.iter().enumerate() {
            let tag = format!("top{i}");
            cmd.arg("-fsdev")
                .arg(format!(
                    "local,id={tag},path={},readonly=on,security_model=none,multidevs=remap",
                    layer.display()
                ))
                .arg("-device")
                .arg(format!("virtio-9p-pci,fsdev={tag},mount_tag={tag}"));
            tags.push(tag);
        }
        if !tags.is_empty() {
            append.push_str(&format!(" vah_top={}", tags.join(",")));
        }
        cmd.arg("-kernel")
            .arg(spec.system.vmlinuz())
            .arg("-initrd")
            .arg(&initrd)
            .arg("-append")
            .arg(append)
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

/// Copies `from` (a file, or a directory recursively) to `to`: a hard link where the
/// filesystem allows one (the helper and the package are large), else a copy.
fn stage_copy(from: &Path, to: &Path) {
    fs::create_dir_all(to.parent().expect("parent")).expect("create the stage");
    if from.is_dir() {
        for e in fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
            let e = e.expect("entry");
            stage_copy(&e.path(), &to.join(e.file_name()));
        }
    } else if fs::hard_link(from, to).is_err() {
        fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    }
}

pub fn tail(p: &Path, n: usize) -> String {
    let s = fs::read_to_string(p).unwrap_or_default();
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(n)..].join("\n")
}

/// One section's checks, from its `== ...` line to its `-- NAME:` line.
#[derive(Debug, Default)]
pub struct Section {
    pub passed: Vec<String>,
    pub failed: Vec<String>,
    /// `INFO ...` lines: measurements the guest reports, not checks.
    pub info: Vec<String>,
    /// The counts on the guest's closing line for the section.
    pub closing: Option<(usize, usize)>,
}

impl Section {
    /// Whether a FAIL line ("CHECK: why") is about `check`.
    pub fn fails(&self, check: &str) -> bool {
        self.failed
            .iter()
            .any(|l| l.strip_prefix(check).is_some_and(|r| r.starts_with(": ")))
    }
}

/// The sections of a result: `== scenario NAME ...` opens NAME, any other `== WORD ...` (but
/// `== end`) opens WORD (`== kernel VERSION`, `== libvirtd VERSION`).
pub fn sections(lines: &[String]) -> Vec<(String, Section)> {
    let mut out: Vec<(String, Section)> = Vec::new();
    for l in lines {
        if let Some(rest) = l.strip_prefix("== scenario ") {
            let name = rest.split_whitespace().next().unwrap_or("").to_string();
            out.push((name, Section::default()));
        } else if let Some(rest) = l.strip_prefix("== ").filter(|r| *r != "end") {
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
        } else if let Some(info) = l.strip_prefix("INFO ") {
            if let Some((_, s)) = out.last_mut() {
                s.info.push(info.to_string());
            }
        }
    }
    out
}

/// The end of a harness: adds the guest's own failures ("FAIL guest ..."), prints where and
/// how long the guest ran and the closing `NAME: N checks passed, N failed NOTE` line, and
/// fails the test if anything failed.
pub fn conclude(
    harness: &str,
    boot: &Boot,
    secs: &[(String, Section)],
    passed: usize,
    mut failed: Vec<String>,
    note: &str,
) {
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
    println!(
        "{harness}: {passed} checks passed, {} failed{note}",
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "{harness} checks failed:\n  {}\n(the guest's results: {}; console: {})",
        failed.join("\n  "),
        boot.run.join("result.log").display(),
        boot.run.join("console.log").display()
    );
}
