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
use std::path::PathBuf;

const LOCAL: &str = "/etc/apparmor.d/local/usr.lib.libvirt.virt-aa-helper";

/// The host's `libvirt/`, which the unprivileged user owns.
fn libvirt(host: &Host) -> PathBuf {
    host.policy.dir.join("libvirt")
}

/// A domain with the host's `images/vm.img`.
fn xml(host: &Host) -> String {
    domain(&disk(&host.tree.s("images/vm.img"), "vda", ""), "")
}

/// What an unrestricted run would write: the same request as a dry run, as root.
fn expected(host: &Host, args: &[&str], stdin: &str) -> Vec<(PathBuf, String)> {
    let mut all = vec!["-d"];
    all.extend_from_slice(args);
    let all = host.args(&all);
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let o = run(&all, Some(stdin));
    assert!(o.status.success(), "{}", o.stderr);
    let files = o.dry_files();
    assert!(!files.is_empty(), "{}", o.stdout);
    files
}

/// The names in `libvirt/`, sorted.
fn names(host: &Host) -> Vec<String> {
    host.files().into_iter().map(|(name, _)| name).collect()
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
    let extra = host.tree.s("images/hot.img");
    let want = expected(host, &["-r", "-u", PROFILE, "-F", &extra], xml);
    let o = host.run(&["-r", "-u", PROFILE, "-F", &extra], Some(xml));
    assert_eq!(o.status.code(), Some(0), "{}", o.stderr);
    assert_eq!(o.stderr, warning);
    assert_written(&want);
    assert!(
        fs::read_to_string(libvirt(host).join(format!("{PROFILE}.files")))
            .unwrap()
            .contains(&format!("\"{extra}\" rwk,"))
    );
}

/// Compiles the profile written in `host` with the real parser (its policy tree is a
/// full one).
fn compile(host: &Host) {
    host.policy.compile(&host.policy.profile());
}

#[test]
fn a_denied_lock_is_skipped_with_one_warning() {
    let host = Host::unprivileged();
    let xml = xml(&host);
    // Left by an earlier run as root, unreadable to the helper's user: opening it is EACCES,
    // as flock is under a profile without `k`.
    let lock = libvirt(&host).join(format!("{PROFILE}.lock"));
    fs::write(&lock, b"").unwrap();
    fs::set_permissions(&lock, fs::Permissions::from_mode(0o000)).unwrap();
    let warning = format!(
        "virt-aa-helper: warning: '{}': cannot lock (Permission denied): running without the per-profile lock, as libvirt 9.0 does; if AppArmor confines the helper, allow it with '{}/libvirt-*.lock rwk,' in {LOCAL}\n",
        lock.display(),
        libvirt(&host).display()
    );

    let want = expected(&host, &["-c", "-u", PROFILE], &xml);
    let o = host.run(&["-c", "-u", PROFILE], Some(&xml));
    assert_eq!(o.status.code(), Some(0), "{}", o.stderr);
    assert_eq!(o.stderr, warning, "exactly one warning");
    assert_written(&want);
    compile(&host);

    // -r -F: appended, the same single warning.
    append_hot_disk(&host, &xml, &warning);

    // -D without the lock still removes the lock file the earlier run left.
    let o = host.run(&["-D", "-u", PROFILE], None);
    assert_eq!(o.status.code(), Some(0), "{}", o.stderr);
    assert_eq!(o.stderr, warning);
    assert_eq!(names(&host), [PROFILE]);
}

#[test]
fn a_denied_directory_fsync_is_skipped_with_one_warning_per_run() {
    let host = Host::unprivileged();
    let xml = xml(&host);
    // Write and search, no read: files can be created, renamed and opened by name, but the
    // directory cannot be opened to fsync it (what `/etc/apparmor.d/libvirt/* r` without
    // `/etc/apparmor.d/libvirt/ r` allows).
    fs::set_permissions(libvirt(&host), fs::Permissions::from_mode(0o333)).unwrap();
    let warning = format!(
        "virt-aa-helper: warning: '{dir}': cannot open the directory to fsync it (Permission denied): going on without the directory fsync after renames, as libvirt 9.0 does; if AppArmor confines the helper, allow it with '{dir}/ r,' in {LOCAL}\n",
        dir = libvirt(&host).display()
    );

    // -c writes two files: still one warning.
    let want = expected(&host, &["-c", "-u", PROFILE], &xml);
    assert_eq!(want.len(), 2);
    let o = host.run(&["-c", "-u", PROFILE], Some(&xml));
    assert_eq!(o.status.code(), Some(0), "{}", o.stderr);
    assert_eq!(o.stderr, warning, "exactly one warning for two writes");
    assert_written(&want);
    compile(&host);

    append_hot_disk(&host, &xml, &warning);
    compile(&host);

    // No temporary left behind; the lock file is the helper's own (it could take it).
    assert_eq!(
        names(&host),
        [
            PROFILE.to_string(),
            format!("{PROFILE}.files"),
            format!("{PROFILE}.lock")
        ]
    );
}

#[test]
fn a_denied_configuration_file_is_an_error_naming_the_rule() {
    let host = Host::unprivileged();
    let cfg = host.tree.path("virt-aa-helper.conf");
    fs::write(&cfg, "backing_deny_write = no\n").unwrap();
    fs::set_permissions(&cfg, fs::Permissions::from_mode(0o600)).unwrap();
    let cfg = cfg.display().to_string();
    let o = host.run(&["-c", "-u", PROFILE, "--config", &cfg], Some(&xml(&host)));
    assert_eq!(o.status.code(), Some(2), "{}", o.stderr);
    assert_eq!(
        o.stderr,
        format!(
            "virt-aa-helper: error: '{cfg}': cannot be read (Permission denied); if AppArmor confines the helper, allow it with '{cfg} r,' in {LOCAL}\n"
        )
    );
    assert!(o.stdout.is_empty());
    assert!(
        names(&host).is_empty(),
        "nothing written: {:?}",
        names(&host)
    );
}

#[test]
fn a_denied_pool_definition_is_an_error_naming_the_rule() {
    let host = Host::unprivileged();
    let storage = host.tree.path("storage");
    fs::create_dir(&storage).unwrap();
    let pool = storage.join("default.xml");
    fs::write(
        &pool,
        format!(
            "<pool type='dir'><name>default</name><target><path>{}</path></target></pool>",
            host.tree.s("images")
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
    let o = host.run(&args, Some(&xml));
    assert_eq!(o.status.code(), Some(6), "{}", o.stderr);
    assert_eq!(
        o.stderr,
        format!(
            "virt-aa-helper: error: '{}': cannot be read (Permission denied); if AppArmor confines the helper, allow it with '{dir}/*.xml r,' in {LOCAL}\n",
            pool.display()
        )
    );
    assert!(
        names(&host).is_empty(),
        "nothing written: {:?}",
        names(&host)
    );

    // Readable: the same run succeeds and the volume gets its rule.
    fs::set_permissions(&pool, fs::Permissions::from_mode(0o644)).unwrap();
    let o = host.run(&args, Some(&xml));
    assert_eq!(o.status.code(), Some(0), "{}", o.stderr);
    let files = fs::read_to_string(libvirt(&host).join(format!("{PROFILE}.files"))).unwrap();
    assert!(
        files.contains(&format!("\"{}\" rwk,", host.tree.s("images/vm.img"))),
        "{files}"
    );
}
