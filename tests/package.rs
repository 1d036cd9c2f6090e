#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // integration tests are not layered
//! The Debian package on this machine (docs/operating.md, "The Debian package"): built by `cargo deb`,
//! installed beside Debian's libvirt-daemon and libvirt-daemon-system, upgraded, run over by
//! a libvirt upgrade, removed and purged, with libvirt's helper and its AppArmor profile
//! compared byte for byte with the checksums `dpkg` recorded when it installed them.
//!
//! The sequences, each checked step by step:
//! 1. `dpkg -i` then `dpkg -P`: libvirt's two files are back, unchanged.
//! 2. `dpkg -i` of an older build (same tree, version `<crate>~older-1`), `dpkg -i` of the
//!    current one over it (the diversions stay), `dpkg -i` of libvirt-daemon and
//!    libvirt-daemon-system again (a libvirt upgrade: their files go to the diverted names,
//!    ours stay), a dry run through the installed path, `dpkg -r`, `dpkg -P`.
//! 3. Negative control: the current package with the line of its postrm that gives libvirt
//!    its profile back deleted (`dpkg-deb -R`, `dpkg-deb -b`); the same check of libvirt's
//!    files must fail after its purge. The test then repairs the host and checks again.
//! 4. A helper installed by hand under a local diversion (what the README said before the
//!    package): `dpkg -i` must refuse, name it and say how to undo it, and change nothing.
//!
//! It also runs `lintian` on the package: no error, and no warning that is not listed here
//! with its reason.
//!
//! It changes the host's packages (as root), and while it runs `/usr/lib/libvirt/virt-aa-helper`
//! is ours, which the differential test must not see: the quick `cargo test` leaves it out
//! (`#[ignore]`), and `.ci/run` runs it on its own, after building the package with
//! `cargo deb --locked`. `tests/setup.sh` downloads libvirt's two packages (the installed
//! versions) into `target/libvirt-debs/`. It refuses to start on a host where the package is
//! installed or libvirt's files differ from what dpkg installed, and whatever fails, it purges
//! the package before it ends.

mod deb;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const PACKAGE: &str = "virt-aa-helper";
const HELPER: &str = "/usr/lib/libvirt/virt-aa-helper";
const HELPER_DIVERTED: &str = "/usr/lib/libvirt/virt-aa-helper.distrib";
const PROFILE: &str = "/etc/apparmor.d/usr.lib.libvirt.virt-aa-helper";
const PROFILE_DIVERTED: &str = "/etc/apparmor.d/libvirt-distrib/usr.lib.libvirt.virt-aa-helper";
const PROFILE_OURS: &str = "/usr/share/virt-aa-helper/apparmor/usr.lib.libvirt.virt-aa-helper";
const CACHE: &str = "/var/cache/virt-aa-helper";
const EXAMPLE_UUID: &str = "libvirt-6f1f3c36-6a7e-4c54-9b2a-3d1e5f0a7b11";

/// Lintian warnings the package may have, each with the reason it is accepted.
const ACCEPTED_WARNINGS: &[(&str, &str)] = &[(
    "initial-upload-closes-no-bugs",
    "the package is not uploaded to Debian, so there is no ITP bug to close",
)];

/// Runs a command; its output.
fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The last non-empty line, for one-line failure reasons.
fn last(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .to_string()
}

/// The first word `program PATH` prints (md5sum, sha256sum), if it succeeds.
fn digest(program: &str, path: &str) -> Option<String> {
    let o = run(program, &[path]);
    o.status.success().then(|| {
        String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string()
    })
}

fn md5(path: &str) -> Option<String> {
    digest("md5sum", path)
}

fn sha256(path: &str) -> Option<String> {
    digest("sha256sum", path)
}

/// dpkg's status of the package (`ii`, `rc`, ...), empty when dpkg does not know it.
fn status() -> String {
    let o = run("dpkg-query", &["-W", "-f=${db:Status-Abbrev}", PACKAGE]);
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Whether nothing of the package is installed, not even its configuration: dpkg does not
/// know it, or knows only a wish about it (`un`, `pn`, `in` after an install that failed).
fn not_installed() -> bool {
    let s = status();
    s.is_empty() || s.chars().nth(1) == Some('n')
}

fn installed_version() -> String {
    let o = run("dpkg-query", &["-W", "-f=${Version}", PACKAGE]);
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// The diversion of `path`: (where to, by which package), if any.
fn diversion(path: &str) -> Option<(String, String)> {
    let to = String::from_utf8_lossy(&run("dpkg-divert", &["--truename", path]).stdout)
        .trim()
        .to_string();
    let by = String::from_utf8_lossy(&run("dpkg-divert", &["--listpackage", path]).stdout)
        .trim()
        .to_string();
    (to != path).then_some((to, by))
}

/// What dpkg recorded for libvirt's two files: the md5 of `/usr/lib/libvirt/virt-aa-helper`
/// in libvirt-daemon's md5sums and that of the profile in libvirt-daemon-system's conffiles.
struct Recorded {
    helper: String,
    profile: String,
}

fn recorded() -> Recorded {
    let o = run(
        "dpkg-query",
        &["--control-path", "libvirt-daemon", "md5sums"],
    );
    let sums = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let sums = std::fs::read_to_string(&sums).unwrap_or_else(|e| {
        panic!("libvirt-daemon's md5sums ({sums:?}): {e}: run tests/setup.sh as root")
    });
    let helper = sums
        .lines()
        .find(|l| l.ends_with(&HELPER[1..]))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("libvirt-daemon's md5sums name no {HELPER}"))
        .to_string();
    let o = run(
        "dpkg-query",
        &["-W", "-f=${Conffiles}", "libvirt-daemon-system"],
    );
    let conffiles = String::from_utf8_lossy(&o.stdout).to_string();
    let profile = conffiles
        .lines()
        .map(str::split_whitespace)
        .find_map(|mut w| (w.next() == Some(PROFILE)).then(|| w.next()).flatten())
        .unwrap_or_else(|| panic!("libvirt-daemon-system's conffiles name no {PROFILE}"))
        .to_string();
    Recorded { helper, profile }
}

/// PASS and FAIL lines, and the failures.
#[derive(Default)]
struct Checks {
    passed: usize,
    failed: Vec<String>,
    /// Printed before each line (the negative control's checks are expected to fail).
    prefix: &'static str,
}

impl Checks {
    fn check(&mut self, name: &str, ok: bool, why: impl FnOnce() -> String) {
        if ok {
            println!("{}PASS {name}", self.prefix);
            self.passed += 1;
        } else {
            let why = why();
            println!("{}FAIL {name}: {why}", self.prefix);
            self.failed.push(format!("{name}: {why}"));
        }
    }

    /// Runs `dpkg ARGS`; a check that it succeeded.
    fn dpkg(&mut self, name: &str, args: &[&str]) -> bool {
        let o = run("dpkg", args);
        let ok = o.status.success();
        self.check(name, ok, || last(&text(&o)));
        ok
    }
}

/// libvirt's two files at their own paths, undiverted, with the content dpkg recorded and
/// the content they had before the test.
fn libvirts_files_are_back(c: &mut Checks, step: &str, rec: &Recorded, before: &[String; 2]) {
    for ((path, want), was) in [(HELPER, &rec.helper), (PROFILE, &rec.profile)]
        .into_iter()
        .zip(before)
    {
        let meta = std::fs::symlink_metadata(path);
        c.check(
            &format!("{step}: libvirt's {path} is back, byte for byte (dpkg's md5, the sha256 from before)"),
            meta.as_ref().is_ok_and(|m| m.file_type().is_file())
                && md5(path).as_ref() == Some(want)
                && sha256(path).as_ref() == Some(was),
            || match &meta {
                Err(e) => format!("{e}"),
                Ok(m) if !m.file_type().is_file() => format!("not a regular file: {:?}", m.file_type()),
                Ok(_) => format!(
                    "md5 {:?} (dpkg recorded {want}), sha256 {:?} (before: {was})",
                    md5(path),
                    sha256(path)
                ),
            },
        );
        c.check(
            &format!("{step}: {path} is not diverted"),
            diversion(path).is_none(),
            || format!("{:?}", diversion(path)),
        );
    }
    let left: Vec<&str> = [
        HELPER_DIVERTED,
        "/etc/apparmor.d/libvirt-distrib",
        PROFILE_OURS,
    ]
    .into_iter()
    .filter(|p| std::fs::symlink_metadata(p).is_ok())
    .collect();
    c.check(
        &format!("{step}: nothing of the package is left"),
        left.is_empty(),
        || format!("left: {left:?}"),
    );
}

/// The package installed as `version`, in place of libvirt's files, which are kept at the
/// diverted names with dpkg's checksums.
fn installed_in_place(c: &mut Checks, step: &str, version: &str, rec: &Recorded, tree: &Path) {
    c.check(
        &format!("{step}: dpkg has {PACKAGE} {version} installed"),
        status() == "ii" && installed_version() == version,
        || format!("status {:?}, version {:?}", status(), installed_version()),
    );
    for (path, to) in [(HELPER, HELPER_DIVERTED), (PROFILE, PROFILE_DIVERTED)] {
        let d = diversion(path);
        c.check(
            &format!("{step}: {path} is diverted to {to} by {PACKAGE}"),
            d == Some((to.to_string(), PACKAGE.to_string())),
            || format!("{d:?}"),
        );
    }
    for (path, want) in [
        (HELPER_DIVERTED, &rec.helper),
        (PROFILE_DIVERTED, &rec.profile),
    ] {
        c.check(
            &format!("{step}: libvirt's copy is kept at {path} (dpkg's md5)"),
            md5(path).as_ref() == Some(want),
            || format!("md5 {:?}, dpkg recorded {want}", md5(path)),
        );
    }
    let verify = run("dpkg", &["--verify", PACKAGE]);
    c.check(
        &format!("{step}: dpkg --verify {PACKAGE}: every file as packaged"),
        verify.status.success() && text(&verify).trim().is_empty(),
        || last(&text(&verify)),
    );
    let link = std::fs::read_link(PROFILE);
    c.check(
        &format!("{step}: {PROFILE} is the link to {PROFILE_OURS}"),
        link.as_ref().is_ok_and(|l| l == Path::new(PROFILE_OURS)),
        || format!("{link:?}"),
    );
    let ours = std::fs::read(tree.join("profiles/usr.lib.libvirt.virt-aa-helper")).ok();
    c.check(
        &format!("{step}: the installed helper profile is profiles/usr.lib.libvirt.virt-aa-helper"),
        ours.is_some() && std::fs::read(PROFILE).ok() == ours,
        || "content differs".into(),
    );
    let v = run(HELPER, &["--version"]);
    let want = format!("virt-aa-helper {}", env!("CARGO_PKG_VERSION"));
    c.check(
        &format!("{step}: {HELPER} --version says {want:?}"),
        v.status.success() && String::from_utf8_lossy(&v.stdout).trim() == want,
        || last(&text(&v)),
    );
    c.check(
        &format!("{step}: {CACHE} exists (the parser cache)"),
        Path::new(CACHE).is_dir(),
        || "missing".into(),
    );
}

/// A dry run of the shipped example through the installed path prints what the tree's own
/// build prints.
fn dry_run_through_the_installed_path(c: &mut Checks, step: &str, tree: &Path) {
    let xml = std::fs::read(tree.join("tests/examples/demo.xml")).expect("tests/examples/demo.xml");
    let dry = |program: &str| {
        let mut child = Command::new(program)
            .args(["-d", "-c", "-u", EXAMPLE_UUID])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(&xml)
            .expect("write XML");
        child.wait_with_output().expect("wait")
    };
    let installed = dry(HELPER);
    let built = dry(env!("CARGO_BIN_EXE_virt-aa-helper"));
    let out = String::from_utf8_lossy(&installed.stdout).to_string();
    c.check(
        &format!("{step}: a dry run of tests/examples/demo.xml through {HELPER} prints the profile, as the tree's build does"),
        installed.status.success()
            && out.contains(&format!("profile {EXAMPLE_UUID} "))
            && installed.stdout == built.stdout,
        || {
            format!(
                "exit {:?}, {} bytes (the tree's build: {} bytes): {}",
                installed.status.code(),
                installed.stdout.len(),
                built.stdout.len(),
                last(&text(&installed))
            )
        },
    );
}

/// Purges the package when dropped, however the test ends, and takes back the diversions a
/// broken package left.
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !status().is_empty() {
            let o = run("dpkg", &["-P", PACKAGE]);
            if !o.status.success() {
                eprintln!("cleanup: dpkg -P {PACKAGE}: {}", last(&text(&o)));
            }
        }
        repair();
    }
}

/// Takes back a diversion of ours that a purge left (only the negative control's package
/// leaves one).
fn repair() {
    for (path, to) in [(HELPER, HELPER_DIVERTED), (PROFILE, PROFILE_DIVERTED)] {
        if diversion(path).is_some_and(|(_, by)| by == PACKAGE) {
            if std::fs::read_link(path).is_ok_and(|l| l == Path::new(PROFILE_OURS)) {
                let _ = std::fs::remove_file(path);
            }
            let o = run(
                "dpkg-divert",
                &[
                    "--package",
                    PACKAGE,
                    "--remove",
                    "--rename",
                    "--divert",
                    to,
                    path,
                ],
            );
            if !o.status.success() {
                eprintln!("cleanup: dpkg-divert --remove {path}: {}", last(&text(&o)));
            }
        }
    }
    let _ = std::fs::remove_dir("/etc/apparmor.d/libvirt-distrib");
}

/// Lintian: no error, and only the accepted warnings.
fn lintian(c: &mut Checks, deb: &Path) {
    let o = run(
        "lintian",
        &[
            "--fail-on",
            "none",
            "--show-overrides",
            &deb.display().to_string(),
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let tag = |prefix: &str| -> BTreeSet<String> {
        out.lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .filter_map(|l| l.split_whitespace().nth(1))
            .map(str::to_string)
            .collect()
    };
    let errors = tag("E: ");
    let warnings = tag("W: ");
    c.check("lintian: runs", o.status.success(), || last(&text(&o)));
    c.check("lintian: no error", errors.is_empty(), || {
        format!("{errors:?}")
    });
    let accepted: BTreeSet<String> = ACCEPTED_WARNINGS
        .iter()
        .map(|(t, _)| t.to_string())
        .collect();
    let unexplained: Vec<&String> = warnings.difference(&accepted).collect();
    c.check(
        "lintian: every warning is one the test lists with its reason",
        unexplained.is_empty(),
        || format!("not listed: {unexplained:?}"),
    );
    for (t, why) in ACCEPTED_WARNINGS {
        if warnings.contains(*t) {
            println!("INFO lintian warning {t}: {why}");
        }
    }
    // Overridden tags, each explained in debian/lintian-overrides.
    for l in out.lines().filter(|l| l.starts_with("O: ")) {
        println!("INFO lintian {l}");
    }
}

/// A build of the package at `version` in `dir`, from the binary already built.
fn older_build(tree: &Path, dir: &Path, version: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let o = Command::new(cargo)
        .current_dir(tree)
        .args([
            "deb",
            "--no-build",
            "--locked",
            "--deb-version",
            version,
            "-o",
        ])
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("cargo deb: {e}"));
    assert!(
        o.status.success(),
        "cargo deb --no-build --deb-version {version}: {}",
        text(&o)
    );
    let deb = dir.join(format!("{PACKAGE}_{version}_{}.deb", deb::arch()));
    assert!(deb.is_file(), "cargo deb made no {}", deb.display());
    deb
}

/// libvirt's two packages at the installed versions, downloaded by tests/setup.sh.
fn libvirt_debs(tree: &Path) -> Vec<String> {
    ["libvirt-daemon", "libvirt-daemon-system"]
        .iter()
        .map(|p| {
            let v = String::from_utf8_lossy(&run("dpkg-query", &["-W", "-f=${Version}", p]).stdout)
                .trim()
                .replace(':', "%3a");
            let deb = tree.join(format!("target/libvirt-debs/{p}_{v}_{}.deb", deb::arch()));
            assert!(
                deb.is_file(),
                "{} is missing: run tests/setup.sh as root (it downloads libvirt's packages)",
                deb.display()
            );
            deb.display().to_string()
        })
        .collect()
}

/// The current package with one line of its postrm deleted: libvirt's profile is not given
/// back.
fn broken_build(deb: &Path, dir: &Path) -> PathBuf {
    let unpacked = dir.join("broken");
    let o = run(
        "dpkg-deb",
        &[
            "-R",
            &deb.display().to_string(),
            &unpacked.display().to_string(),
        ],
    );
    assert!(o.status.success(), "dpkg-deb -R: {}", text(&o));
    let postrm = unpacked.join("DEBIAN/postrm");
    let script = std::fs::read_to_string(&postrm).expect("postrm");
    let line = format!("--remove --rename --divert {PROFILE_DIVERTED} {PROFILE}");
    assert!(
        script.contains(&line),
        "debian/postrm has no line with {line:?}"
    );
    // A no-op in its place keeps the script valid (the line is the body of an `if`).
    let broken: String = script
        .lines()
        .map(|l| if l.contains(&line) { ":" } else { l })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&postrm, broken).expect("write postrm");
    let out = dir.join("broken.deb");
    let o = run(
        "dpkg-deb",
        &[
            "-b",
            &unpacked.display().to_string(),
            &out.display().to_string(),
        ],
    );
    assert!(o.status.success(), "dpkg-deb -b: {}", text(&o));
    out
}

fn aa_enabled() -> bool {
    run("aa-enabled", &["--quiet"]).status.success()
}

#[test]
#[ignore = "installs and purges the Debian package on this machine as root: cargo deb --locked && cargo test --test package -- --ignored (.ci/run does)"]
fn the_package_replaces_libvirts_helper_and_gives_it_back() {
    let tree = deb::root();
    assert!(
        rustix::process::geteuid().is_root(),
        "the package test installs packages: run it as root"
    );
    let deb = deb::built();
    let new_version = deb::version();
    let old_version = format!("{}~older-1", env!("CARGO_PKG_VERSION"));
    assert!(
        not_installed(),
        "{PACKAGE} is known to dpkg on this machine (status {:?}): the test will not touch a host where it is installed; dpkg -P {PACKAGE} first",
        status()
    );
    for p in [HELPER, PROFILE] {
        assert!(
            diversion(p).is_none(),
            "{p} is diverted ({:?}): the test needs libvirt's own",
            diversion(p)
        );
    }
    let rec = recorded();
    let before = [
        sha256(HELPER).unwrap_or_else(|| panic!("{HELPER} is missing: run tests/setup.sh")),
        sha256(PROFILE).unwrap_or_else(|| panic!("{PROFILE} is missing: run tests/setup.sh")),
    ];
    assert!(
        md5(HELPER).as_ref() == Some(&rec.helper) && md5(PROFILE).as_ref() == Some(&rec.profile),
        "libvirt's {HELPER} or {PROFILE} differs from what dpkg installed: the test could not tell they come back"
    );
    let libvirt = libvirt_debs(&tree);
    let tmp = tempfile::tempdir().expect("tempdir");
    // cargo-deb deletes the other versions in target/debian when it builds the older one:
    // the test uses a copy, and puts it back for tests/libvirtd.rs.
    let built = deb;
    let deb = tmp.path().join(built.file_name().expect("file name"));
    std::fs::copy(&built, &deb).unwrap_or_else(|e| panic!("{}: {e}", built.display()));
    let older = older_build(&tree, tmp.path(), &old_version);
    std::fs::copy(&deb, &built).unwrap_or_else(|e| panic!("{}: {e}", built.display()));
    println!(
        "package {} ({} bytes); older build {}; AppArmor enabled here: {}",
        deb.display(),
        std::fs::metadata(&deb).map(|m| m.len()).unwrap_or(0),
        older.display(),
        aa_enabled()
    );
    let _cleanup = Cleanup;
    let mut c = Checks::default();
    let deb_s = deb.display().to_string();

    println!("== 1. install, purge");
    if c.dpkg("1 install: dpkg -i", &["-i", &deb_s]) {
        installed_in_place(&mut c, "1 install", &new_version, &rec, &tree);
    }
    c.dpkg("1 purge: dpkg -P", &["-P", PACKAGE]);
    c.check(
        "1 purge: nothing of the package is installed",
        not_installed(),
        status,
    );
    libvirts_files_are_back(&mut c, "1 purge", &rec, &before);
    c.check(
        &format!("1 purge: {CACHE} is gone"),
        !Path::new(CACHE).exists(),
        || "still there".into(),
    );

    println!("== 2. older build, upgrade, libvirt upgrade, remove, purge");
    if c.dpkg("2 older: dpkg -i", &["-i", &older.display().to_string()]) {
        installed_in_place(&mut c, "2 older", &old_version, &rec, &tree);
    }
    if c.dpkg("2 upgrade: dpkg -i over the older build", &["-i", &deb_s]) {
        installed_in_place(&mut c, "2 upgrade", &new_version, &rec, &tree);
    }
    let mut args = vec!["-i"];
    args.extend(libvirt.iter().map(String::as_str));
    if c.dpkg(
        "2 libvirt upgrade: dpkg -i libvirt-daemon libvirt-daemon-system",
        &args,
    ) {
        installed_in_place(&mut c, "2 libvirt upgrade", &new_version, &rec, &tree);
    }
    dry_run_through_the_installed_path(&mut c, "2 libvirt upgrade", &tree);
    c.dpkg("2 remove: dpkg -r", &["-r", PACKAGE]);
    c.check(
        "2 remove: dpkg keeps the package's configuration only (rc)",
        status() == "rc",
        status,
    );
    libvirts_files_are_back(&mut c, "2 remove", &rec, &before);
    c.dpkg("2 purge: dpkg -P", &["-P", PACKAGE]);
    c.check(
        "2 purge: nothing of the package is installed",
        not_installed(),
        status,
    );
    libvirts_files_are_back(&mut c, "2 purge", &rec, &before);

    println!("== 3. negative control: a postrm that does not give libvirt's profile back");
    let broken = broken_build(&deb, tmp.path());
    let mut control = Checks {
        prefix: "  [control] ",
        ..Checks::default()
    };
    control.dpkg("3 control: dpkg -i", &["-i", &broken.display().to_string()]);
    control.dpkg("3 control: dpkg -P", &["-P", PACKAGE]);
    libvirts_files_are_back(&mut control, "3 control", &rec, &before);
    // Caught by the check of libvirt's files, while dpkg itself saw nothing wrong.
    let caught = control
        .failed
        .iter()
        .any(|f| f.starts_with(&format!("3 control: libvirt's {PROFILE} is back")))
        && !control
            .failed
            .iter()
            .any(|f| f.starts_with("3 control: dpkg"));
    c.check(
        "3 control: the check of libvirt's files fails for the broken package",
        caught,
        || format!("failed only: {:?}", control.failed),
    );
    repair();
    libvirts_files_are_back(&mut c, "3 repaired", &rec, &before);

    println!(
        "== 4. a helper installed by hand with a local diversion (dpkg-divert without --package)"
    );
    let o = run("dpkg-divert", &["--rename", "--add", HELPER]);
    assert!(
        o.status.success(),
        "dpkg-divert --rename --add {HELPER}: {}",
        text(&o)
    );
    std::fs::copy(env!("CARGO_BIN_EXE_virt-aa-helper"), HELPER)
        .unwrap_or_else(|e| panic!("copy the helper to {HELPER}: {e}"));
    let o = run("dpkg", &["-i", &deb_s]);
    let said = text(&o);
    c.check(
        "4 by hand: dpkg -i refuses, naming the local diversion and how to undo it",
        !o.status.success()
            && said.contains(&format!(
                "virt-aa-helper: {HELPER} is already diverted, by a local diversion"
            ))
            && said.contains(&format!(
                "rm {HELPER} && dpkg-divert --rename --remove {HELPER}"
            )),
        || format!("exit {:?}: {}", o.status.code(), last(&said)),
    );
    let d = diversion(HELPER);
    c.check(
        "4 by hand: nothing of the package is installed, and the local diversion is as it was",
        not_installed()
            && d == Some((HELPER_DIVERTED.to_string(), "LOCAL".to_string()))
            && diversion(PROFILE).is_none()
            && md5(HELPER_DIVERTED).as_ref() == Some(&rec.helper)
            && md5(PROFILE).as_ref() == Some(&rec.profile),
        || {
            format!(
                "status {:?}, {HELPER}: {d:?}, {PROFILE}: {:?}",
                status(),
                diversion(PROFILE)
            )
        },
    );
    // Undone as the message says.
    let _ = std::fs::remove_file(HELPER);
    let o = run("dpkg-divert", &["--rename", "--remove", HELPER]);
    assert!(
        o.status.success(),
        "dpkg-divert --rename --remove {HELPER}: {}",
        text(&o)
    );
    if !status().is_empty() {
        run("dpkg", &["-P", PACKAGE]);
    }
    libvirts_files_are_back(&mut c, "4 undone", &rec, &before);

    lintian(&mut c, &deb);

    println!("package: {} passed, {} failed", c.passed, c.failed.len());
    assert!(c.failed.is_empty(), "failed:\n{}", c.failed.join("\n"));
}
