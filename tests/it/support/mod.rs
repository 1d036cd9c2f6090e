//! What the it crate's tests share: temporary trees with real files, symlinks and qcow2
//! images, a temporary AppArmor policy tree, a recording `apparmor_parser`, the built
//! binary run as a typed [`Run`], a [`Host`] holding all three for a sequence of runs, and
//! compilation of every generated profile with the real `apparmor_parser -Q -K`.
//!
//! Nothing here skips: a missing `apparmor_parser` or `qemu-img` fails the test with the
//! package to install (`.ci/run` installs both).

pub mod tree;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};

/// The profile name of the UUID most tests use (libvirt's test suite uses the same).
pub const UUID: &str = "00000000-0000-0000-0000-0123456789ab";
pub const PROFILE: &str = "libvirt-00000000-0000-0000-0000-0123456789ab";

/// The real parser.
pub fn real_parser() -> PathBuf {
    for p in ["/sbin/apparmor_parser", "/usr/sbin/apparmor_parser"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("apparmor_parser not found: install it (apt-get install -y apparmor)");
}

/// The `-O ...` options (with a trailing space, or nothing) the helper gives the real
/// parser: its own decision for the parser's release (src/apparmor_parser.rs).
pub fn expr_opts() -> &'static str {
    let parser = virt_aa_helper::apparmor_parser::Parser::new(
        Some(real_parser()),
        Path::new("/etc/apparmor.d"),
    );
    if parser.skips_expr_simplification() {
        "-O no-expr-simplify "
    } else {
        ""
    }
}

/// A Debian release other than the host's, as `tests/roots/build.sh` leaves it in
/// `target/roots/<suite>/`: its libvirt's files and its `apparmor_parser`, run with `chroot`.
pub struct ReleaseRoot {
    pub suite: &'static str,
    pub dir: PathBuf,
}

/// The releases the suite has besides the host's: Debian 13 (trixie) and sid.
pub const ROOT_SUITES: [&str; 2] = ["trixie", "sid"];

impl ReleaseRoot {
    /// The root of `suite`; a missing one fails the test saying how to make it.
    pub fn get(suite: &'static str) -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/roots")
            .join(suite);
        assert!(
            dir.join("usr/lib/libvirt/virt-aa-helper").exists()
                && dir.join("usr/sbin/apparmor_parser").exists(),
            "{}: no {suite} root with libvirt and apparmor: run tests/setup.sh as root (it runs \
             tests/roots/build.sh {suite})",
            dir.display()
        );
        ReleaseRoot { suite, dir }
    }

    /// Every root of [`ROOT_SUITES`].
    pub fn all() -> Vec<Self> {
        ROOT_SUITES.iter().map(|s| Self::get(s)).collect()
    }

    /// A file of the root, by its path inside it.
    pub fn path(&self, inside: &str) -> PathBuf {
        self.dir.join(inside.trim_start_matches('/'))
    }

    /// Runs `argv` in the root, `stdin` on its standard input.
    pub fn run(&self, argv: &[&str], stdin: &[u8]) -> Output {
        let mut child = Command::new("chroot")
            .arg(&self.dir)
            .args(argv)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LC_ALL", "C")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("chroot {}: {e} (run the tests as root)", self.dir.display())
            });
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin)
            .expect("write stdin");
        child.wait_with_output().expect("chroot")
    }

    /// The release of the root's `apparmor_parser`.
    pub fn parser_version(&self) -> (u32, u32) {
        let o = self.run(&["apparmor_parser", "--version"], b"");
        virt_aa_helper::apparmor_parser::parse_version(&String::from_utf8_lossy(&o.stdout))
            .unwrap_or_else(|| panic!("{}: apparmor_parser --version: {o:?}", self.suite))
    }

    /// The policy the root's parser compiles from `profile` (one self-contained text, read
    /// from standard input; includes resolve in the root's `/etc/apparmor.d`), with `extra`
    /// options. Panics with the parser's output if it is rejected.
    pub fn compile(&self, profile: &str, extra: &[&str]) -> Vec<u8> {
        let mut argv = vec!["apparmor_parser", "-Q", "-K", "-S"];
        argv.extend_from_slice(extra);
        let o = self.run(&argv, profile.as_bytes());
        assert!(
            o.status.success(),
            "{}'s apparmor_parser rejected the profile: {}\n{profile}",
            self.suite,
            String::from_utf8_lossy(&o.stderr)
        );
        o.stdout
    }
}

/// A profile with its `.files` include replaced by the text of the file: one text any
/// policy tree with the same TEMPLATE's includes compiles.
pub fn inline_files(profile: &str, files: &str) -> String {
    profile
        .lines()
        .map(|l| {
            let t = l.trim();
            if t.contains("include") && t.ends_with(".files>") {
                files.to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

/// Writes an executable file from a child process (`cat`), never through a descriptor of
/// this one, then gives it `mode`. The tests share this process: a descriptor open for
/// writing here, inherited by another thread's fork until that child's exec, makes every
/// exec of the file fail with ETXTBSY meanwhile (the recording parser's script failed a
/// run so: "cannot run ...: Text file busy").
pub fn write_executable(path: &Path, content: &[u8], mode: u32) {
    if let Some(d) = path.parent() {
        fs::create_dir_all(d).expect("mkdir");
    }
    let mut child = Command::new("sh")
        .args(["-c", "cat > \"$1\"", "sh"])
        .arg(path)
        .stdin(Stdio::piped())
        .spawn()
        .expect("sh");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(content)
        .expect("write to cat");
    let st = child.wait().expect("wait for cat");
    assert!(st.success(), "cat > {}: {st}", path.display());
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A copy of the built binary at `path`, with `mode` ([`write_executable`]).
pub fn copy_of_the_binary(path: &Path, mode: u32) {
    let bin = fs::read(env!("CARGO_BIN_EXE_virt-aa-helper")).expect("read the binary");
    write_executable(path, &bin, mode);
}

/// `qemu-img`.
pub fn qemu_img() -> PathBuf {
    for p in ["/usr/bin/qemu-img", "/usr/local/bin/qemu-img"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("qemu-img not found: install it (apt-get install -y qemu-utils)");
}

/// A temporary directory tree for image files, with its canonical root.
pub struct Tree {
    _tmp: tempfile::TempDir,
    pub root: PathBuf,
}

impl Tree {
    pub fn new() -> Self {
        Self::new_in(&std::env::temp_dir())
    }

    fn new_in(base: &Path) -> Self {
        let tmp = tempfile::tempdir_in(base).expect("tempdir");
        let root = fs::canonicalize(tmp.path()).expect("canonical tempdir");
        Tree { _tmp: tmp, root }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// The path as a string, for XML.
    pub fn s(&self, rel: &str) -> String {
        self.path(rel).display().to_string()
    }

    pub fn dir(&self, rel: &str) -> PathBuf {
        let p = self.path(rel);
        fs::create_dir_all(&p).expect("mkdir");
        p
    }

    pub fn file(&self, rel: &str, content: &[u8]) -> PathBuf {
        let p = self.path(rel);
        if let Some(d) = p.parent() {
            fs::create_dir_all(d).expect("mkdir");
        }
        fs::write(&p, content).expect("write");
        p
    }

    pub fn symlink(&self, rel: &str, target: impl AsRef<Path>) -> PathBuf {
        let p = self.path(rel);
        if let Some(d) = p.parent() {
            fs::create_dir_all(d).expect("mkdir");
        }
        std::os::unix::fs::symlink(target, &p).expect("symlink");
        p
    }

    /// A qcow2 image made by qemu-img, optionally with a backing file (name as written into
    /// the header) and its format.
    pub fn qcow2(&self, rel: &str, backing: Option<(&str, &str)>) -> PathBuf {
        let p = self.path(rel);
        if let Some(d) = p.parent() {
            fs::create_dir_all(d).expect("mkdir");
        }
        let mut cmd = Command::new(qemu_img());
        cmd.args(["create", "-q", "-f", "qcow2"]);
        if let Some((b, fmt)) = backing {
            cmd.args(["-u", "-b", b, "-F", fmt]);
        }
        cmd.arg(&p).arg("1M");
        let out = cmd.output().expect("run qemu-img");
        assert!(
            out.status.success(),
            "qemu-img failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        p
    }
}

/// A temporary AppArmor policy tree: the system's tunables and abstractions, with the
/// project's own abstractions on top, and an empty `libvirt/`.
pub struct Policy {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
}

impl Policy {
    pub fn new() -> Self {
        Self::new_in(&std::env::temp_dir())
    }

    fn new_in(base: &Path) -> Self {
        let tmp = tempfile::tempdir_in(base).expect("tempdir");
        let dir = fs::canonicalize(tmp.path()).expect("canonical");
        let sys = Path::new("/etc/apparmor.d");
        assert!(
            sys.join("tunables/global").exists(),
            "/etc/apparmor.d/tunables/global missing: install apparmor (apt-get install -y apparmor)"
        );
        copy_dir(&sys.join("tunables"), &dir.join("tunables"));
        if sys.join("abi").exists() {
            copy_dir(&sys.join("abi"), &dir.join("abi"));
        }
        copy_dir(&sys.join("abstractions"), &dir.join("abstractions"));
        let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("abstractions");
        for e in fs::read_dir(&ours).expect("abstractions/") {
            let e = e.expect("entry");
            fs::copy(e.path(), dir.join("abstractions").join(e.file_name()))
                .expect("copy abstraction");
        }
        fs::create_dir_all(dir.join("libvirt")).expect("mkdir libvirt");
        Policy { _tmp: tmp, dir }
    }

    pub fn libvirt(&self, name: &str) -> PathBuf {
        self.dir.join("libvirt").join(name)
    }

    pub fn profile(&self) -> PathBuf {
        self.libvirt(PROFILE)
    }

    pub fn files(&self) -> PathBuf {
        self.libvirt(&format!("{PROFILE}.files"))
    }

    pub fn read(&self, name: &str) -> Option<String> {
        fs::read_to_string(self.libvirt(name)).ok()
    }

    /// Compiles a profile with the real parser (`-Q -K`, no kernel needed); panics with
    /// the parser's output if it is rejected.
    pub fn compile(&self, profile: &Path) {
        let out = Command::new(real_parser())
            .args(["-Q", "-K", "--base"])
            .arg(&self.dir)
            .arg("-I")
            .arg(&self.dir)
            .arg(profile)
            .output()
            .expect("run apparmor_parser");
        assert!(
            out.status.success(),
            "apparmor_parser rejected {}:\n{}\n--- profile ---\n{}\n--- files ---\n{}",
            profile.display(),
            String::from_utf8_lossy(&out.stderr),
            fs::read_to_string(profile).unwrap_or_default(),
            fs::read_to_string(format!("{}.files", profile.display())).unwrap_or_default()
        );
    }

    /// Compiles every profile in `libvirt/` (not `.files`, `.lock`, templates or hidden
    /// files).
    pub fn compile_all(&self) -> usize {
        let mut n = 0;
        for e in fs::read_dir(self.dir.join("libvirt")).expect("read libvirt/") {
            let e = e.expect("entry");
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("libvirt-") && !name.ends_with(".files") && !name.ends_with(".lock")
            {
                self.compile(&e.path());
                n += 1;
            }
        }
        n
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for e in fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let ft = e.file_type().expect("file type");
        let dst = to.join(e.file_name());
        if ft.is_dir() {
            copy_dir(&e.path(), &dst);
        } else if ft.is_symlink() {
            let target = fs::read_link(e.path()).expect("readlink");
            std::os::unix::fs::symlink(target, &dst).expect("symlink");
        } else {
            fs::copy(e.path(), &dst).expect("copy");
        }
    }
}

/// A fake `apparmor_parser` that answers `--version` as the real one does (unrecorded: the
/// helper asks it once per run, to choose its options), records its argv (one line per
/// run) and then either
/// compiles for real with `-Q -K` (the default: every profile a lifecycle test loads is
/// checked by the real parser) or fails with a parser-like error.
pub struct RecordingParser {
    _tmp: tempfile::TempDir,
    pub script: PathBuf,
    log: PathBuf,
    mode: PathBuf,
}

impl RecordingParser {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let script = dir.join("apparmor_parser");
        let log = dir.join("argv.log");
        let mode = dir.join("mode");
        let real = real_parser();
        write_executable(
            &script,
            format!(
                "#!/bin/sh\n\
                 /usr/bin/env > \"${{0%/*}}/env.log\"\n\
                 PATH=/usr/bin:/bin\n\
                 here=${{0%/*}}\n\
                 [ \"$1\" = --version ] && exec {} --version\n\
                 printf '%s\\n' \"$*\" >> \"$here/argv.log\"\n\
                 mode=$(cat \"$here/mode\" 2>/dev/null)\n\
                 case \"$mode\" in\n\
                 fail) echo 'AppArmor parser error for x in profile x at line 1: simulated failure' >&2; exit 1 ;;\n\
                 notloaded) exit 234 ;;\n\
                 notloaded254) echo \"Profile doesn't exist\" >&2; exit 254 ;;\n\
                 cached) exec {} -k -Q -M /usr/share/apparmor-features/features \"$@\" 2>>\"$here/cache.log\" ;;\n\
                 abort) exec {} -Q -K --abort-on-error -j 1 \"$@\" ;;\n\
                 esac\n\
                 exec {} -Q -K \"$@\"\n",
                real.display(),
                real.display(),
                real.display(),
                real.display()
            )
            .as_bytes(),
            0o755,
        );
        RecordingParser {
            _tmp: tmp,
            script,
            log,
            mode,
        }
    }

    /// The environment the parser saw on its last run (`NAME=value` lines, sorted), minus
    /// what the recording shell itself sets (`PWD`, `SHLVL` and `_`).
    pub fn last_env(&self) -> Vec<String> {
        let s = fs::read_to_string(self.log.with_file_name("env.log")).unwrap_or_default();
        let mut v: Vec<String> = s
            .lines()
            .filter(|l| !["PWD=", "SHLVL=", "_="].iter().any(|p| l.starts_with(p)))
            .map(str::to_string)
            .collect();
        v.sort();
        v
    }

    /// `""` (compile for real), `"fail"`, `"notloaded"` (exit 234, what libvirt expects),
    /// `"notloaded254"` (what apparmor 3.0's parser answers on a real kernel) or `"cached"`
    /// (compile for real with the parser's cache, against the packaged kernel features so
    /// that the cache works without an AppArmor kernel; its cache report goes to
    /// [`RecordingParser::take_cache_log`]) or `"abort"` (compile for real, one file at a
    /// time, stopping at the first file that fails: `abort-on-error`, which a site's
    /// `parser.conf` may set).
    pub fn set_mode(&self, mode: &str) {
        fs::write(&self.mode, mode).expect("write mode");
    }

    /// What the parser said about its cache (`Cache hit: ...`) in `"cached"` mode so far,
    /// and clears it.
    pub fn take_cache_log(&self) -> Vec<String> {
        let log = self.log.with_file_name("cache.log");
        let s = fs::read_to_string(&log).unwrap_or_default();
        let _ = fs::remove_file(&log);
        s.lines().map(str::to_string).collect()
    }

    /// The argv of every run so far, and clears the log.
    pub fn take_calls(&self) -> Vec<String> {
        let s = fs::read_to_string(&self.log).unwrap_or_default();
        let _ = fs::remove_file(&self.log);
        s.lines().map(str::to_string).collect()
    }
}

/// The unprivileged user and group [`Host::unprivileged`] runs the helper as
/// (nobody/nogroup).
pub const NOBODY: u32 = 65534;

/// A host for a sequence of helper runs, as libvirtd makes them: a policy tree, a recording
/// parser that compiles every load for real, and a tree of images. Each run is given the
/// host's policy tree, parser, no parser cache and (to `-c` and `-r`) a configuration file
/// that does not exist, unless its arguments name their own: what the machine running the
/// tests has installed (the Debian package's cache and configuration) changes nothing.
pub struct Host {
    pub policy: Policy,
    pub parser: RecordingParser,
    pub tree: Tree,
    /// [`Host::unprivileged`]'s copy of the binary, run as [`NOBODY`].
    as_nobody: Option<PathBuf>,
}

/// A run on a [`Host`]: the [`Run`], and the names in the host's `libvirt/` whose content
/// it created, changed or removed, sorted (with those of another thread's run on the same
/// host at the same time: concurrent tests compare snapshots instead).
#[derive(Debug)]
pub struct HostRun {
    pub run: Run,
    pub written: Vec<String>,
}

impl std::ops::Deref for HostRun {
    type Target = Run;

    fn deref(&self) -> &Run {
        &self.run
    }
}

impl Host {
    pub fn new() -> Self {
        Host {
            policy: Policy::new(),
            parser: RecordingParser::new(),
            tree: Tree::new(),
            as_nobody: None,
        }
    }

    /// A host whose runs are an unprivileged user's ([`NOBODY`], with `setpriv`), to see
    /// what the kernel's own permission checks deny as AppArmor would (`EACCES`), without
    /// loading anything (`--no-load`). Its trees are in `/tmp`, reachable by that user; it
    /// owns `libvirt/` and `images/` (with `vm.img` and `hot.img`), and runs a copy of the
    /// binary (the one under target/ may not be reachable). Needs root (CI runs as root).
    pub fn unprivileged() -> Self {
        assert!(
            is_root(),
            "these tests need root (CI runs as root) to give a tree to an unprivileged user"
        );
        let tmp = Path::new("/tmp");
        let (policy, tree) = (Policy::new_in(tmp), Tree::new_in(tmp));
        for dir in [&policy.dir, &tree.root] {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let bin = tree.path("virt-aa-helper");
        copy_of_the_binary(&bin, 0o755);
        tree.file("images/vm.img", b"");
        tree.file("images/hot.img", b"");
        for owned in [policy.dir.join("libvirt"), tree.path("images")] {
            chown_r(&owned, NOBODY);
        }
        Host {
            policy,
            parser: RecordingParser::new(),
            tree,
            as_nobody: Some(bin),
        }
    }

    /// `args` and the host's own for what they do not name.
    pub fn args(&self, args: &[&str]) -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let names = |opt: &str| args.contains(&opt);
        let mut add = |opt: &str, value: &Path| {
            if !names(opt) {
                all.extend([opt.to_string(), value.display().to_string()]);
            }
        };
        add("--apparmor-dir", &self.policy.dir);
        // No parser cache: the default, /var/cache/virt-aa-helper, exists where the Debian
        // package is installed, and would change the parser's argv.
        add("--cache-dir", &self.tree.path("no-cache"));
        // Only -c and -r read a configuration (the others refuse --config).
        if args.iter().any(|a| matches!(*a, "-c" | "-r")) {
            add("--config", &self.tree.path("no-such.conf"));
        }
        match self.as_nobody {
            None => add("--parser", &self.parser.script),
            Some(_) => all.push("--no-load".to_string()),
        }
        all
    }

    /// The helper with [`Host::args`], `stdin` on its standard input.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> HostRun {
        self.run_as(None, args, stdin)
    }

    /// [`Host::run`], killed after `secs` seconds (`timeout`: exit 124) if it has not
    /// finished: for runs that must not block.
    pub fn run_within(&self, secs: u32, args: &[&str], stdin: Option<&str>) -> HostRun {
        self.run_as(Some(secs), args, stdin)
    }

    /// [`Host::run`], which must succeed.
    #[track_caller]
    pub fn ok(&self, args: &[&str], stdin: Option<&str>) -> HostRun {
        let o = self.run(args, stdin);
        assert!(
            o.status.success(),
            "{args:?}: exit {:?}: {}",
            o.status.code(),
            o.stderr
        );
        o
    }

    fn run_as(&self, deadline: Option<u32>, args: &[&str], stdin: Option<&str>) -> HostRun {
        let all = self.args(args);
        let before: BTreeMap<String, Vec<u8>> = self.files().into_iter().collect();
        let run = match &self.as_nobody {
            None => {
                let mut argv: Vec<String> = Vec::new();
                let program = match deadline {
                    Some(secs) => {
                        argv.extend([
                            secs.to_string(),
                            env!("CARGO_BIN_EXE_virt-aa-helper").into(),
                        ]);
                        "timeout"
                    }
                    None => env!("CARGO_BIN_EXE_virt-aa-helper"),
                };
                argv.extend(all);
                spawn(Command::new(program).args(argv), stdin)
            }
            Some(bin) => {
                assert!(deadline.is_none(), "no deadline for unprivileged runs");
                let mut c = Command::new("setpriv");
                c.args([
                    format!("--reuid={NOBODY}"),
                    format!("--regid={NOBODY}"),
                    "--clear-groups".into(),
                ])
                .arg(bin)
                .args(&all);
                spawn(&mut c, stdin)
            }
        };
        let after: BTreeMap<String, Vec<u8>> = self.files().into_iter().collect();
        let written: BTreeSet<String> = before
            .keys()
            .chain(after.keys())
            .filter(|name| before.get(*name) != after.get(*name))
            .cloned()
            .collect();
        let written = written.into_iter().collect();
        HostRun { run, written }
    }

    /// Every entry of `libvirt/`, as (name, content), sorted: a regular file's bytes, a
    /// symbolic link's target after `-> `, nothing for anything else (a FIFO is not
    /// opened, which would block). None if a test removed `libvirt/` itself.
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        let Ok(entries) = fs::read_dir(self.policy.dir.join("libvirt")) else {
            return Vec::new();
        };
        let mut v: Vec<_> = entries
            .filter_map(|e| {
                let e = e.ok()?;
                let kind = e.file_type().ok()?;
                let content = if kind.is_file() {
                    fs::read(e.path()).unwrap_or_default()
                } else if kind.is_symlink() {
                    let target = fs::read_link(e.path()).unwrap_or_default();
                    format!("-> {}", target.display()).into_bytes()
                } else {
                    Vec::new()
                };
                Some((e.file_name().to_string_lossy().into_owned(), content))
            })
            .collect();
        v.sort();
        v
    }

    /// The text of [`PROFILE`]'s `.files`, empty if there is none.
    pub fn files_text(&self) -> String {
        fs::read_to_string(self.policy.files()).unwrap_or_default()
    }

    /// The rule lines of [`PROFILE`]'s `.files`, without the header and the comments.
    pub fn rules(&self) -> Vec<String> {
        let text = fs::read_to_string(self.policy.files()).expect(".files exists");
        text.lines()
            .map(|l| l.split("  #").next().unwrap_or("").trim().to_string())
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    }

    /// The rules of [`PROFILE`]'s `.files` but the base rules, without the
    /// `/dev/vhost-net` rule [`domain`]'s virtio NIC always gets (asserted once).
    pub fn device_rules(&self) -> Vec<String> {
        let text = fs::read_to_string(self.policy.files()).expect(".files exists");
        without_vhost_net(rules_without_base(&text))
    }
}

/// `cmd` with `stdin` on its standard input (closed at once without), read back.
fn spawn(cmd: &mut Command, stdin: Option<&str>) -> Run {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    {
        let mut pipe = child.stdin.take().expect("stdin");
        if let Some(s) = stdin {
            // The helper may exit before reading (bad arguments): ignore EPIPE.
            let _ = pipe.write_all(s.as_bytes());
        }
    }
    child.wait_with_output().expect("wait").into()
}

/// Gives `p` and everything below it to `uid` (and the group of the same number).
pub fn chown_r(p: &Path, uid: u32) {
    std::os::unix::fs::chown(p, Some(uid), Some(uid)).expect("chown");
    if p.is_dir() {
        for e in fs::read_dir(p).expect("read_dir") {
            chown_r(&e.expect("entry").path(), uid);
        }
    }
}

/// One run of the helper, read back: how it ended and what it printed, as text.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            status: o.status,
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// The rule lines of a dry run's `.files`, without comments and the header.
    pub fn dry_rules(&self) -> Vec<String> {
        let mut in_files = false;
        let mut rules = Vec::new();
        for line in self.stdout.lines() {
            if let Some(rest) = line.strip_prefix("# would write ") {
                in_files = rest.ends_with(".files");
                continue;
            }
            if line.starts_with("# would run") {
                in_files = false;
            }
            if in_files {
                let code = match line.find("  #") {
                    Some(i) => &line[..i],
                    None => line,
                };
                let code = code.trim();
                if !code.is_empty() && !code.starts_with('#') {
                    rules.push(code.to_string());
                }
            }
        }
        rules
    }

    /// The files a dry run would write, as (path, content).
    pub fn dry_files(&self) -> Vec<(PathBuf, String)> {
        let mut files: Vec<(PathBuf, String)> = Vec::new();
        for line in self.stdout.split_inclusive('\n') {
            if let Some(rest) = line.strip_prefix("# would write ") {
                files.push((PathBuf::from(rest.trim_end()), String::new()));
            } else if line.starts_with("# would ") {
                files.push((PathBuf::new(), String::new()));
            } else if let Some((_, content)) = files.last_mut() {
                content.push_str(line);
            }
        }
        files
            .into_iter()
            .filter(|(p, _)| !p.as_os_str().is_empty())
            .collect()
    }

    /// The rules but the six base rules every QEMU domain gets (five files of its own and
    /// the deny rule of every other domain's UEFI variables), without [`VHOST_NET`]
    /// (asserted to be there exactly once), so a test states only what its own elements
    /// cause.
    pub fn device_rules(&self) -> Vec<String> {
        let files: Vec<String> = self
            .dry_files()
            .into_iter()
            .filter(|(p, _)| p.to_string_lossy().ends_with(".files"))
            .map(|(_, text)| text)
            .collect();
        let text = files.concat();
        let base = text.lines().filter(|l| l.ends_with(BASE_ORIGIN)).count();
        assert_eq!(base, 6, "the base rules: {text}\n{}", self.stderr);
        without_vhost_net(rules_without_base(&text))
    }
}

/// Runs the built binary, `stdin` on its standard input.
pub fn run(args: &[&str], stdin: Option<&str>) -> Run {
    spawn(
        Command::new(env!("CARGO_BIN_EXE_virt-aa-helper")).args(args),
        stdin,
    )
}

/// Writes what a dry run would write into a fresh policy tree and compiles the profile
/// with the real parser: dry runs are held to the same standard as real runs.
pub fn compile_dry_run(o: &Run) {
    let policy = Policy::new();
    let mut profile = None;
    for (path, content) in o.dry_files() {
        let name = path.file_name().expect("file name").to_owned();
        let dst = policy.dir.join("libvirt").join(&name);
        fs::write(&dst, content).expect("write");
        if !name.to_string_lossy().ends_with(".files") {
            profile = Some(dst);
        }
    }
    if let Some(p) = profile {
        policy.compile(&p);
    } else {
        // -r dry runs print only .files: compile it inside the built-in template.
        let files = policy.files();
        if files.exists() {
            // The built-in template as the binary fills it (libvirt 9.0's include).
            let tpl = include_str!("../../../templates/TEMPLATE.qemu")
                .replace("{{ name }}", PROFILE)
                .replace("{% if if_exists %} if exists{% endif %}", "");
            assert!(!tpl.contains("{%"), "template syntax left in {tpl}");
            let p = policy.profile();
            fs::write(&p, tpl).expect("write profile");
            policy.compile(&p);
        }
    }
}

/// A domain XML like libvirt's test suite's template, with `devices` inside `<devices>`
/// and `os` inside `<os>` after `<type>`.
pub fn domain(devices: &str, os: &str) -> String {
    domain_named("virt-aa-helper-test", devices, os)
}

pub fn domain_named(name: &str, devices: &str, os: &str) -> String {
    format!(
        "<domain type='kvm'>\n  <name>{name}</name>\n  <uuid>{UUID}</uuid>\n  <memory>524288</memory>\n  <vcpu>1</vcpu>\n  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n    <boot dev='hd'/>\n{os}  </os>\n  <devices>\n    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n{devices}    <interface type='network'>\n      <source network='default'/>\n      <model type='virtio'/>\n    </interface>\n    <input type='tablet' bus='usb'/>\n    <graphics type='vnc' port='-1'/>\n  </devices>\n</domain>\n"
    )
}

/// A file disk.
pub fn disk(path: &str, target: &str, extra: &str) -> String {
    format!(
        "    <disk type='file' device='disk'>\n      <source file='{}'/>\n      <target dev='{target}' bus='ide'/>\n{extra}    </disk>\n",
        xml_attr(path)
    )
}

/// Escapes text for an XML attribute in single quotes.
pub fn xml_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('\'', "&apos;")
}

/// Shows a readable diff of two line lists.
#[track_caller]
pub fn assert_lines(got: &[String], want: &[&str]) {
    if got.iter().map(String::as_str).ne(want.iter().copied()) {
        let mut msg = String::from("rules differ (- want, + got):\n");
        for w in want {
            if !got.iter().any(|g| g == w) {
                msg.push_str(&format!("- {w}\n"));
            }
        }
        for g in got {
            if !want.contains(&g.as_str()) {
                msg.push_str(&format!("+ {g}\n"));
            }
        }
        msg.push_str("got, in order:\n");
        for g in got {
            msg.push_str(&format!("  {g}\n"));
        }
        panic!("{msg}");
    }
}

/// What `apparmor_parser -D rule-exprs` prints for `profile` in the policy tree `dir`
/// (standard output, then standard error): the parser must compile it.
pub fn rule_exprs_output(dir: &Path, profile: &Path) -> Vec<u8> {
    let out = Command::new(real_parser())
        .args(["-Q", "-K", "-D", "rule-exprs", "--base"])
        .arg(dir)
        .arg("-I")
        .arg(dir)
        .arg(profile)
        .output()
        .expect("run apparmor_parser");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    [out.stdout, out.stderr].concat()
}

/// The compiled form of every path rule in `profile`, as `(aare, regex)` pairs from
/// `apparmor_parser -D rule-exprs`: what the parser really made of each quoted path.
pub fn compiled_exprs(policy: &Policy, profile: &Path) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(&rule_exprs_output(&policy.dir, profile)).into_owned();
    text.lines()
        .filter_map(|l| l.strip_prefix("aare: "))
        .filter_map(|l| l.split_once("   ->   "))
        .map(|(a, r)| (a.to_string(), r.to_string()))
        .collect()
}

/// If the parser's regex for a rule matches exactly one literal string, that string.
/// `None` if it contains any unescaped regex operator (a glob, an alternation...).
pub fn literal_of(regex: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = regex.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            // '?' is not an operator in the parser's regex dialect (a literal ? is shown bare).
            '(' | ')' | '|' | '[' | ']' | '*' | '+' | '.' | '^' | '$' | '{' | '}' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// Asserts that `profile` contains a rule whose compiled form matches exactly `path` and
/// nothing else.
#[track_caller]
pub fn assert_literal_rule(policy: &Policy, profile: &Path, path: &Path) {
    let want = path.to_str().expect("utf-8 path");
    let exprs = compiled_exprs(policy, profile);
    assert!(
        exprs
            .iter()
            .any(|(_, re)| literal_of(re).as_deref() == Some(want)),
        "no rule matching exactly {want:?}; compiled rules:\n{}",
        exprs
            .iter()
            .map(|(a, r)| format!("  {a} -> {r}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // And no rule that is a pattern built from the path's text.
    let stem = path.file_name().and_then(|n| n.to_str()).unwrap_or(want);
    for (aare, re) in &exprs {
        if aare.contains(stem) || re.contains(stem) {
            assert!(
                literal_of(re).is_some(),
                "rule {aare} compiles to a pattern {re}"
            );
        }
    }
}

/// The rule `domain()`'s virtio `<interface>` on a `kvm` domain always gets (libvirt's
/// helper adds it too).
pub const VHOST_NET: &str = "\"/dev/vhost-net\" rw,";

/// `rules` without [`VHOST_NET`], which must be there exactly once.
#[track_caller]
pub fn without_vhost_net(mut rules: Vec<String>) -> Vec<String> {
    assert_eq!(
        rules.iter().filter(|r| *r == VHOST_NET).count(),
        1,
        "the template's virtio NIC gets vhost-net once: {rules:?}"
    );
    rules.retain(|r| r != VHOST_NET);
    rules
}

/// The provenance comment of the rules every QEMU domain gets (`rules/base.rs`).
pub const BASE_ORIGIN: &str = "# domain base";

/// The rule lines of a `.files` text, without comments, leaving out the base rules every
/// QEMU domain gets: they are told apart by their provenance, not by their position.
pub fn rules_without_base(files_text: &str) -> Vec<String> {
    files_text
        .lines()
        .filter(|l| !l.ends_with(BASE_ORIGIN))
        .filter_map(|l| {
            let code = l.split("  #").next().unwrap_or("").trim();
            (!code.is_empty() && !code.starts_with('#')).then(|| code.to_string())
        })
        .collect()
}

/// `-d -c -u PROFILE` plus `extra` on `xml`: must succeed; what it would write is compiled
/// by the real parser.
pub fn dry_create(xml: &str, extra: &[&str]) -> Run {
    let mut args = vec!["-d", "-c", "-u", PROFILE];
    args.extend_from_slice(extra);
    let o = run(&args, Some(xml));
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        o.stderr
    );
    compile_dry_run(&o);
    o
}

/// `-c -u PROFILE --no-load --apparmor-dir <policy>` plus `extra` on `xml`.
pub fn create_in(policy: &Policy, xml: &str, extra: &[&str]) -> Run {
    let dir = policy.dir.to_str().expect("utf-8 policy dir").to_string();
    let mut args = vec!["-c", "-u", PROFILE, "--no-load", "--apparmor-dir", &dir];
    args.extend_from_slice(extra);
    run(&args, Some(xml))
}

/// [`create_in`] a fresh policy tree: must succeed, and the profile must compile.
pub fn create_ok(xml: &str, extra: &[&str]) -> (Policy, Run) {
    let policy = Policy::new();
    let o = create_in(&policy, xml, extra);
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        o.stderr
    );
    assert_eq!(policy.compile_all(), 1);
    (policy, o)
}

/// [`create_in`] a fresh policy tree: must be refused with exit `code`, one error line, no
/// stdout and nothing written. Returns stderr.
pub fn create_refused(xml: &str, extra: &[&str], code: i32) -> String {
    let policy = Policy::new();
    let o = create_in(&policy, xml, extra);
    let err = o.stderr;
    assert_eq!(o.status.code(), Some(code), "{err}");
    assert!(o.stdout.is_empty());
    assert_eq!(
        err.lines().filter(|l| l.contains(": error: ")).count(),
        1,
        "{err}"
    );
    let written = fs::read_dir(policy.dir.join("libvirt"))
        .expect("libvirt/")
        .count();
    assert_eq!(written, 0, "nothing written");
    err
}

/// Whether the test runs as root (effective uid 0: the third field of the "Uid:" line).
pub fn is_root() -> bool {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        == Some("0")
}

/// Where libvirt's own copy of `path` is: the path itself, or where a `dpkg-divert` moved it
/// (on a host with this project's package installed, libvirt's helper is
/// `/usr/lib/libvirt/virt-aa-helper.distrib`).
pub fn libvirts_own(path: &str) -> PathBuf {
    let o = Command::new("dpkg-divert")
        .args(["--truename", path])
        .output()
        .unwrap_or_else(|e| panic!("dpkg-divert --truename {path}: {e}"));
    let name = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(
        o.status.success() && !name.is_empty(),
        "dpkg-divert --truename {path}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    PathBuf::from(name)
}

/// The deny rule every QEMU domain named `name` gets against the other domains' UEFI
/// variables (`rules/base.rs`, docs/weak-spots.md W14), as a rule line without its comment.
/// Its compiled form is checked in `tests/it/escape_batch.rs`; `tests/it/libvirt_suite.rs` and
/// `tests/it/regression.rs` pin its text for one name.
pub fn nvram_others_denied(name: &str) -> String {
    let owns: Vec<String> = virt_aa_helper::policy::NVRAM_SUFFIXES
        .iter()
        .map(|s| format!("{name}{s}"))
        .collect();
    let owns: Vec<&str> = owns.iter().map(String::as_str).collect();
    let p = virt_aa_helper::escape::AaPattern::all_but_any("/var/lib/libvirt/qemu/nvram", &owns)
        .expect("a name the tests use");
    format!("audit deny \"{p}\" rwk,")
}
