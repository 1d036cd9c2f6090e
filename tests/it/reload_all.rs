//! `--reload-all`: every running domain's profile reloaded in one `apparmor_parser` run,
//! compiled by the real parser (`-Q`), with a broken profile named and the others still
//! reloaded; only canonical profile names; dry runs; nothing to reload; the locks.

use crate::support::*;
use std::fs;
use std::path::PathBuf;

/// The profile name of domain `i`.
fn name(i: u32) -> String {
    format!("libvirt-00000000-0000-0000-0000-{i:012}")
}

/// Creates domain `i` (`-c --no-load`): its profile from the template and its
/// `.files`, as libvirtd's start leaves them.
fn create(h: &Host, i: u32) {
    let uuid = name(i).strip_prefix("libvirt-").unwrap().to_string();
    let xml = domain_named(&format!("vm{i}"), "", "").replace(UUID, &uuid);
    let o = h.run(&["-c", "-u", &name(i), "--no-load"], Some(&xml));
    assert!(o.status.success(), "{}", o.stderr);
    // The creating run's lock file: only what --reload-all itself leaves is examined.
    let _ = fs::remove_file(h.policy.libvirt(&format!("{}.lock", name(i))));
}

/// `extra` with the host's parser and a parser cache.
fn reload(h: &Host, extra: &[&str]) -> HostRun {
    let cache = h.tree.dir("cache").display().to_string();
    let mut args = extra.to_vec();
    args.extend(["--cache-dir", &cache]);
    h.run(&args, None)
}

/// The profile paths a recorded parser run was given.
fn paths_of(h: &Host, call: &str) -> Vec<String> {
    let libvirt = h.policy.dir.join("libvirt").display().to_string();
    call.split(' ')
        .filter(|a| a.starts_with(&libvirt))
        .map(|a| a.rsplit('/').next().unwrap().to_string())
        .collect()
}

fn break_files(h: &Host, i: u32) {
    let files = h.policy.libvirt(&format!("{}.files", name(i)));
    let mut text = fs::read_to_string(&files).unwrap();
    text.push_str("  this is not a rule {\n");
    fs::write(&files, text).unwrap();
}

/// The required case: one profile's `.files` has a syntax error; the real parser compiles
/// the others in the same run, and the broken one is named on stdout (with the parser's
/// own error) and in the one error line, exit 7. Nothing in the policy tree changes.
#[test]
fn one_broken_profile_the_others_are_reloaded_and_it_is_named() {
    let env = Host::new();
    for i in 1..=3 {
        create(&env, i);
    }
    break_files(&env, 2);
    let before = env.files();
    let o = reload(&env, &["--reload-all"]);
    let (out, err) = (&o.stdout, &o.stderr);
    assert_eq!(o.status.code(), Some(7), "{out}\n{err}");
    assert!(out.contains("reloaded 2 of 3 profiles\n"), "{out}");
    let failed: Vec<&str> = out.lines().filter(|l| l.starts_with("failed ")).collect();
    assert_eq!(failed.len(), 1, "{out}");
    assert!(
        failed[0].starts_with(&format!("failed {}: ", name(2)))
            && failed[0].contains("AppArmor parser error")
            && failed[0].contains(&format!("{}.files", name(2))),
        "{out}"
    );
    let errors: Vec<&str> = err.lines().collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].starts_with("virt-aa-helper: error: apparmor_parser failed for 1 of 3 profiles")
            && errors[0].ends_with(&name(2))
            && !errors[0].contains(&name(1))
            && !errors[0].contains(&name(3)),
        "{err}"
    );
    // One run over all three, compiled afresh into the cache; then the broken one alone,
    // for its own error.
    let calls = env.parser.take_calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(paths_of(&env, &calls[0]), [name(1), name(2), name(3)]);
    assert!(
        calls[0].contains(" --skip-read-cache --write-cache --cache-loc ")
            && calls[0].contains(" -v -r "),
        "{calls:?}"
    );
    assert_eq!(paths_of(&env, &calls[1]), [name(2)]);
    // --reload-all writes nothing; the locks it took leave their files, as -r's do.
    let after: Vec<_> = env
        .files()
        .into_iter()
        .filter(|(n, _)| !n.ends_with(".lock"))
        .collect();
    assert_eq!(after, before);
}

/// A parser configured to stop at the first error (`abort-on-error`) loads nothing after
/// the broken file; each profile the shared run did not confirm gets a run of its own, so
/// every good profile is still reloaded and only the broken one is named.
#[test]
fn a_parser_that_stops_at_the_first_error_still_reloads_the_rest() {
    let env = Host::new();
    for i in 1..=4 {
        create(&env, i);
    }
    break_files(&env, 2);
    env.parser.set_mode("abort");
    let o = reload(&env, &["--reload-all"]);
    let out = &o.stdout;
    assert_eq!(o.status.code(), Some(7), "{out}{}", o.stderr);
    assert!(out.contains("reloaded 3 of 4 profiles\n"), "{out}");
    assert!(out.contains(&format!("failed {}: ", name(2))), "{out}");
    let calls = env.parser.take_calls();
    // The shared run, then one run for each profile from the broken one on (-j 1: the
    // parser stopped there, so it confirmed only the first).
    let alone: Vec<Vec<String>> = calls[1..].iter().map(|c| paths_of(&env, c)).collect();
    assert_eq!(
        alone,
        [vec![name(2)], vec![name(3)], vec![name(4)]],
        "{calls:?}"
    );
}

/// A parser that fails every run without naming a file: every profile is run alone and
/// every one is reported.
#[test]
fn a_parser_failing_everything_names_every_profile() {
    let env = Host::new();
    for i in 1..=2 {
        create(&env, i);
    }
    env.parser.set_mode("fail");
    let o = reload(&env, &["--reload-all"]);
    let out = &o.stdout;
    assert_eq!(o.status.code(), Some(7), "{out}");
    assert!(out.contains("reloaded 0 of 2 profiles\n"), "{out}");
    assert_eq!(out.lines().filter(|l| l.starts_with("failed ")).count(), 2);
    assert!(
        o.stderr.contains(&format!(
            "2 of 2 profiles, which stay loaded as they were: {}, {}",
            name(1),
            name(2)
        )),
        "{}",
        o.stderr
    );
    assert_eq!(env.parser.take_calls().len(), 3);
}

/// Only regular files whose whole name is a canonical profile name are reloaded: never a
/// `.files`, a `.lock`, a temporary, a template, another spelling of a UUID, a directory
/// or a symbolic link. A profile whose `.files` is missing (its domain stopped: `-D`
/// removed it) is skipped and named; it would not compile.
#[test]
fn only_canonical_profiles_of_running_domains_are_reloaded() {
    let env = Host::new();
    for i in 1..=3 {
        create(&env, i);
    }
    let profile = fs::read(env.policy.libvirt(&name(1))).unwrap();
    // A UUID libvirt writes in lower case, here in upper case.
    let upper = "libvirt-0000000A-0000-0000-0000-00000000000B".to_string();
    for other in [
        format!("{}.files.aB3xYz.tmp", name(1)),
        format!("{}.tmp", name(1)),
        format!("{}~", name(1)),
        format!(".{}", name(1)),
        upper,
        "libvirt-00000000000000000000000000000009".to_string(),
        "libvirt-x".to_string(),
        "TEMPLATE.qemu".to_string(),
    ] {
        fs::write(env.policy.libvirt(&other), &profile).unwrap();
    }
    fs::create_dir(env.policy.libvirt(&name(7))).unwrap();
    std::os::unix::fs::symlink(env.policy.libvirt(&name(1)), env.policy.libvirt(&name(8))).unwrap();
    // Domain 3 stops: libvirt runs -D, which keeps the profile and removes its .files.
    let dir = env.policy.dir.display().to_string();
    let o = run(
        &["-D", "-u", &name(3), "--no-load", "--apparmor-dir", &dir],
        None,
    );
    assert!(o.status.success(), "{}", o.stderr);
    assert!(env.policy.libvirt(&name(3)).exists());

    let o = reload(&env, &["--reload-all"]);
    let out = &o.stdout;
    assert!(o.status.success(), "{out}{}", o.stderr);
    assert!(
        out.contains("reloaded 2 of 2 profiles (1 skipped)\n"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "skipped {}: {}.files is missing (the domain is not running)",
            name(3),
            env.policy.libvirt(&name(3)).display()
        )),
        "{out}"
    );
    let calls = env.parser.take_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(paths_of(&env, &calls[0]), [name(1), name(2)]);
    // No lock file for the skipped profile nor for the files that are not profiles.
    let locks: Vec<String> = env
        .files()
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n.ends_with(".lock"))
        .collect();
    assert_eq!(
        locks,
        [format!("{}.lock", name(1)), format!("{}.lock", name(2))]
    );
}

/// A profile without a `.files` include (an LXC domain's) is reloaded: only a missing
/// `.files` the profile includes marks a stopped domain.
#[test]
fn a_profile_without_files_include_is_reloaded() {
    let env = Host::new();
    create(&env, 1);
    let tpl = format!(
        "#include <tunables/global>\nprofile {} flags=(attach_disconnected) {{\n  #include <abstractions/base>\n}}\n",
        name(2)
    );
    fs::write(env.policy.libvirt(&name(2)), tpl).unwrap();
    let o = reload(&env, &["--reload-all"]);
    assert!(o.status.success(), "{}", o.stderr);
    assert!(
        o.stdout.contains("reloaded 2 of 2 profiles\n"),
        "{}",
        o.stdout
    );
}

/// `-d --reload-all` prints the parser command it would run, with every profile, and the
/// profiles it would skip; it runs nothing and creates no lock file.
#[test]
fn dry_run_lists_and_runs_nothing() {
    let env = Host::new();
    for i in 1..=2 {
        create(&env, i);
    }
    fs::remove_file(env.policy.libvirt(&format!("{}.files", name(2)))).unwrap();
    create(&env, 3);
    let before = env.files();
    let o = reload(&env, &["-d", "--reload-all"]);
    let out = &o.stdout;
    assert!(o.status.success(), "{out}{}", o.stderr);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(
        lines[0],
        format!(
            "# would skip {}: {}.files is missing (the domain is not running)",
            env.policy.libvirt(&name(2)).display(),
            env.policy.libvirt(&name(2)).display()
        )
    );
    let cache = env.tree.path("cache").display().to_string();
    assert_eq!(
        lines[1],
        format!(
            // Without the options only the parser's --version decides: a dry run runs
            // nothing, not even that.
            "# would run {} --base {} --skip-read-cache --write-cache --cache-loc {cache} -v -r {} {}",
            env.parser.script.display(),
            env.policy.dir.display(),
            env.policy.libvirt(&name(1)).display(),
            env.policy.libvirt(&name(3)).display()
        )
    );
    assert!(env.parser.take_calls().is_empty());
    assert_eq!(env.files(), before);
}

/// No profile (an empty `libvirt/`, or none at all): said on stdout, exit 0, no parser run.
#[test]
fn no_profiles_is_said_and_succeeds() {
    let env = Host::new();
    fs::write(env.policy.libvirt("TEMPLATE.qemu"), "x").unwrap();
    for dry in [false, true] {
        let args: &[&str] = if dry {
            &["-d", "--reload-all"]
        } else {
            &["--reload-all"]
        };
        let o = reload(&env, args);
        assert!(o.status.success(), "{}", o.stderr);
        assert_eq!(
            o.stdout,
            format!(
                "no libvirt-<uuid> profile in {}: nothing to reload\n",
                env.policy.dir.join("libvirt").display()
            )
        );
        assert!(o.stderr.is_empty(), "{}", o.stderr);
    }
    fs::remove_dir_all(env.policy.dir.join("libvirt")).unwrap();
    let o = reload(&env, &["--reload-all"]);
    assert!(o.status.success(), "{}", o.stderr);
    assert!(o.stdout.contains("nothing to reload"), "{}", o.stdout);
    assert!(env.parser.take_calls().is_empty());
    assert!(!env.policy.dir.join("libvirt").exists(), "created nothing");
}

/// The cache is written for every reloaded profile and never read (the reload runs
/// because an include changed, which the parser's mtime check can miss).
#[test]
fn the_cache_is_rebuilt_for_every_profile() {
    let env = Host::new();
    for i in 1..=3 {
        create(&env, i);
    }
    env.parser.set_mode("cached");
    for _ in 0..2 {
        let o = reload(&env, &["--reload-all"]);
        assert!(o.status.success(), "{}", o.stderr);
        let log = env.parser.take_cache_log();
        assert!(!log.iter().any(|l| l.starts_with("Cache hit")), "{log:?}");
    }
    let mut cached: Vec<String> = Vec::new();
    for features in fs::read_dir(env.tree.path("cache")).unwrap() {
        for e in fs::read_dir(features.unwrap().path()).unwrap() {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            // The parser's own record of the features it compiled for.
            if n != ".features" {
                cached.push(n);
            }
        }
    }
    cached.sort();
    assert_eq!(cached, [name(1), name(2), name(3)]);
    // One parser run each time.
    assert_eq!(env.parser.take_calls().len(), 2);
}

/// A profile whose lock another run holds (a `-r` of that domain) is not compiled until
/// that run is done: otherwise this run could load the text it read before that run's
/// new text, after it.
#[test]
fn waits_for_a_run_holding_a_profiles_lock() {
    let env = Host::new();
    for i in 1..=2 {
        create(&env, i);
    }
    let lock_path: PathBuf = env.policy.libvirt(&format!("{}.lock", name(2)));
    let lock = fs::File::create(&lock_path).unwrap();
    lock.lock().unwrap();
    let dir = env.policy.dir.display().to_string();
    let parser = env.parser.script.display().to_string();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_virt-aa-helper"))
        .args(["--reload-all", "--apparmor-dir", &dir, "--parser", &parser])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(child.try_wait().unwrap().is_none(), "it did not wait");
    assert!(
        env.parser.take_calls().is_empty(),
        "the parser ran under a held lock"
    );
    drop(lock);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    assert_eq!(env.parser.take_calls().len(), 1);
}

/// A `.files` that is a FIFO or a symbolic link is never handed to the
/// parser, by `--reload-all` (it would block the parser while the run holds every lock,
/// and every start and hotplug of those VMs behind it) nor by `-a`, `-R` or `-D`: it is
/// named, the other profiles are reloaded, and nothing hangs.
#[test]
fn a_fifo_or_symlink_files_is_named_and_never_given_to_the_parser() {
    let env = Host::new();
    for i in 1..=3 {
        create(&env, i);
    }
    let fifo = env.policy.libvirt(&format!("{}.files", name(2)));
    fs::remove_file(&fifo).unwrap();
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());
    let link = env.policy.libvirt(&format!("{}.files", name(3)));
    let elsewhere = env
        .tree
        .file("elsewhere.files", b"  \"/etc/shadow\" rwk,\n");
    fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &link).unwrap();

    let o = reload(&env, &["--reload-all"]);
    let (out, err) = (&o.stdout, &o.stderr);
    assert_eq!(o.status.code(), Some(7), "{out}\n{err}");
    assert!(out.contains("reloaded 1 of 3 profiles\n"), "{out}");
    assert!(
        out.contains(&format!("failed {}: ", name(2))) && out.contains("a FIFO"),
        "{out}"
    );
    assert!(out.contains(&format!("failed {}: ", name(3))), "{out}");
    let calls = env.parser.take_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(paths_of(&env, &calls[0]), vec![name(1)], "{calls:?}");

    // -a, -R and -D of the FIFO's profile: refused, naming it; the parser never runs.
    let dir = env.policy.dir.display().to_string();
    let parser = env.parser.script.display().to_string();
    for mode in ["-a", "-R", "-D"] {
        let o = run(
            &[
                mode,
                "-u",
                &name(2),
                "--apparmor-dir",
                &dir,
                "--parser",
                &parser,
            ],
            None,
        );
        assert!(!o.status.success(), "{mode}: {}", o.stderr);
        assert!(
            o.stderr.contains(&format!("{}.files", name(2))) && o.stderr.contains("a FIFO"),
            "{mode}: {}",
            o.stderr
        );
        assert!(env.parser.take_calls().is_empty(), "{mode}");
    }
    assert!(
        PathBuf::from(&fifo).exists(),
        "-D left the FIFO for the admin"
    );
}

/// No parser run can block the others forever. A parser that hangs (an
/// include that is a FIFO the helper never sees, a dead network mount), and leaves a child
/// of its own holding its output, is killed with that child after `--parser-timeout`; the
/// run fails (exit 7) naming the timeout, its locks are released (the next run for the
/// same profile proceeds), and `.files` is as it was.
#[test]
fn a_hung_parser_is_killed_and_releases_every_lock() {
    let env = Host::new();
    for i in 1..=2 {
        create(&env, i);
    }
    let marker = format!("{}", 900_000 + std::process::id() % 90_000);
    let hung = env.tree.path("hung-parser");
    write_executable(
        &hung,
        format!("#!/bin/sh\n/bin/sleep {marker} &\nexec /bin/sleep {marker}\n").as_bytes(),
        0o755,
    );
    let before = env.files();
    let dir = env.policy.dir.display().to_string();
    let hung = hung.display().to_string();
    let started = std::time::Instant::now();
    for args in [
        vec!["--reload-all"],
        vec!["-a", "-u", &name(1)],
        vec!["-R", "-u", &name(2)],
    ] {
        let mut all = args.clone();
        all.extend([
            "--apparmor-dir",
            &dir,
            "--parser",
            &hung,
            "--parser-timeout",
            "1",
        ]);
        let o = run(&all, None);
        // --reload-all names each profile's failure on stdout.
        let err = format!("{}{}", o.stdout, o.stderr);
        assert_eq!(o.status.code(), Some(7), "{args:?}: {err}");
        assert!(
            err.contains("killed after 1 s") && err.contains("did not finish"),
            "{args:?}: {err}"
        );
    }
    // Three runs of a 1 s limit: bounded (the parser would sleep for days).
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    // The parser and the child it left holding its pipes are gone: killed, which takes
    // effect when the kernel next runs them (on a loaded machine, after a moment).
    let left = || {
        std::process::Command::new("pgrep")
            .args(["-f", &format!("sleep {marker}")])
            .output()
            .unwrap()
    };
    let mut tries = 0;
    while !left().stdout.is_empty() && tries < 50 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        tries += 1;
    }
    let left = left();
    assert!(
        left.stdout.is_empty(),
        "left running: {}",
        String::from_utf8_lossy(&left.stdout)
    );
    // The locks were released: the real parser's run goes through, and nothing changed.
    let o = reload(&env, &["--reload-all"]);
    assert!(o.status.success(), "{}", o.stderr);
    let unlocked = |v: Vec<(String, Vec<u8>)>| {
        v.into_iter()
            .filter(|(n, _)| !n.ends_with(".lock"))
            .collect::<Vec<_>>()
    };
    assert_eq!(unlocked(env.files()), unlocked(before));
}
