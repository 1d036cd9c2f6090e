//! One test (or a few) per weak spot of libvirt 9.0's helper, W1 to W14, each written down in
//! `docs/weak-spots.md`: what libvirt 9.0 did, what this tool does instead. A test is named
//! after its weak spot (`w01_...` to `w14_...`), cites its section with a
//! `// See docs/weak-spots.md#wN` line, and runs the built binary end to end on the exact
//! input that showed the weak spot, so it fails if the weak spot comes back.
//!
//! `every_cited_weak_spot_is_written_down` keeps the citations honest: every `W<n>` the
//! sources, tests and docs mention must have its section, and nothing may point at notes
//! outside the repository.

use crate::support::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `domain()` with a domain id, as in the live XML libvirtd passes.
fn domain_with_id(id: u32, name: &str, devices: &str, os: &str) -> String {
    domain_named(name, devices, os).replacen(
        "<domain type='kvm'>",
        &format!("<domain type='kvm' id='{id}'>"),
        1,
    )
}

fn qcow2_disk(path: &str, target: &str) -> String {
    disk(path, target, "      <driver name='qemu' type='qcow2'/>\n")
}

fn share(dir: &str) -> String {
    format!(
        "    <filesystem type='mount' accessmode='passthrough'>\n      <source dir='{}'/>\n      <target dir='t'/>\n    </filesystem>\n",
        xml_attr(dir)
    )
}

fn smartcard(database: &str) -> String {
    format!(
        "    <smartcard mode='host-certificates'>\n      <certificate>a</certificate><certificate>b</certificate><certificate>c</certificate>\n      <database>{}</database>\n    </smartcard>\n",
        database.replace('&', "&amp;").replace('<', "&lt;")
    )
}

/// A backing layer's rule: read-only, without libvirt 9.0's `deny w` (the default
/// `backing_deny_write = no`, see W6).
fn ro(path: &str) -> [String; 1] {
    [format!("\"{path}\" rk,")]
}

// See docs/weak-spots.md#w1
#[test]
fn w01_pattern_characters_in_a_disk_path_match_only_that_file() {
    let t = Tree::new();
    let names = ["{a,b}/x.img", "star*.img", "@{HOME}.img", "q?[x]^.img"];
    let mut devices = String::new();
    for (i, n) in names.iter().enumerate() {
        t.file(n, b"");
        let target = format!("vd{}", char::from(b'a' + i as u8));
        devices.push_str(&disk(&t.s(n), &target, ""));
    }
    // Files the unescaped patterns would also match.
    t.file("a/x.img", b"");
    t.file("starX.img", b"");
    let (policy, _) = create_ok(&domain(&devices, ""), &[]);
    for n in names {
        assert_literal_rule(&policy, &policy.profile(), &t.path(n));
    }
}

// See docs/weak-spots.md#w1
#[test]
fn w01_pattern_characters_in_append_file_are_literal() {
    let t = Tree::new();
    // A file the unescaped pattern would also match.
    t.file("hot/vm1.img", b"");
    let star = t.path("hot/vm*.img");
    let (policy, _) = create_ok(&domain("", ""), &["-F", &t.s("hot/vm*.img")]);
    assert_literal_rule(&policy, &policy.profile(), &star);
}

// See docs/weak-spots.md#w1
#[test]
fn w01_missing_tail_is_folded() {
    let t = Tree::new();
    let o = dry_create(&domain(&disk(&t.s("missing/../x.img"), "vda", ""), ""), &[]);
    assert_lines(&o.device_rules(), &[&format!("\"{}\" rwk,", t.s("x.img"))]);
}

// See docs/weak-spots.md#w2
#[test]
fn w02_restricted_directory_shares_are_refused_with_or_without_slash() {
    for dir in ["/etc", "/etc/", "/sys", "/sys/", "/usr", "/"] {
        let err = create_refused(&domain(&share(dir), ""), &[], 3);
        assert!(err.contains("(from filesystem t)"), "{dir}: {err}");
    }
}

// See docs/weak-spots.md#w2
#[test]
fn w02_prefixes_are_compared_by_component() {
    let devices = [
        disk("/etcetera/x.img", "vda", ""),
        disk("/usrdata/x.img", "vdb", ""),
    ]
    .concat();
    let o = dry_create(&domain(&devices, ""), &[]);
    assert_lines(
        &o.device_rules(),
        &["\"/etcetera/x.img\" rwk,", "\"/usrdata/x.img\" rwk,"],
    );
    // And a restricted tree reached through a link is refused by its target.
    let t = Tree::new();
    t.symlink("etc", "/etc");
    let err = create_refused(&domain(&share(&t.s("etc")), ""), &[], 3);
    assert!(err.contains("'/etc'"), "{err}");
}

// See docs/weak-spots.md#w3
#[test]
fn w03_smartcard_database_cannot_inject_rules() {
    let t = Tree::new();
    // libvirt 9.0 made this three rules, the second one `/** rwkl,`.
    let db = format!("{}\" rwkl, /** rwkl, #", t.s("x"));
    let (policy, _) = create_ok(&domain(&smartcard(&db), ""), &[]);
    let text = fs::read_to_string(policy.files()).expect(".files");
    let rules: Vec<String> = text
        .lines()
        .filter(|l| l.ends_with("# smartcard 0"))
        .map(|l| l.trim().to_string())
        .collect();
    assert_eq!(
        rules,
        [format!(
            "\"{}\\\" rwkl\\, /\\*\\* rwkl\\, \\043/{{,*}}\" rk,  # smartcard 0",
            t.s("x")
        )]
    );
    // With a line break the database cannot be written into a rule at all.
    let db = format!("{}\n  /** rwkl,\n  #", t.s("x"));
    let err = create_refused(&domain(&smartcard(&db), ""), &[], 3);
    assert!(err.contains("U+000A"), "{err}");
}

// See docs/weak-spots.md#w3
#[test]
fn w03_smartcard_database_is_checked_like_any_path() {
    let err = create_refused(&domain(&smartcard("/etc"), ""), &[], 3);
    assert!(err.contains("'/etc'"), "{err}");
    let t = Tree::new();
    t.dir("nss");
    let o = dry_create(&domain(&smartcard(&t.s("nss")), ""), &[]);
    assert_lines(
        &o.device_rules(),
        &[&format!("\"{}/{{,*}}\" rk,", t.s("nss"))],
    );
}

// See docs/weak-spots.md#w4
#[test]
fn w04_failed_replace_restores_the_previous_files() {
    let h = Host::new();
    h.tree.file("vm.img", b"");
    h.tree.file("new.img", b"");
    let xml = domain(&disk(&h.tree.s("vm.img"), "vda", ""), "");
    h.ok(&["-c", "-u", PROFILE], Some(&xml));
    let before = h.files();
    h.parser.set_mode("fail");
    let xml2 = domain(&disk(&h.tree.s("new.img"), "vdb", ""), "");
    let new = h.tree.s("new.img");
    for args in [
        &["-r", "-u", PROFILE][..],
        &["-r", "-u", PROFILE, "-F", &new],
    ] {
        let o = h.run(args, Some(&xml2));
        assert_eq!(o.status.code(), Some(7), "{args:?}: {}", o.stderr);
        assert!(o.stderr.contains("simulated failure"), "{}", o.stderr);
        assert_eq!(h.files(), before, "{args:?}: restored byte for byte");
    }
    h.parser.set_mode("");
    h.policy.compile(&h.policy.profile());
}

// See docs/weak-spots.md#w4
#[test]
fn w04_append_without_files_writes_the_full_set() {
    let h = Host::new();
    h.tree.file("vm.img", b"");
    let xml = domain(&disk(&h.tree.s("vm.img"), "vda", ""), "");
    h.ok(&["-c", "-u", PROFILE], Some(&xml));
    let full = h.rules();
    fs::remove_file(h.policy.files()).expect("rm .files");
    let hot = h.tree.s("hot.img");
    h.ok(&["-r", "-u", PROFILE, "-F", &hot], Some(&xml));
    let mut want = full;
    want.push(format!("\"{hot}\" rwk,"));
    assert_eq!(h.rules(), want);
}

// See docs/weak-spots.md#w5
#[test]
fn w05_concurrent_appends_all_survive() {
    let h = Host::new();
    let xml = domain("", "");
    h.ok(&["-c", "-u", PROFILE], Some(&xml));
    let before = h.rules();
    let paths: Vec<String> = (0..10).map(|i| h.tree.s(&format!("hot/{i}.img"))).collect();
    std::thread::scope(|s| {
        for p in &paths {
            let (h, xml) = (&h, &xml);
            s.spawn(move || h.ok(&["-r", "-u", PROFILE, "-F", p], Some(xml)));
        }
    });
    let rules = h.rules();
    assert_eq!(rules[..before.len()], before[..]);
    let mut appended = rules[before.len()..].to_vec();
    appended.sort();
    let mut want: Vec<String> = paths.iter().map(|p| format!("\"{p}\" rwk,")).collect();
    want.sort();
    assert_eq!(appended, want, "every concurrent -F kept, once");
    let names: Vec<String> = h.files().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            PROFILE.to_string(),
            format!("{PROFILE}.files"),
            format!("{PROFILE}.lock")
        ],
        "no temporary file left behind"
    );
    h.policy.compile(&h.policy.profile());
}

// See docs/weak-spots.md#w6
#[test]
fn w06_plain_replace_keeps_the_domains_runtime_directories() {
    let h = Host::new();
    let name = "virt-aa-helper-test";
    let xml = domain_with_id(3, name, "", "");
    h.ok(&["-c", "-u", PROFILE], Some(&xml));
    // libvirtd at start: the private directory and its channel twin, with everything below.
    for dir in [
        "/var/lib/libvirt/qemu/domain-3-virt-aa-helper-test/{,**}",
        "/var/lib/libvirt/qemu/channel/target/domain-3-virt-aa-helper-test/{,**}",
    ] {
        h.ok(&["-r", "-u", PROFILE, "-F", dir], Some(&xml));
    }
    // An unplug: libvirtd regenerates from the XML, which drops -F grants.
    h.ok(&["-r", "-u", PROFILE], Some(&xml));
    let rules = without_vhost_net(h.rules());
    assert_lines(
        &rules,
        &[
            "\"/var/log/libvirt/qemu/virt-aa-helper-test.log\" w,",
            "\"/var/lib/libvirt/qemu/domain-3-virt-aa-helper-test/{,**}\" rwk,",
            "\"/var/lib/libvirt/qemu/channel/target/domain-3-virt-aa-helper-test/{,**}\" rwk,",
            "\"/run/libvirt/qemu/virt-aa-helper-test.pid\" rwk,",
            "\"/var/lib/libvirt/qemu/nvram/virt-aa-helper-test_VARS.fd\" rwk,",
            "audit deny \"/var/lib/libvirt/qemu/nvram/{[^v/]*,v{,[^i/]*,i{,[^r/]*,r{,[^t/]*,t{,[^-/]*,-{,[^a/]*,a{,[^a/]*,a{,[^-/]*,-{,[^h/]*,h{,[^e/]*,e{,[^l/]*,l{,[^p/]*,p{,[^e/]*,e{,[^r/]*,r{,[^-/]*,-{,[^t/]*,t{,[^e/]*,e{,[^s/]*,s{,[^t/]*,t{,[^\\137/]*,_{,[^V/]*,V{,[^A/]*,A{,[^R/]*,R{,[^S/]*,S{,[^\\056/]*,.{,[^fqr/]*,f{,[^d/]*,d?*},q{,[^c/]*,c{,[^o/]*,o{,[^w/]*,w{,[^2/]*,2?*}}}},r{,[^a/]*,a{,[^w/]*,w?*}}}}}}}}}}}}}}}}}}}}}}}}}}}}\" rwk,",
        ],
    );
}

// See docs/weak-spots.md#w6
#[test]
fn w06_read_only_disks_and_backing_files_without_deny_by_default() {
    let h = Host::new();
    h.tree.qcow2("base.qcow2", None);
    h.tree.qcow2("top.qcow2", Some(("base.qcow2", "qcow2")));
    h.tree.file("cd.iso", b"iso");
    let cdrom = format!(
        "    <disk type='file' device='cdrom'>\n      <source file='{}'/>\n      <target dev='hdc' bus='ide'/>\n      <readonly/>\n    </disk>\n",
        h.tree.s("cd.iso")
    );
    let xml = domain(
        &[qcow2_disk(&h.tree.s("top.qcow2"), "vda"), cdrom].concat(),
        "",
    );
    let (top, base, cd) = (
        h.tree.s("top.qcow2"),
        h.tree.s("base.qcow2"),
        h.tree.s("cd.iso"),
    );
    let mine = |rules: Vec<String>| -> Vec<String> {
        rules
            .into_iter()
            .filter(|r| r.contains(&h.tree.s("")))
            .collect()
    };
    // No configuration file: libvirt 12.1's rules, read-only without a deny rule.
    let none = "/nonexistent/virt-aa-helper.conf";
    h.ok(&["-c", "-u", PROFILE, "--config", none], Some(&xml));
    assert_eq!(h.parser.take_calls().len(), 1);
    // block-commit: libvirtd makes the backing file writable with -F, and it is.
    h.ok(
        &["-r", "-u", PROFILE, "--config", none, "-F", &base],
        Some(&xml),
    );
    assert_eq!(h.parser.take_calls().len(), 1, "-F of a layer is loaded");
    assert_eq!(
        mine(h.rules()),
        [
            format!("\"{top}\" rwk,"),
            format!("\"{base}\" rk,"),
            format!("\"{cd}\" rk,"),
            format!("\"{base}\" rwk,"),
        ],
        "no deny rule"
    );
    h.policy.compile(&h.policy.profile());

    // `backing_deny_write = yes`: libvirt 9.0's deny rules, and the -F changes nothing.
    let cfg = h
        .tree
        .file("virt-aa-helper.conf", b"backing_deny_write = yes\n");
    let cfg = cfg.to_str().expect("utf-8");
    h.ok(&["-r", "-u", PROFILE, "--config", cfg], Some(&xml));
    h.parser.take_calls();
    let o = h.ok(
        &["-r", "-u", PROFILE, "--config", cfg, "-F", &base],
        Some(&xml),
    );
    assert!(o.stdout.is_empty(), "{}", o.stdout);
    assert_eq!(h.parser.take_calls(), Vec::<String>::new());
    assert_eq!(
        mine(h.rules()),
        [
            format!("\"{top}\" rwk,"),
            ro_denied(&base)[0].clone(),
            ro_denied(&base)[1].clone(),
            ro_denied(&cd)[0].clone(),
            ro_denied(&cd)[1].clone(),
        ],
        "libvirt 9.0's deny rules"
    );
    h.policy.compile(&h.policy.profile());
}

/// libvirt 9.0's read-only pair, `backing_deny_write = yes`.
fn ro_denied(path: &str) -> [String; 2] {
    [format!("\"{path}\" rk,"), format!("deny \"{path}\" w,")]
}

// See docs/weak-spots.md#w7
#[test]
fn w07_template_with_a_hat_gets_one_include_and_is_not_truncated() {
    let h = Host::new();
    let template = "#include <tunables/global>\n\nprofile LIBVIRT_TEMPLATE flags=(attach_disconnected) {\n  #include <abstractions/libvirt-qemu>\n  ^hat {\n    /srv/hat/** r,\n}\n}\n";
    fs::write(h.policy.libvirt("TEMPLATE.qemu"), template).expect("template");
    h.ok(&["-c", "-u", PROFILE], Some(&domain("", "")));
    let want = format!(
        "#include <tunables/global>\n\nprofile {PROFILE} flags=(attach_disconnected) {{\n  #include <abstractions/libvirt-qemu>\n  ^hat {{\n    /srv/hat/** r,\n}}\n  #include <libvirt/{PROFILE}.files>\n\n}}\n"
    );
    assert_eq!(
        fs::read_to_string(h.policy.profile()).expect("profile"),
        want
    );
    h.policy.compile(&h.policy.profile());
}

// See docs/weak-spots.md#w8
#[test]
fn w08_backslash_in_name_and_path_compiles() {
    let t = Tree::new();
    t.file("back\\", b"");
    let xml = domain_named("vah\\", &disk(&t.s("back\\"), "vda", ""), "");
    let (policy, _) = create_ok(&xml, &[]);
    let rules: Vec<String> = fs::read_to_string(policy.files())
        .expect(".files")
        .lines()
        .map(|l| l.split("  #").next().unwrap_or("").trim().to_string())
        .collect();
    for want in [
        "\"/var/log/libvirt/qemu/vah\\134.log\" w,".to_string(),
        "\"/run/libvirt/qemu/vah\\134.pid\" rwk,".to_string(),
        format!("\"{}\\134\" rwk,", t.s("back")),
    ] {
        assert!(rules.contains(&want), "{want} in {rules:?}");
    }
    assert_literal_rule(&policy, &policy.profile(), &t.path("back\\"));
}

// See docs/weak-spots.md#w8
#[test]
fn w08_root_and_relative_paths_are_refused() {
    let err = create_refused(&domain(&disk("/", "vda", ""), ""), &[], 3);
    assert!(err.contains("root directory"), "{err}");
    for flag in ["-f", "-F"] {
        let err = create_refused(&domain("", ""), &[flag, "relative.img"], 2);
        assert!(err.contains("not an absolute path"), "{err}");
    }
}

// See docs/weak-spots.md#w9
#[test]
fn w09_short_name_is_20_characters_in_every_locale() {
    let name = "é".repeat(23);
    let short = "é".repeat(20);
    let xml = domain_with_id(
        7,
        &name,
        "    <tpm model='tpm-tis'><backend type='emulator' version='2.0'/></tpm>\n",
        "",
    );
    let mut outputs = Vec::new();
    for locale in ["C", "POSIX", "C.UTF-8", "en_US.UTF-8"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_virt-aa-helper"))
            .args(["-d", "-c", "-u", PROFILE])
            .env("LC_ALL", locale)
            .env("LANG", locale)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(xml.as_bytes()).expect("write xml");
        }
        let o: Run = child.wait_with_output().expect("wait").into();
        assert!(o.status.success(), "{locale}: {}", o.stderr);
        outputs.push(o);
    }
    for o in &outputs[1..] {
        assert_eq!(o.stdout, outputs[0].stdout, "the locale changes nothing");
    }
    let rules = outputs[0].dry_rules();
    for want in [
        format!("\"/var/lib/libvirt/qemu/domain-7-{short}/{{,**}}\" rwk,"),
        format!("\"/var/lib/libvirt/qemu/channel/target/domain-7-{short}/{{,**}}\" rwk,"),
        format!("\"/run/libvirt/qemu/swtpm/7-{short}-swtpm.sock\" rw,"),
        format!("\"/run/libvirt/qemu/swtpm/7-{short}-swtpm.pid\" rw,"),
    ] {
        assert!(rules.contains(&want), "{want} in {rules:?}");
    }
    compile_dry_run(&outputs[0]);
}

// See docs/weak-spots.md#w10
#[test]
fn w10_tpm_without_version_gets_the_drivers_version() {
    for (model, version) in [("tpm-tis", "tpm1.2"), ("tpm-crb", "tpm2")] {
        let tpm = format!("    <tpm model='{model}'><backend type='emulator'/></tpm>\n");
        let o = dry_create(&domain(&tpm, ""), &[]);
        assert!(!o.stdout.contains("(null)"), "{}", o.stdout);
        let dir = format!("/var/lib/libvirt/swtpm/{UUID}/{version}/");
        let rules = o.device_rules();
        for want in [format!("\"{dir}\" r,"), format!("\"{dir}**\" rwk,")] {
            assert!(rules.contains(&want), "{model}: {want} in {rules:?}");
        }
    }
}

// See docs/weak-spots.md#w10
#[test]
fn w10_restricted_render_node_and_append_file_fail_the_run() {
    for graphics in [
        "    <graphics type='spice'><gl enable='yes' rendernode='/dev/mem'/></graphics>\n",
        "    <graphics type='egl-headless'><gl rendernode='/etc/passwd'/></graphics>\n",
    ] {
        let err = create_refused(&domain(graphics, ""), &[], 3);
        assert!(err.contains("never allowed"), "{err}");
    }
    // The -F path of a replace (libvirt 9.0's vah.c:1505-1507 left rc unset).
    let h = Host::new();
    h.ok(&["-c", "-u", PROFILE], Some(&domain("", "")));
    h.parser.take_calls();
    let before = h.files();
    let o = h.run(
        &["-r", "-u", PROFILE, "-F", "/etc/passwd"],
        Some(&domain("", "")),
    );
    assert_eq!(o.status.code(), Some(3), "{}", o.stderr);
    assert_eq!(h.files(), before);
    assert!(h.parser.take_calls().is_empty());
}

// See docs/weak-spots.md#w10
#[test]
fn w10_capabilities_host_devices_get_no_rules() {
    let devices = "    <hostdev mode='capabilities' type='storage'><source><block>/dev/sdf1</block></source></hostdev>\n    <hostdev mode='capabilities' type='misc'><source><char>/dev/input/event3</char></source></hostdev>\n";
    let o = dry_create(&domain(devices, ""), &[]);
    assert_lines(&o.device_rules(), &[]);
}

// See docs/weak-spots.md#w11
#[test]
fn w11_backing_chain_loop_is_an_error_naming_the_cycle() {
    let t = Tree::new();
    t.qcow2("a.qcow2", Some(("b.qcow2", "qcow2")));
    t.qcow2("b.qcow2", Some(("a.qcow2", "qcow2")));
    let err = create_refused(&domain(&qcow2_disk(&t.s("a.qcow2"), "vda"), ""), &[], 3);
    let (a, b) = (t.s("a.qcow2"), t.s("b.qcow2"));
    assert!(
        err.contains(&format!("backing chain loop: '{a}' -> '{b}' -> '{a}'")),
        "{err}"
    );
}

// See docs/weak-spots.md#w11
#[test]
fn w11_unknown_backing_format_is_not_probed() {
    // QED cannot record a non-raw backing format: mid.qcow2 gets its rule, but its header
    // (which names deep.qcow2) is not read. libvirt 9.0 probed it.
    let t = Tree::new();
    t.qcow2("deep.qcow2", None);
    t.qcow2("mid.qcow2", Some(("deep.qcow2", "qcow2")));
    let top = t.path("top.qed");
    let out = Command::new(qemu_img())
        .args([
            "create",
            "-q",
            "-f",
            "qed",
            "-b",
            "mid.qcow2",
            "-F",
            "qcow2",
        ])
        .arg(&top)
        .arg("1M")
        .output()
        .expect("qemu-img");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = domain(
        &disk(
            &t.s("top.qed"),
            "vda",
            "      <driver name='qemu' type='qed'/>\n",
        ),
        "",
    );
    let o = dry_create(&xml, &[]);
    let mid = ro(&t.s("mid.qcow2"));
    assert_lines(
        &o.device_rules(),
        &[&format!("\"{}\" rwk,", t.s("top.qed")), &mid[0]],
    );
    assert!(o.stderr.contains("is not probed"), "{}", o.stderr);
}

// See docs/weak-spots.md#w11
#[test]
fn w11_shared_backing_file_is_written_once() {
    let t = Tree::new();
    t.qcow2("base.qcow2", None);
    t.qcow2("one.qcow2", Some(("base.qcow2", "qcow2")));
    t.qcow2("two.qcow2", Some(("base.qcow2", "qcow2")));
    let devices = [
        qcow2_disk(&t.s("one.qcow2"), "vda"),
        qcow2_disk(&t.s("two.qcow2"), "vdb"),
    ]
    .concat();
    let o = dry_create(&domain(&devices, ""), &[]);
    let base = ro(&t.s("base.qcow2"));
    assert_lines(
        &o.device_rules(),
        &[
            &format!("\"{}\" rwk,", t.s("one.qcow2")),
            &base[0],
            &format!("\"{}\" rwk,", t.s("two.qcow2")),
        ],
    );
}

// See docs/weak-spots.md#w11
#[test]
fn w11_chain_problems_are_named_not_swallowed() {
    let t = Tree::new();
    // A missing backing file keeps its rule, with a warning naming it.
    t.qcow2("miss.qcow2", Some(("missing.qcow2", "qcow2")));
    let o = dry_create(&domain(&qcow2_disk(&t.s("miss.qcow2"), "vda"), ""), &[]);
    let missing = ro(&t.s("missing.qcow2"));
    assert_lines(
        &o.device_rules(),
        &[&format!("\"{}\" rwk,", t.s("miss.qcow2")), &missing[0]],
    );
    assert!(
        o.stderr.contains(&format!(
            "'{}' (from disk vda backing 1)",
            t.s("missing.qcow2")
        )),
        "{}",
        o.stderr
    );
    // A network backing name: no rule, no network access, a warning.
    t.qcow2("net.qcow2", Some(("nbd://host.invalid/x", "raw")));
    let o = dry_create(&domain(&qcow2_disk(&t.s("net.qcow2"), "vda"), ""), &[]);
    assert_lines(
        &o.device_rules(),
        &[&format!("\"{}\" rwk,", t.s("net.qcow2"))],
    );
    assert!(o.stderr.contains("non-local"), "{}", o.stderr);
    // A header naming a restricted file: refused, and the message says where the name is from.
    t.qcow2("etc.qcow2", Some(("/etc/passwd", "raw")));
    let err = create_refused(&domain(&qcow2_disk(&t.s("etc.qcow2"), "vda"), ""), &[], 3);
    assert!(err.contains("comes from an image header"), "{err}");
}

// See docs/weak-spots.md#w12
#[test]
fn w12_dry_run_changes_nothing_in_every_mode() {
    let h = Host::new();
    h.ok(&["-c", "-u", PROFILE], Some(&domain("", "")));
    h.parser.take_calls();
    let before = h.files();
    for mode in ["-a", "-R", "-D"] {
        let o = h.ok(&["-d", mode, "-u", PROFILE], None);
        assert!(o.stdout.contains("# would run "), "{mode}: {}", o.stdout);
        assert_eq!(h.files(), before, "{mode}");
    }
    assert!(
        h.parser.take_calls().is_empty(),
        "a dry run never runs the parser"
    );
}

// See docs/weak-spots.md#w12
#[test]
fn w12_long_options_take_their_argument() {
    let h = Host::new();
    let xml = domain("", "");
    h.ok(&["-c", "-u", PROFILE], Some(&xml));
    let full = h.rules();
    let (x, y) = (h.tree.s("x.img"), h.tree.s("y.img"));
    h.ok(
        &["--replace", "--uuid", PROFILE, &format!("--add-file={x}")],
        Some(&xml),
    );
    let mut want = full.clone();
    want.push(format!("\"{x}\" rwk,"));
    assert_eq!(h.rules(), want);
    // --append-file appends its one rule, not the whole set again.
    h.ok(
        &["--replace", "--uuid", PROFILE, "--append-file", &y],
        Some(&xml),
    );
    want.push(format!("\"{y}\" rwk,"));
    assert_eq!(h.rules(), want);
}

// See docs/weak-spots.md#w12
#[test]
fn w12_only_the_canonical_profile_name_is_accepted() {
    let h = Host::new();
    h.ok(&["-c", "-u", PROFILE], Some(&domain("", "")));
    h.parser.take_calls();
    let before = h.files();
    for name in [
        "libvirt-  00000000000000000000000000000000  ",
        "libvirt-----00000000000000000000000000000000",
        "libvirt-00000000-0000-0000-0000-0123456789AB",
        "libvirt-000000000000000000000000000123456789ab",
    ] {
        for mode in ["-a", "-R", "-D"] {
            let o = h.run(&[mode, "-u", name], None);
            assert_eq!(o.status.code(), Some(2), "{mode} {name:?}: {}", o.stderr);
            assert!(o.stderr.contains("invalid profile name"), "{}", o.stderr);
        }
    }
    assert_eq!(h.files(), before);
    assert!(h.parser.take_calls().is_empty());
}

// See docs/weak-spots.md#w12
#[test]
fn w12_create_with_append_file_writes_the_full_set() {
    let t = Tree::new();
    t.file("vm.img", b"");
    let xml = domain(&disk(&t.s("vm.img"), "vda", ""), "");
    let plain = dry_create(&xml, &[]).dry_rules();
    let o = dry_create(&xml, &["-F", &t.s("hot.img")]);
    let mut want = plain;
    want.push(format!("\"{}\" rwk,", t.s("hot.img")));
    assert_eq!(o.dry_rules(), want);
}

// See docs/weak-spots.md#w14
#[test]
fn w14_debians_abstraction_opens_no_other_domains_uefi_variables() {
    // Debian's own TEMPLATE and abstraction, as libvirt installs them and this package
    // leaves them (Policy::new puts ours in place of the abstraction).
    let sys = Path::new("/etc/apparmor.d");
    let abstraction = sys.join("abstractions/libvirt-qemu");
    let template = sys.join("libvirt/TEMPLATE.qemu");
    assert!(
        abstraction.exists() && template.exists(),
        "Debian's libvirt-qemu abstraction and TEMPLATE.qemu: run tests/setup.sh (libvirt-daemon-system)"
    );
    let h = Host::new();
    fs::copy(&abstraction, h.policy.dir.join("abstractions/libvirt-qemu")).unwrap();
    fs::copy(&template, h.policy.libvirt("TEMPLATE.qemu")).unwrap();
    // Its site include (empty, as Debian ships it).
    fs::create_dir_all(h.policy.dir.join("local/abstractions")).unwrap();
    fs::write(h.policy.dir.join("local/abstractions/libvirt-qemu"), "").unwrap();
    h.ok(
        &["-c", "-u", PROFILE],
        Some(&domain_with_id(3, "vm1", "", "")),
    );
    let profile = fs::read_to_string(h.policy.profile()).unwrap();
    assert!(
        profile.contains("#include <abstractions/libvirt-qemu>"),
        "{profile}"
    );
    // What the parser made of every rule on nvram/, Debian's globs included.
    let dir = "/var/lib/libvirt/qemu/nvram/";
    let rules: Vec<_> = tree::rule_trees(&h.policy.dir, &h.policy.profile())
        .into_iter()
        .filter(|(t, _)| t.starts_with(dir.as_bytes()))
        .map(|(t, deny)| (tree::parse(&t), deny))
        .collect();
    let by = |deny: bool, name: &str| {
        let p = format!("{dir}{name}");
        rules
            .iter()
            .any(|(r, d)| *d == deny && tree::matches(r, p.as_bytes()))
    };
    // Every other domain's store is granted by Debian's glob (the hole, as QEMU runs as
    // the owner of every store) and denied by the .files.
    for other in [
        "vm2_VARS.fd",
        "vm_VARS.fd",
        "vm10_VARS.fd",
        "xvm1_VARS.fd",
        "vm1_VARS.ms.fd",
        "other_VARS.ms.fd",
    ] {
        assert!(
            by(false, other),
            "Debian's abstraction no longer grants {other}"
        );
        assert!(by(true, other), "{other} is not denied");
    }
    // The domain's own store: granted, not denied.
    assert!(by(false, "vm1_VARS.fd") && !by(true, "vm1_VARS.fd"));
}

// See docs/weak-spots.md#w13
#[test]
fn w13_vhost_net_only_for_tap_backed_interfaces() {
    let nic = "<interface type='network'>\n      <source network='default'/>";
    for (kind, source, vhost) in [
        ("user", "", false),
        (
            "vhostuser",
            "<source type='unix' path='/run/vu.sock' mode='server'/>",
            false,
        ),
        ("network", "<source network='default'/>", true),
        ("bridge", "<source bridge='br0'/>", true),
        ("ethernet", "", true),
    ] {
        let xml = domain("", "").replacen(
            nic,
            &format!("<interface type='{kind}'>\n      {source}"),
            1,
        );
        let o = dry_create(&xml, &[]);
        let n = o.dry_rules().iter().filter(|r| *r == VHOST_NET).count();
        assert_eq!(n, usize::from(vhost), "{kind}: {:?}", o.dry_rules());
    }
}

// See docs/weak-spots.md#w13
#[test]
fn w13_gaps_libvirt_left_are_closed() {
    let t = Tree::new();
    let con = t.s("con");
    let (nbd, vub) = (t.s("nbd.sock"), t.s("vub.sock"));
    let devices = format!(
        "    <console type='pipe'><source path='{con}'/><target type='virtio'/></console>\n    <disk type='network' device='disk'><driver name='qemu' type='raw'/><source protocol='nbd' name='x'><host transport='unix' socket='{nbd}'/></source><target dev='vda'/></disk>\n    <disk type='vhostuser' device='disk'><driver name='qemu' type='raw'/><source type='unix' path='{vub}'><reconnect enabled='yes' timeout='10'/></source><target dev='vdb' bus='virtio'/></disk>\n"
    );
    let o = dry_create(&domain(&devices, ""), &[]);
    let want = [
        format!("\"{nbd}\" rw,"),
        format!("\"{vub}\" rw,"),
        format!("\"{con}.in\" rw,"),
        format!("\"{con}.out\" rw,"),
        format!("\"{con}\" rw,"),
    ];
    assert_lines(
        &o.device_rules(),
        &want.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    for loader in ["/usr/share/qemu/OVMF.fd", "/usr/share/seabios/bios.bin"] {
        let os = format!("    <loader readonly='yes' type='rom'>{loader}</loader>\n");
        let o = dry_create(&domain("", &os), &[]);
        let canon = fs::canonicalize(loader).unwrap_or_else(|_| PathBuf::from(loader));
        let canon = canon.display().to_string();
        assert_lines(
            &o.device_rules(),
            &[&format!("\"{canon}\" rk,"), &format!("deny \"{canon}\" w,")],
        );
    }
    // libvirt >= 10.0: a loader without readonly='yes' (not a ROM) is written by QEMU,
    // `rwk`; one in a firmware directory stays `rk`, with a warning (docs/weak-spots.md#w13).
    let both = t.file("fw/guest_BOTH.fd", b"firmware and variables");
    let both = both.display();
    for (loader, want, warned) in [
        (
            format!("<loader type='pflash'>{both}</loader>"),
            vec![format!("\"{both}\" rwk,")],
            false,
        ),
        (
            format!("<loader readonly='no' type='pflash'>{both}</loader>"),
            vec![format!("\"{both}\" rwk,")],
            false,
        ),
        (
            "<loader readonly='no' type='pflash'>/usr/share/seabios/bios.bin</loader>".to_string(),
            vec![
                "\"/usr/share/seabios/bios.bin\" rk,".to_string(),
                "deny \"/usr/share/seabios/bios.bin\" w,".to_string(),
            ],
            true,
        ),
    ] {
        if warned
            && fs::canonicalize("/usr/share/seabios/bios.bin")
                .is_ok_and(|c| c != Path::new("/usr/share/seabios/bios.bin"))
        {
            continue;
        }
        let o = dry_create(&domain("", &format!("    {loader}\n")), &[]);
        assert_lines(
            &o.device_rules(),
            &want.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        assert_eq!(
            o.stderr
                .contains("in a read-only firmware directory: granted rk only"),
            warned,
            "{loader}: {}",
            o.stderr
        );
    }
}

/// The notes this project was planned from are not part of it: a comment must cite a file
/// in the repository (`docs/...`), a libvirt source location, or a public report.
fn outside_references(line: &str) -> Vec<&'static str> {
    // Spelled in pieces so that this file does not match itself.
    const NEEDLES: [&str; 4] = [
        concat!("invent", "ory"),
        concat!("anchors", ".md"),
        concat!("research", "/"),
        concat!("/work", "/"),
    ];
    let lower = line.to_lowercase();
    let mut found: Vec<&'static str> = NEEDLES
        .iter()
        .copied()
        .filter(|n| lower.contains(n))
        .collect();
    // "shared" and a slash only where a path starts (a note's relative path), not inside one
    // (`/srv/shared/**` in a template is a path a test grants).
    let shared = concat!("shared", "/");
    let starts_a_path = |i: usize| match i.checked_sub(1).map(|j| lower.as_bytes()[j]) {
        None => true,
        Some(c) => !c.is_ascii_alphanumeric() && c != b'/',
    };
    if lower.match_indices(shared).any(|(i, _)| starts_a_path(i)) {
        found.push(shared);
    }
    found
}

/// Where `line` cites a numbered issue (the word, then a number, maybe after `#`): the
/// project's tracker is not in the repository, so a reader cannot look it up; say what the
/// issue found instead, or cite the weak spot or document that holds it. A public issue
/// cited with its address (a line with `https://`) is fine.
fn issue_citations(line: &str) -> Vec<String> {
    if line.contains("https://") {
        return Vec::new();
    }
    // Spelled in pieces so that this file does not match itself.
    let word = concat!("iss", "ue");
    let lower = line.to_lowercase();
    let b = lower.as_bytes();
    let mut found = Vec::new();
    for (i, _) in lower.match_indices(word) {
        if i > 0 && b[i - 1].is_ascii_alphanumeric() {
            continue;
        }
        let rest = &lower[i + word.len()..];
        let digits = rest.trim_start_matches([' ', '#']);
        if digits.len() < rest.len() && digits.starts_with(|c: char| c.is_ascii_digit()) {
            let n: String = digits.chars().take_while(char::is_ascii_digit).collect();
            found.push(format!("{word} {n}"));
        }
    }
    found
}

#[test]
fn issue_citations_are_found() {
    let (w, i) = (concat!("iss", "ue"), concat!("Iss", "ue"));
    assert_eq!(
        issue_citations(&format!("({w} 20, item 6)")),
        [format!("{w} 20")]
    );
    assert_eq!(issue_citations(&format!("{i} #9: x")), [format!("{w} 9")]);
    assert!(issue_citations(&format!("an {w} with 3 parts; tissue 4")).is_empty());
    assert!(issue_citations(&format!("libvirt {w} 123 (https://gitlab.com/libvirt)")).is_empty());
}

/// The repository files `line` names by path (`src/rules/disk.rs`, `docs/weak-spots.md`):
/// a word starting with `src/`, `docs/` or `tests/` and ending in `.rs` or `.md`.
fn repository_files(line: &str) -> Vec<&str> {
    line.split(|c: char| !(c.is_ascii_alphanumeric() || "/_.-".contains(c)))
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| {
            ["src/", "docs/", "tests/"].iter().any(|p| w.starts_with(p))
                && (w.ends_with(".rs") || w.ends_with(".md"))
                && !w.contains('*')
        })
        .collect()
}

/// Every `W<n>` tag in `line`: a `W` and digits, with no word character on either side.
fn weak_spot_tags(line: &str) -> Vec<u32> {
    let b = line.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut tags = Vec::new();
    for (i, _) in line.match_indices('W') {
        if i > 0 && word(b[i - 1]) {
            continue;
        }
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        let end = i + 1 + digits;
        if digits == 0 || (end < b.len() && word(b[end])) {
            continue;
        }
        if let Ok(n) = line[i + 1..end].parse() {
            tags.push(n);
        }
    }
    tags
}

fn text_files(root: &Path, out: &mut Vec<PathBuf>) {
    if root.is_file() {
        out.push(root.to_path_buf());
        return;
    }
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        text_files(&e.path(), out);
    }
}

// See docs/weak-spots.md
#[test]
fn every_cited_weak_spot_is_written_down() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = fs::read_to_string(repo.join("docs/weak-spots.md")).expect("docs/weak-spots.md");
    let written = |n: u32| {
        let anchor = format!("<a id=\"w{n}\"></a>\n## W{n} ");
        doc.contains(&anchor)
    };
    let mut files = Vec::new();
    for top in [
        "src",
        "tests",
        "README.md",
        "docs",
        "man",
        "bench",
        "debian",
        "profiles",
        ".ci",
        ".cargo",
        "fuzz/fuzz_targets",
        "fuzz/Cargo.toml",
        "templates",
        "abstractions",
        "Cargo.toml",
        "clippy.toml",
    ] {
        text_files(&repo.join(top), &mut files);
    }
    files.sort();
    let mut problems = Vec::new();
    let mut cited = 0;
    for f in &files {
        let Ok(text) = fs::read_to_string(f) else {
            continue; // not text
        };
        let rel = f.strip_prefix(repo).unwrap_or(f).display().to_string();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().copied().enumerate() {
            // A citation wrapped after the word: "... (issue" and "20, item 5) ...".
            let next = lines.get(i + 1).map_or("", |l| {
                l.trim_start_matches(|c: char| c.is_whitespace() || "/!#*".contains(c))
            });
            let wrapped = format!("{line} {next}");
            let line_and_next = if line
                .trim_end()
                .to_lowercase()
                .ends_with(concat!("iss", "ue"))
            {
                wrapped.as_str()
            } else {
                line
            };
            for n in weak_spot_tags(line) {
                cited += 1;
                if !written(n) {
                    problems.push(format!(
                        "{rel}:{}: W{n} has no `<a id=\"w{n}\"></a>` + `## W{n}` section in docs/weak-spots.md: {line}",
                        i + 1
                    ));
                }
            }
            // In code, only comments cite (a test's string may name a made-up file).
            let prose = match (rel.ends_with(".rs"), line.find("//")) {
                (false, _) => line,
                (true, Some(at)) => &line[at..],
                (true, None) => "",
            };
            for cited in repository_files(prose) {
                if !repo.join(cited).exists() {
                    problems.push(format!(
                        "{rel}:{}: cites {cited}, which is not in the repository: {line}",
                        i + 1
                    ));
                }
            }
            for issue in issue_citations(line_and_next) {
                problems.push(format!(
                    "{rel}:{}: cites {issue:?}, a tracker that is not in the repository: {line}",
                    i + 1
                ));
            }
            for needle in outside_references(line) {
                problems.push(format!(
                    "{rel}:{}: cites notes outside the repository ({needle:?}): {line}",
                    i + 1
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(cited > 13, "the scan found the citations ({cited})");
    for n in 1..=14 {
        assert!(written(n), "W{n} is written down");
    }
}
