#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // integration tests are not layered
//! Differential tests: libvirt's C `virt-aa-helper` and this one on every domain XML of the
//! same libvirt release's own test suite, comparing the `.files` rule sets (comments and
//! order aside). Three releases, one comparison:
//!
//! - libvirt 9.0 (the quick test, part of `cargo test`): the host's C helper (Debian 12's
//!   `libvirt-daemon`) on `tests/qemuxml2argvdata/*.xml` of libvirt 9.0's source.
//! - libvirt 11.3 (Debian trixie) and 12.x (Debian sid), `#[ignore]`d (heavy; `.ci/run` runs
//!   them with `--ignored`): the C helper of the root `tests/roots/build.sh SUITE` builds in
//!   `target/roots/SUITE/`, run with `chroot` (it needs its release's libraries; it needs no
//!   `/proc` or `/dev` there, and gets the host's `/sys` read-only in a private mount
//!   namespace, so that it sees the host's PCI devices as ours does), on that release's own
//!   test XMLs in `target/roots/SUITE-src/tests/`: the `qemuxmlconfdata` inputs, the
//!   `*.x86_64-latest.xml` outputs (the input as that libvirt formats it, defaults filled
//!   in) and the `qemuhotplugtestdomains`. Ours runs on the host with `--apparmor-dir` set to a copy of
//!   the root's `/etc/apparmor.d` (that release's TEMPLATE and abstractions), and both
//!   profiles are compiled by the root's `apparmor_parser` (`-Q -K`, many files per run).
//!   The versions these runs were checked against are pinned in `PINS`: a root holding other
//!   versions fails the test, naming both. A root without its release's test XMLs (the
//!   mirror did not serve the source: `SUITE-src/MISSING`) fails too, unless
//!   `VAH_DIFFERENTIAL_CORPUS_SUITE=trixie` names another root whose XMLs to use instead
//!   (only then: a root with its own XMLs always uses them). `.ci/run` sets it, because the
//!   mirror the CI machines reach serves sid's binaries but not libvirt 12.8's source.
//!
//! - C: `virt-aa-helper -d -r -u libvirt-<uuid>` prints the would-be `.files` on stderr and
//!   needs no profile on disk. A non-zero exit means C rejects the XML: it is left out of the
//!   comparison (counted). An XML without a valid `<uuid>` is left out too (counted). Its
//!   profile, for the compile, is made as its `create_profile` makes it: the release's
//!   TEMPLATE with the profile's name and the include line the helper's binary holds.
//!   Identical profiles are compiled once; a profile with a bad rule must fail (a control).
//! - Ours: `virt-aa-helper -d -c -u libvirt-<uuid> --apparmor-dir DIR` (our `-r` needs an
//!   existing profile; DIR is empty for 9.0). Ours failing where C accepts is a difference.
//!
//! Every difference must be explained by an entry of `tests/differential/deliberate.md`
//! (the format is described there; an entry may name the libvirt releases it applies to),
//! and every entry that applies to the release must explain something. The counts, one
//! closing line and the per-category report are printed and written to
//! `target/differential-report.txt` (9.0) and `target/differential-SUITE-report.txt`.
//!
//! The 9.0 corpus is `$VAH_LIBVIRT_SRC/tests/qemuxml2argvdata`, else
//! `target/libvirt-src/*/tests/qemuxml2argvdata`; `tests/setup.sh` installs the C helper,
//! unpacks the source there and builds the roots. Nothing skips: without them the tests
//! fail saying so.

// The it crate's support: running the helper, reading a dry run, libvirt's own helper.
// This harness uses a few of its items; the it crate, which uses them all, checks for
// dead code there.
#[path = "it/support/mod.rs"]
#[allow(dead_code)]
mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use virt_aa_helper::xml::Element;

const LIST: &str = "tests/differential/deliberate.md";
/// Domain XMLs of elements newer libvirt passes that its own test XMLs lack.
const PROBES: &str = "tests/differential/probes";
const SETUP: &str = "run tests/setup.sh as root: it installs libvirt-daemon and unpacks libvirt's source into target/libvirt-src/";
/// libvirt's C helper, in a root as on the host.
const C_HELPER: &str = "/usr/lib/libvirt/virt-aa-helper";

/// A Debian root of the heavy tests and the versions it was checked against.
struct Pin {
    suite: &'static str,
    debian: &'static str,
    /// `libvirt-daemon`'s and `apparmor`'s Debian versions, as `SUITE.versions` lists them.
    libvirt: &'static str,
    apparmor: &'static str,
}

/// The one place to update when a root holds other versions (sid moves): the test fails
/// naming both until the pin and, for what changed, `deliberate.md` are updated.
const PINS: [Pin; 2] = [
    Pin {
        suite: "trixie",
        debian: "Debian trixie",
        libvirt: "11.3.0-3+deb13u3",
        apparmor: "4.1.0-1",
    },
    Pin {
        suite: "sid",
        debian: "Debian sid",
        libvirt: "12.8.0-1",
        apparmor: "5.0.2-5",
    },
];

/// `writeln!` into a `String` (which cannot fail).
macro_rules! out {
    ($s:expr) => {
        $s.push('\n')
    };
    ($s:expr, $($arg:tt)*) => {{
        let _ = writeln!($s, $($arg)*);
    }};
}

/// Names the root whose libvirt test XMLs the heavy tests use (default: their own root's);
/// for a root whose source the mirror did not serve (`SUITE-src/MISSING`).
const CORPUS_SUITE: &str = "VAH_DIFFERENTIAL_CORPUS_SUITE";

/// Example XMLs shown per category, and rules shown per example.
const EXAMPLES: usize = 2;
const EXAMPLE_LINES: usize = 8;
/// Profiles per `apparmor_parser` run.
const COMPILE_CHUNK: usize = 100;

#[test]
fn rule_sets_match_libvirts_helper_or_a_listed_deliberate_difference() {
    differential(&Release::host());
}

#[test]
#[ignore = "heavy (minutes): needs tests/roots/build.sh trixie; .ci/run runs it with --ignored"]
fn rule_sets_match_libvirt_11_3_trixie_and_compile_with_its_apparmor() {
    differential(&Release::root("trixie"));
}

#[test]
#[ignore = "heavy (minutes): needs tests/roots/build.sh sid; .ci/run runs it with --ignored"]
fn rule_sets_match_libvirt_12_sid_and_compile_with_its_apparmor() {
    differential(&Release::root("sid"));
}

/// Runs both helpers on the release's corpus, explains the differences, compiles the
/// profiles where the release says so, reports, and fails on anything left.
fn differential(release: &Release) {
    let t0 = Instant::now();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (entries, mut matchers) = parse_list(
        &fs::read_to_string(manifest.join(LIST)).unwrap_or_else(|e| panic!("{LIST}: {e}")),
    );
    // Only the entries that apply to this release explain, and must explain something.
    matchers.retain(|m| entries[m.entry].applies_to(release.version));

    let cases = run_all(release);
    let ran = t0.elapsed().as_secs_f64();
    let analysis = analyse(&matchers, &cases);
    let compiled = release.compiler.as_ref().map(|c| c.compile_all(&cases));
    let times = format!(
        "{:.0} s: helpers {ran:.0} s, compile {:.0} s",
        t0.elapsed().as_secs_f64(),
        t0.elapsed().as_secs_f64() - ran
    );

    let mut failures = String::new();
    if !analysis.unexplained.is_empty() {
        out!(
            failures,
            "{} of the {} XMLs libvirt's helper accepts differ in ways no entry of {LIST} explains.\n\
             Fix them, or, if ours is right, add an entry saying why.\n\n{}",
            analysis.unexplained_xmls(),
            analysis.accepted,
            analysis.categories_text()
        );
    }
    let stale: Vec<&Matcher> = (0..matchers.len())
        .filter(|i| !analysis.hits.contains_key(i))
        .map(|i| &matchers[i])
        .collect();
    if !stale.is_empty() {
        out!(
            failures,
            "stale matchers in {LIST}: they explain nothing in {}'s corpus (delete them, fix them, \
             or narrow their entry's `libvirt:` releases):",
            release.name
        );
        for m in stale {
            out!(failures, "  line {}: entry {}", m.line, entries[m.entry].id);
        }
    }
    if let Some(c) = &compiled {
        if !c.failures.is_empty() {
            out!(
                failures,
                "{} profiles {} rejects:",
                c.failures.len(),
                release.parser_name()
            );
            for (xml, side, error) in &c.failures {
                out!(failures, "  {xml} ({side}): {error}");
            }
        }
    }

    let closing = analysis.closing_line(release, compiled.as_ref());
    let summary = analysis.summary(release, &entries, &matchers, compiled.as_ref());
    println!("{summary}\n{closing} ({times})");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir");
    let report = target.join(release.report);
    let details = if failures.is_empty() {
        "no unexplained differences, no stale matchers, no compile failures\n"
    } else {
        &failures
    };
    fs::write(&report, format!("{summary}\n{details}\n{closing}\n")).expect("write the report");
    println!("(report: {})", report.display());
    assert!(failures.is_empty(), "\n{failures}\n{closing}");
}

// ---------------------------------------------------------------------------------------
// Releases, corpora and helpers

/// One libvirt release the differential runs against.
struct Release {
    /// As the closing line names it: `libvirt 11.3.0 (Debian trixie)`.
    name: String,
    /// (major, minor), for the list's `libvirt:` lines.
    version: (u32, u32),
    /// The C helper's package version and how it runs.
    c_version: String,
    chroot: Option<PathBuf>,
    /// Where the corpus comes from, for the summary.
    corpus: String,
    /// (name in the report, file).
    xmls: Vec<(String, PathBuf)>,
    /// Our `--apparmor-dir`; `None`: an empty directory per worker.
    apparmor_dir: Option<PathBuf>,
    compiler: Option<Compiler>,
    /// The report's file name in target/.
    report: &'static str,
}

impl Release {
    /// The host's libvirt 9.0 and its source's `qemuxml2argvdata`.
    fn host() -> Release {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let tests = find_corpus(manifest);
        let c = common::libvirts_own(C_HELPER);
        assert!(
            c.exists(),
            "{} (libvirt's C helper, the oracle) is missing: {SETUP}",
            c.display()
        );
        let c_version = package_version("libvirt-daemon");
        let upstream = upstream(&c_version);
        // Debian 12's is libvirt 9.0; on a Debian 13 host the same test compares 11.3's
        // helper with 11.3's test XMLs (what tests/setup.sh fetched for it), and the
        // entries' `libvirt:` releases say which apply.
        let os = fs::read_to_string("/etc/os-release").unwrap_or_default();
        let debian = os
            .lines()
            .find_map(|l| l.strip_prefix("VERSION_ID="))
            .map_or_else(|| "?".to_string(), |v| v.trim_matches('"').to_string());
        Release {
            name: format!("libvirt {upstream} (Debian {debian}, host)"),
            version: series(upstream),
            c_version: c_version.clone(),
            chroot: None,
            corpus: tests.display().to_string(),
            xmls: corpus_xmls(&tests),
            apparmor_dir: None,
            compiler: None,
            report: "differential-report.txt",
        }
    }

    /// The root `tests/roots/build.sh SUITE` built, with that release's test XMLs; fails
    /// when the root is missing or holds other versions than `PINS` says.
    fn root(suite: &str) -> Release {
        let pin = PINS
            .iter()
            .find(|p| p.suite == suite)
            .expect("a pinned suite");
        let roots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/roots");
        let root = roots.join(suite);
        let build =
            format!("run `bash tests/roots/build.sh {suite}` as root (tests/setup.sh does)");
        let stamp = roots.join(format!("{suite}.versions"));
        let versions = fs::read_to_string(&stamp).unwrap_or_else(|e| {
            panic!(
                "{}: {e}: the {suite} root is missing: {build}",
                stamp.display()
            )
        });
        assert!(
            root.join(C_HELPER.trim_start_matches('/')).exists(),
            "{}: no C helper in the {suite} root: {build}",
            root.display()
        );
        let held = |package: &str| {
            versions
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{package} ")))
                .unwrap_or_else(|| panic!("{}: no {package} line: {build}", stamp.display()))
                .to_string()
        };
        let (libvirt, apparmor) = (held("libvirt-daemon"), held("apparmor"));
        assert!(
            libvirt == pin.libvirt && apparmor == pin.apparmor,
            "\n\nthe {suite} root ({}) holds libvirt-daemon {libvirt} and apparmor {apparmor}, but \
             tests/differential.rs pins libvirt-daemon {} and apparmor {} for {suite}.\n\
             {} moved: update PINS in tests/differential.rs to the versions the root holds, run \
             this test, and bring {LIST} (its `libvirt:` releases) up to date with what the new \
             release changes; or rebuild the root at the pinned versions.\n",
            stamp.display(),
            pin.libvirt,
            pin.apparmor,
            pin.debian,
        );
        // The release's own test XMLs; another root's only when they are missing and that
        // root is asked for by name.
        let own = roots.join(format!("{suite}-src"));
        let corpus_suite = if own.join("tests/qemuxmlconfdata").is_dir() {
            suite.to_string()
        } else {
            let why = fs::read_to_string(own.join("MISSING")).unwrap_or_default();
            match std::env::var(CORPUS_SUITE) {
                Ok(other) if !other.is_empty() && other != suite => other,
                _ => panic!(
                    "\n\n{} has no libvirt test XMLs: {}\nUnpack libvirt {}'s source \
                     tests/qemuxmlconfdata and tests/qemuhotplugtestdomains into {}/tests/ \
                     by hand, or run this test with {CORPUS_SUITE}=trixie to run the {suite} \
                     C helper on trixie's libvirt test XMLs instead (reported as such).\n",
                    own.display(),
                    why.trim(),
                    upstream(&libvirt),
                    own.display()
                ),
            }
        };
        let src = roots.join(format!("{corpus_suite}-src/tests"));
        let conf = src.join("qemuxmlconfdata");
        let hotplug = src.join("qemuhotplugtestdomains");
        for dir in [&conf, &hotplug] {
            assert!(
                dir.is_dir(),
                "{} is missing: run `bash tests/roots/build.sh {corpus_suite}` as root",
                dir.display()
            );
        }
        let mut xmls = corpus_xmls(&src);
        // The project's probes of what libvirt 10.x-12.x's own test XMLs lack (translated
        // volumes, the qcow2 varstore, ACPI tables, the shim, uefi-vars, IOMMUFD): run on
        // the releases whose parser knows them (12.x), whatever corpus the root has.
        let probes = Path::new(env!("CARGO_MANIFEST_DIR")).join(PROBES);
        let newer = series(upstream(&libvirt)).0 >= 12;
        if newer {
            xmls.extend(xml_files(&probes, "probe/", |_| true));
        }
        let of_other = if corpus_suite == suite {
            String::new()
        } else {
            format!(" on the {corpus_suite} root's test XMLs")
        };
        let upstream = upstream(&libvirt).to_string();
        Release {
            name: format!("libvirt {upstream} ({}){of_other}", pin.debian),
            version: series(&upstream),
            c_version: libvirt,
            corpus: format!(
                "{} (inputs and *.x86_64-latest.xml), {}{}",
                conf.display(),
                hotplug.display(),
                if newer {
                    format!(", {}", probes.display())
                } else {
                    String::new()
                }
            ),
            xmls,
            compiler: Some(Compiler::new(&root)),
            apparmor_dir: None,
            chroot: Some(root),
            report: match suite {
                "trixie" => "differential-trixie-report.txt",
                _ => "differential-sid-report.txt",
            },
        }
        .with_policy_copy()
    }

    /// Ours reads the root's TEMPLATE and abstractions from the compiler's copy of them.
    fn with_policy_copy(mut self) -> Release {
        self.apparmor_dir = self.compiler.as_ref().map(|c| c.host_dir());
        self
    }

    fn parser_name(&self) -> String {
        match &self.chroot {
            Some(root) => format!("{}'s apparmor_parser", root.display()),
            None => "apparmor_parser".to_string(),
        }
    }

    /// The C helper's command line (`-d -r -u PROFILE`).
    fn c_command(&self, profile: &str) -> Command {
        use std::os::unix::process::CommandExt as _;
        let mut cmd = match &self.chroot {
            // Its own name is argv[0]'s last component: "virt-aa-helper". It reads a PCI
            // host device's sysfs files, as ours does on the host: the host's /sys is bound
            // read-only into the root, in a mount namespace of its own (gone when it exits;
            // `unshare` makes its mounts private). It needs no /proc or /dev mounted.
            Some(root) => {
                let mut c = Command::new("unshare");
                c.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
                    .arg(r#"mount --bind -o ro /sys "$0/sys" && exec chroot "$0" "$@""#)
                    .arg(root)
                    .arg(C_HELPER);
                c
            }
            None => {
                let mut c = Command::new(common::libvirts_own(C_HELPER));
                // It names itself by argv[0] in what it prints, which is parsed
                // ("virt-aa-helper:"), also when the package diverted it to
                // virt-aa-helper.distrib.
                c.arg0("virt-aa-helper");
                c
            }
        };
        cmd.args(["-d", "-r", "-u", profile]);
        cmd
    }
}

/// `9.0.0` of `9.0.0-4+deb12u2` (and of an epoch-prefixed version).
fn upstream(debian: &str) -> &str {
    let v = debian.split_once(':').map_or(debian, |(_, v)| v);
    v.split(['-', '~', '+']).next().unwrap_or(v)
}

/// (major, minor) of `11.3.0`.
fn series(upstream: &str) -> (u32, u32) {
    let mut parts = upstream.split('.').map(|p| p.parse::<u32>());
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor),
        _ => panic!("libvirt version {upstream:?} is not MAJOR.MINOR..."),
    }
}

/// The `*.xml` files of `dir` whose name `keep` accepts, named `prefix` + file name, sorted.
fn xml_files(dir: &Path, prefix: &str, keep: impl Fn(&str) -> bool) -> Vec<(String, PathBuf)> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".xml") && keep(n))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no *.xml in {}", dir.display());
    names
        .into_iter()
        .map(|n| (format!("{prefix}{n}"), dir.join(&n)))
        .collect()
}

/// A libvirt source's `tests/` directory with domain XMLs in either layout: libvirt 9.0's
/// `qemuxml2argvdata/`, or 10.x's `qemuxmlconfdata/` (with `qemuhotplugtestdomains/`).
fn has_corpus(tests: &Path) -> bool {
    tests.join("qemuxml2argvdata").is_dir() || tests.join("qemuxmlconfdata").is_dir()
}

/// The domain XMLs of a libvirt source's `tests/`: every `qemuxml2argvdata/*.xml` (9.0), or
/// the `qemuxmlconfdata` inputs (`name.xml`) and x86_64 outputs (`name.x86_64-latest.xml`:
/// the input as that libvirt formats it; other outputs, `name.ARCH-VERSION.xml` and
/// `.abi-update.xml`, are left out) and the `qemuhotplugtestdomains`.
fn corpus_xmls(tests: &Path) -> Vec<(String, PathBuf)> {
    let old = tests.join("qemuxml2argvdata");
    if old.is_dir() {
        return xml_files(&old, "", |_| true);
    }
    let conf = tests.join("qemuxmlconfdata");
    let hotplug = tests.join("qemuhotplugtestdomains");
    for dir in [&conf, &hotplug] {
        assert!(dir.is_dir(), "{} is missing: {SETUP}", dir.display());
    }
    let input = |n: &str| {
        !n.trim_end_matches(".xml")
            .split('.')
            .skip(1)
            .any(|p| p.contains('-'))
    };
    let mut xmls = xml_files(&conf, "", |n| input(n) || n.ends_with(".x86_64-latest.xml"));
    xmls.extend(xml_files(&hotplug, "hotplug/", |_| true));
    xmls
}

/// The host's libvirt source's `tests/` ([`has_corpus`]): `$VAH_LIBVIRT_SRC/tests`, else
/// `target/libvirt-src/*/tests`.
fn find_corpus(manifest: &Path) -> PathBuf {
    if let Some(src) = std::env::var_os("VAH_LIBVIRT_SRC") {
        let dir = Path::new(&src).join("tests");
        assert!(
            has_corpus(&dir),
            "VAH_LIBVIRT_SRC is set, but {} has no qemuxml2argvdata or qemuxmlconfdata (unset it to use target/libvirt-src/, or {SETUP})",
            dir.display()
        );
        return dir;
    }
    let base = manifest.join("target/libvirt-src");
    let mut found: Vec<PathBuf> = fs::read_dir(&base)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("tests"))
        .filter(|d| has_corpus(d))
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!(
            "libvirt's test corpus not found (neither $VAH_LIBVIRT_SRC/tests nor {}/*/tests has qemuxml2argvdata or qemuxmlconfdata): {SETUP}",
            base.display()
        )
    })
}

/// What happened to one XML.
enum Outcome {
    /// No `<uuid>`, or not a valid one: neither helper can be asked.
    NoUuid(String),
    /// C exits non-zero (its error lines, joined); what ours does.
    CRejects {
        error: String,
        ours: Result<Ours, OursFailure>,
    },
    /// C accepts: both rule sets, or ours' failure.
    Compared {
        c: CFiles,
        ours: Result<Ours, OursFailure>,
    },
}

/// C's `.files`: its rules, and its text (for the compile).
struct CFiles {
    rules: BTreeSet<String>,
    text: String,
}

/// Our rule set, where each rule comes from (the provenance comment of its line; a `deny`
/// line takes the comment of the rule it follows), and the files the dry run would write.
struct Ours {
    rules: BTreeSet<String>,
    origins: BTreeMap<String, String>,
    files: Vec<(PathBuf, String)>,
}

struct OursFailure {
    code: Option<i32>,
    /// Our first `virt-aa-helper: error:` line (else the last stderr line).
    line: String,
    /// The policy directory, for display.
    dir: String,
}

struct Case {
    name: String,
    xml: String,
    outcome: Outcome,
}

fn run_all(release: &Release) -> Vec<Case> {
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4);
    let mut cases: Vec<(usize, Case)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    // Without a release's policy tree, an empty one per worker: dry runs read
                    // it, never write it.
                    let empty = tempfile::tempdir().expect("tempdir");
                    let dir = release.apparmor_dir.as_deref().unwrap_or(empty.path());
                    let dir = dir.to_str().expect("utf-8 policy dir");
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((name, path)) = release.xmls.get(i) else {
                            break;
                        };
                        done.push((i, run_one(release, path, name, dir)));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker panicked"))
            .collect()
    });
    cases.sort_by_key(|(i, _)| *i);
    cases.into_iter().map(|(_, c)| c).collect()
}

fn run_one(release: &Release, path: &Path, name: &str, policy_dir: &str) -> Case {
    let xml = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let outcome = match domain_uuid(&xml) {
        Err(why) => Outcome::NoUuid(why),
        Ok(uuid) => {
            let profile = format!("libvirt-{uuid}");
            let c = run_c(release, &profile, &xml, name);
            let ours = run_ours(&profile, &xml, policy_dir);
            match c {
                Err(error) => Outcome::CRejects { error, ours },
                Ok(c) => Outcome::Compared { c, ours },
            }
        }
    };
    Case {
        name: name.to_string(),
        xml,
        outcome,
    }
}

/// The domain's `<uuid>` (the first one: it precedes `<devices>`), lower-cased.
fn domain_uuid(xml: &str) -> Result<String, String> {
    let start = xml.find("<uuid>").ok_or("no <uuid>")? + "<uuid>".len();
    let len = xml[start..].find("</uuid>").ok_or("unterminated <uuid>")?;
    let uuid = xml[start..start + len].trim().to_ascii_lowercase();
    let valid = uuid.len() == 36
        && uuid.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    if valid {
        Ok(uuid)
    } else {
        Err(format!("invalid <uuid> {uuid:?}"))
    }
}

/// Runs the C helper; its `.files`, or its error lines if it rejects the XML.
fn run_c(release: &Release, profile: &str, xml: &str, name: &str) -> Result<CFiles, String> {
    let mut child = release
        .c_command(profile)
        // Untranslated messages: the output is parsed.
        .env("LC_ALL", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {} C helper: {e}", release.name));
    {
        let mut stdin = child.stdin.take().expect("stdin");
        // It may exit before reading everything: ignore EPIPE.
        let _ = stdin.write_all(xml.as_bytes());
    }
    let out = child.wait_with_output().expect("wait for the C helper");
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let errors: Vec<&str> = err
            .lines()
            .filter_map(|l| l.strip_prefix("virt-aa-helper: error: "))
            .collect();
        return Err(if errors.is_empty() {
            format!("exit {:?} without an error line", out.status.code())
        } else {
            errors.join(": ")
        });
    }
    // Dry run: "virt-aa-helper:\n<include file>\nvirt-aa-helper:\n<.files content>\n".
    let include = format!("/etc/apparmor.d/libvirt/{profile}.files");
    let lines: Vec<&str> = err.lines().collect();
    let at = lines
        .windows(3)
        .position(|w| w == ["virt-aa-helper:", include.as_str(), "virt-aa-helper:"])
        .unwrap_or_else(|| {
            panic!("{name}: the C helper exited 0 without printing {include}'s content:\n{err}")
        });
    let content = &lines[at + 3..];
    Ok(CFiles {
        rules: rule_set(content.iter().copied()),
        text: content.join("\n") + "\n",
    })
}

/// Runs ours; its rule set, or how it failed.
fn run_ours(profile: &str, xml: &str, dir: &str) -> Result<Ours, OursFailure> {
    let out = common::run(
        &["-d", "-c", "-u", profile, "--apparmor-dir", dir],
        Some(xml),
    );
    if out.status.success() {
        let files = out.dry_files();
        let mut origins = BTreeMap::new();
        let mut last = String::new();
        for (_, content) in &files {
            for line in content.lines() {
                let (code, comment) = match line.find("  # ") {
                    Some(i) => (line[..i].trim(), Some(line[i + 4..].trim())),
                    None => (line.trim(), None),
                };
                if code.is_empty() || code.starts_with('#') {
                    continue;
                }
                if let Some(c) = comment {
                    last = c.to_string();
                }
                origins
                    .entry(code.to_string())
                    .or_insert_with(|| last.clone());
            }
        }
        let rules = out.dry_rules().into_iter().collect();
        return Ok(Ours {
            rules,
            origins,
            files,
        });
    }
    let err = &out.stderr;
    let line = err
        .lines()
        .find(|l| l.starts_with("virt-aa-helper: error: "))
        .or_else(|| err.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("(no message)")
        .to_string();
    Err(OursFailure {
        code: out.status.code(),
        line,
        dir: dir.to_string(),
    })
}

/// Rules: lines without surrounding blanks, comments and empty lines.
fn rule_set<'a>(lines: impl Iterator<Item = &'a str>) -> BTreeSet<String> {
    lines
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

// ---------------------------------------------------------------------------------------
// Compiling both profiles with the root's apparmor_parser

/// A work directory in the root's `/tmp` (so the chrooted parser reads it): a copy of the
/// root's `/etc/apparmor.d`, into whose `libvirt/` the profiles are written.
struct Compiler {
    root: PathBuf,
    work: tempfile::TempDir,
    /// The include line libvirt's `create_profile` writes (`%s`: the profile name), read
    /// from the C helper itself.
    c_include: String,
}

/// What the compile found: profiles compiled per side, profiles C's real run would not
/// make (no TEMPLATE for the domain type), and (XML, side, parser error) failures.
struct Compiled {
    c: usize,
    ours: usize,
    /// Distinct profiles among them (each compiled once).
    distinct: usize,
    c_no_template: Vec<String>,
    failures: Vec<(String, &'static str, String)>,
}

impl Compiler {
    fn new(root: &Path) -> Compiler {
        let work = tempfile::Builder::new()
            .prefix("vah-differential-")
            .tempdir_in(root.join("tmp"))
            .unwrap_or_else(|e| panic!("a work directory in {}/tmp: {e}", root.display()));
        let st = Command::new("cp")
            .arg("-a")
            .arg(root.join("etc/apparmor.d"))
            .arg(work.path().join("apparmor.d"))
            .status()
            .expect("run cp");
        assert!(st.success(), "copy {}/etc/apparmor.d", root.display());
        // The format string in the binary's read-only data, e.g.
        // "  #include if exists <libvirt/%s.files>\n".
        let helper = root.join(C_HELPER.trim_start_matches('/'));
        let bytes = fs::read(&helper).unwrap_or_else(|e| panic!("{}: {e}", helper.display()));
        let needle = b"<libvirt/%s.files>";
        let at = bytes
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap_or_else(|| panic!("{}: no include line of .files", helper.display()));
        let start = bytes[..at]
            .iter()
            .rposition(|&b| b == 0)
            .map_or(0, |i| i + 1);
        let end = at
            + bytes[at..]
                .iter()
                .position(|&b| b == 0)
                .expect("a C string");
        let c_include = String::from_utf8(bytes[start..end].to_vec()).expect("utf-8 format");
        Compiler {
            root: root.to_path_buf(),
            work,
            c_include,
        }
    }

    /// The policy copy as the host sees it (our `--apparmor-dir`).
    fn host_dir(&self) -> PathBuf {
        self.work.path().join("apparmor.d")
    }

    /// The same directory as the chrooted parser sees it.
    fn root_dir(&self) -> String {
        let rel = self
            .host_dir()
            .strip_prefix(&self.root)
            .expect("in the root")
            .to_string_lossy()
            .into_owned();
        format!("/{rel}")
    }

    /// Writes every profile both helpers would make, each under its own name (the corpus
    /// shares uuids), and compiles them all.
    fn compile_all(&self, cases: &[Case]) -> Compiled {
        let dir = self.host_dir().join("libvirt");
        let mut done = Compiled {
            c: 0,
            ours: 0,
            distinct: 0,
            c_no_template: Vec::new(),
            failures: Vec::new(),
        };
        // Identical profiles (profile and .files text) are compiled once: (its file name,
        // the (XML, side) pairs that made it), in order.
        let mut jobs: Vec<(String, Vec<(String, &'static str)>)> = Vec::new();
        let mut seen: HashMap<(String, String), usize> = HashMap::new();
        let mut add = |side: &'static str, case: &Case, profile: String, files: &str| {
            let key = (profile, files.to_string());
            if let Some(&i) = seen.get(&key) {
                jobs[i].1.push((case.name.clone(), side));
                return;
            }
            let name = format!("{:04}", jobs.len());
            let uuid = domain_uuid(&case.xml).expect("a compared XML has a uuid");
            let include = format!("<libvirt/{name}.files>");
            let profile = key
                .0
                .replace(&format!("<libvirt/libvirt-{uuid}.files>"), &include);
            // C's include is `if exists`: a wrong name would compile no rule at all.
            assert!(
                profile.contains(&include),
                "{}: {side}'s profile does not include its .files:\n{profile}",
                case.name
            );
            fs::write(dir.join(&name), profile).expect("write a profile");
            fs::write(dir.join(format!("{name}.files")), files).expect("write a .files");
            seen.insert(key, jobs.len());
            jobs.push((name, vec![(case.name.clone(), side)]));
        };
        for case in cases {
            let (c, ours) = match &case.outcome {
                Outcome::Compared { c, ours } => (Some(c), ours.as_ref().ok()),
                Outcome::CRejects { ours, .. } => (None, ours.as_ref().ok()),
                Outcome::NoUuid(_) => (None, None),
            };
            if let Some(c) = c {
                match self.c_profile(&case.xml) {
                    Some(profile) => {
                        add("C", case, profile, &c.text);
                        done.c += 1;
                    }
                    None => done.c_no_template.push(case.name.clone()),
                }
            }
            if let Some(ours) = ours {
                let file = |files: bool| {
                    ours.files
                        .iter()
                        .find(|(p, _)| p.to_string_lossy().ends_with(".files") == files)
                        .map(|(_, text)| text)
                        .unwrap_or_else(|| {
                            panic!("{}: our dry run printed no profile and .files", case.name)
                        })
                };
                add("ours", case, file(false).clone(), file(true));
                done.ours += 1;
            }
        }
        done.distinct = jobs.len();
        // The negative control: the parser refuses a profile with a bad rule.
        fs::write(
            dir.join("control-bad"),
            "#include <tunables/global>\nprofile control-bad {\n  \"/tmp/x\" rwz,\n}\n",
        )
        .expect("write the control");
        assert!(
            self.parse(&["control-bad"]).is_err(),
            "{}/usr/sbin/apparmor_parser accepts a profile with a bad rule: it checks nothing",
            self.root.display()
        );
        for chunk in jobs.chunks(COMPILE_CHUNK) {
            let names: Vec<&str> = chunk.iter().map(|(n, _)| n.as_str()).collect();
            if self.parse(&names).is_ok() {
                continue;
            }
            // One by one, to name the profiles the parser rejects.
            for (name, made_by) in chunk {
                if let Err(e) = self.parse(&[name]) {
                    for (xml, side) in made_by {
                        done.failures.push((xml.clone(), side, e.clone()));
                    }
                }
            }
        }
        done
    }

    /// C's profile as its `create_profile` makes it from the release's TEMPLATE; `None`
    /// when there is no TEMPLATE for the domain type (C's real `-c` fails then).
    fn c_profile(&self, xml: &str) -> Option<String> {
        let uuid = domain_uuid(xml).ok()?;
        let kind = virt_aa_helper::xml::parse(xml)
            .ok()
            .and_then(|d| d.attr("type").map(str::to_string))
            .unwrap_or_default();
        let driver = match kind.as_str() {
            "qemu" | "kqemu" | "kvm" => "qemu",
            other => other,
        };
        let template =
            fs::read_to_string(self.host_dir().join(format!("libvirt/TEMPLATE.{driver}"))).ok()?;
        let name = format!("libvirt-{uuid}");
        let include = self.c_include.replace("%s", &name);
        Some(
            template
                .replace("\nprofile LIBVIRT_TEMPLATE", &format!("\nprofile {name}"))
                .replace("\n}", &format!("\n{include}\n}}")),
        )
    }

    /// One `apparmor_parser -Q -K` run over profiles of the work directory's `libvirt/`.
    fn parse(&self, names: &[&str]) -> Result<(), String> {
        let base = self.root_dir();
        let out = Command::new("chroot")
            .arg(&self.root)
            .args([
                "/usr/sbin/apparmor_parser",
                "-Q",
                "-K",
                "--base",
                &base,
                "-I",
                &base,
            ])
            .args(names.iter().map(|n| format!("{base}/libvirt/{n}")))
            .env("LC_ALL", "C")
            .output()
            .expect("run the root's apparmor_parser");
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr)
                .trim()
                .replace('\n', " | "))
        }
    }
}

// ---------------------------------------------------------------------------------------
// The list of deliberate differences

struct Entry {
    id: String,
    /// Line of the heading in the list.
    line: usize,
    /// The libvirt releases it applies to (`libvirt:` line); empty: all.
    releases: Vec<Range>,
}

/// A `libvirt:` item: `X.Y` (that release series), `X.Y..` (it and later), `..X.Y` (before
/// it), `X.Y..A.B` (from X.Y, before A.B).
#[derive(Debug, PartialEq)]
struct Range {
    from: Option<(u32, u32)>,
    /// Exclusive.
    to: Option<(u32, u32)>,
}

impl Range {
    fn parse(s: &str) -> Option<Range> {
        let version = |v: &str| {
            let (major, minor) = v.trim().split_once('.')?;
            Some((major.parse().ok()?, minor.parse().ok()?))
        };
        let bound = |v: &str| match v.trim() {
            "" => Some(None),
            v => version(v).map(Some),
        };
        match s.split_once("..") {
            None => {
                let v = version(s)?;
                Some(Range {
                    from: Some(v),
                    to: Some((v.0, v.1 + 1)),
                })
            }
            Some((a, b)) => {
                let r = Range {
                    from: bound(a)?,
                    to: bound(b)?,
                };
                (r.from.is_some() || r.to.is_some()).then_some(r)
            }
        }
    }

    fn contains(&self, v: (u32, u32)) -> bool {
        self.from.is_none_or(|f| f <= v) && self.to.is_none_or(|t| v < t)
    }
}

impl Entry {
    fn applies_to(&self, version: (u32, u32)) -> bool {
        self.releases.is_empty() || self.releases.iter().any(|r| r.contains(version))
    }
}

/// One matcher of an entry; an entry has one or more, and each must explain something.
struct Matcher {
    /// Index of its entry.
    entry: usize,
    /// Line in the list.
    line: usize,
    kind: Kind,
}

enum Side {
    C,
    Ours,
}

enum Kind {
    Unescape,
    Rule {
        side: Side,
        pattern: Pattern,
        c_has: Vec<Pattern>,
        ours_has: Vec<Pattern>,
        /// For `ours` rules: the provenance comment must match (`from: PATTERN`).
        from: Option<Pattern>,
    },
    OursError(Pattern),
}

/// Reads the list: `### id` headings, prose reasons, indented `key: value` matchers.
fn parse_list(text: &str) -> (Vec<Entry>, Vec<Matcher>) {
    let mut entries: Vec<Entry> = Vec::new();
    let mut reasons: Vec<String> = Vec::new();
    let mut matchers: Vec<Matcher> = Vec::new();
    let mut errors = Vec::new();
    let mut in_entry = false;
    for (n, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l)) {
        if let Some(id) = line.strip_prefix("### ") {
            let id = id.trim().to_string();
            let valid = id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if id.is_empty() || !valid {
                errors.push(format!(
                    "{LIST}:{n}: an id is lower-case letters, digits and '-'"
                ));
            }
            if entries.iter().any(|e| e.id == id) {
                errors.push(format!("{LIST}:{n}: duplicate id {id}"));
            }
            entries.push(Entry {
                id,
                line: n,
                releases: Vec::new(),
            });
            reasons.push(String::new());
            in_entry = true;
            continue;
        }
        if line.starts_with('#') {
            in_entry = false;
        }
        if !in_entry || line.trim().is_empty() {
            continue;
        }
        let entry = entries.len() - 1;
        let Some(code) = line.strip_prefix("    ") else {
            reasons[entry].push_str(line);
            continue;
        };
        let mut err = |msg: String| errors.push(format!("{LIST}:{n}: {msg}"));
        let Some((key, value)) = code.trim().split_once(": ") else {
            err(format!("expected `key: value`, got {:?}", code.trim()));
            continue;
        };
        let kind = match key {
            "libvirt" => {
                if !entries[entry].releases.is_empty() {
                    err("one `libvirt:` line per entry".to_string());
                }
                for item in value.split(',') {
                    match Range::parse(item) {
                        Some(r) => entries[entry].releases.push(r),
                        None => err(format!(
                            "`libvirt: {value}`: {item:?} is not X.Y, X.Y.., ..X.Y or X.Y..A.B"
                        )),
                    }
                }
                continue;
            }
            "kind" if value == "unescape" => Kind::Unescape,
            "kind" => {
                err(format!("unknown kind {value:?} (known: unescape)"));
                continue;
            }
            "c" | "ours" => Kind::Rule {
                side: if key == "c" { Side::C } else { Side::Ours },
                pattern: Pattern::parse(value),
                c_has: Vec::new(),
                ours_has: Vec::new(),
                from: None,
            },
            "ours error" => Kind::OursError(Pattern::parse(value)),
            "from" => {
                let current = matchers.last_mut().filter(|m| m.entry == entry);
                let Some(Matcher {
                    kind:
                        Kind::Rule {
                            side: Side::Ours,
                            from,
                            ..
                        },
                    ..
                }) = current
                else {
                    err("`from` must follow an `ours` matcher".to_string());
                    continue;
                };
                *from = Some(Pattern::parse(value));
                continue;
            }
            "c has" | "ours has" => {
                let current = matchers.last_mut().filter(|m| m.entry == entry);
                let Some(Matcher {
                    kind:
                        Kind::Rule {
                            pattern,
                            c_has,
                            ours_has,
                            ..
                        },
                    ..
                }) = current
                else {
                    err(format!("`{key}` must follow a `c` or `ours` matcher"));
                    continue;
                };
                let cond = Pattern::parse(value);
                let known = pattern.vars();
                for v in cond.vars() {
                    if !known.contains(&v) {
                        err(format!(
                            "placeholder {{{v}}} is not in the matcher's pattern"
                        ));
                    }
                }
                if key == "c has" {
                    c_has.push(cond);
                } else {
                    ours_has.push(cond);
                }
                continue;
            }
            _ => {
                err(format!("unknown key {key:?}"));
                continue;
            }
        };
        matchers.push(Matcher {
            entry,
            line: n,
            kind,
        });
    }
    for (i, e) in entries.iter().enumerate() {
        if reasons[i].trim().is_empty() {
            errors.push(format!("{LIST}:{}: entry {} gives no reason", e.line, e.id));
        }
        if !matchers.iter().any(|m| m.entry == i) {
            errors.push(format!("{LIST}:{}: entry {} has no matcher", e.line, e.id));
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    (entries, matchers)
}

/// Literal text with `{name}` placeholders (each matches non-empty text, consistently).
#[derive(Debug)]
struct Pattern(Vec<Part>);

#[derive(Debug)]
enum Part {
    Lit(String),
    Var(String),
}

type Bindings = HashMap<String, String>;

impl Pattern {
    fn parse(s: &str) -> Pattern {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = s;
        while !rest.is_empty() {
            if let Some(name) = rest.strip_prefix('{').and_then(|r| {
                let end = r.find('}')?;
                let name = &r[..end];
                let ok =
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                ok.then_some(name)
            }) {
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
                parts.push(Part::Var(name.to_string()));
                rest = &rest[name.len() + 2..];
            } else {
                let c = rest.chars().next().expect("non-empty");
                lit.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Pattern(parts)
    }

    fn vars(&self) -> Vec<String> {
        self.0
            .iter()
            .filter_map(|p| match p {
                Part::Var(v) => Some(v.clone()),
                Part::Lit(_) => None,
            })
            .collect()
    }

    /// Every way `s` matches: the placeholder values of each.
    fn matches(&self, s: &str) -> Vec<Bindings> {
        let mut out = Vec::new();
        match_parts(&self.0, s, &mut Bindings::new(), &mut out);
        out
    }

    /// The text with placeholders replaced (all are bound: checked when the list is read).
    fn fill(&self, b: &Bindings) -> String {
        self.0
            .iter()
            .map(|p| match p {
                Part::Lit(l) => l.as_str(),
                Part::Var(v) => b[v].as_str(),
            })
            .collect()
    }
}

fn match_parts(parts: &[Part], s: &str, b: &mut Bindings, out: &mut Vec<Bindings>) {
    match parts.split_first() {
        None => {
            if s.is_empty() {
                out.push(b.clone());
            }
        }
        Some((Part::Lit(l), rest)) => {
            if let Some(tail) = s.strip_prefix(l.as_str()) {
                match_parts(rest, tail, b, out);
            }
        }
        Some((Part::Var(v), rest)) => {
            if let Some(val) = b.get(v).cloned() {
                if let Some(tail) = s.strip_prefix(val.as_str()) {
                    match_parts(rest, tail, b, out);
                }
                return;
            }
            // Every non-empty prefix of `s`.
            let ends = s.char_indices().map(|(i, _)| i).chain([s.len()]);
            for i in ends.filter(|&i| i > 0) {
                b.insert(v.clone(), s[..i].to_string());
                match_parts(rest, &s[i..], b, out);
            }
            b.remove(v);
        }
    }
}

/// Undoes AppArmor's quoting: `\ooo` (three octal digits) is that byte, `\X` is `X`.
fn unescape(rule: &str) -> String {
    let bytes = rule.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 1 < bytes.len() {
            let oct = &bytes[i + 1..bytes.len().min(i + 4)];
            if oct.len() == 3 && oct.iter().all(|b| (b'0'..=b'7').contains(b)) {
                out.push(oct.iter().fold(0u8, |a, d| a.wrapping_mul(8) + (d - b'0')));
                i += 4;
            } else {
                out.push(bytes[i + 1]);
                i += 2;
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------
// Comparison

/// A diff line: `- rule` only C has it, `+ rule` only ours has it, `! error` ours fails.
type DiffLine = String;

/// XMLs, each with its diff lines of one matcher or category.
type Examples = Vec<(String, Vec<DiffLine>)>;

#[derive(Default)]
struct Analysis {
    total: usize,
    /// Why there is no valid uuid, to the XMLs.
    no_uuid: BTreeMap<String, Vec<String>>,
    /// C's error to (XML, whether ours rejects it too).
    c_rejects: BTreeMap<String, Vec<(String, bool)>>,
    accepted: usize,
    /// XMLs ours accepts (whether C does or not), and both do.
    ours_accepts: usize,
    both: usize,
    identical: usize,
    deliberate_only: usize,
    /// Matcher index to (XML, explained diff lines).
    hits: BTreeMap<usize, Examples>,
    /// Category to (XML, its diff lines in that category).
    unexplained: BTreeMap<String, Examples>,
}

fn analyse(matchers: &[Matcher], cases: &[Case]) -> Analysis {
    let mut a = Analysis {
        total: cases.len(),
        ..Analysis::default()
    };
    for case in cases {
        let (c, ours) = match &case.outcome {
            Outcome::NoUuid(why) => {
                a.no_uuid
                    .entry(why.clone())
                    .or_default()
                    .push(case.name.clone());
                continue;
            }
            Outcome::CRejects { error, ours } => {
                a.c_rejects
                    .entry(error.clone())
                    .or_default()
                    .push((case.name.clone(), ours.is_err()));
                a.ours_accepts += usize::from(ours.is_ok());
                continue;
            }
            Outcome::Compared { c, ours } => (&c.rules, ours),
        };
        a.accepted += 1;
        a.ours_accepts += usize::from(ours.is_ok());
        a.both += usize::from(ours.is_ok());
        let mut unexplained: BTreeMap<String, Vec<DiffLine>> = BTreeMap::new();
        let mut explained: BTreeMap<usize, Vec<DiffLine>> = BTreeMap::new();
        match ours {
            Err(f) => {
                let hit = matchers.iter().position(|m| match &m.kind {
                    Kind::OursError(p) => !p.matches(&f.line).is_empty(),
                    _ => false,
                });
                let shown = f.line.replace(&f.dir, "<dir>");
                match hit {
                    Some(i) => explained.entry(i).or_default().push(format!("! {shown}")),
                    None => {
                        let code = f.code.map_or("a signal".to_string(), |c| c.to_string());
                        unexplained
                            .entry(format!("ours fails (exit {code}): {shown}"))
                            .or_default()
                            .push(format!("! {shown}"));
                    }
                }
            }
            Ok(ours) if ours.rules == *c => {
                a.identical += 1;
                continue;
            }
            Ok(ours) => {
                let (rest_c, rest_ours) = explain(matchers, c, ours, &mut explained);
                let attribution = Attribution::new(&case.xml);
                for (side, rules) in [('-', rest_c), ('+', rest_ours)] {
                    for rule in rules {
                        unexplained
                            .entry(attribution.category(side, &rule))
                            .or_default()
                            .push(format!("{side} {rule}"));
                    }
                }
            }
        }
        if unexplained.is_empty() {
            a.deliberate_only += 1;
        }
        for (i, lines) in explained {
            a.hits
                .entry(i)
                .or_default()
                .push((case.name.clone(), lines));
        }
        for (cat, lines) in unexplained {
            a.unexplained
                .entry(cat)
                .or_default()
                .push((case.name.clone(), lines));
        }
    }
    a.merge_generated_categories();
    a
}

/// Applies the matchers to one XML's differences (the first that matches a rule explains
/// it); returns the rules left unexplained, C's and ours.
fn explain(
    matchers: &[Matcher],
    c: &BTreeSet<String>,
    ours_all: &Ours,
    explained: &mut BTreeMap<usize, Vec<DiffLine>>,
) -> (Vec<String>, Vec<String>) {
    let ours = &ours_all.rules;
    let mut only_c: BTreeSet<&String> = c.difference(ours).collect();
    let mut only_ours: BTreeSet<&String> = ours.difference(c).collect();
    for (i, m) in matchers.iter().enumerate() {
        match &m.kind {
            Kind::Unescape => {
                for y in only_ours.clone() {
                    let u = unescape(y);
                    if u != *y && only_c.contains(&u) {
                        only_c.remove(&u);
                        only_ours.remove(y);
                        let lines = explained.entry(i).or_default();
                        lines.push(format!("- {u}"));
                        lines.push(format!("+ {y}"));
                    }
                }
            }
            Kind::Rule {
                side,
                pattern,
                c_has,
                ours_has,
                from,
            } => {
                let (pool, mark) = match side {
                    Side::C => (&mut only_c, '-'),
                    Side::Ours => (&mut only_ours, '+'),
                };
                for rule in pool.clone() {
                    let from_ok = from.as_ref().is_none_or(|f| {
                        ours_all
                            .origins
                            .get(rule)
                            .is_some_and(|o| !f.matches(o).is_empty())
                    });
                    let ok = from_ok
                        && pattern.matches(rule).iter().any(|b| {
                            c_has.iter().all(|p| c.contains(&p.fill(b)))
                                && ours_has.iter().all(|p| ours.contains(&p.fill(b)))
                        });
                    if ok {
                        pool.remove(rule);
                        explained
                            .entry(i)
                            .or_default()
                            .push(format!("{mark} {rule}"));
                    }
                }
            }
            Kind::OursError(_) => {}
        }
    }
    (
        only_c.into_iter().cloned().collect(),
        only_ours.into_iter().cloned().collect(),
    )
}

/// Names the XML element a rule most likely comes from, for grouping the report.
struct Attribution {
    /// (path-like value in the XML, label of the top-level or device element holding it)
    values: Vec<(String, String)>,
    /// The domain's name and uuid, generalized in rules no element explains.
    name: String,
    uuid: String,
}

impl Attribution {
    fn new(xml: &str) -> Self {
        let mut at = Attribution {
            values: Vec::new(),
            name: String::new(),
            uuid: domain_uuid(xml).unwrap_or_default(),
        };
        // The project's XML reader; a document it refuses just gets no attribution.
        if let Ok(root) = virt_aa_helper::xml::parse(xml) {
            at.name = root
                .child("name")
                .map(|n| n.trimmed_text().to_string())
                .unwrap_or_default();
            for top in &root.children {
                if top.name == "devices" {
                    for dev in &top.children {
                        collect_values(dev, &label(dev), &mut at.values);
                    }
                } else {
                    collect_values(top, &label(top), &mut at.values);
                }
            }
        }
        at
    }

    /// `<side> <element>` when the rule's path is (under) a path in the XML, else
    /// `<side> generated <rule>` with the domain's name and uuid generalized.
    fn category(&self, side: char, rule: &str) -> String {
        let who = if side == '-' {
            "only C has"
        } else {
            "only ours has"
        };
        let path = rule.split('"').nth(1).map(unescape).unwrap_or_default();
        let best = self
            .values
            .iter()
            .filter(|(v, _)| {
                path == *v
                    || path
                        .strip_prefix(v.as_str())
                        .is_some_and(|t| t.starts_with(['.', '/']))
            })
            .max_by_key(|(v, _)| v.len());
        match best {
            Some((_, label)) => format!("{who}: {label}"),
            None => {
                let mut g = rule.to_string();
                if !self.uuid.is_empty() {
                    g = g.replace(&self.uuid, "{uuid}");
                }
                if !self.name.is_empty() {
                    g = g.replace(&self.name, "{name}");
                }
                format!("{who}: generated {g}")
            }
        }
    }
}

fn label(e: &Element) -> String {
    let mut s = format!("<{}", e.name);
    for key in ["type", "device", "model", "mode"] {
        if let Some(v) = e.attr(key) {
            let _ = write!(s, " {key}='{v}'");
        }
    }
    s + ">"
}

fn collect_values(e: &Element, label: &str, out: &mut Vec<(String, String)>) {
    let texts = e.attrs.iter().map(|(_, v)| v.as_str());
    for v in texts.chain([e.trimmed_text()]) {
        if v.starts_with('/') && v.len() > 1 {
            out.push((v.trim_end_matches('/').to_string(), label.to_string()));
        }
    }
    for c in &e.children {
        collect_values(c, label, out);
    }
}

impl Analysis {
    fn unexplained_xmls(&self) -> usize {
        let xmls: BTreeSet<&String> = self
            .unexplained
            .values()
            .flatten()
            .map(|(x, _)| x)
            .collect();
        xmls.len()
    }

    /// Generated rules that always occur together (the same XMLs) make one category: a
    /// block of rules one feature emits is one missing feature.
    fn merge_generated_categories(&mut self) {
        let mut by_xmls: BTreeMap<(String, Vec<String>), Vec<String>> = BTreeMap::new();
        for (cat, xmls) in &self.unexplained {
            if let Some((who, rule)) = cat.split_once(": generated ") {
                let names = xmls.iter().map(|(x, _)| x.clone()).collect();
                by_xmls
                    .entry((who.to_string(), names))
                    .or_default()
                    .push(rule.to_string());
            }
        }
        for ((who, _), rules) in by_xmls {
            if rules.len() < 2 {
                continue;
            }
            let mut merged: BTreeMap<String, Vec<DiffLine>> = BTreeMap::new();
            for rule in &rules {
                let cat = format!("{who}: generated {rule}");
                for (xml, lines) in self.unexplained.remove(&cat).expect("category") {
                    merged.entry(xml).or_default().extend(lines);
                }
            }
            let cat = format!(
                "{who}: generated {} (and {} more generated rules)",
                rules[0],
                rules.len() - 1
            );
            self.unexplained.insert(cat, merged.into_iter().collect());
        }
    }

    /// One line of counts: XMLs, acceptance, unexplained (missing: rules only C has;
    /// extra: rules only ours has; refusals: ours fails where C accepts) and explained
    /// differences (diff lines), compile failures.
    fn closing_line(&self, release: &Release, compiled: Option<&Compiled>) -> String {
        let count = |mark: char| {
            self.unexplained
                .values()
                .flatten()
                .flat_map(|(_, lines)| lines)
                .filter(|l| l.starts_with(mark))
                .count()
        };
        let explained: usize = self
            .hits
            .values()
            .flatten()
            .map(|(_, lines)| lines.len())
            .sum();
        let compile = compiled.map_or("compile not run (quick test)".to_string(), |c| {
            format!("compile failures {}", c.failures.len())
        });
        format!(
            "differential {}: {} XMLs, C accepts {}, ours accepts {}, both {}, \
             missing {} unexplained, extra {} unexplained, refusals {} unexplained, \
             explained {explained}, {compile}",
            release.name,
            self.total,
            self.accepted,
            self.ours_accepts,
            self.both,
            count('-'),
            count('+'),
            count('!'),
        )
    }

    fn categories_text(&self) -> String {
        let mut cats: Vec<(&String, &Examples)> = self.unexplained.iter().collect();
        cats.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
        let mut s = format!(
            "unexplained differences by category ({}), with the number of XMLs and examples\n\
             (`-` a rule only C has, `+` a rule only ours has, `!` our error; `generated`: no path of the XML):\n",
            cats.len()
        );
        for (cat, xmls) in cats {
            let _ = writeln!(s, "  [{}] {cat}", xmls.len());
            for (xml, lines) in xmls.iter().take(EXAMPLES) {
                let _ = writeln!(s, "      {xml}:");
                for l in lines.iter().take(EXAMPLE_LINES) {
                    let _ = writeln!(s, "        {l}");
                }
                if lines.len() > EXAMPLE_LINES {
                    let _ = writeln!(s, "        ... and {} more", lines.len() - EXAMPLE_LINES);
                }
            }
            if xmls.len() > EXAMPLES {
                let rest: Vec<&str> = xmls[EXAMPLES..].iter().map(|(x, _)| x.as_str()).collect();
                let _ = writeln!(s, "      also: {}", abbreviate(&rest, 6));
            }
        }
        s
    }

    /// The counts and what each entry explains.
    fn summary(
        &self,
        release: &Release,
        entries: &[Entry],
        matchers: &[Matcher],
        compiled: Option<&Compiled>,
    ) -> String {
        let mut s = String::new();
        let pct = |n: usize| 100.0 * n as f64 / self.accepted.max(1) as f64;
        let rejected: usize = self.c_rejects.values().map(Vec::len).sum();
        let unexplained = self.unexplained_xmls();
        let no_uuid: usize = self.no_uuid.values().map(Vec::len).sum();
        out!(
            s,
            "Differential test against libvirt's C virt-aa-helper: {}",
            release.name
        );
        out!(s, "corpus:   {}", release.corpus);
        let root = release
            .chroot
            .as_ref()
            .map_or(String::new(), |r| format!(" in {}", r.display()));
        out!(
            s,
            "C helper: {C_HELPER}{root} (libvirt-daemon {})",
            release.c_version
        );
        let applying = entries
            .iter()
            .enumerate()
            .filter(|(i, _)| matchers.iter().any(|m| m.entry == *i))
            .count();
        out!(
            s,
            "list:     {LIST} ({} entries, {applying} apply to this release)",
            entries.len()
        );
        match compiled {
            Some(c) => {
                out!(
                    s,
                    "compiled: {}: {} profiles of C, {} of ours ({} distinct), {} failures",
                    release.parser_name(),
                    c.c,
                    c.ours,
                    c.distinct,
                    c.failures.len()
                );
                if !c.c_no_template.is_empty() {
                    let names: Vec<&str> = c.c_no_template.iter().map(String::as_str).collect();
                    out!(
                        s,
                        "          not C's (no TEMPLATE for the domain type: its real -c fails): {}",
                        abbreviate(&names, 4)
                    );
                }
            }
            None => out!(s, "compiled: not here (the quick test)"),
        }
        out!(s);
        out!(s, "XMLs:                                {:5}", self.total);
        out!(s, "  without a valid <uuid> (skipped):   {no_uuid:5}");
        for (why, xmls) in &self.no_uuid {
            let names: Vec<&str> = xmls.iter().map(String::as_str).collect();
            out!(
                s,
                "      {:4}  {why}: {}",
                xmls.len(),
                abbreviate(&names, 4)
            );
        }
        out!(s, "  rejected by C (excluded):           {rejected:5}");
        for (why, xmls) in &self.c_rejects {
            let ours = xmls.iter().filter(|(_, r)| *r).count();
            out!(s, "      {:4}  C: {why}  (ours rejects {ours})", xmls.len());
            if xmls.len() <= 3 {
                let names: Vec<&str> = xmls.iter().map(|(x, _)| x.as_str()).collect();
                out!(s, "            {}", names.join(", "));
            }
        }
        out!(
            s,
            "  accepted by C:                      {:5}",
            self.accepted
        );
        out!(
            s,
            "    identical rule sets:              {:5}  {:6.2}%",
            self.identical,
            pct(self.identical)
        );
        out!(
            s,
            "    only deliberate differences:      {:5}  {:6.2}%",
            self.deliberate_only,
            pct(self.deliberate_only)
        );
        out!(
            s,
            "    unexplained differences:          {unexplained:5}  {:6.2}%",
            pct(unexplained)
        );
        out!(
            s,
            "  identical or only deliberate differences: {:.2}% of the XMLs C accepts",
            pct(self.identical + self.deliberate_only)
        );
        out!(s);
        out!(
            s,
            "deliberate differences (entry: XMLs it explains, an example):"
        );
        for (i, e) in entries.iter().enumerate() {
            if !matchers.iter().any(|m| m.entry == i) {
                continue;
            }
            let mut xmls = BTreeSet::new();
            // The first XML of each matcher, two of its lines.
            let mut examples: Vec<(&str, Vec<&DiffLine>)> = Vec::new();
            for (j, _) in matchers.iter().enumerate().filter(|(_, m)| m.entry == i) {
                let hits = self.hits.get(&j).map_or(&[][..], Vec::as_slice);
                xmls.extend(hits.iter().map(|(x, _)| x.as_str()));
                if let Some((x, lines)) = hits.first() {
                    let lines = lines.iter().take(2);
                    match examples.last_mut() {
                        Some((last, shown)) if last == x => shown.extend(lines),
                        _ => examples.push((x, lines.collect())),
                    }
                }
            }
            out!(s, "  {}: {}", e.id, xmls.len());
            for (xml, lines) in examples {
                out!(s, "      {xml}:");
                for l in lines {
                    out!(s, "        {l}");
                }
            }
        }
        s
    }
}

fn abbreviate(names: &[&str], max: usize) -> String {
    let mut s = names
        .iter()
        .take(max)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > max {
        let _ = write!(s, ", ... ({} more)", names.len() - max);
    }
    s
}

fn package_version(package: &str) -> String {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", package])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_else(|| "version unknown".to_string())
}

// ---------------------------------------------------------------------------------------
// The matcher language itself

#[test]
fn patterns_bind_placeholders_consistently_and_never_to_empty_text() {
    let p = Pattern::parse("\"{p}\" rw,");
    let b = p.matches("\"/tmp/x\" rw,");
    assert_eq!(b.len(), 1);
    assert_eq!(b[0]["p"], "/tmp/x");
    assert!(
        p.matches("\"\" rw,").is_empty(),
        "a placeholder is never empty"
    );
    assert!(p.matches("\"/tmp/x\" r,").is_empty());

    let twice = Pattern::parse("{a}/{a}");
    assert_eq!(twice.matches("x/x").len(), 1);
    assert!(twice.matches("x/y").is_empty());

    // Braces that are not placeholders are literal (AppArmor alternations).
    let alt = Pattern::parse("\"{dir}/{,*}\" rk,");
    assert_eq!(alt.vars(), ["dir"]);
    assert_eq!(
        alt.matches("\"/etc/pki/nssdb/{,*}\" rk,")[0]["dir"],
        "/etc/pki/nssdb"
    );

    let tpm = Pattern::parse("\"/s/{uuid}/{version}/{rest}");
    let b = tpm.matches("\"/s/u-1/tpm2/**\" rwk,");
    assert!(b
        .iter()
        .any(|b| b["uuid"] == "u-1" && b["version"] == "tpm2"));
    let c_has = Pattern::parse("\"/s/{uuid}/(null)/{rest}");
    assert!(b
        .iter()
        .any(|b| c_has.fill(b) == "\"/s/u-1/(null)/**\" rwk,"));
}

#[test]
fn unescape_undoes_apparmor_quoting() {
    assert_eq!(
        unescape(r#""/a\,b\*c\{d\}\[e\]\"f\\g\134" rwk,"#),
        r#""/a,b*c{d}[e]"f\g\" rwk,"#
    );
    assert_eq!(unescape("\"/plain\" r,"), "\"/plain\" r,");
}

#[test]
fn the_list_of_deliberate_differences_reads() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (entries, matchers) = parse_list(&fs::read_to_string(manifest.join(LIST)).unwrap());
    assert!(!entries.is_empty());
    for (i, e) in entries.iter().enumerate() {
        assert!(matchers.iter().any(|m| m.entry == i), "{}", e.id);
    }
}

#[test]
fn libvirt_ranges_cover_the_releases_they_name() {
    let r = |s: &str| Range::parse(s).unwrap_or_else(|| panic!("{s} parses"));
    assert!(r("9.0").contains((9, 0)));
    assert!(!r("9.0").contains((9, 1)) && !r("9.0").contains((8, 9)));
    assert!(r("11.3..").contains((11, 3)) && r("11.3..").contains((12, 8)));
    assert!(!r("11.3..").contains((11, 2)));
    assert!(r("..12.1").contains((12, 0)) && !r("..12.1").contains((12, 1)));
    assert!(r("9.0..12.1").contains((11, 3)));
    assert!(!r("9.0..12.1").contains((12, 1)) && !r("9.0..12.1").contains((8, 0)));
    for bad in ["..", "12", "x.y", "9.0..x", ""] {
        assert_eq!(Range::parse(bad), None, "{bad:?}");
    }
    let entry = Entry {
        id: "e".to_string(),
        line: 1,
        releases: vec![r("9.0"), r("12.1..")],
    };
    assert!(entry.applies_to((9, 0)) && entry.applies_to((12, 8)));
    assert!(!entry.applies_to((11, 3)));
}
