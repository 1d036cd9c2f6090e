//! Paths done right, with real files: canonical names through symlinks, `/./` and `/../`,
//! qcow2 chains made by qemu-img, literal rules for names with AppArmor pattern characters,
//! and missing paths folded without `..`. Every generated profile is compiled by the real
//! apparmor_parser.

use crate::support::*;
use std::path::Path;

fn dry_create(xml: &str) -> Run {
    crate::support::dry_create(xml, &[])
}

/// Creates the profile for real (no load) in a fresh policy tree and compiles it.
fn create(xml: &str) -> (Policy, Run) {
    create_ok(xml, &[])
}

#[test]
fn qcow2_overlay_through_symlinked_dir_and_dots_yields_two_canonical_paths() {
    let t = Tree::new();
    t.qcow2("images/base.qcow2", None);
    t.qcow2("images/top.qcow2", Some(("base.qcow2", "qcow2")));
    t.dir("images/sub");
    t.symlink("link", t.path("images"));
    let path = format!("{}/link/./sub/../top.qcow2", t.root.display());
    let xml = domain(
        &disk(&path, "vda", "      <driver name='qemu' type='qcow2'/>\n"),
        "",
    );
    let o = dry_create(&xml);
    let top = t.s("images/top.qcow2");
    let base = t.s("images/base.qcow2");
    assert_lines(
        &o.device_rules(),
        &[&format!("\"{top}\" rwk,"), &format!("\"{base}\" rk,")],
    );
    let (policy, _) = create(&xml);
    assert_literal_rule(&policy, &policy.profile(), Path::new(&top));
    assert_literal_rule(&policy, &policy.profile(), Path::new(&base));
}

#[test]
fn backing_chain_of_three_with_relative_and_absolute_names() {
    let t = Tree::new();
    t.qcow2("a/base.qcow2", None);
    t.qcow2("b/mid.qcow2", Some((&t.s("a/base.qcow2"), "qcow2")));
    t.qcow2("c/top.qcow2", Some(("../b/mid.qcow2", "qcow2")));
    let xml = domain(
        &disk(
            &t.s("c/top.qcow2"),
            "vda",
            "      <driver name='qemu' type='qcow2'/>\n",
        ),
        "",
    );
    let o = dry_create(&xml);
    let (top, mid, base) = (t.s("c/top.qcow2"), t.s("b/mid.qcow2"), t.s("a/base.qcow2"));
    assert_lines(
        &o.device_rules(),
        &[
            &format!("\"{top}\" rwk,"),
            &format!("\"{mid}\" rk,"),
            &format!("\"{base}\" rk,"),
        ],
    );
    assert!(
        o.stdout.contains("# disk vda backing 2"),
        "provenance names the chain depth"
    );
}

#[test]
fn pattern_characters_in_paths_match_only_the_literal_file() {
    let t = Tree::new();
    let names = [
        "a*b.img",
        "{a,b}.img",
        "@{HOME}.img",
        "q?[x]^y.img",
        "back\\slash.img",
        "sp ace,\"q\".img",
        "trail\\",
    ];
    let mut devices = String::new();
    for (i, n) in names.iter().enumerate() {
        t.file(&format!("img/{n}"), b"");
        devices.push_str(&disk(
            &t.s(&format!("img/{n}")),
            &format!("vd{}", (b'a' + i as u8) as char),
            "",
        ));
    }
    let xml = domain(&devices, "");
    dry_create(&xml);
    let (policy, _) = create(&xml);
    for n in names {
        assert_literal_rule(&policy, &policy.profile(), &t.path(&format!("img/{n}")));
    }
    // The glob siblings the C helper's rules would have matched get no rule.
    let exprs = compiled_exprs(&policy, &policy.profile());
    assert!(exprs
        .iter()
        .all(|(_, re)| literal_of(re).as_deref() != Some(&*t.s("img/a.img"))));
}

#[test]
fn escape_sequences_in_names_stay_literal() {
    let t = Tree::new();
    let names = ["x\\145.img", "y\\x63.img", "z\\d101.img", "end "];
    let mut devices = String::new();
    for (i, n) in names.iter().enumerate() {
        t.file(&format!("e/{n}"), b"");
        devices.push_str(&disk(
            &t.s(&format!("e/{n}")),
            &format!("sd{}", (b'a' + i as u8) as char),
            "",
        ));
    }
    let (policy, _) = create(&domain(&devices, ""));
    for n in names {
        assert_literal_rule(&policy, &policy.profile(), &t.path(&format!("e/{n}")));
    }
}

#[test]
fn missing_file_under_dotdot_yields_a_rule_without_dotdot() {
    let t = Tree::new();
    t.dir("dir");
    let path = format!("{}/dir/missing/../x.img", t.root.display());
    let o = dry_create(&domain(&disk(&path, "vda", ""), ""));
    assert_lines(
        &o.device_rules(),
        &[&format!("\"{}\" rwk,", t.s("dir/x.img"))],
    );
    assert!(!o.stdout.contains(".."));
    assert!(o.stderr.contains("does not exist yet"), "{}", o.stderr);
}

#[test]
fn dangling_symlink_rule_names_its_target() {
    let t = Tree::new();
    t.dir("images");
    t.symlink("vm.img", "images/later.img");
    let o = dry_create(&domain(&disk(&t.s("vm.img"), "vda", ""), ""));
    assert_lines(
        &o.device_rules(),
        &[&format!("\"{}\" rwk,", t.s("images/later.img"))],
    );
}

#[test]
fn raw_disk_with_a_forged_qcow2_header_is_never_parsed() {
    let t = Tree::new();
    // A guest wrote a qcow2 header naming /etc/shadow into its raw disk.
    t.qcow2("forged.img", Some(("/etc/shadow", "raw")));
    for driver in ["      <driver name='qemu' type='raw'/>\n", ""] {
        let o = dry_create(&domain(&disk(&t.s("forged.img"), "vda", driver), ""));
        assert_lines(
            &o.device_rules(),
            &[&format!("\"{}\" rwk,", t.s("forged.img"))],
        );
        assert!(!o.stdout.contains("shadow"));
    }
}

#[test]
fn qcow2_naming_a_restricted_backing_file_is_refused() {
    let t = Tree::new();
    t.qcow2("evil.qcow2", Some(("/etc/shadow", "raw")));
    let xml = domain(
        &disk(
            &t.s("evil.qcow2"),
            "vda",
            "      <driver name='qemu' type='qcow2'/>\n",
        ),
        "",
    );
    let err = create_refused(&xml, &[], 3);
    assert!(
        err.contains("'/etc/shadow'") && err.contains("disk vda backing 1"),
        "{err}"
    );
}

#[test]
fn backing_chain_loop_is_an_error_naming_the_cycle() {
    let t = Tree::new();
    t.qcow2("a.qcow2", Some(("b.qcow2", "qcow2")));
    t.qcow2("b.qcow2", Some(("a.qcow2", "qcow2")));
    let o = run(
        &["-d", "-c", "-u", PROFILE],
        Some(&domain(
            &disk(
                &t.s("a.qcow2"),
                "vda",
                "      <driver name='qemu' type='qcow2'/>\n",
            ),
            "",
        )),
    );
    assert_eq!(o.status.code(), Some(3));
    let err = o.stderr;
    assert!(
        err.contains("backing chain loop") && err.contains("a.qcow2' -> '"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn explicit_backing_store_is_used_as_given() {
    let t = Tree::new();
    t.qcow2("base.qcow2", None);
    t.qcow2("top.qcow2", Some(("base.qcow2", "qcow2")));
    let xml = domain(
        &disk(
            &t.s("top.qcow2"),
            "vda",
            &format!(
                "      <driver name='qemu' type='qcow2'/>\n      <backingStore type='file'><format type='raw'/><source file='{}'/><backingStore/></backingStore>\n",
                t.s("other.raw")
            ),
        ),
        "",
    );
    let o = dry_create(&xml);
    let other = t.s("other.raw");
    assert_lines(
        &o.device_rules(),
        &[
            &format!("\"{}\" rwk,", t.s("top.qcow2")),
            &format!("\"{other}\" rk,"),
        ],
    );
}

/// A path of `len` bytes under `root` made of 200-byte components (none exists).
fn long_path(root: &str, len: usize) -> String {
    let mut s = root.to_string();
    while s.len() < len {
        let left = len - s.len() - 1;
        s.push('/');
        s.push_str(&"d".repeat(left.min(200)));
    }
    s
}

/// PATH_MAX: the kernel opens nothing of 4096 bytes or more, and the
/// parser's lexer cannot hold such a path once escaped. 4095 bytes is a rule that compiles
/// to its literal; 4096 bytes is refused naming the element, from the XML and from `-F`,
/// and so is a short path that a symlink makes too long.
#[test]
fn paths_up_to_path_max_are_granted_longer_ones_refused() {
    let t = Tree::new();
    let fits = long_path(&t.s("img"), 4095);
    let xml = domain(&disk(&fits, "vda", ""), "");
    let (policy, _) = create(&xml);
    assert_literal_rule(&policy, &policy.profile(), Path::new(&fits));

    let over = long_path(&t.s("img"), 4096);
    let err = create_refused(&domain(&disk(&over, "vda", ""), ""), &[], 3);
    assert!(
        err.contains("longer than the kernel's PATH_MAX (4095 bytes) (from disk vda)"),
        "{err}"
    );
    let err = create_refused(&domain("", ""), &["-F", &over], 3);
    assert!(err.contains("longer than the kernel's PATH_MAX"), "{err}");

    let target = long_path(&t.s("deep"), 4090);
    t.symlink("short", &target);
    let err = create_refused(
        &domain(&disk(&t.s("short/more.img"), "vda", ""), ""),
        &[],
        3,
    );
    assert!(err.contains("is 4099 bytes long"), "{err}");
}
