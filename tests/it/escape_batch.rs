//! Generated hostile path names, escaped by the escaper and compiled in one batch by the
//! real apparmor_parser: every rule must compile to exactly its literal path. And the same
//! for domain names, which land in the base rules through the whole binary.

use crate::support::*;
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
            assert_eq!(o.status.code(), Some(1), "{name:?}: {}", o.stderr);
            continue;
        }
        assert!(o.status.success(), "{name:?}: {}", o.stderr);
        let policy = Policy::new();
        for (path, content) in o.dry_files() {
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

/// The complement of a set of names (`AaPattern::all_but_any`: the deny rule that closes
/// `nvram/` to every file but the varstore names libvirt generates for this domain),
/// compiled by the real parser: every name of the set is left out, every name around them
/// (shorter, longer, one byte changed) is matched, a long name's blocks included.
#[test]
fn all_but_any_compiles_to_every_name_but_the_set() {
    let sets: Vec<Vec<String>> = ["vm1", "a-b,{x}", "é", &"n".repeat(200)]
        .iter()
        .map(|name| {
            ["fd", "raw", "qcow2"]
                .iter()
                .map(|ext| format!("{name}_VARS.{ext}"))
                .collect()
        })
        .chain([vec!["ab".to_string(), "a".to_string(), "-c".to_string()]])
        .collect();
    let policy = Policy::new();
    let mut body = String::new();
    for (i, owns) in sets.iter().enumerate() {
        let owns: Vec<&str> = owns.iter().map(String::as_str).collect();
        let p = AaPattern::all_but_any(&format!("/s/{i}"), &owns).unwrap();
        body.push_str(&format!("  audit deny \"{p}\" rwk,\n"));
    }
    let profile = policy.libvirt("allbutany");
    std::fs::write(&profile, format!("profile allbutany {{\n{body}}}\n")).unwrap();
    let trees = tree::rule_trees(&policy.dir, &profile);
    let mut checked = 0usize;
    for (i, owns) in sets.iter().enumerate() {
        let prefix = format!("/s/{i}/");
        let (tree, _) = trees
            .iter()
            .find(|(t, deny)| *deny && t.starts_with(prefix.as_bytes()))
            .unwrap_or_else(|| panic!("no compiled rule for {prefix}"));
        let re = tree::parse(tree);
        let path = |name: &[u8]| [prefix.as_bytes(), name].concat();
        assert!(!tree::matches(&re, &path(b"")), "{prefix} itself denied");
        let mut others: Vec<Vec<u8>> = Vec::new();
        for own in owns {
            let own_b = own.as_bytes();
            assert!(!tree::matches(&re, &path(own_b)), "{own:?} is denied");
            for n in 1..own_b.len() {
                others.push(own_b[..n].to_vec());
            }
            others.push([own_b, b"x"].concat());
            others.push([b"x", own_b].concat());
            for i in (0..own_b.len()).rev().take(12) {
                for b in [b'a', b'f', b'r', b'q', b'.', b'-', 0xc3] {
                    let mut o = own_b.to_vec();
                    o[i] = b;
                    others.push(o);
                }
            }
        }
        for o in others
            .iter()
            .filter(|o| !owns.iter().any(|own| own.as_bytes() == &o[..]))
        {
            assert!(
                tree::matches(&re, &path(o)),
                "{prefix}: {:?} (another's) not denied; tree {}",
                String::from_utf8_lossy(o),
                String::from_utf8_lossy(tree)
            );
            checked += 1;
        }
    }
    assert!(checked > 1_000, "{checked}");
}

/// The complement of one name (`AaPattern::all_but`, the deny rule that closes an
/// abstraction's `nvram/*_VARS.fd` to every domain but its own, docs/weak-spots.md#w14),
/// compiled by the real parser for names made of every byte that needs care (class syntax,
/// escapes, non-ASCII, `-` and `,` which the parser mishandles when escaped inside a
/// class): the compiled tree matches every other name in the directory, shorter, longer or
/// differing in any one byte, and neither the name itself nor anything in a subdirectory.
#[test]
fn all_but_compiles_to_every_name_but_its_own() {
    let names: Vec<String> = [
        "vm1",
        "a-b",
        "x,y",
        "q?[]^\"*",
        // No `\\` in a name: the tree printer writes a backslash bare, which cannot be read
        // back (`\\(` is `(` or a backslash before a group); a backslash in the other
        // names' place is checked below, and `src/escape.rs`'s unit tests pin its escape.
        "{a,b}",
        "@{HOME}",
        "é€😀",
        "a b#!$&'()|;<>~=%+:.",
        "1-other",
        "-]^",
        "e\u{85}", // C1 control: refused (not compiled)
    ]
    .iter()
    .map(|n| n.to_string())
    .chain([
        "n".repeat(247),
        // One byte more than a file name can have with `_VARS.fd`: the whole directory.
        "n".repeat(248),
    ])
    .collect();
    let policy = Policy::new();
    let mut body = String::new();
    let mut cases = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let own = format!("{name}_VARS.fd");
        let dir = format!("/n/{i}");
        match AaPattern::all_but(&dir, &own) {
            Ok(p) => {
                body.push_str(&format!("  audit deny \"{p}\" rwk,\n"));
                cases.push((dir, own));
            }
            Err(e) => assert!(name.contains('\u{85}'), "{name:?}: {e}"),
        }
    }
    let profile = policy.libvirt("allbut");
    std::fs::write(&profile, format!("profile allbut {{\n{body}}}\n")).unwrap();
    let started = std::time::Instant::now();
    let trees = tree::rule_trees(&policy.dir, &profile);
    let secs = started.elapsed().as_secs_f64();
    // Compiled in reasonable time, the 247-byte name included.
    assert!(secs < 30.0, "{secs} s");
    let mut checked = 0usize;
    for (dir, own) in &cases {
        let prefix = format!("{dir}/");
        let (tree, _) = trees
            .iter()
            .find(|(t, deny)| *deny && t.starts_with(prefix.as_bytes()))
            .unwrap_or_else(|| panic!("no compiled rule for {dir}"));
        let re = tree::parse(tree);
        let path = |name: &[u8]| [prefix.as_bytes(), name].concat();
        let own_b = own.as_bytes();
        // A name no file can have: the whole directory is another's.
        let none = own_b.len() > virt_aa_helper::escape::NAME_MAX;
        assert_eq!(tree::matches(&re, &path(own_b)), none, "{own:?}");
        assert!(!tree::matches(&re, &path(b"")), "{dir}/ itself denied");
        assert!(!tree::matches(&re, &[&path(own_b)[..], b"/x"].concat()));
        assert!(!tree::matches(&re, &path(b"sub/other_VARS.fd")));
        let mut others: Vec<Vec<u8>> = Vec::new();
        for n in 1..own_b.len() {
            others.push(own_b[..n].to_vec());
        }
        others.push([own_b, b"x"].concat());
        others.push([own_b, "é".as_bytes()].concat());
        others.push([own_b, own_b].concat());
        others.push([b"x", own_b].concat());
        let bytes: Vec<u8> = (0x20..0x7f).chain([0x80, 0xa9, 0xc3, 0xe2, 0xff]).collect();
        let positions: Vec<usize> = if own_b.len() > 40 {
            vec![
                0,
                1,
                47,
                48,
                49,
                95,
                96,
                100,
                own_b.len() - 9,
                own_b.len() - 1,
            ]
        } else {
            (0..own_b.len()).collect()
        };
        for i in positions {
            for &b in &bytes {
                if b != own_b[i] && b != b'/' {
                    let mut o = own_b.to_vec();
                    o[i] = b;
                    others.push(o);
                }
            }
        }
        for o in &others {
            if o.len() > 255 {
                continue;
            }
            assert!(
                tree::matches(&re, &path(o)),
                "{dir}: {:?} (another's) not denied; tree {}",
                String::from_utf8_lossy(o),
                String::from_utf8_lossy(tree)
            );
            checked += 1;
        }
    }
    println!(
        "{checked} names of others denied around {} names, {secs:.2} s to compile",
        cases.len()
    );
    assert!(checked > 10_000, "{checked}");
}

/// The negative control of the test above: patterns that are wrong in the two ways the
/// construction could be (no `?` before the last `*`: the name itself is denied; a level
/// without its empty alternative: a shorter name is not), compiled by the same parser and
/// read by the same matcher, are caught.
#[test]
fn the_tree_matcher_catches_a_wrong_complement() {
    let policy = Policy::new();
    let profile = policy.libvirt("ctl");
    std::fs::write(
        &profile,
        "profile ctl {\n  audit deny \"/c/1/{[^v/]*,v{,[^m/]*,m*}}\" rwk,\n  audit deny \"/c/2/{[^v/]*,v{[^m/]*,m?*}}\" rwk,\n}\n",
    )
    .unwrap();
    let trees = tree::rule_trees(&policy.dir, &profile);
    let tree_of = |p: &str| {
        let (t, _) = trees
            .iter()
            .find(|(t, _)| t.starts_with(p.as_bytes()))
            .unwrap_or_else(|| panic!("no compiled rule for {p}"));
        tree::parse(t)
    };
    let one = tree_of("/c/1/");
    assert!(tree::matches(&one, b"/c/1/vm"), "the own name is denied");
    assert!(tree::matches(&one, b"/c/1/x"));
    let two = tree_of("/c/2/");
    assert!(!tree::matches(&two, b"/c/2/v"), "a shorter name is missed");
    assert!(tree::matches(&two, b"/c/2/vmx"));
    assert!(!tree::matches(&two, b"/c/2/vm"));
}
