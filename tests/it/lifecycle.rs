//! The life of a profile: -c, -r, -F, -R, -D with a recording parser that compiles every
//! load for real; rollback when the parser fails; refusal of bad input with nothing written;
//! installed legacy templates; the per-profile lock under concurrent appends.

use crate::support::*;
use std::fs;
use std::path::Path;

fn xml_with_disk(t: &Tree) -> String {
    t.file("images/vm.img", b"");
    domain(&disk(&t.s("images/vm.img"), "vda", ""), "")
}

#[test]
fn create_replace_append_remove_delete() {
    let env = Host::new();
    let xml = xml_with_disk(&env.tree);
    let profile = env.policy.profile();
    let files = env.policy.files();
    let pd = env.policy.dir.display().to_string();

    // -c: both files written, loaded with -a.
    env.ok(&["-c", "-u", PROFILE], Some(&xml));
    assert_eq!(
        env.parser.take_calls(),
        [format!(
            "--base {pd} {}-a {}",
            expr_opts(),
            profile.display()
        )]
    );
    let prof_text = fs::read_to_string(&profile).unwrap();
    assert!(prof_text.contains(&format!("profile {PROFILE} flags=(attach_disconnected) {{")));
    assert!(prof_text.contains(&format!("  #include <libvirt/{PROFILE}.files>\n\n}}\n")));
    assert_lines(
        &env.device_rules(),
        &[&format!("\"{}\" rwk,", env.tree.s("images/vm.img"))],
    );
    for p in [&profile, &files] {
        use std::os::unix::fs::MetadataExt;
        assert_eq!(fs::metadata(p).unwrap().mode() & 0o777, 0o644);
    }

    // -c again: refused, nothing changed, parser not run.
    let before = env.files();
    let o = env.run(&["-c", "-u", PROFILE], Some(&xml));
    assert_eq!(o.status.code(), Some(4), "{}", o.stderr);
    assert!(o.stderr.contains("already exists"));
    assert_eq!(env.files(), before);
    assert!(env.parser.take_calls().is_empty());

    // -r with a second disk: .files regenerated, loaded with -r, profile untouched.
    env.tree.file("images/second.img", b"");
    let xml2 = domain(
        &(disk(&env.tree.s("images/vm.img"), "vda", "")
            + &disk(&env.tree.s("images/second.img"), "vdb", "")),
        "",
    );
    env.ok(&["-r", "-u", PROFILE], Some(&xml2));
    assert_eq!(
        env.parser.take_calls(),
        [format!(
            "--base {pd} {}-r {}",
            expr_opts(),
            profile.display()
        )]
    );
    assert_eq!(fs::read_to_string(&profile).unwrap(), prof_text);
    assert_lines(
        &env.device_rules(),
        &[
            &format!("\"{}\" rwk,", env.tree.s("images/vm.img")),
            &format!("\"{}\" rwk,", env.tree.s("images/second.img")),
        ],
    );

    // -F extra: appended once, even when repeated; -F of a subtree.
    env.tree.file("hot/plug.img", b"");
    env.ok(
        &["-r", "-u", PROFILE, "-F", &env.tree.s("hot/plug.img")],
        Some(&xml2),
    );
    env.ok(
        &["-r", "-u", PROFILE, "-F", &env.tree.s("hot/plug.img")],
        Some(&xml2),
    );
    // A subtree that is no runtime directory of the domain: refused, nothing written.
    let o = env.run(
        &[
            "-r",
            "-u",
            PROFILE,
            "-F",
            &format!("{}/{{,**}}", env.tree.s("hot")),
        ],
        Some(&xml2),
    );
    assert_eq!(o.status.code(), Some(3), "{}", o.stderr);
    // The repeated -F finds its path granted: nothing written, no parser run.
    assert_eq!(env.parser.take_calls().len(), 1);
    let rules = env.device_rules();
    assert_eq!(
        rules[2..],
        [format!("\"{}\" rwk,", env.tree.s("hot/plug.img"))]
    );

    // A plain -r drops the -F rules (how libvirtd revokes a hot-unplugged disk).
    env.ok(&["-r", "-u", PROFILE], Some(&xml2));
    assert_eq!(env.device_rules().len(), 2);
    env.parser.take_calls();

    // -R: unload, files kept. Not loaded (exit 234): a warning, success.
    env.ok(&["-R", "-u", PROFILE], None);
    assert_eq!(
        env.parser.take_calls(),
        [format!("--base {pd} -R {}", profile.display())]
    );
    assert!(profile.exists() && files.exists());
    for mode in ["notloaded", "notloaded254"] {
        env.parser.set_mode(mode);
        let o = env.ok(&["-R", "-u", PROFILE], None);
        assert!(o.stderr.contains("was not loaded"), "{mode}: {}", o.stderr);
    }
    env.parser.set_mode("");
    env.parser.take_calls();

    // -D: unload and delete .files; the profile file stays (libvirt keeps local edits).
    env.ok(&["-D", "-u", PROFILE], None);
    assert_eq!(
        env.parser.take_calls(),
        [format!("--base {pd} -R {}", profile.display())]
    );
    assert!(profile.exists());
    assert!(!files.exists());
    assert!(!env.policy.lock_exists());
}

impl Policy {
    fn lock_exists(&self) -> bool {
        self.libvirt(&format!("{PROFILE}.lock")).exists()
    }
}

#[test]
fn only_the_profile_is_left_after_delete() {
    // The helper's AppArmor profile lets it create only libvirt-<uuid>* in libvirt/; every
    // file it makes there (lock, temporaries, .files) is gone after -D, the profile stays.
    let env = Host::new();
    let xml = xml_with_disk(&env.tree);
    let names = || -> Vec<String> { env.files().into_iter().map(|(n, _)| n).collect() };
    env.ok(&["-c", "-u", PROFILE], Some(&xml));
    assert_eq!(
        names(),
        [
            PROFILE.to_string(),
            format!("{PROFILE}.files"),
            format!("{PROFILE}.lock")
        ]
    );
    env.tree.file("hot/plug.img", b"");
    env.ok(
        &["-r", "-u", PROFILE, "-F", &env.tree.s("hot/plug.img")],
        Some(&xml),
    );
    env.ok(&["-r", "-u", PROFILE], Some(&xml));
    env.ok(&["-D", "-u", PROFILE], None);
    assert_eq!(env.parser.take_calls().len(), 4);
    assert_eq!(names(), [PROFILE]);
}

#[test]
fn failing_parser_on_replace_leaves_previous_files_byte_identical() {
    let env = Host::new();
    let xml = xml_with_disk(&env.tree);
    env.ok(&["-c", "-u", PROFILE], Some(&xml));
    let before = env.files();
    env.parser.take_calls();

    env.parser.set_mode("fail");
    env.tree.file("images/new.img", b"");
    let xml2 = domain(&disk(&env.tree.s("images/new.img"), "vdb", ""), "");
    for args in [
        &["-r", "-u", PROFILE][..],
        &["-r", "-u", PROFILE, "-F", &env.tree.s("images/new.img")],
    ] {
        let o = env.run(args, Some(&xml2));
        assert_eq!(o.status.code(), Some(7), "{}", o.stderr);
        let err = &o.stderr;
        assert!(
            err.contains("simulated failure"),
            "the parser's own message is shown: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert_eq!(env.files(), before, "previous files restored byte for byte");
    }
    assert_eq!(env.parser.take_calls().len(), 2);
}

#[test]
fn parser_runs_with_a_cleared_environment() {
    let env = Host::new();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_virt-aa-helper"));
    cmd.args(["-c", "-u", PROFILE, "--apparmor-dir"])
        .arg(&env.policy.dir)
        .arg("--parser")
        .arg(&env.parser.script)
        .env("LD_LIBRARY_PATH", "/nonexistent/evil")
        .env("APPARMOR_SECRET", "x")
        .env("PATH", "/tmp/evil:/usr/bin:/bin")
        .stdin(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(xml_with_disk(&env.tree).as_bytes())
            .unwrap();
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(env.parser.last_env(), ["PATH=/sbin:/usr/sbin"]);
}

#[test]
fn refuses_to_run_setuid() {
    // A copy of the binary, owned by root with the set-uid bit, run by an unprivileged
    // user: real and effective uids differ.
    assert!(
        is_root(),
        "this test needs root (CI runs as root) to install a set-uid copy of the binary"
    );
    let dir = tempfile::Builder::new().tempdir_in("/tmp").unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("virt-aa-helper");
    copy_of_the_binary(&bin, 0o4755);
    let o: Run = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .args(["-d", "-R", "-u", PROFILE])
        .output()
        .expect("setpriv (util-linux)")
        .into();
    assert_eq!(o.status.code(), Some(8), "{}", o.stderr);
    assert!(
        o.stderr.contains("refusing to run set-uid or set-gid"),
        "{}",
        o.stderr
    );
}

#[test]
fn failing_parser_on_create_leaves_nothing() {
    let env = Host::new();
    env.parser.set_mode("fail");
    let o = env.run(&["-c", "-u", PROFILE], Some(&xml_with_disk(&env.tree)));
    assert_eq!(o.status.code(), Some(7));
    // The lock file stays until -D (libvirtd runs -D when a start fails).
    let lock = format!("{PROFILE}.lock");
    let left: Vec<_> = env
        .files()
        .into_iter()
        .filter(|(n, _)| *n != lock)
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_profile_the_real_parser_rejects_is_rolled_back() {
    // An admin broke the installed template: the real parser (through the recorder)
    // rejects the result and the previous profile stays in place.
    let env = Host::new();
    let xml = xml_with_disk(&env.tree);
    env.ok(&["-c", "-u", PROFILE], Some(&xml));
    let before = env.files();
    // Empty the profile: -r recreates it from the (now broken) template.
    fs::write(env.policy.profile(), "").unwrap();
    let before_empty = env.files();
    fs::write(
        env.policy.libvirt("TEMPLATE.qemu"),
        "#include <tunables/global>\n\nprofile LIBVIRT_TEMPLATE {\n  this is not a rule\n}\n",
    )
    .unwrap();
    let o = env.run(&["-r", "-u", PROFILE], Some(&xml));
    assert_eq!(o.status.code(), Some(7), "{}", o.stderr);
    let mut after = env.files();
    after.retain(|(n, _)| n != "TEMPLATE.qemu");
    assert_eq!(after, before_empty);
    assert_ne!(before, before_empty);
}

#[test]
fn installed_legacy_template_is_filled_byte_compatibly() {
    let env = Host::new();
    let stock = "#\n# This profile is for the domain whose UUID matches this file.\n#\n\n#include <tunables/global>\n\nprofile LIBVIRT_TEMPLATE flags=(attach_disconnected) {\n  #include <abstractions/libvirt-qemu>\n  # local admin edit\n  /srv/shared/** r,\n}\n";
    fs::write(env.policy.libvirt("TEMPLATE.qemu"), stock).unwrap();
    env.ok(&["-c", "-u", PROFILE], Some(&xml_with_disk(&env.tree)));
    let want = stock
        .replace("profile LIBVIRT_TEMPLATE", &format!("profile {PROFILE}"))
        .replace(
            "/srv/shared/** r,\n}",
            &format!("/srv/shared/** r,\n  #include <libvirt/{PROFILE}.files>\n\n}}"),
        );
    assert_eq!(fs::read_to_string(env.policy.profile()).unwrap(), want);
    env.policy.compile(&env.policy.profile());
}

#[test]
fn installed_template_without_marker_is_refused() {
    let env = Host::new();
    fs::write(env.policy.libvirt("TEMPLATE.qemu"), "profile foo {\n}\n").unwrap();
    let o = env.run(&["-c", "-u", PROFILE], Some(&xml_with_disk(&env.tree)));
    assert_eq!(o.status.code(), Some(5));
    assert!(o.stderr.contains("LIBVIRT_TEMPLATE"), "{}", o.stderr);
    assert_eq!(env.files().len(), 1, "only the template");
}

#[test]
fn bad_input_is_one_line_nonzero_and_writes_nothing() {
    let env = Host::new();
    let good = xml_with_disk(&env.tree);
    let cases: Vec<(&str, Vec<String>, String, i32, &str)> = vec![
        (
            "malformed XML",
            vec![],
            good.replace("</devices>", "<devices>"),
            1,
            "domain XML: line",
        ),
        (
            "DOCTYPE",
            vec![],
            format!("<!DOCTYPE domain [<!ENTITY x 'y'>]>{good}"),
            1,
            "DOCTYPE",
        ),
        (
            "entity",
            vec![],
            good.replace("<name>virt-aa-helper-test</name>", "<name>&x;</name>"),
            1,
            "undefined entity",
        ),
        (
            "wrong uuid",
            vec![],
            good.replace("0123456789ab", "0123456789aa"),
            1,
            "does not match the domain's <uuid>",
        ),
        (
            "missing uuid",
            vec![],
            good.replace(&format!("<uuid>{UUID}</uuid>"), ""),
            1,
            "<uuid>: missing",
        ),
        (
            "unknown virt type",
            vec![],
            good.replace("type='kvm'", "type='hyperkvm'"),
            1,
            "unknown virtualization type 'hyperkvm'",
        ),
        (
            "no template for type",
            vec![],
            good.replace("type='kvm'", "type='xen'"),
            5,
            "TEMPLATE.xen",
        ),
        (
            "relative -F",
            vec!["-F".into(), "images/vm.img".into()],
            good.clone(),
            2,
            "-F 'images/vm.img': not an absolute path",
        ),
        (
            "restricted -F",
            vec!["-F".into(), "/etc/shadow".into()],
            good.clone(),
            3,
            "'/etc/shadow': /etc is never allowed",
        ),
        (
            "restricted subtree",
            vec!["-f".into(), "/usr/{,**}".into()],
            good.clone(),
            3,
            "'/usr': /usr is never allowed",
        ),
        (
            "root subtree",
            vec!["-F".into(), "/{,**}".into()],
            good.clone(),
            3,
            "root directory can never be granted",
        ),
        (
            "restricted disk",
            vec![],
            good.replace(&env.tree.s("images/vm.img"), "/etc/passwd"),
            3,
            "(from disk vda)",
        ),
        (
            "relative disk",
            vec![],
            good.replace(&env.tree.s("images/vm.img"), "vm.img"),
            3,
            "'vm.img': is not an absolute path",
        ),
        ("empty stdin", vec![], String::new(), 1, "no domain XML"),
        (
            "not a domain",
            vec![],
            "<network/>".into(),
            1,
            "root element must be <domain>",
        ),
        (
            "bad profile name",
            vec![
                "-u".into(),
                "libvirt-00000000-0000-0000-0000-0123456789AB".into(),
            ],
            good.clone(),
            2,
            "lower case",
        ),
    ];
    for (what, extra, xml, code, needle) in cases {
        for mode in ["-c", "-r"] {
            let mut args: Vec<&str> = vec![mode];
            if !extra.iter().any(|a| a == "-u") {
                args.extend(["-u", PROFILE]);
            }
            args.extend(extra.iter().map(String::as_str));
            let before = env.files();
            let o = env.run(&args, Some(&xml));
            let err = &o.stderr;
            if mode == "-r" && code != 2 && code != 1 && !err.contains(needle) {
                // -r without a profile fails earlier on the missing profile; covered below.
                assert_eq!(o.status.code(), Some(4), "{what} {mode}: {err}");
            } else {
                assert_eq!(o.status.code(), Some(code), "{what} {mode}: {err}");
                assert!(
                    err.contains(needle),
                    "{what} {mode}: want {needle:?} in {err}"
                );
            }
            let errors: Vec<_> = err.lines().filter(|l| l.contains(": error: ")).collect();
            assert_eq!(errors.len(), 1, "{what}: {err}");
            assert!(
                err.lines().all(|l| l.starts_with("virt-aa-helper: ")),
                "{what}: {err}"
            );
            assert!(o.stdout.is_empty(), "{what}");
            assert_eq!(env.files(), before, "{what} {mode}: nothing written");
        }
    }
    assert!(env.parser.take_calls().is_empty(), "the parser never ran");
    // With a profile in place, -r with bad input leaves it byte-identical too.
    env.ok(&["-c", "-u", PROFILE], Some(&good));
    env.parser.take_calls();
    let before = env.files();
    for xml in [
        good.replace("</devices>", "<devices>"),
        good.replace(&env.tree.s("images/vm.img"), "/etc/passwd"),
    ] {
        let o = env.run(&["-r", "-u", PROFILE], Some(&xml));
        assert!(!o.status.success());
        assert_eq!(env.files(), before);
    }
    assert!(env.parser.take_calls().is_empty());
}

#[test]
fn dry_run_writes_and_loads_nothing_in_every_mode() {
    let env = Host::new();
    let xml = xml_with_disk(&env.tree);
    let o = env.ok(&["-d", "-c", "-u", PROFILE], Some(&xml));
    assert!(o
        .stdout
        .contains(&format!("# would write {}", env.policy.files().display())));
    assert!(o.stdout.contains("# would run "));
    compile_dry_run(&o);
    assert!(env.files().is_empty());
    env.ok(&["-c", "-u", PROFILE], Some(&xml));
    env.parser.take_calls();
    let before = env.files();
    for args in [
        &["-d", "-r", "-u", PROFILE][..],
        &[
            "-d",
            "-r",
            "-u",
            PROFILE,
            "-F",
            "/var/lib/libvirt/images/x.img",
        ],
        &["-d", "-a", "-u", PROFILE],
        &["-d", "-R", "-u", PROFILE],
        &["-d", "-D", "-u", PROFILE],
    ] {
        let o = env.ok(args, Some(&xml));
        assert!(!o.stdout.is_empty(), "{args:?} prints what it would do");
        assert_eq!(env.files(), before, "{args:?}");
    }
    assert!(
        env.parser.take_calls().is_empty(),
        "a dry run never runs the parser"
    );
}

#[test]
fn lxc_profiles_have_no_files_include() {
    let env = Host::new();
    let xml = format!(
        "<domain type='lxc'><name>ct</name><uuid>{UUID}</uuid><os><type>exe</type><init>/sbin/init</init></os><devices/></domain>"
    );
    env.ok(&["-c", "-u", PROFILE], Some(&xml));
    let text = fs::read_to_string(env.policy.profile()).unwrap();
    assert!(text.contains("#include <abstractions/libvirt-lxc>"));
    assert!(!text.contains(".files"));
    assert!(
        !env.policy.files().exists(),
        "libvirt never writes .files for LXC"
    );
    assert_eq!(env.parser.take_calls().len(), 1);
}

#[test]
fn concurrent_appends_all_survive() {
    // libvirt 9.0: 8 rounds of 5 concurrent -F kept 1 of 40 rules (docs/weak-spots.md#w5).
    let env = Host::new();
    let xml = xml_with_disk(&env.tree);
    env.ok(&["-c", "-u", PROFILE], Some(&xml));
    let paths: Vec<String> = (0..12)
        .map(|i| env.tree.s(&format!("hot/{i}.img")))
        .collect();
    std::thread::scope(|s| {
        for p in &paths {
            let env = &env;
            let xml = &xml;
            s.spawn(move || env.ok(&["-r", "-u", PROFILE, "-F", p], Some(xml)));
        }
    });
    let rules = env.device_rules();
    for p in &paths {
        assert!(
            rules.contains(&format!("\"{p}\" rwk,")),
            "{p} lost: {rules:?}"
        );
    }
    assert_eq!(rules.len(), 1 + paths.len());
    env.policy.compile(&env.policy.profile());
}

#[test]
fn shipped_example_dry_run() {
    let xml =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/examples/demo.xml"))
            .unwrap();
    let o = run(
        &[
            "-d",
            "-c",
            "-u",
            "libvirt-6f1f3c36-6a7e-4c54-9b2a-3d1e5f0a7b11",
        ],
        Some(&xml),
    );
    assert!(o.status.success(), "{}", o.stderr);
    let rules = o.dry_rules();
    assert!(
        rules.contains(
            &"\"/var/lib/libvirt/images/debian-12 netinst \\[amd64\\].iso\" rk,".to_string()
        ),
        "{rules:?}"
    );
    compile_dry_run(&o);
}

#[test]
fn help_and_version() {
    let o = run(&["-h"], None);
    assert!(o.status.success());
    for flag in [
        "--create",
        "--replace",
        "--add",
        "--remove",
        "--delete",
        "--dryrun",
        "--uuid",
        "--add-file",
        "--append-file",
        "--apparmor-dir",
        "--parser",
        "--no-load",
    ] {
        assert!(o.stdout.contains(flag), "{flag}");
    }
    let o = run(&["--version"], None);
    assert_eq!(
        o.stdout.trim(),
        format!("virt-aa-helper {}", env!("CARGO_PKG_VERSION"))
    );
}

/// Writes a site configuration file (mode 0644) and returns its path.
fn config(t: &Tree, text: &str) -> String {
    let p = t.file("etc/virt-aa-helper.conf", text.as_bytes());
    p.display().to_string()
}

#[test]
fn site_configuration_chooses_deny_rules_and_the_include() {
    let env = Host::new();
    env.tree.qcow2("images/base.qcow2", None);
    env.tree
        .qcow2("images/top.qcow2", Some(("base.qcow2", "qcow2")));
    let xml = domain(
        &disk(
            &env.tree.s("images/top.qcow2"),
            "vda",
            "      <driver name='qemu' type='qcow2'/>\n",
        ),
        "",
    );
    let base = env.tree.s("images/base.qcow2");

    // Defaults: no deny rule on the backing file (libvirt 12.1: block-commit works), and
    // libvirt 9.0's required include.
    let cfg = config(&env.tree, "# nothing set\n");
    env.ok(&["-c", "-u", PROFILE, "--config", &cfg], Some(&xml));
    let rules = env.device_rules();
    assert!(rules.contains(&format!("\"{base}\" rk,")), "{rules:?}");
    assert!(!rules.iter().any(|r| r.starts_with("deny")), "{rules:?}");
    let profile = fs::read_to_string(env.policy.profile()).unwrap();
    assert!(profile.contains(&format!("  #include <libvirt/{PROFILE}.files>\n")));

    // libvirt 9.0's deny rule back; a missing .files cannot break the profile.
    fs::remove_file(env.policy.profile()).unwrap();
    let cfg = config(
        &env.tree,
        "backing_deny_write = yes\nfiles_include = if-exists\n",
    );
    env.ok(&["-c", "-u", PROFILE, "--config", &cfg], Some(&xml));
    assert!(env.device_rules().contains(&format!("deny \"{base}\" w,")));
    let profile = fs::read_to_string(env.policy.profile()).unwrap();
    assert!(profile.contains(&format!("  #include if exists <libvirt/{PROFILE}.files>\n")));
    fs::remove_file(env.policy.files()).unwrap();
    env.policy.compile(&env.policy.profile());
}

/// Block commit: libvirtd's `-F` of a backing layer (`rwk`) is appended and loaded by
/// default, since the layer's `rk` grants no write; under `backing_deny_write = yes` the
/// layer's `deny w` would refuse the write anyway, so the same `-F` is nothing to do
/// (`render::covers`, docs/weak-spots.md W6).
#[test]
fn append_of_a_backing_layer_is_loaded_unless_its_writes_are_denied() {
    let env = Host::new();
    env.tree.qcow2("images/base.qcow2", None);
    env.tree
        .qcow2("images/top.qcow2", Some(("base.qcow2", "qcow2")));
    let xml = domain(
        &disk(
            &env.tree.s("images/top.qcow2"),
            "vda",
            "      <driver name='qemu' type='qcow2'/>\n",
        ),
        "",
    );
    let base = env.tree.s("images/base.qcow2");
    for (setting, appended) in [("", true), ("backing_deny_write = yes\n", false)] {
        let cfg = config(&env.tree, setting);
        let _ = fs::remove_file(env.policy.profile());
        env.ok(&["-c", "-u", PROFILE, "--config", &cfg], Some(&xml));
        env.parser.take_calls();
        let before = env.files();
        let args = ["-r", "-u", PROFILE, "--config", &cfg, "-F", &base];
        let o = env.ok(&[&["-d"], &args[..]].concat(), Some(&xml));
        assert_eq!(
            o.stdout.starts_with("# nothing to do: "),
            !appended,
            "{setting:?}: {}",
            o.stdout
        );
        env.ok(&args, Some(&xml));
        let rules = env.device_rules();
        let grant = format!("\"{base}\" rwk,");
        if appended {
            assert_eq!(env.parser.take_calls().len(), 1, "{setting:?}");
            assert_eq!(rules.last(), Some(&grant), "{rules:?}");
            env.policy.compile(&env.policy.profile());
        } else {
            assert_eq!(env.parser.take_calls(), Vec::<String>::new());
            assert_eq!(env.files(), before);
            assert!(!rules.contains(&grant), "{rules:?}");
        }
    }
}

#[test]
fn bad_site_configuration_is_refused_with_its_line() {
    let env = Host::new();
    let xml = xml_with_disk(&env.tree);
    let cfg = config(
        &env.tree,
        "backing_deny_write = no\nfiles_include = sometimes\n",
    );
    let o = env.run(&["-c", "-u", PROFILE, "--config", &cfg], Some(&xml));
    assert_eq!(o.status.code(), Some(2), "{}", o.stderr);
    assert!(
        o.stderr
            .contains("virt-aa-helper.conf' line 2: files_include is required or if-exists"),
        "{}",
        o.stderr
    );
    assert!(env.files().is_empty());
    // Writable by others: a way around the policy, refused.
    let cfg = config(&env.tree, "backing_deny_write = no\n");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&cfg, fs::Permissions::from_mode(0o666)).unwrap();
    let o = env.run(&["-c", "-u", PROFILE, "--config", &cfg], Some(&xml));
    assert_eq!(o.status.code(), Some(2), "{}", o.stderr);
    assert!(
        o.stderr.contains("writable by group or others"),
        "{}",
        o.stderr
    );
    assert!(env.files().is_empty());
}

/// libvirtd's start sequence after `-c`, and a hotplug of a disk already granted: each `-F`
/// path the profile already grants (the domain's directories, which `-c` grants as libvirtd
/// does, a file inside one, a disk of the XML) writes nothing, keeps the files' mtimes and
/// runs no parser. A path not granted yet is appended and loaded.
#[test]
fn covered_append_writes_and_loads_nothing() {
    let env = Host::new();
    let xml = xml_with_disk(&env.tree);
    env.ok(&["-c", "-u", PROFILE], Some(&xml));
    assert_eq!(env.parser.take_calls().len(), 1);
    let before = env.files();
    let mtimes = || {
        [env.policy.profile(), env.policy.files()]
            .map(|p| fs::metadata(p).and_then(|m| m.modified()).expect("mtime"))
    };
    let written = mtimes();
    let dir = "/var/lib/libvirt/qemu/domain--1-virt-aa-helper-test";
    let disk = env.tree.s("images/vm.img");
    for extra in [
        format!("{dir}/{{,**}}"),
        "/var/lib/libvirt/qemu/channel/target/domain--1-virt-aa-helper-test/{,**}".to_string(),
        format!("{dir}/master-key.aes"),
        format!("{dir}/sub/{{,**}}"),
        disk.clone(),
    ] {
        let o = env.ok(&["-r", "-u", PROFILE, "-F", &extra], Some(&xml));
        assert!(o.stdout.is_empty(), "{extra}: {}", o.stdout);
        assert_eq!(env.parser.take_calls(), Vec::<String>::new(), "{extra}");
        assert_eq!(env.files(), before, "{extra}");
        assert_eq!(mtimes(), written, "{extra}");
    }
    // The dry run says so.
    let o = env.ok(&["-d", "-r", "-u", PROFILE, "-F", &disk], Some(&xml));
    assert!(o.stdout.starts_with("# nothing to do: "), "{}", o.stdout);

    // Not covered: a new file, and the parent of the granted directory.
    let new = env.tree.s("images/new.img");
    for extra in [new.as_str(), "/var/lib/libvirt/qemu/{,**}"] {
        let o = env.run(&["-r", "-u", PROFILE, "-F", extra], Some(&xml));
        if extra == new {
            assert!(o.status.success(), "{}", o.stderr);
            assert_eq!(env.parser.take_calls().len(), 1);
            assert_ne!(env.files(), before);
        } else {
            // A subtree containing every domain's state is refused, not covered.
            assert_eq!(o.status.code(), Some(3), "{}", o.stderr);
            assert_eq!(env.parser.take_calls(), Vec::<String>::new());
        }
    }
}

/// The parser's cache: text this run writes is always compiled (`--skip-read-cache`);
/// unchanged text is loaded from the cache, but never after an include was replaced, even
/// with an older mtime, as dpkg leaves it (the parser alone would serve the stale binary:
/// shown below); and `-r` after `-R` always runs the parser, so the profile is loaded.
#[test]
fn the_cache_serves_only_unchanged_policy() {
    let env = Host::new();
    let cache = env.tree.dir("cache");
    let cache_s = cache.display().to_string();
    env.parser.set_mode("cached");
    let xml = xml_with_disk(&env.tree);
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["-u", PROFILE, "--cache-dir", &cache_s]);
        env.ok(&all, Some(&xml));
        (env.parser.take_calls(), env.parser.take_cache_log())
    };
    let skips = |calls: &[String]| calls.iter().all(|c| c.contains("--skip-read-cache"));
    let hit = |log: &[String]| log.iter().any(|l| l.starts_with("Cache hit"));

    let (calls, log) = run(&["-c"]);
    assert_eq!(calls.len(), 1);
    assert!(
        skips(&calls) && calls[0].contains("--write-cache"),
        "{calls:?}"
    );
    assert!(!hit(&log), "{log:?}");
    std::thread::sleep(std::time::Duration::from_millis(20));

    // Unchanged: from the cache.
    let (calls, log) = run(&["-r"]);
    assert_eq!(calls.len(), 1);
    assert!(!skips(&calls), "{calls:?}");
    assert!(hit(&log), "{log:?}");

    // An abstraction the profile includes, replaced by rename with an old mtime.
    let abs = env.policy.dir.join("abstractions/libvirt-qemu");
    let mut text = fs::read_to_string(&abs).expect("abstraction");
    text = text.replacen("\n}", "\n  /srv/replaced r,\n}", 1);
    let tmp = abs.with_extension("dpkg-new");
    fs::write(&tmp, text).expect("write");
    let old = fs::FileTimes::new()
        .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000));
    fs::File::options()
        .write(true)
        .open(&tmp)
        .and_then(|f| f.set_times(old))
        .expect("old mtime");
    fs::rename(&tmp, &abs).expect("rename");
    // The hazard: the parser itself would call its stale binary a hit.
    let direct = std::process::Command::new(real_parser())
        .args([
            "-k",
            "-Q",
            "-M",
            "/usr/share/apparmor-features/features",
            "--base",
        ])
        .arg(&env.policy.dir)
        .args([
            "--write-cache",
            "--cache-loc",
            &cache_s,
            "--skip-bad-cache",
            "-r",
        ])
        .arg(env.policy.profile())
        .output()
        .expect("apparmor_parser");
    assert!(
        String::from_utf8_lossy(&direct.stderr).contains("Cache hit"),
        "{}",
        String::from_utf8_lossy(&direct.stderr)
    );
    let (calls, log) = run(&["-r"]);
    assert!(skips(&calls), "{calls:?}");
    assert!(!hit(&log), "{log:?}");

    // A changed .files (an -F) is compiled, not served from the cache.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let (calls, _) = run(&["-r"]);
    assert!(!skips(&calls), "unchanged again: {calls:?}");
    let new = env.tree.s("images/new.img");
    let (calls, log) = run(&["-r", "-F", &new]);
    assert!(skips(&calls) && !hit(&log), "{calls:?} {log:?}");

    // -R, then an unchanged -r: the parser runs (and loads).
    let (calls, _) = run(&["-R"]);
    assert_eq!(calls.len(), 1);
    assert!(calls[0].contains("-R "), "{calls:?}");
    let (calls, _) = run(&["-r", "-F", &new]);
    assert!(calls.is_empty(), "a covered -F after -R: {calls:?}");
    let (calls, _) = run(&["-r"]);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(calls[0].contains("-r "), "{calls:?}");
}

/// `-O no-expr-simplify` is given only to the parsers it changes nothing for: with each
/// parser the suite has (the host's and those of the Debian roots, `tests/roots/build.sh`),
/// the compiled policy of these profiles (a small domain, and one with 300 disks with
/// pattern characters in their names, a bridge helper's child profile, a share and GL) is
/// byte-identical with and without it exactly when the helper's rule for that parser's
/// release says to skip the simplifier (AppArmor 3.0: identical; 4.1 and 5.0: not, and
/// the helper leaves them their defaults). Which is faster is measured by benchmarks
/// (docs/parser-options.md), not here.
#[test]
fn expression_simplification_is_skipped_only_where_it_changes_nothing() {
    use virt_aa_helper::apparmor_parser::{parse_version, skips_expr_simplification};
    let env = Host::new();
    let mut disks = String::new();
    for i in 0..300 {
        disks.push_str(&disk(
            &env.tree.s(&format!("d{i}/x,{{y}}*{i}.qcow2")),
            &format!("vd{i}"),
            "",
        ));
    }
    let big = domain(
        &format!(
            "{disks}<interface type='bridge'><source bridge='br0'/></interface>\
             <graphics type='spice'><gl enable='yes' rendernode='/dev/dri/renderD128'/></graphics>\
             <filesystem type='mount'><source dir='{}'/><target dir='s'/></filesystem>",
            env.tree.dir("share").display()
        ),
        "",
    );
    let roots = ReleaseRoot::all();
    let host_version = {
        let o = std::process::Command::new(real_parser())
            .arg("--version")
            .output()
            .expect("apparmor_parser --version");
        parse_version(&String::from_utf8_lossy(&o.stdout)).expect("the host parser's release")
    };
    let mut seen = Vec::new();
    for xml in [xml_with_disk(&env.tree), big] {
        let _ = fs::remove_file(env.policy.profile());
        env.ok(&["-c", "-u", PROFILE, "--no-load"], Some(&xml));
        let host = |extra: &[&str]| {
            let o = std::process::Command::new(real_parser())
                .args([
                    "-Q",
                    "-K",
                    "-M",
                    "/usr/share/apparmor-features/features",
                    "--base",
                ])
                .arg(&env.policy.dir)
                .args(extra)
                .arg("-S")
                .arg(env.policy.profile())
                .output()
                .expect("apparmor_parser");
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            assert!(o.stdout.len() > 1000);
            o.stdout
        };
        let same = host(&[]) == host(&["-O", "no-expr-simplify"]);
        seen.push(("host".to_string(), host_version, same));
        let text = inline_files(
            &fs::read_to_string(env.policy.profile()).unwrap(),
            &fs::read_to_string(env.policy.files()).unwrap(),
        );
        for root in &roots {
            let same = root.compile(&text, &[]) == root.compile(&text, &["-O", "no-expr-simplify"]);
            seen.push((root.suite.to_string(), root.parser_version(), same));
        }
    }
    for (parser, version, same) in &seen {
        eprintln!("{parser}'s apparmor_parser {version:?}: the same policy with -O no-expr-simplify: {same}");
        assert!(
            *same || !skips_expr_simplification(Some(*version)),
            "{parser}'s apparmor_parser {version:?} compiles a different policy with -O \
             no-expr-simplify, which the helper passes it: revisit SKIP_SIMPLIFY_MAJORS \
             (src/apparmor_parser.rs)"
        );
    }
    // The parsers differ: 4.1 changes the policy (so the rule above is not vacuous).
    assert!(seen.iter().any(|s| !s.2), "{seen:?}");
}

/// What `strace -f -e trace=%file,%desc` of one run shows that would change the host or
/// run a program: an open for writing or creating, a rename, removal, link, directory or
/// node creation, a change of mode, owner, size or times, a lock, a write to anything but
/// standard output and error, and an exec after the helper's own. Attempts count too,
/// failed or not.
fn changes_in_trace(trace: &str) -> Vec<String> {
    const CHANGES: &[&str] = &[
        "creat",
        "rename",
        "renameat",
        "renameat2",
        "unlink",
        "unlinkat",
        "rmdir",
        "mkdir",
        "mkdirat",
        "mknod",
        "mknodat",
        "link",
        "linkat",
        "symlink",
        "symlinkat",
        "chmod",
        "fchmod",
        "fchmodat",
        "fchmodat2",
        "chown",
        "fchown",
        "fchownat",
        "lchown",
        "truncate",
        "ftruncate",
        "utimensat",
        "flock",
        "fallocate",
    ];
    let mut execs = 0;
    let mut found = Vec::new();
    for line in trace.lines() {
        // "PID call(args) = result" under -f; the call alone for the first process.
        let call = match line.split_once(' ') {
            Some((pid, rest)) if pid.bytes().all(|b| b.is_ascii_digit()) => rest.trim_start(),
            _ => line,
        };
        let name = call.split('(').next().unwrap_or("");
        let change = match name {
            "open" | "openat" | "openat2" => ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC"]
                .iter()
                .any(|f| call.contains(f)),
            "write" | "writev" | "pwrite64" | "pwritev" | "pwritev2" => {
                !call.starts_with(&format!("{name}(1,")) && !call.starts_with(&format!("{name}(2,"))
            }
            "execve" | "execveat" => {
                execs += 1;
                execs > 1
            }
            other => CHANGES.contains(&other),
        };
        if change {
            found.push(line.to_string());
        }
    }
    found
}

/// Runs the helper under strace with the environment's arguments; returns the trace.
fn traced(env: &Host, args: &[&str], xml: Option<&str>) -> String {
    let log = env.tree.path("strace.log");
    let _ = fs::remove_file(&log);
    let dir = env.policy.dir.to_str().unwrap().to_string();
    let parser = env.parser.script.to_str().unwrap().to_string();
    let cache = env.tree.s("no-cache");
    let mut child = std::process::Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=%file,%desc", "-o"])
        .arg(&log)
        .arg(env!("CARGO_BIN_EXE_virt-aa-helper"))
        .args(args)
        .args([
            "--apparmor-dir",
            &dir,
            "--parser",
            &parser,
            "--cache-dir",
            &cache,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("strace (tests/setup.sh installs it)");
    {
        use std::io::Write;
        let mut pipe = child.stdin.take().expect("stdin");
        let _ = pipe.write_all(xml.unwrap_or("").as_bytes());
    }
    let o: Run = child.wait_with_output().expect("wait for strace").into();
    assert!(o.status.success(), "{args:?}: {}", o.stderr);
    fs::read_to_string(&log).expect("strace's log")
}

/// A dry run of every mode writes nothing, creates, renames, removes, locks or changes the
/// mode of nothing, and runs no program (not even `apparmor_parser --version`), as strace
/// sees it; the same check on the real runs finds their writes and the parser (the
/// negative control).
#[test]
fn a_dry_run_writes_nothing_and_runs_nothing() {
    let env = Host::new();
    let xml = xml_with_disk(&env.tree);
    env.tree.file("hot/plug.img", b"");
    let plug = env.tree.s("hot/plug.img");
    let dry_create = traced(&env, &["-d", "-c", "-u", PROFILE], Some(&xml));
    assert_eq!(changes_in_trace(&dry_create), Vec::<String>::new(), "-d -c");
    assert!(
        dry_create.contains("vm.img"),
        "the trace shows the run: {dry_create}"
    );
    // The negative control: the real -c writes and runs the parser.
    let create = traced(&env, &["-c", "-u", PROFILE], Some(&xml));
    let changes = changes_in_trace(&create);
    for want in ["rename", "O_CREAT", "flock", "execve"] {
        assert!(
            changes.iter().any(|c| c.contains(want)),
            "the check sees {want} in the real -c: {changes:#?}"
        );
    }
    for args in [
        &["-d", "-r", "-u", PROFILE][..],
        &["-d", "-r", "-u", PROFILE, "-F", &plug],
        &["-d", "-r", "-u", PROFILE, "-f", &plug],
        &["-d", "-a", "-u", PROFILE],
        &["-d", "-R", "-u", PROFILE],
        &["-d", "-D", "-u", PROFILE],
        &["-d", "--reload-all"],
    ] {
        let xml = args.contains(&"-r").then_some(xml.as_str());
        let trace = traced(&env, args, xml);
        assert_eq!(changes_in_trace(&trace), Vec::<String>::new(), "{args:?}");
        assert!(
            trace.contains(PROFILE),
            "{args:?}: the trace shows the run: {trace}"
        );
    }
    let delete = traced(&env, &["-D", "-u", PROFILE], None);
    assert!(
        changes_in_trace(&delete)
            .iter()
            .any(|c| c.contains("unlink")),
        "the check sees the real -D remove .files: {delete}"
    );
    assert!(
        env.parser.take_calls().len() >= 2,
        "the real runs ran the parser"
    );
}
