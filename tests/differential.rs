//! Differential test: libvirt 9.0's C `virt-aa-helper` (Debian's `libvirt-daemon`) and this
//! one on every domain XML of libvirt 9.0's `tests/qemuxml2argvdata/`, comparing the `.files`
//! rule sets (comments and order aside).
//!
//! - C: `virt-aa-helper -d -r -u libvirt-<uuid>` prints the would-be `.files` on stderr and
//!   needs no profile on disk. A non-zero exit means C rejects the XML: it is left out of the
//!   comparison (counted). An XML without a valid `<uuid>` is left out too (counted).
//! - Ours: `virt-aa-helper -d -c -u libvirt-<uuid> --apparmor-dir <empty dir>` (our `-r`
//!   needs an existing profile). Ours failing where C accepts is a difference.
//!
//! Every difference must be explained by an entry of `tests/differential/deliberate.md`
//! (the format is described there), and every entry must explain something. The counts and
//! the per-category report are printed and written to `target/differential-report.txt`.
//!
//! The corpus is `$VAH_LIBVIRT_SRC/tests/qemuxml2argvdata`, else
//! `target/libvirt-src/*/tests/qemuxml2argvdata`; `tests/setup.sh` installs the C helper and
//! unpacks the source there. Nothing skips: without them the test fails saying so.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use virt_aa_helper::xml::Element;

/// libvirt's C helper: at this path, or where this project's package diverted it.
fn c_helper() -> &'static Path {
    static C: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    C.get_or_init(|| common::libvirts_own("/usr/lib/libvirt/virt-aa-helper"))
}
const LIST: &str = "tests/differential/deliberate.md";
const SETUP: &str = "run tests/setup.sh as root: it installs libvirt-daemon and unpacks libvirt's source into target/libvirt-src/";
/// `writeln!` into a `String` (which cannot fail).
macro_rules! out {
    ($s:expr) => {
        $s.push('\n')
    };
    ($s:expr, $($arg:tt)*) => {{
        let _ = writeln!($s, $($arg)*);
    }};
}

/// Example XMLs shown per category, and rules shown per example.
const EXAMPLES: usize = 2;
const EXAMPLE_LINES: usize = 8;

#[test]
fn rule_sets_match_libvirts_helper_or_a_listed_deliberate_difference() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = find_corpus(manifest);
    assert!(
        c_helper().exists(),
        "{} (libvirt's C helper, the oracle) is missing: {SETUP}",
        c_helper().display()
    );
    let (entries, matchers) = parse_list(
        &fs::read_to_string(manifest.join(LIST)).unwrap_or_else(|e| panic!("{LIST}: {e}")),
    );

    let mut names: Vec<String> = fs::read_dir(&corpus)
        .unwrap_or_else(|e| panic!("{}: {e}", corpus.display()))
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".xml"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no *.xml in {}", corpus.display());
    let cases = run_all(&corpus, &names);
    let analysis = analyse(&matchers, &cases);

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
            "stale matchers in {LIST}: they explain nothing in the corpus (delete them or fix them):"
        );
        for m in stale {
            out!(failures, "  line {}: entry {}", m.line, entries[m.entry].id);
        }
    }

    let summary = analysis.summary(&corpus, &entries, &matchers);
    println!("{summary}");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir");
    let report = target.join("differential-report.txt");
    let details = if failures.is_empty() {
        "no unexplained differences, no stale matchers\n"
    } else {
        &failures
    };
    fs::write(&report, format!("{summary}\n{details}")).expect("write the report");
    println!("(report: {})", report.display());
    assert!(failures.is_empty(), "\n{failures}");
}

// ---------------------------------------------------------------------------------------
// Corpus and helpers

fn find_corpus(manifest: &Path) -> PathBuf {
    if let Some(src) = std::env::var_os("VAH_LIBVIRT_SRC") {
        let dir = Path::new(&src).join("tests/qemuxml2argvdata");
        assert!(
            dir.is_dir(),
            "VAH_LIBVIRT_SRC is set, but {} does not exist (unset it to use target/libvirt-src/, or {SETUP})",
            dir.display()
        );
        return dir;
    }
    let base = manifest.join("target/libvirt-src");
    let mut found: Vec<PathBuf> = fs::read_dir(&base)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("tests/qemuxml2argvdata"))
        .filter(|d| d.is_dir())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!(
            "libvirt's test corpus not found (neither $VAH_LIBVIRT_SRC/tests/qemuxml2argvdata nor {}/*/tests/qemuxml2argvdata): {SETUP}",
            base.display()
        )
    })
}

/// What happened to one XML.
enum Outcome {
    /// No `<uuid>`, or not a valid one: neither helper can be asked.
    NoUuid(String),
    /// C exits non-zero (its error lines, joined); whether ours also refuses.
    CRejects { error: String, ours_rejects: bool },
    /// C accepts: both rule sets, or ours' failure.
    Compared {
        c: BTreeSet<String>,
        ours: Result<Ours, OursFailure>,
    },
}

/// Our rule set, and where each rule comes from (the provenance comment of its line; a
/// `deny` line takes the comment of the rule it follows).
struct Ours {
    rules: BTreeSet<String>,
    origins: BTreeMap<String, String>,
}

struct OursFailure {
    code: Option<i32>,
    /// Our first `virt-aa-helper: error:` line (else the last stderr line).
    line: String,
    /// The temporary policy directory, for display.
    dir: String,
}

struct Case {
    name: String,
    xml: String,
    outcome: Outcome,
}

fn run_all(corpus: &Path, names: &[String]) -> Vec<Case> {
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4);
    let mut cases: Vec<(usize, Case)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    // An empty policy tree per worker: dry runs read it, never write it.
                    let policy = tempfile::tempdir().expect("tempdir");
                    let dir = policy.path().to_str().expect("utf-8 tempdir").to_string();
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(name) = names.get(i) else { break };
                        done.push((i, run_one(&corpus.join(name), name, &dir)));
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

fn run_one(path: &Path, name: &str, policy_dir: &str) -> Case {
    let xml = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let outcome = match domain_uuid(&xml) {
        Err(why) => Outcome::NoUuid(why),
        Ok(uuid) => {
            let profile = format!("libvirt-{uuid}");
            let c = run_c(&profile, &xml, name);
            let ours = run_ours(&profile, &xml, policy_dir);
            match c {
                Err(error) => Outcome::CRejects {
                    error,
                    ours_rejects: ours.is_err(),
                },
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

/// Runs the C helper; its rule set, or its error lines if it rejects the XML.
fn run_c(profile: &str, xml: &str, name: &str) -> Result<BTreeSet<String>, String> {
    use std::os::unix::process::CommandExt as _;
    let mut child = Command::new(c_helper())
        // It names itself by argv[0] in what it prints, which is parsed ("virt-aa-helper:"),
        // also when the package diverted it to virt-aa-helper.distrib.
        .arg0("virt-aa-helper")
        .args(["-d", "-r", "-u", profile])
        // Untranslated messages: the output is parsed.
        .env("LC_ALL", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", c_helper().display()));
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
    Ok(rule_set(lines[at + 3..].iter().copied()))
}

/// Runs ours; its rule set, or how it failed.
fn run_ours(profile: &str, xml: &str, dir: &str) -> Result<Ours, OursFailure> {
    let out = common::run(
        &["-d", "-c", "-u", profile, "--apparmor-dir", dir],
        Some(xml),
    );
    if out.status.success() {
        let mut origins = BTreeMap::new();
        let mut last = String::new();
        for (_, content) in common::dry_files(&out) {
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
        let rules = common::dry_rules(&out).into_iter().collect();
        return Ok(Ours { rules, origins });
    }
    let err = common::stderr(&out);
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
// The list of deliberate differences

struct Entry {
    id: String,
    /// Line of the heading in the list.
    line: usize,
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
            entries.push(Entry { id, line: n });
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
            Outcome::CRejects {
                error,
                ours_rejects,
            } => {
                a.c_rejects
                    .entry(error.clone())
                    .or_default()
                    .push((case.name.clone(), *ours_rejects));
                continue;
            }
            Outcome::Compared { c, ours } => (c, ours),
        };
        a.accepted += 1;
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
    fn summary(&self, corpus: &Path, entries: &[Entry], matchers: &[Matcher]) -> String {
        let mut s = String::new();
        let pct = |n: usize| 100.0 * n as f64 / self.accepted.max(1) as f64;
        let rejected: usize = self.c_rejects.values().map(Vec::len).sum();
        let unexplained = self.unexplained_xmls();
        let no_uuid: usize = self.no_uuid.values().map(Vec::len).sum();
        let version = package_version("libvirt-daemon");
        out!(s, "Differential test against libvirt's C virt-aa-helper");
        out!(s, "corpus:   {}", corpus.display());
        out!(
            s,
            "C helper: {} (libvirt-daemon {version})",
            c_helper().display()
        );
        out!(s, "list:     {LIST} ({} entries)", entries.len());
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
