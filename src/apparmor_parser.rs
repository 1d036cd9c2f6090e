//! Running `apparmor_parser`.
//!
//! Fixed argv, absolute program path, no shell, an empty environment but for
//! `PATH=/sbin:/usr/sbin` (libvirt's helper does the same, so nothing the caller exports can
//! steer the parser), standard input closed, output captured. A failure is reported with the
//! parser's own first error line instead of libvirt's bare "apparmor_parser exited with
//! error"; a run that exits 0 but prints a parser error is a failure too (snapd does the
//! same check, `sandbox/apparmor/profile.go`).

// This is an I/O module: it may touch the filesystem and processes (clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use crate::error::{Error, Result};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where the system's parser lives, first match wins: `/sbin` first, where libvirt looks and
/// Debian installs it; `/usr/bin` last, for distributions that merged `sbin` into `bin`.
pub const DEFAULT_PARSERS: [&str; 3] = [
    "/sbin/apparmor_parser",
    "/usr/sbin/apparmor_parser",
    "/usr/bin/apparmor_parser",
];

/// The parser's cache for the domains' profiles (`--cache-loc`), a directory the package
/// owns; without it the parser compiles every time.
pub const DEFAULT_CACHE_DIR: &str = "/var/cache/virt-aa-helper";

/// The default policy tree; for any other tree the parser gets `--base <tree>`.
pub const DEFAULT_APPARMOR_DIR: &str = "/etc/apparmor.d";

/// `apparmor_parser -R` exit statuses for a profile that is not loaded: 234 is what libvirt
/// expects (and treats as a warning); apparmor 3.0 on a real kernel answers 254 ("Profile
/// doesn't exist"), found by the kernel harness (`tests/kernel.rs`). Either way the profile
/// is not loaded, which is what -R and -D want.
const NOT_LOADED: [i32; 2] = [234, 254];

/// What to ask the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `-a`: load a new profile.
    Add,
    /// `-r`: replace (or load) a profile.
    Replace,
    /// `-R`: unload a profile.
    Remove,
}

impl Op {
    /// The parser flag.
    pub fn flag(self) -> &'static str {
        match self {
            Op::Add => "-a",
            Op::Replace => "-r",
            Op::Remove => "-R",
        }
    }
}

/// How the parser may use its cache (`--cache-loc`, when a cache directory is set).
///
/// `apparmor_parser` keys its cache on modification times: a cached binary is used when it
/// is not older than the profile and every file it includes. That misses a file replaced
/// with an older time (dpkg keeps the times of the files it unpacks) and a file rewritten
/// within the same clock tick, so this tool never lets the parser read its cache for text
/// it has just written ([`CacheUse::Rebuild`]), and reads it for unchanged text only when
/// nothing in the policy tree changed since the cache was written ([`Parser::cache_is_fresh`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheUse {
    /// Compile, and write the result to the cache (`--skip-read-cache --write-cache`).
    Rebuild,
    /// Load the cached binary if the parser finds it valid, else compile and write it
    /// (`--write-cache`).
    Reuse,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The parser did what was asked.
    Done,
    /// `-R` on a profile that was not loaded.
    NotLoaded,
}

/// How long one parser run may take by default (`--parser-timeout`): ten times what the
/// largest profile the XML size cap allows takes to compile here, so a run that has not
/// finished by then is hung (an include that is a FIFO or on a dead network filesystem),
/// not slow.
pub const DEFAULT_TIMEOUT_SECS: u64 = 600;

/// A configured parser.
#[derive(Debug, Clone)]
pub struct Parser {
    program: PathBuf,
    base: Option<PathBuf>,
    tree: PathBuf,
    cache: Option<PathBuf>,
    timeout: Duration,
    /// Whether to pass `-O no-expr-simplify`: asked of the parser once, on first use
    /// ([`Parser::skips_expr_simplification`]).
    skip_simplify: std::sync::OnceLock<bool>,
}

/// The parser releases whose compiled policy is the same with and without the expression
/// simplifier, and faster without it (measured: `docs/parser-options.md`). AppArmor 4.1
/// compiles a different policy without it (byte counts differ for every domain measured)
/// and takes longer (0.08 s vs 0.12 s for a 300-disk domain); 5.0 compiles the same policy,
/// but also takes longer with it (0.09 s vs 0.12 s). Any release
/// not listed, or a parser whose version cannot be read, gets the parser's defaults.
const SKIP_SIMPLIFY_MAJORS: [u32; 1] = [3];

/// Whether a parser of `version` ([`parse_version`]) gets `-O no-expr-simplify`.
pub fn skips_expr_simplification(version: Option<(u32, u32)>) -> bool {
    version.is_some_and(|(major, _)| SKIP_SIMPLIFY_MAJORS.contains(&major))
}

/// How long `apparmor_parser --version` may take: it reads no policy.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// The release `apparmor_parser --version` names on its first line ("AppArmor parser
/// version 3.0.8"; 4.x adds a copyright line): (major, minor).
pub fn parse_version(out: &str) -> Option<(u32, u32)> {
    let line = out.lines().next()?;
    let v = line.split("version ").nth(1)?;
    let mut parts = v.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

impl Parser {
    /// A parser run as `program`, with `--base apparmor_dir` when the tree is not the
    /// default one (so its includes resolve inside that tree).
    pub fn new(program: Option<PathBuf>, apparmor_dir: &Path) -> Self {
        let program = program.unwrap_or_else(|| {
            DEFAULT_PARSERS
                .iter()
                .map(PathBuf::from)
                .find(|p| p.exists())
                .unwrap_or_else(|| PathBuf::from(DEFAULT_PARSERS[0]))
        });
        let base =
            (apparmor_dir != Path::new(DEFAULT_APPARMOR_DIR)).then(|| apparmor_dir.to_path_buf());
        Parser {
            program,
            base,
            tree: apparmor_dir.to_path_buf(),
            cache: None,
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
            skip_simplify: std::sync::OnceLock::new(),
        }
    }

    /// The parser as if its `--version` had said whether to skip the simplifier.
    #[cfg(test)]
    fn known(self, skip: bool) -> Self {
        let _ = self.skip_simplify.set(skip);
        self
    }

    /// Whether this parser gets `-O no-expr-simplify`: only a release in
    /// `SKIP_SIMPLIFY_MAJORS`, read from `--version` (one short run, the first time a
    /// command line is needed; a run that fails or prints no version means no).
    pub fn skips_expr_simplification(&self) -> bool {
        *self.skip_simplify.get_or_init(|| {
            self.spawn(
                &["--version".to_string()],
                VERSION_TIMEOUT.min(self.timeout),
            )
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| parse_version(&String::from_utf8_lossy(&o.stdout)))
            .is_some_and(|(major, _)| SKIP_SIMPLIFY_MAJORS.contains(&major))
        })
    }

    /// Kills a run that takes longer than `timeout` (with everything it started), which
    /// then fails.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Uses `dir` as the parser's cache (`--cache-loc`) if it is a directory; without one
    /// the parser compiles every time, as libvirt's helper has it do.
    pub fn with_cache(mut self, dir: &Path) -> Self {
        self.cache = dir.is_dir().then(|| dir.to_path_buf());
        self
    }

    /// The argv (without the program) for `op` on `profile`.
    pub fn args(&self, op: Op, profile: &Path, cache: CacheUse) -> Vec<String> {
        let simplify = op != Op::Remove && self.skips_expr_simplification();
        self.args_with(op, profile, cache, simplify)
    }

    /// Whether `-O no-expr-simplify` is known to go on the command line without asking the
    /// parser: a dry run runs nothing, not even `apparmor_parser --version`, so the command
    /// it prints leaves the option out unless an earlier run of this process asked.
    fn skip_known(&self, op: Op) -> bool {
        op != Op::Remove && self.skip_simplify.get().copied().unwrap_or(false)
    }

    fn args_with(
        &self,
        op: Op,
        profile: &Path,
        cache: CacheUse,
        skip_simplify: bool,
    ) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(base) = &self.base {
            args.push("--base".to_string());
            args.push(base.display().to_string());
        }
        if let (Some(dir), false) = (&self.cache, op == Op::Remove) {
            if cache == CacheUse::Rebuild {
                args.push("--skip-read-cache".to_string());
            }
            args.push("--write-cache".to_string());
            args.push("--cache-loc".to_string());
            args.push(dir.display().to_string());
        }
        if skip_simplify {
            // The expression simplifier only speeds up building the DFA of some policies;
            // with AppArmor 3.x it costs time and changes nothing for these profiles (the
            // compiled policy is byte-identical, and a 300-disk domain compiles in 0.6x the
            // time: docs/parser-options.md; tests/it/lifecycle.rs checks it on every parser
            // the suite has). Newer releases compile differently and faster with it.
            args.push("-O".to_string());
            args.push("no-expr-simplify".to_string());
        }
        args.push(op.flag().to_string());
        args.push(profile.display().to_string());
        args
    }

    /// The command line, for dry runs: without the options only the parser's `--version`
    /// decides (`Parser::skip_known`), since a dry run runs nothing.
    pub fn describe(&self, op: Op, profile: &Path, cache: CacheUse) -> String {
        let mut s = self.program.display().to_string();
        for a in self.args_with(op, profile, cache, self.skip_known(op)) {
            s.push(' ');
            s.push_str(&a);
        }
        s
    }

    /// Whether the parser may read its cache for the unchanged `profile` (a
    /// `libvirt-<uuid>` file of the tree) and `files` (its include): only when a cached
    /// binary of it exists and every copy was written after the last change anywhere in
    /// the policy tree. A change is seen by the change time (`ctime`) of the profile, of
    /// `files`, and of every directory of the tree but `libvirt/` (dpkg and editors replace
    /// files by renaming, which changes their directory's ctime even when the file keeps
    /// an old mtime). Any doubt (no cache, a copy that cannot be examined, a directory of
    /// the tree that cannot be listed) means no.
    pub fn cache_is_fresh(&self, profile: &Path, files: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        let Some(dir) = &self.cache else {
            return false;
        };
        let Some(name) = profile.file_name() else {
            return false;
        };
        let ctime = |p: &Path| {
            std::fs::metadata(p)
                .ok()
                .map(|m| (m.ctime(), m.ctime_nsec()))
        };
        // The oldest copy of the binary: the parser picks the one for the running kernel's
        // features, and every copy written after the last change is fresh.
        let Ok(entries) = std::fs::read_dir(dir) else {
            return false;
        };
        let mut oldest: Option<(i64, i64)> = None;
        for e in entries.flatten() {
            let copy = e.path().join(name);
            if let Some(t) = ctime(&copy) {
                oldest = Some(oldest.map_or(t, |o| o.min(t)));
            }
        }
        let Some(cached) = oldest else {
            return false;
        };
        let mut sources = vec![profile.to_path_buf(), files.to_path_buf()];
        policy_dirs(&self.tree, 3, &mut sources)
            && sources.iter().all(|p| ctime(p).is_none_or(|t| t < cached))
    }

    /// Runs the parser with `args`: the fixed program, an empty environment but for `PATH`,
    /// no standard input, output captured. A run that has not finished within the timeout
    /// is killed, with its whole process group (it runs in one of its own), and fails: a
    /// parser blocked on an include (a FIFO, a hung mount) must not hold this profile's
    /// lock, or every lock `--reload-all` holds, forever.
    fn spawn(&self, args: &[String], timeout: Duration) -> Result<std::process::Output> {
        let spawn_error = |source| Error::ParserSpawn {
            parser: self.program.clone(),
            source,
        };
        let mut child = Command::new(&self.program)
            .args(args)
            .env_clear()
            .env("PATH", "/sbin:/usr/sbin")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(spawn_error)?;
        // Both pipes are drained while the parser runs, so a chatty parser cannot block on
        // a full pipe.
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        let deadline = Instant::now() + timeout;
        let mut nap = Duration::from_millis(1);
        let status = loop {
            if let Some(status) = child.try_wait().map_err(spawn_error)? {
                break status;
            }
            let now = Instant::now();
            if now >= deadline {
                // The group is the parser's own (`process_group(0)`): its id is the
                // parser's pid, which stays reserved until the `wait` below reaps it.
                let group = rustix::process::Pid::from_child(&child);
                let killed =
                    rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
                // Reaped only when the signal went out: a helper profile without the
                // signal rule (Debian's stock one) cannot kill the unconfined parser, and
                // waiting for it would hang here. The run fails either way, and its lock
                // is released when this process exits. The readers are left behind: a
                // process that left the group may still hold the pipes.
                if killed.is_ok() {
                    let _ = child.wait();
                }
                return Err(Error::Parser {
                    args: args.join(" "),
                    status: format!("killed after {} s", timeout.as_secs()),
                    message: "it did not finish (is an include a FIFO, or on a hung mount?)".into(),
                });
            }
            std::thread::sleep(nap.min(deadline - now));
            nap = (nap * 2).min(Duration::from_millis(20));
        };
        Ok(std::process::Output {
            status,
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
        })
    }

    /// Runs the parser.
    pub fn run(&self, op: Op, profile: &Path, cache: CacheUse) -> Result<Outcome> {
        let args = self.args(op, profile, cache);
        let out = self.spawn(&args, self.timeout)?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let code = out.status.code();
        if op == Op::Remove && code.is_some_and(|c| NOT_LOADED.contains(&c)) {
            return Ok(Outcome::NotLoaded);
        }
        let printed_error = stderr
            .lines()
            .chain(stdout.lines())
            .find(|l| l.to_ascii_lowercase().contains("parser error"));
        if out.status.success() && printed_error.is_none() {
            return Ok(Outcome::Done);
        }
        let message = printed_error
            .or_else(|| {
                stderr
                    .lines()
                    .find(|l| l.to_ascii_lowercase().contains("error"))
            })
            .or_else(|| stderr.lines().find(|l| !l.trim().is_empty()))
            .or_else(|| stdout.lines().find(|l| !l.trim().is_empty()))
            .unwrap_or("(no output)")
            .trim()
            .to_string();
        let status = match code {
            Some(c) => format!("exit status {c}"),
            None => "killed by a signal".to_string(),
        };
        Err(Error::Parser {
            args: args.join(" "),
            status,
            message,
        })
    }
}

/// Reads a child's pipe to its end on a thread of its own.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            // A read error ends the output there; the exit status still tells.
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// `dir` and its subdirectories down to `depth` levels, except the domains' own `libvirt/`
/// (rewritten on every run of this tool) and the cache: every place an include can come
/// from.
/// Returns false when a directory could not be listed (the helper's own profile may deny
/// it): its subdirectories are then unknown, and the cache must not be trusted.
fn policy_dirs(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> bool {
    out.push(dir.to_path_buf());
    if depth == 0 {
        return true;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return e.kind() == std::io::ErrorKind::NotFound,
    };
    let mut complete = true;
    for e in entries {
        let Ok(e) = e else {
            return false;
        };
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        let name = e.file_name();
        if is_dir && name != "libvirt" && name != "cache" {
            complete &= policy_dirs(&e.path(), depth - 1, out);
        }
    }
    complete
}

/// What a run over several profiles ([`Parser::run_many`]) did.
#[derive(Debug, Default)]
pub struct Batch {
    /// The profiles the parser loaded, in the order given.
    pub done: Vec<PathBuf>,
    /// The profiles the parser refused, in the order given, each with the error of its own
    /// run (the format of [`Parser::run`]). `apparmor_parser` replaces a profile only once
    /// it compiled, so the kernel still has the policy it had for these.
    pub failed: Vec<(PathBuf, Error)>,
    /// How many times the parser was run: 1, plus one per profile the first run did not
    /// confirm.
    pub runs: usize,
}

/// The lines `apparmor_parser -v` prints for a profile it loaded, each followed by the
/// profile's name, or the path of its cached binary, in double quotes (apparmor 3.0's
/// wording; `tests/it/reload_all.rs` runs the real parser through [`Parser::run_many`]).
const LOADED: [&str; 5] = [
    "Addition succeeded for \"",
    "Replacement succeeded for \"",
    "Removal succeeded for \"",
    "Cached load succeeded for \"",
    "Cached reload succeeded for \"",
];

impl Parser {
    /// The argv (without the program) for `op` on all of `profiles` in one run: the options
    /// of [`Parser::args`], `-v` (the parser then names each profile it loaded), and the
    /// paths. The parser compiles the files in parallel, as many at once as its `-j`
    /// default (its configuration's `jobs`, else one per CPU).
    pub fn args_many(&self, op: Op, profiles: &[PathBuf], cache: CacheUse) -> Vec<String> {
        let simplify = op != Op::Remove && self.skips_expr_simplification();
        self.args_many_with(op, profiles, cache, simplify)
    }

    fn args_many_with(
        &self,
        op: Op,
        profiles: &[PathBuf],
        cache: CacheUse,
        skip_simplify: bool,
    ) -> Vec<String> {
        let Some((first, rest)) = profiles.split_first() else {
            return Vec::new();
        };
        // `args_with` ends with the flag and the one profile.
        let mut args = self.args_with(op, first, cache, skip_simplify);
        let tail = args.split_off(args.len().saturating_sub(2));
        args.push("-v".to_string());
        args.extend(tail);
        args.extend(rest.iter().map(|p| p.display().to_string()));
        args
    }

    /// The command line of [`Parser::run_many`], for dry runs (as [`Parser::describe`]).
    pub fn describe_many(&self, op: Op, profiles: &[PathBuf], cache: CacheUse) -> String {
        let mut s = self.program.display().to_string();
        for a in self.args_many_with(op, profiles, cache, self.skip_known(op)) {
            s.push(' ');
            s.push_str(&a);
        }
        s
    }

    /// Runs the parser once on all of `profiles`, then once more on each profile that run
    /// did not confirm, so every failure is named and every good profile is loaded.
    ///
    /// `apparmor_parser` goes on with the other files after one fails to compile and exits
    /// 1 (apparmor 3.0, seen in `tests/it/reload_all.rs`), naming the file in its error; but
    /// with `abort-on-error` in its
    /// configuration it stops at the first error and loads none of the files after it, and
    /// an old parser may print a cached load as done when the kernel refused it. So a
    /// profile counts as loaded by the shared run only when the run exited 0 without a
    /// parser error, or when the parser printed its `-v` line for it and no other line
    /// names it; every other profile gets a run of its own ([`Parser::run`]), whose
    /// error, if any, is the one reported.
    ///
    /// Errs only when the parser cannot be started at all.
    pub fn run_many(&self, op: Op, profiles: &[PathBuf], cache: CacheUse) -> Result<Batch> {
        let mut batch = Batch::default();
        if profiles.is_empty() {
            return Ok(batch);
        }
        let out = self.spawn(&self.args_many(op, profiles, cache), self.timeout)?;
        batch.runs = 1;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let clean = out.status.success()
            && !stderr
                .lines()
                .chain(stdout.lines())
                .any(|l| l.to_ascii_lowercase().contains("parser error"));
        let (loaded, other): (Vec<&str>, Vec<&str>) = stdout
            .lines()
            .chain(stderr.lines())
            .partition(|l| loaded_name(l).is_some());
        let loaded: Vec<&str> = loaded.into_iter().filter_map(loaded_name).collect();
        for profile in profiles {
            let name = profile
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let confirmed = clean
                || (!name.is_empty()
                    && loaded.contains(&name.as_str())
                    && !other.iter().any(|l| l.contains(&name)));
            if confirmed {
                batch.done.push(profile.clone());
                continue;
            }
            batch.runs += 1;
            match self.run(op, profile, cache) {
                Ok(_) => batch.done.push(profile.clone()),
                Err(e) => batch.failed.push((profile.clone(), e)),
            }
        }
        Ok(batch)
    }
}

/// The profile a `-v` line says was loaded: the last component of the quoted name (a
/// cached load names the binary's path, whose file name is the profile's file name).
fn loaded_name(line: &str) -> Option<&str> {
    let rest = LOADED.iter().find_map(|p| line.trim().strip_prefix(p))?;
    let quoted = rest.rsplit_once('"')?.0;
    Some(quoted.rsplit('/').next().unwrap_or(quoted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_only_for_a_non_default_tree() {
        let p = Parser::new(Some("/x/parser".into()), Path::new("/etc/apparmor.d")).known(true);
        assert_eq!(
            p.args(
                Op::Replace,
                Path::new("/etc/apparmor.d/libvirt/p"),
                CacheUse::Rebuild
            ),
            ["-O", "no-expr-simplify", "-r", "/etc/apparmor.d/libvirt/p"]
        );
        let p = Parser::new(Some("/x/parser".into()), Path::new("/tmp/t")).known(true);
        assert_eq!(
            p.describe(Op::Add, Path::new("/tmp/t/libvirt/p"), CacheUse::Reuse),
            "/x/parser --base /tmp/t -O no-expr-simplify -a /tmp/t/libvirt/p"
        );
    }

    #[test]
    fn cache_flags_only_with_a_cache_directory_and_never_for_remove() {
        let t = tempfile::tempdir().unwrap();
        let cache = t.path().join("cache");
        let p = Parser::new(Some("/x/parser".into()), Path::new("/etc/apparmor.d")).known(true);
        // No such directory: no cache flags.
        let no = p.clone().with_cache(&cache);
        assert_eq!(
            no.args(Op::Replace, Path::new("/p"), CacheUse::Reuse),
            ["-O", "no-expr-simplify", "-r", "/p"]
        );
        std::fs::create_dir(&cache).unwrap();
        let c = p.with_cache(&cache);
        let loc = cache.display().to_string();
        assert_eq!(
            c.args(Op::Replace, Path::new("/p"), CacheUse::Rebuild),
            [
                "--skip-read-cache",
                "--write-cache",
                "--cache-loc",
                &loc,
                "-O",
                "no-expr-simplify",
                "-r",
                "/p"
            ]
        );
        assert_eq!(
            c.args(Op::Add, Path::new("/p"), CacheUse::Reuse),
            [
                "--write-cache",
                "--cache-loc",
                &loc,
                "-O",
                "no-expr-simplify",
                "-a",
                "/p"
            ]
        );
        assert_eq!(
            c.args(Op::Remove, Path::new("/p"), CacheUse::Reuse),
            ["-R", "/p"]
        );
    }

    /// The cache is read only when every copy of the binary is newer than every change in
    /// the tree; a replaced file with an old mtime still counts as a change.
    #[test]
    fn cache_is_fresh_only_after_the_last_change_in_the_tree() {
        let t = tempfile::tempdir().unwrap();
        let tree = t.path().join("tree");
        let cache = t.path().join("cache");
        for d in ["abstractions/libvirt-qemu.d", "libvirt", "../cache/1234.0"] {
            std::fs::create_dir_all(tree.join(d)).unwrap();
        }
        let profile = tree.join("libvirt/libvirt-x");
        let files = tree.join("libvirt/libvirt-x.files");
        std::fs::write(&profile, "p").unwrap();
        std::fs::write(&files, "f").unwrap();
        std::fs::write(tree.join("abstractions/base"), "b").unwrap();
        let p = Parser::new(Some("/x/parser".into()), &tree).with_cache(&cache);
        // No cached binary yet.
        assert!(!p.cache_is_fresh(&profile, &files));
        let tick = || std::thread::sleep(std::time::Duration::from_millis(20));
        tick();
        std::fs::write(cache.join("1234.0/libvirt-x"), "bin").unwrap();
        assert!(p.cache_is_fresh(&profile, &files));
        // Another domain's files change: still fresh.
        tick();
        std::fs::write(tree.join("libvirt/libvirt-y.files"), "y").unwrap();
        assert!(p.cache_is_fresh(&profile, &files));
        // An abstraction replaced by rename, with a time older than the cache (dpkg).
        tick();
        let new = tree.join("abstractions/libvirt-qemu.d/x.dpkg-new");
        std::fs::write(&new, "new").unwrap();
        let old = std::fs::FileTimes::new().set_modified(std::time::UNIX_EPOCH);
        std::fs::File::options()
            .write(true)
            .open(&new)
            .unwrap()
            .set_times(old)
            .unwrap();
        std::fs::rename(&new, tree.join("abstractions/libvirt-qemu.d/x")).unwrap();
        assert!(!p.cache_is_fresh(&profile, &files));
        // Rewritten cache: fresh again; then this domain's .files changes: not fresh.
        tick();
        std::fs::write(cache.join("1234.0/libvirt-x"), "bin2").unwrap();
        assert!(p.cache_is_fresh(&profile, &files));
        tick();
        std::fs::write(&files, "f2").unwrap();
        assert!(!p.cache_is_fresh(&profile, &files));
    }

    #[test]
    fn one_run_over_many_profiles_is_verbose_with_every_path() {
        let t = tempfile::tempdir().unwrap();
        let p = Parser::new(Some("/x/parser".into()), Path::new("/tmp/t"))
            .known(true)
            .with_cache(t.path());
        let loc = t.path().display().to_string();
        let paths = [
            PathBuf::from("/tmp/t/libvirt/a"),
            PathBuf::from("/tmp/t/libvirt/b"),
        ];
        assert_eq!(
            p.args_many(Op::Replace, &paths, CacheUse::Rebuild),
            [
                "--base",
                "/tmp/t",
                "--skip-read-cache",
                "--write-cache",
                "--cache-loc",
                &loc,
                "-O",
                "no-expr-simplify",
                "-v",
                "-r",
                "/tmp/t/libvirt/a",
                "/tmp/t/libvirt/b"
            ]
        );
        assert!(p.args_many(Op::Replace, &[], CacheUse::Rebuild).is_empty());
        assert_eq!(
            p.describe_many(Op::Replace, &paths[..1], CacheUse::Reuse),
            format!(
                "/x/parser --base /tmp/t --write-cache --cache-loc {loc} -O no-expr-simplify -v -r /tmp/t/libvirt/a"
            )
        );
    }

    #[test]
    fn loaded_lines_name_the_profile() {
        let n = "libvirt-00000000-0000-0000-0000-000000000001";
        for line in [
            format!("Replacement succeeded for \"{n}\"."),
            format!("Addition succeeded for \"{n}\"."),
            format!("Cached reload succeeded for \"/var/cache/x/c08a2770.0/{n}\"."),
            format!("Cached load succeeded for \"/c/{n}\".\n"),
        ] {
            assert_eq!(loaded_name(&line), Some(n), "{line}");
        }
        for line in [
            format!("AppArmor parser error for /t/libvirt/{n} in profile /t/libvirt/{n}.files at line 1: x"),
            format!("apparmor_parser: Unable to replace \"{n}\".  Permission denied"),
            "Replacement succeeded for".to_string(),
        ] {
            assert_eq!(loaded_name(&line), None, "{line}");
        }
    }

    #[test]
    fn run_many_cannot_start_a_missing_parser() {
        let p = Parser::new(
            Some("/nonexistent/apparmor_parser".into()),
            Path::new("/etc/apparmor.d"),
        );
        let e = p
            .run_many(Op::Replace, &[PathBuf::from("/x")], CacheUse::Rebuild)
            .unwrap_err();
        assert_eq!(e.code(), 7);
        let none = p.run_many(Op::Replace, &[], CacheUse::Rebuild).unwrap();
        assert_eq!((none.done.len(), none.failed.len(), none.runs), (0, 0, 0));
    }

    #[test]
    fn default_parsers_sbin_first_then_merged_bin() {
        assert_eq!(
            DEFAULT_PARSERS,
            [
                "/sbin/apparmor_parser",
                "/usr/sbin/apparmor_parser",
                "/usr/bin/apparmor_parser"
            ]
        );
    }

    #[test]
    fn missing_parser_is_a_spawn_error() {
        let p = Parser::new(
            Some("/nonexistent/apparmor_parser".into()),
            Path::new("/etc/apparmor.d"),
        );
        let e = p
            .run(Op::Replace, Path::new("/x"), CacheUse::Rebuild)
            .unwrap_err();
        assert_eq!(e.code(), 7);
        assert!(
            e.to_string()
                .starts_with("cannot run '/nonexistent/apparmor_parser'"),
            "{e}"
        );
    }

    #[test]
    fn the_release_is_read_from_the_first_line_of_version() {
        for (out, want) in [
            ("AppArmor parser version 3.0.8\nCopyright (C) 1999-2008 Novell Inc.\n", Some((3, 0))),
            ("AppArmor parser version 4.1.0\nCopyright (C) 1999-2008 Novell Inc.\nCopyright 2009-2018 Canonical Ltd.\n", Some((4, 1))),
            ("AppArmor parser version 5.0.2\n", Some((5, 0))),
            ("AppArmor parser version 4.1.0~beta5\n", Some((4, 1))),
            ("AppArmor parser version 12\n", Some((12, 0))),
            ("", None),
            ("apparmor_parser: unknown option --version\n", None),
            ("Copyright\nAppArmor parser version 3.0.8\n", None),
            ("AppArmor parser version x.1\n", None),
        ] {
            assert_eq!(parse_version(out), want, "{out:?}");
        }
    }

    /// A parser script that prints `version` for `--version` and logs every other run.
    fn versioned(dir: &Path, version: &str) -> Parser {
        use std::os::unix::fs::PermissionsExt;
        let name: String = version
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let script = dir.join(name);
        std::fs::write(
            &script,
            format!("#!/bin/sh\n[ \"$1\" = --version ] && {{ printf '%s\\n' '{version}'; exit 0; }}\nexit 0\n"),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        Parser::new(Some(script), Path::new("/etc/apparmor.d"))
    }

    #[test]
    fn the_simplifier_is_skipped_only_by_the_releases_measured_to_gain() {
        let t = tempfile::tempdir().unwrap();
        let args = |p: &Parser| p.args(Op::Replace, Path::new("/p"), CacheUse::Rebuild);
        let old = versioned(t.path(), "AppArmor parser version 3.0.8");
        assert_eq!(args(&old), ["-O", "no-expr-simplify", "-r", "/p"]);
        for v in [
            "AppArmor parser version 4.1.0",
            "AppArmor parser version 5.0.2 (a longer name)",
            "something else entirely, no version",
        ] {
            assert_eq!(args(&versioned(t.path(), v)), ["-r", "/p"], "{v}");
        }
        // Never for -R; a parser that cannot be run gets the defaults.
        assert_eq!(
            old.args(Op::Remove, Path::new("/p"), CacheUse::Rebuild),
            ["-R", "/p"]
        );
        let missing = Parser::new(
            Some("/nonexistent/parser".into()),
            Path::new("/etc/apparmor.d"),
        );
        assert_eq!(args(&missing), ["-r", "/p"]);
    }
}
