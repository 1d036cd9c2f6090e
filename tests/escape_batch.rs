//! Generated hostile path names, escaped by the escaper and compiled in one batch by the
//! real apparmor_parser: every rule must compile to exactly its literal path. And the same
//! for domain names, which land in the base rules through the whole binary.

mod common;
use common::*;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use virt_aa_helper::escape::AaPattern;

/// Path components made of the characters that matter to AppArmor, escape sequences and
/// ordinary text, plus printable non-ASCII.
fn hostile_component() -> impl Strategy<Value = String> {
    proptest::string::string_regex(r#"([*?\[\]{}^,"\\@#!$&'()|;<> ~=%+:.-]|\\[0-7]{3}|\\x[0-9a-f]{2}|@\{HOME\}|[a-z]{1,3}|[é€😀]){1,8}"#)
        .unwrap()
        .prop_filter("not . or ..", |s| s != "." && s != "..")
}

#[test]
fn generated_hostile_paths_compile_to_exactly_their_literal() {
    let mut runner = TestRunner::deterministic();
    let strategy = proptest::collection::vec(hostile_component(), 1..4);
    let mut paths = Vec::new();
    while paths.len() < 300 {
        let comps = strategy.new_tree(&mut runner).unwrap().current();
        paths.push(format!("/srv/vah/{}", comps.join("/")));
    }
    let policy = Policy::new();
    let mut body = String::new();
    for p in &paths {
        let pat = AaPattern::literal(p).expect("no control characters generated");
        body.push_str(&format!("  \"{pat}\" rw,\n"));
    }
    let profile = policy.libvirt("batch");
    std::fs::write(&profile, format!("profile batch {{\n{body}}}\n")).unwrap();
    let exprs = compiled_exprs(&policy, &profile);
    let literals: std::collections::HashSet<String> =
        exprs.iter().filter_map(|(_, re)| literal_of(re)).collect();
    let mut missing = Vec::new();
    for p in &paths {
        if !literals.contains(p) {
            missing.push(p.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} paths did not compile to their literal, e.g. {:?}",
        missing.len(),
        paths.len(),
        &missing[..missing.len().min(5)]
    );
    // Every compiled rule is a literal: no generated name became a pattern.
    let patterns: Vec<_> = exprs
        .iter()
        .filter(|(a, re)| a.starts_with("/srv/vah/") && literal_of(re).is_none())
        .collect();
    assert!(patterns.is_empty(), "{patterns:?}");
}

#[test]
fn hostile_domain_names_stay_literal_in_the_base_rules() {
    let names = [
        "vm*",
        "{a,b}",
        "@{HOME}",
        "x\\",
        "q?[]^\"",
        "tab\tname",
        "\\145\\x63",
        " trailing ",
        "é€😀",
        "a,b#c!d$e&f'g(h)i|j;k<l>m",
    ];
    for name in names {
        let esc = name
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('\t', "&#9;");
        let xml = domain_named(&esc, "", "");
        let o = run(&["-d", "-c", "-u", PROFILE], Some(&xml));
        if name.contains('\t') {
            // A control character cannot be written in a rule: refused, nothing printed.
            assert_eq!(o.status.code(), Some(1), "{name:?}: {}", stderr(&o));
            continue;
        }
        assert!(o.status.success(), "{name:?}: {}", stderr(&o));
        let policy = Policy::new();
        for (path, content) in dry_files(&o) {
            std::fs::write(
                policy.dir.join("libvirt").join(path.file_name().unwrap()),
                content,
            )
            .unwrap();
        }
        let exprs = compiled_exprs(&policy, &policy.profile());
        // The pid file rule has no glob: it must be exactly the literal path.
        let want = format!("/run/libvirt/qemu/{name}.pid");
        assert!(
            exprs
                .iter()
                .any(|(_, re)| literal_of(re).as_deref() == Some(want.as_str())),
            "{name:?}: {exprs:?}"
        );
    }
}

/// The escaper's length limit is the parser's: a pattern of exactly
/// `MAX_PATTERN_LEN` characters compiles, one more would not (and is refused before it
/// reaches the parser).
#[test]
fn the_longest_escaped_pattern_compiles() {
    use virt_aa_helper::escape::{EscapeError, MAX_PATTERN_LEN};
    // `/srv/` plus `#` (each escaped as `\043`) and plain letters to the exact length.
    let hashes = (MAX_PATTERN_LEN - 5) / 4;
    let letters = MAX_PATTERN_LEN - 5 - 4 * hashes;
    let path = format!("/srv/{}{}", "#".repeat(hashes), "a".repeat(letters));
    let pat = AaPattern::literal(&path).unwrap();
    assert_eq!(pat.as_str().len(), MAX_PATTERN_LEN);
    let policy = Policy::new();
    let profile = policy.libvirt("long");
    std::fs::write(
        &profile,
        format!("profile long {{\n  \"{pat}\" rwk,\n  deny \"{pat}\" w,\n}}\n"),
    )
    .unwrap();
    let exprs = compiled_exprs(&policy, &profile);
    assert!(
        exprs
            .iter()
            .any(|(_, re)| literal_of(re).as_deref() == Some(path.as_str())),
        "the longest pattern did not compile to its literal"
    );
    assert_eq!(
        AaPattern::literal(&format!("{path}a")),
        Err(EscapeError::TooLong(MAX_PATTERN_LEN + 1))
    );
}
