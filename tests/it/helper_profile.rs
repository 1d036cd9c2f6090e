//! The helper's own AppArmor profile, `profiles/usr.lib.libvirt.virt-aa-helper`: it compiles
//! with the real parser of every release the suite has, keeps every rule (and comment) of
//! each release's stock profile (Debian 12's libvirt 9.0, Debian 13's 11.3, sid's 12.x) but
//! the few it replaces with a tighter or more general form, adds only the rules this helper
//! needs, each after a comment saying why, and ends with an optional site include. And every
//! file the helper creates in `libvirt/` is named so that each stock profile's one write rule
//! matches it.
//!
//! The stock profiles are the host's (installed by `tests/setup.sh` with
//! `libvirt-daemon-system`) and those of the Debian roots `tests/roots/build.sh` makes; the
//! expectations are per libvirt release, so the suite holds on a Debian 13 host as on 12.
//! A missing one fails the tests rather than skipping them.

use crate::support::*;
use std::fs;
use std::path::{Path, PathBuf};
use virt_aa_helper::error::{allow_rule, HELPER_LOCAL_PROFILE};
use virt_aa_helper::name::ProfileName;
use virt_aa_helper::store::{temp_prefix, Store};

const STOCK: &str = "/etc/apparmor.d/usr.lib.libvirt.virt-aa-helper";

const LOCAL_INCLUDE: &str = "include if exists <local/usr.lib.libvirt.virt-aa-helper>";

/// The rules the shipped profile has beyond every release's stock one.
const EXTRAS: [&str; 7] = [
    "signal (send) set=(kill) peer=unconfined,",
    "/etc/apparmor.d/libvirt/ r,",
    "/etc/apparmor.d/libvirt/libvirt-@{UUID}.lock k,",
    "/var/cache/virt-aa-helper/ r,",
    "/etc/apparmor.d/{,**/} r,",
    "/etc/libvirt/virt-aa-helper.conf r,",
    "/etc/libvirt/storage/*.xml r,",
];

/// libvirt 11.x's profile-file names and 12.x's deny, which the shipped profile has on
/// every release.
const UUID_VARIABLES: [&str; 2] = [
    "@{hextet}=[0-9a-f][0-9a-f][0-9a-f][0-9a-f]",
    "@{UUID}=@{hextet}@{hextet}-@{hextet}-@{hextet}-@{hextet}-@{hextet}@{hextet}@{hextet}",
];
const UUID_WRITE: &str = "/etc/apparmor.d/libvirt/libvirt-@{UUID}* rw,";
const ETHERD: &str = "deny /dev/etherd/e*.* r,";
const PARSER_EXEC: &str = "/{usr/,}{s,}bin/apparmor_parser Ux,";

/// One release's stock helper profile, and what the shipped one does with it.
struct Stock {
    /// Where it comes from: the host, or a root of `tests/roots/build.sh`.
    from: String,
    /// libvirt's version (the stock profile's package's).
    libvirt: String,
    text: String,
    /// Stock lines the shipped profile replaces.
    replaced: Vec<&'static str>,
    /// The shipped profile's rules beyond this stock one.
    extras: Vec<&'static str>,
}

/// What the shipped profile does with libvirt `major`'s stock profile.
fn expectations(major: u32) -> (Vec<&'static str>, Vec<&'static str>) {
    let mut extras = EXTRAS.to_vec();
    match major {
        // Debian 12: the parser exec (merged sbin), the site include (`#include` fails when
        // the file is missing) and the glob for the profile files (@{UUID} instead).
        9 => {
            extras.extend(UUID_VARIABLES);
            extras.extend([UUID_WRITE, ETHERD, PARSER_EXEC, LOCAL_INCLUDE]);
            (
                vec![
                    "/{usr/,}sbin/apparmor_parser Ux,",
                    "#include <local/usr.lib.libvirt.virt-aa-helper>",
                    "/etc/apparmor.d/libvirt/libvirt-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]* rw,",
                ],
                extras,
            )
        }
        // Debian 13: 12.x's deny.
        11 => {
            extras.push(ETHERD);
            (vec![], extras)
        }
        12 => (vec![], extras),
        _ => panic!(
            "libvirt {major}'s stock helper profile: compare it with \
             profiles/usr.lib.libvirt.virt-aa-helper and add its expectations here"
        ),
    }
}

/// The host's stock profile and each root's.
fn stocks() -> Vec<Stock> {
    let mut out = Vec::new();
    let mut add = |from: String, path: PathBuf, libvirt: String| {
        let text = fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}: the stock helper profile is needed to compare with; run \
                 tests/setup.sh as root (libvirt-daemon-system, tests/roots/build.sh)",
                path.display()
            )
        });
        let major = libvirt
            .split(['.', ':'])
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or_else(|| panic!("{from}: libvirt version {libvirt:?}"));
        let (replaced, extras) = expectations(major);
        out.push(Stock {
            from,
            libvirt,
            text,
            replaced,
            extras,
        });
    };
    let host = std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "libvirt-daemon"])
        .output()
        .expect("dpkg-query");
    add(
        "the host".into(),
        libvirts_own(STOCK),
        String::from_utf8_lossy(&host.stdout).into_owned(),
    );
    for root in ReleaseRoot::all() {
        let versions = root.dir.with_extension("versions");
        let libvirt = fs::read_to_string(&versions)
            .unwrap_or_else(|e| panic!("{}: {e}", versions.display()))
            .lines()
            .find_map(|l| l.strip_prefix("libvirt-daemon ").map(str::to_string))
            .unwrap_or_else(|| panic!("{}: no libvirt-daemon line", versions.display()));
        add(
            format!("the {} root", root.suite),
            root.path(STOCK),
            libvirt,
        );
    }
    out
}

fn shipped_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/usr.lib.libvirt.virt-aa-helper")
}

fn shipped() -> String {
    fs::read_to_string(shipped_path()).expect("profiles/usr.lib.libvirt.virt-aa-helper")
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
fn shipped_profile_compiles_with_each_releases_parser_and_tree() {
    for root in ReleaseRoot::all() {
        root.compile(&shipped(), &[]);
    }
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
    let host = stocks().swap_remove(0);
    for (name, text) in [("shipped", shipped()), ("stock", host.text)] {
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
    let shipped = shipped();
    for stock in stocks() {
        let what = format!("{}'s (libvirt {})", stock.from, stock.libvirt);
        let stock_lines = lines(&stock.text);
        for r in &stock.replaced {
            assert!(
                stock_lines.contains(r),
                "{what} stock profile no longer has {r:?}: review profiles/usr.lib.libvirt.virt-aa-helper"
            );
        }
        // Every stock line (rules and comments), in the stock order, with the extras between.
        let mut rest = lines(&shipped).into_iter();
        for want in stock_lines.iter().filter(|l| !stock.replaced.contains(l)) {
            assert!(
                rest.any(|got| got == *want),
                "{what} stock line {want:?} missing or out of order in the shipped profile"
            );
        }
    }
}

#[test]
fn shipped_profile_adds_only_the_listed_rules_each_after_a_comment() {
    let shipped = shipped();
    let all = lines(&shipped);
    for stock in stocks() {
        let what = format!("{}'s (libvirt {})", stock.from, stock.libvirt);
        let stock_rules = rules(&stock.text);
        let mut added: Vec<&str> = Vec::new();
        for (i, line) in all.iter().enumerate() {
            if is_comment(line) || stock_rules.contains(line) {
                continue;
            }
            assert!(
                stock.extras.contains(line),
                "{line:?} is neither a rule of {what} stock profile nor one of its listed extras"
            );
            // A comment says why, before the rule or before the group it starts.
            assert!(
                i > 0 && (is_comment(all[i - 1]) || added.last() == Some(&all[i - 1])),
                "{line:?} is not preceded by a comment saying why"
            );
            added.push(line);
        }
        assert_eq!(
            added.len(),
            stock.extras.len(),
            "{what}: each extra once: {added:?}"
        );
        for e in &stock.extras {
            assert!(added.contains(e), "{what}: {e:?} missing");
        }
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
    // Debian 12's stock rule `/etc/apparmor.d/libvirt/libvirt-[0-9a-f]*-...-[0-9a-f]* rw,`
    // and 11.x's `libvirt-@{UUID}* rw,` (the shipped one's) both match `libvirt-<uuid>`
    // (lower-case) followed by anything but `/`.
    let write_rules = [
        "/etc/apparmor.d/libvirt/libvirt-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]*-[0-9a-f]* rw,",
        UUID_WRITE,
    ];
    for stock in stocks() {
        assert!(
            rules(&stock.text).iter().any(|r| write_rules.contains(r)),
            "{}'s stock profile has neither write rule",
            stock.from
        );
    }
    assert!(rules(&shipped()).contains(&UUID_WRITE));
    assert_eq!(
        PROFILE,
        PROFILE.to_ascii_lowercase(),
        "@{{UUID}} is lower-case"
    );
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
