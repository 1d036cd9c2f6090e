//! Running where the policy denies part of what the helper does, as under Debian 12's stock
//! helper profile (`/etc/apparmor.d/usr.lib.libvirt.virt-aa-helper`): no `k` for the lock,
//! no read of `libvirt/` itself for the directory fsync, no rule for the configuration file
//! or the storage pool definitions.
//!
//! No AppArmor kernel is needed and the product has no fault injection: the built binary
//! runs as an unprivileged user (`setpriv --reuid=65534`) on a tree that user owns, and the
//! kernel's own permission checks deny the same operations with the same `EACCES` AppArmor
//! returns. The tests run as root (CI does) to set the tree up.
//!
//! Optional safety steps (lock, directory fsync) are skipped with exactly one warning per
//! run naming the rule that enables them, and the run writes what an unrestricted run
//! writes; a file the admin asked for (configuration, pool definition) stays an error naming
//! the file and the rule, and nothing is written.

use crate::support::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The unprivileged user and group the helper runs as (nobody/nogroup).
const NOBODY: u32 = 65534;

const LOCAL: &str = "/etc/apparmor.d/local/usr.lib.libvirt.virt-aa-helper";

/// A tree in `/tmp` that the unprivileged user can reach: a copy of the binary, a policy
/// tree and images owned by that user.
struct Host {
    _tmp: tempfile::TempDir,
    bin: PathBuf,
    /// Owned by [`NOBODY`]: `policy/libvirt/`, `images/`.
    home: PathBuf,
}

impl Host {
    fn new() -> Self {
        assert!(
            is_root(),
            "these tests need root (CI runs as root) to give a tree to an unprivileged user"
        );
        let tmp = tempfile::Builder::new().tempdir_in("/tmp").unwrap();
        let root = fs::canonicalize(tmp.path()).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        // The binary under target/ may not be reachable by another user: a copy.
        let bin = root.join("virt-aa-helper");
        fs::copy(env!("CARGO_BIN_EXE_virt-aa-helper"), &bin).unwrap();
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
        let home = root.join("home");
        fs::create_dir_all(home.join("policy/libvirt")).unwrap();
        fs::create_dir_all(home.join("images")).unwrap();
        fs::write(home.join("images/vm.img"), b"").unwrap();
        fs::write(home.join("images/hot.img"), b"").unwrap();
        chown_r(&home);
        Host {
            _tmp: tmp,
            bin,
            home,
        }
    }

    fn s(&self, rel: &str) -> String {
        self.home.join(rel).display().to_string()
    }

    fn libvirt(&self) -> PathBuf {
        self.home.join("policy/libvirt")
    }

    fn xml(&self) -> String {
        domain(&disk(&self.s("images/vm.img"), "vda", ""), "")
    }

    /// `args` plus the tree, no loading, and a configuration file that does not exist
    /// unless `args` names one.
    fn args(&self, args: &[&str]) -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend([
            "--apparmor-dir".into(),
            self.s("policy"),
            "--no-load".into(),
        ]);
        // Only -c and -r read a configuration (the others refuse --config).
        let generates = args.iter().any(|a| matches!(*a, "-c" | "-r"));
        if generates && !args.contains(&"--config") {
            all.extend(["--config".into(), self.s("no-such.conf")]);
        }
        all
    }

    /// Runs the helper as the unprivileged user. The copy of the binary may be busy for a
    /// moment: another test thread's fork may still hold the descriptor `fs::copy` wrote it
    /// through (closed at that child's exec), and exec then fails with ETXTBSY: run again.
    fn as_nobody(&self, args: &[&str], stdin: Option<&str>) -> Run {
        for _ in 0..50 {
            let o = self.as_nobody_once(args, stdin);
            if !(o.status.code() == Some(126) && o.stderr.contains("Text file busy")) {
                return o;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        self.as_nobody_once(args, stdin)
    }

    fn as_nobody_once(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut child = Command::new("setpriv")
            .args([
                format!("--reuid={NOBODY}"),
                format!("--regid={NOBODY}"),
                "--clear-groups".into(),
            ])
            .arg(&self.bin)
            .args(self.args(args))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("setpriv (util-linux)");
        {
            use std::io::Write;
            let mut pipe = child.stdin.take().unwrap();
            if let Some(s) = stdin {
                let _ = pipe.write_all(s.as_bytes());
            }
        }
        child.wait_with_output().unwrap().into()
    }

    /// What an unrestricted run would write: the same request as a dry run, as root.
    fn expected(&self, args: &[&str], stdin: &str) -> Vec<(PathBuf, String)> {
        let mut all = vec!["-d"];
        all.extend_from_slice(args);
        let all = self.args(&all);
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let o = run(&all, Some(stdin));
        assert!(o.status.success(), "{}", o.stderr);
        let files = o.dry_files();
        assert!(!files.is_empty(), "{}", o.stdout);
        files
    }

    /// The names in `libvirt/`, sorted.
    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.libvirt())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

fn chown_r(p: &Path) {
    std::os::unix::fs::chown(p, Some(NOBODY), Some(NOBODY)).unwrap();
    if p.is_dir() {
        for e in fs::read_dir(p).unwrap() {
            chown_r(&e.unwrap().path());
        }
    }
}

/// Asserts that each file is there with exactly that content.
#[track_caller]
fn assert_written(files: &[(PathBuf, String)]) {
    for (path, want) in files {
        let got = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(&got, want, "{}", path.display());
    }
}

/// `-r -F images/hot.img` as the unprivileged user: exit 0, exactly `warning` on stderr, the
/// files an unrestricted run writes, the disk appended.
#[track_caller]
fn append_hot_disk(host: &Host, xml: &str, warning: &str) {
    let extra = host.s("images/hot.img");
    let want = host.expected(&["-r", "-u", PROFILE, "-F", &extra], xml);
    let o = host.as_nobody(&["-r", "-u", PROFILE, "-F", &extra], Some(xml));
    assert_eq!(o.status.code(), Some(0), "{}", o.stderr);
    assert_eq!(o.stderr, warning);
    assert_written(&want);
    assert!(
        fs::read_to_string(host.libvirt().join(format!("{PROFILE}.files")))
            .unwrap()
            .contains(&format!("\"{extra}\" rwk,"))
    );
}

/// Compiles the profile written in `host` with the real parser, in a full policy tree.
fn compile(host: &Host) {
    let policy = Policy::new();
    for name in [PROFILE.to_string(), format!("{PROFILE}.files")] {
        fs::copy(host.libvirt().join(&name), policy.libvirt(&name)).unwrap();
    }
    policy.compile(&policy.profile());
}

#[test]
fn a_denied_lock_is_skipped_with_one_warning() {
    let host = Host::new();
    let xml = host.xml();
    // Left by an earlier run as root, unreadable to the helper's user: opening it is EACCES,
    // as flock is under a profile without `k`.
    let lock = host.libvirt().join(format!("{PROFILE}.lock"));
    fs::write(&lock, b"").unwrap();
    fs::set_permissions(&lock, fs::Permissions::from_mode(0o000)).unwrap();
    let warning = format!(
        "virt-aa-helper: warning: '{}': cannot lock (Permission denied): running without the per-profile lock, as libvirt 9.0 does; if AppArmor confines the helper, allow it with '{}/libvirt-*.lock rwk,' in {LOCAL}\n",
        lock.display(),
        host.libvirt().display()
    );

    let want = host.expected(&["-c", "-u", PROFILE], &xml);
    let o = host.as_nobody(&["-c", "-u", PROFILE], Some(&xml));
    assert_eq!(o.status.code(), Some(0), "{}", o.stderr);
    assert_eq!(o.stderr, warning, "exactly one warning");
    assert_written(&want);
    compile(&host);

    // -r -F: appended, the same single warning.
    append_hot_disk(&host, &xml, &warning);

    // -D without the lock still removes the lock file the earlier run left.
    let o = host.as_nobody(&["-D", "-u", PROFILE], None);
    assert_eq!(o.status.code(), Some(0), "{}", o.stderr);
    assert_eq!(o.stderr, warning);
    assert_eq!(host.names(), [PROFILE]);
}

#[test]
fn a_denied_directory_fsync_is_skipped_with_one_warning_per_run() {
    let host = Host::new();
    let xml = host.xml();
    // Write and search, no read: files can be created, renamed and opened by name, but the
    // directory cannot be opened to fsync it (what `/etc/apparmor.d/libvirt/* r` without
    // `/etc/apparmor.d/libvirt/ r` allows).
    fs::set_permissions(host.libvirt(), fs::Permissions::from_mode(0o333)).unwrap();
    let warning = format!(
        "virt-aa-helper: warning: '{dir}': cannot open the directory to fsync it (Permission denied): going on without the directory fsync after renames, as libvirt 9.0 does; if AppArmor confines the helper, allow it with '{dir}/ r,' in {LOCAL}\n",
        dir = host.libvirt().display()
    );

    // -c writes two files: still one warning.
    let want = host.expected(&["-c", "-u", PROFILE], &xml);
    assert_eq!(want.len(), 2);
    let o = host.as_nobody(&["-c", "-u", PROFILE], Some(&xml));
    assert_eq!(o.status.code(), Some(0), "{}", o.stderr);
    assert_eq!(o.stderr, warning, "exactly one warning for two writes");
    assert_written(&want);
    compile(&host);

    append_hot_disk(&host, &xml, &warning);
    compile(&host);

    // No temporary left behind; the lock file is the helper's own (it could take it).
    assert_eq!(
        host.names(),
        [
            PROFILE.to_string(),
            format!("{PROFILE}.files"),
            format!("{PROFILE}.lock")
        ]
    );
}

#[test]
fn a_denied_configuration_file_is_an_error_naming_the_rule() {
    let host = Host::new();
    let cfg = host.home.join("virt-aa-helper.conf");
    fs::write(&cfg, "backing_deny_write = no\n").unwrap();
    fs::set_permissions(&cfg, fs::Permissions::from_mode(0o600)).unwrap();
    let cfg = cfg.display().to_string();
    let o = host.as_nobody(&["-c", "-u", PROFILE, "--config", &cfg], Some(&host.xml()));
    assert_eq!(o.status.code(), Some(2), "{}", o.stderr);
    assert_eq!(
        o.stderr,
        format!(
            "virt-aa-helper: error: '{cfg}': cannot be read (Permission denied); if AppArmor confines the helper, allow it with '{cfg} r,' in {LOCAL}\n"
        )
    );
    assert!(o.stdout.is_empty());
    assert!(
        host.names().is_empty(),
        "nothing written: {:?}",
        host.names()
    );
}

#[test]
fn a_denied_pool_definition_is_an_error_naming_the_rule() {
    let host = Host::new();
    let storage = host.home.join("storage");
    fs::create_dir(&storage).unwrap();
    let pool = storage.join("default.xml");
    fs::write(
        &pool,
        format!(
            "<pool type='dir'><name>default</name><target><path>{}</path></target></pool>",
            host.s("images")
        ),
    )
    .unwrap();
    fs::set_permissions(&pool, fs::Permissions::from_mode(0o600)).unwrap();
    let xml = domain(
        "<disk type='volume' device='disk'><source pool='default' volume='vm.img'/><target dev='vda'/></disk>\n",
        "",
    );
    let dir = storage.display().to_string();
    let args = ["-c", "-u", PROFILE, "--pool-dir", &dir];
    let o = host.as_nobody(&args, Some(&xml));
    assert_eq!(o.status.code(), Some(6), "{}", o.stderr);
    assert_eq!(
        o.stderr,
        format!(
            "virt-aa-helper: error: '{}': cannot be read (Permission denied); if AppArmor confines the helper, allow it with '{dir}/*.xml r,' in {LOCAL}\n",
            pool.display()
        )
    );
    assert!(
        host.names().is_empty(),
        "nothing written: {:?}",
        host.names()
    );

    // Readable: the same run succeeds and the volume gets its rule.
    fs::set_permissions(&pool, fs::Permissions::from_mode(0o644)).unwrap();
    let o = host.as_nobody(&args, Some(&xml));
    assert_eq!(o.status.code(), Some(0), "{}", o.stderr);
    let files = fs::read_to_string(host.libvirt().join(format!("{PROFILE}.files"))).unwrap();
    assert!(
        files.contains(&format!("\"{}\" rwk,", host.s("images/vm.img"))),
        "{files}"
    );
}
