//! The helper's own AppArmor profile, `profiles/usr.lib.libvirt.virt-aa-helper`: it compiles
//! with the real parser, keeps every rule (and comment) of Debian 12's stock profile, adds
//! only the rules this helper needs, each after a comment saying why, and ends with an
//! optional site include. And every file the helper creates in `libvirt/` is named so that
//! the stock profile's one write rule matches it.
//!
//! The stock profile comes from `libvirt-daemon-system` (`tests/setup.sh` installs it); its
//! absence fails the tests rather than skipping them.

mod common;
use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use virt_aa_helper::error::{allow_rule, HELPER_LOCAL_PROFILE};
use virt_aa_helper::name::ProfileName;
use virt_aa_helper::store::{temp_prefix, Store};

const STOCK: &str = "/etc/apparmor.d/usr.lib.libvirt.virt-aa-helper";

/// Stock lines the shipped profile replaces: the parser exec (merged sbin) and the site
/// include (`#include` fails when the file is missing).
const REPLACED: [&str; 2] = [
    "/{usr/,}sbin/apparmor_parser Ux,",
    "#include <local/usr.lib.libvirt.virt-aa-helper>",
];

const LOCAL_INCLUDE: &str = "include if exists <local/usr.lib.libvirt.virt-aa-helper>";

/// Every rule the shipped profile has beyond the stock one.
const EXTRAS: [&str; 9] = [
    "/{usr/,}{s,}bin/apparmor_parser Ux,",
    "signal (send) set=(kill) peer=unconfined,",
    "/etc/apparmor.d/libvirt/ r,",
    "/etc/apparmor.d/libvirt/libvirt-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*.lock k,",
    "/var/cache/virt-aa-helper/ r,",
    "/etc/apparmor.d/{,**/} r,",
    "/etc/libvirt/virt-aa-helper.conf r,",
    "/etc/libvirt/storage/*.xml r,",
    LOCAL_INCLUDE,
];

fn shipped_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/usr.lib.libvirt.virt-aa-helper")
}

fn shipped() -> String {
    fs::read_to_string(shipped_path()).expect("profiles/usr.lib.libvirt.virt-aa-helper")
}

fn stock() -> String {
    let stock = libvirts_own(STOCK);
    fs::read_to_string(&stock).unwrap_or_else(|e| {
        panic!(
            "{STOCK}: {e}: Debian's stock helper profile is needed to compare with; install \
             libvirt-daemon-system (tests/setup.sh does: apt-get install -y libvirt-daemon-system)"
        )
    })
}

/// Trimmed non-blank lines.
fn lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

/// A comment, not an `#include` (which is a rule in AppArmor's syntax).
fn is_comment(line: &str) -> bool {
    line.starts_with('#') && !line.starts_with("#include")
}

fn rules(text: &str) -> Vec<&str> {
    lines(text).into_iter().filter(|l| !is_comment(l)).collect()
}

/// A copy of the system's tunables, abi and abstractions with an empty `local/`.
fn tree() -> Policy {
    let policy = Policy::new();
    fs::create_dir_all(policy.dir.join("local")).unwrap();
    policy
}

#[test]
fn shipped_profile_compiles_without_a_local_file() {
    let policy = tree();
    let p = policy.dir.join("usr.lib.libvirt.virt-aa-helper");
    fs::copy(shipped_path(), &p).unwrap();
    policy.compile(&p);
}

#[test]
fn shipped_profile_compiles_against_the_system_tree() {
    let out = std::process::Command::new(real_parser())
        .args(["-Q", "-K"])
        .arg(shipped_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The rules the helper's warnings and errors tell an admin to add (for the default paths).
fn suggested_rules() -> Vec<String> {
    let dir = Path::new("/etc/apparmor.d/libvirt");
    vec![
        allow_rule(dir, "/libvirt-*.lock", "rwk"),
        allow_rule(dir, "/", "r"),
        allow_rule(Path::new(virt_aa_helper::config::DEFAULT_CONFIG), "", "r"),
        allow_rule(
            Path::new(virt_aa_helper::resolve::DEFAULT_POOL_DIR),
            "/*.xml",
            "r",
        ),
    ]
}

#[test]
fn suggested_rules_compile_in_the_local_file_of_both_profiles() {
    assert_eq!(
        HELPER_LOCAL_PROFILE,
        "/etc/apparmor.d/local/usr.lib.libvirt.virt-aa-helper"
    );
    let suggested = suggested_rules();
    assert_eq!(suggested[0], "/etc/apparmor.d/libvirt/libvirt-*.lock rwk,");
    let policy = tree();
    fs::write(
        policy.dir.join("local/usr.lib.libvirt.virt-aa-helper"),
        suggested.join("\n") + "\n",
    )
    .unwrap();
    for (name, text) in [("shipped", shipped()), ("stock", stock())] {
        let p = policy.dir.join(name);
        fs::write(&p, text).unwrap();
        policy.compile(&p);
    }
    // The shipped profile already has the ones it can state as narrowly (the lock is
    // granted there as `k` on the stock rule's names).
    let shipped = shipped();
    let shipped = rules(&shipped);
    for r in &suggested[1..] {
        assert!(
            shipped.contains(&r.as_str()),
            "{r} not in the shipped profile"
        );
    }
}

#[test]
fn shipped_profile_keeps_every_stock_line_in_order() {
    let stock = stock();
    let shipped = shipped();
    let stock_lines = lines(&stock);
    for r in REPLACED {
        assert!(
            stock_lines.contains(&r),
            "the stock profile no longer has {r:?}: review profiles/usr.lib.libvirt.virt-aa-helper"
        );
    }
    // Every stock line (rules and comments), in the stock order, with the extras between.
    let mut rest = lines(&shipped).into_iter();
    for want in stock_lines.iter().filter(|l| !REPLACED.contains(l)) {
        assert!(
            rest.any(|got| got == *want),
            "stock line {want:?} missing or out of order in the shipped profile"
        );
    }
}

#[test]
fn shipped_profile_adds_only_the_listed_rules_each_after_a_comment() {
    let stock = stock();
    let stock_rules = rules(&stock);
    let shipped = shipped();
    let all = lines(&shipped);
    let mut added = Vec::new();
    for (i, line) in all.iter().enumerate() {
        if is_comment(line) || stock_rules.contains(line) {
            continue;
        }
        assert!(
            EXTRAS.contains(line),
            "{line:?} is neither a stock rule nor one of the listed extras"
        );
        assert!(
            i > 0 && is_comment(all[i - 1]),
            "{line:?} is not preceded by a comment saying why"
        );
        added.push(*line);
    }
    assert_eq!(added.len(), EXTRAS.len(), "each extra once: {added:?}");
    for e in EXTRAS {
        assert!(added.contains(&e), "{e:?} missing");
    }
}

#[test]
fn shipped_profile_ends_with_the_optional_local_include_inside_its_block() {
    let shipped = shipped();
    let all = lines(&shipped);
    assert!(
        all.contains(&"profile virt-aa-helper /usr/lib/libvirt/virt-aa-helper {"),
        "profile name and attachment"
    );
    assert_eq!(
        all.iter().find(|l| !is_comment(l)),
        Some(&"#include <tunables/global>"),
        "the tunables first"
    );
    assert_eq!(all[all.len() - 2..], [LOCAL_INCLUDE, "}"]);
    assert_eq!(
        all.iter().filter(|l| **l == "}").count(),
        1,
        "one block, closed last"
    );
    let raw = shipped.lines().rev().find(|l| l.contains(LOCAL_INCLUDE));
    assert_eq!(
        raw,
        Some(format!("  {LOCAL_INCLUDE}").as_str()),
        "indented inside the block"
    );
}

#[test]
fn shipped_profile_covers_the_helpers_defaults() {
    // Every parser the helper may run matches the exec rule /{usr/,}{s,}bin/apparmor_parser.
    let exec_matches =
        ["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(|d| format!("{d}/apparmor_parser"));
    for p in virt_aa_helper::apparmor_parser::DEFAULT_PARSERS {
        assert!(
            exec_matches.contains(&p.to_string()),
            "{p} not allowed to run"
        );
    }
    let shipped = shipped();
    let rules = rules(&shipped);
    assert!(rules.contains(&"/{usr/,}{s,}bin/apparmor_parser Ux,"));
    assert!(rules.contains(&format!("{} r,", virt_aa_helper::config::DEFAULT_CONFIG).as_str()));
    assert!(
        rules.contains(&format!("{}/*.xml r,", virt_aa_helper::resolve::DEFAULT_POOL_DIR).as_str())
    );
    assert!(rules.contains(
        &format!(
            "{}/ r,",
            Store::new(Path::new("/etc/apparmor.d")).dir().display()
        )
        .as_str()
    ));
}

#[test]
fn every_file_the_store_creates_matches_the_stock_write_rule() {
    // The stock rule `/etc/apparmor.d/libvirt/libvirt-[0-9a-f]*-...-[0-9a-f]* rw,` (newer
    // libvirt: `libvirt-@{UUID}*`) matches `libvirt-<uuid>` followed by anything but `/`.
    assert!(rules(&stock()).contains(
        &"/etc/apparmor.d/libvirt/libvirt-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]* rw,"
    ));
    let store = Store::new(Path::new("/etc/apparmor.d"));
    let name = ProfileName::parse(PROFILE).unwrap();
    let created = [
        store.profile_path(&name),
        store.files_path(&name),
        store.lock_path(&name),
    ];
    let mut names: Vec<String> = Vec::new();
    for p in &created {
        assert_eq!(p.parent(), Some(store.dir()), "{}", p.display());
        names.push(p.file_name().unwrap().to_string_lossy().into_owned());
        // The temporary written before the rename to p (random part and .tmp follow).
        names.push(temp_prefix(p));
    }
    for n in &names {
        assert!(n.starts_with(PROFILE), "{n} does not start with {PROFILE}");
        assert!(!n.contains('/'), "{n}");
    }
}
