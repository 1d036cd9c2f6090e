//! The tables of `docs/restricted-paths.md` are generated from the restricted-location table
//! (`policy::TABLE` in `src/policy.rs`) and must be current; the prose around them is
//! written by hand. Regenerate with: VAH_BLESS=1 cargo test --test it restricted_doc::

use std::path::Path;
use virt_aa_helper::policy::{owners, Entries, Form, Role, Row, TABLE};

const DOC: &str = "docs/restricted-paths.md";
const BEGIN: &str = "<!-- generated from src/policy.rs (TABLE) by VAH_BLESS=1 cargo test --test it restricted_doc: begin -->";
const END: &str = "<!-- generated from src/policy.rs (TABLE) by VAH_BLESS=1 cargo test --test it restricted_doc: end -->";

/// Text for a table cell: a `|` would end the cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// `<tpm>` as code: Markdown would read a bare one as an HTML tag.
fn code_tags(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let (Some(a), Some(b)) = (rest.find('<'), rest.find('>')) {
        if b < a {
            break;
        }
        out.push_str(&rest[..a]);
        out.push_str(&format!("`{}`", &rest[a..=b]));
        rest = &rest[b + 1..];
    }
    out.push_str(rest);
    out
}

fn paths(row: &Row) -> String {
    let quoted: Vec<String> = row.paths.iter().map(|p| format!("`{p}`")).collect();
    quoted.join(", ")
}

/// One per-domain entry form, as libvirt names it.
fn form(f: &Form) -> String {
    match f {
        Form::Name(s) => format!("`<name>{s}`"),
        Form::NameAlias(s) => format!("`<name>-<alias>{s}`"),
        Form::Short(prefix, s) => format!("`{prefix}<short>{s}`"),
        Form::ShortAlias(s) => format!("`<short>-<alias>{s}`"),
        Form::Uuid => "`<uuid>`".into(),
        Form::Fixed(name) => format!("not `{name}` (the daemons')"),
        Form::Daemon(inner) => format!("not {} (libvirtd's record, no domain's)", form(inner)),
    }
}

/// The rows of one role as a table, `columns` giving the header and the cells after the entries.
fn table(
    out: &mut String,
    title: &str,
    intro: &str,
    header: &[&str],
    rows: &[(&Row, Vec<String>)],
) {
    out.push_str(&format!("### {title}\n\n{intro}\n\n"));
    out.push_str(&format!("| {} |\n", header.join(" | ")));
    out.push_str(&format!("|{}\n", "---|".repeat(header.len())));
    for (row, cells) in rows {
        let cells: Vec<String> = cells.iter().map(|c| cell(c)).collect();
        out.push_str(&format!("| {} | {} |\n", paths(row), cells.join(" | ")));
    }
    out.push('\n');
}

fn render() -> String {
    let of =
        |want: fn(&Role) -> bool| -> Vec<&Row> { TABLE.iter().filter(|r| want(&r.role)).collect() };
    let why = |rows: Vec<&'static Row>| -> Vec<(&'static Row, Vec<String>)> {
        rows.into_iter()
            .map(|r| (r, vec![r.why.to_string()]))
            .collect()
    };
    let mut out = String::new();
    table(
        &mut out,
        "Refused",
        "Never granted, nor a directory that contains one with everything below it. The \
         number in parentheses is the class of the rule above.",
        &["Entry", "Why"],
        &why(of(|r| *r == Role::Never)),
    );
    table(
        &mut out,
        "Read-only",
        "Refused for writing, and never granted with everything below them; readable.",
        &["Entry", "Why"],
        &why(of(|r| *r == Role::ReadOnly)),
    );
    let inside: Vec<(&Row, Vec<String>)> = TABLE
        .iter()
        .filter_map(|r| {
            let how = match r.role {
                Role::ReadOnlyInside => "read-only, to any rule",
                Role::AllowedInside => "to any rule",
                Role::HostdevInside => "only to a PCI `<hostdev>`'s own rules",
                _ => return None,
            };
            Some((r, vec![how.to_string(), r.why.to_string()]))
        })
        .collect();
    table(
        &mut out,
        "Exceptions inside refused trees",
        "Inside a refused tree, granted as the second column says.",
        &["Entry", "Granted", "Why"],
        &inside,
    );
    let devices: Vec<(&Row, Vec<String>)> = TABLE
        .iter()
        .filter_map(|r| match r.role {
            Role::Device(families) => {
                Some((r, vec![code_tags(&owners(families)), r.why.to_string()]))
            }
            _ => None,
        })
        .collect();
    table(
        &mut out,
        "Device trees of one element family",
        "Granted only to the rules of the elements named (refused with `<tree> is a device \
         only X may be given`), never as a share or runtime subtree. The first entry a path \
         is within decides.",
        &["Entry", "Only", "Why"],
        &devices,
    );
    let shared: Vec<(&Row, Vec<String>)> = TABLE
        .iter()
        .filter_map(|r| match r.role {
            Role::Shared(s) => {
                let entries = match s.entries {
                    Entries::Any => "any file the admin names".to_string(),
                    Entries::Domains([]) => "none: nothing in it is a domain's".to_string(),
                    Entries::Domains(forms) => {
                        forms.iter().map(form).collect::<Vec<_>>().join(", ")
                    }
                };
                let lives = if s.lives_with_vm { "yes" } else { "" };
                Some((
                    r,
                    vec![
                        s.holds.to_string(),
                        entries,
                        lives.to_string(),
                        r.why.to_string(),
                    ],
                ))
            }
            _ => None,
        })
        .collect();
    table(
        &mut out,
        "Shared by every domain",
        "Never granted with everything below them, nor a directory that contains one. In \
         one, a domain is given only its own entries (`<short>` is `<id>-<first 20 \
         characters of the name>`; `src/state.rs` has libvirt's sources); a path is judged \
         by the deepest one it is in. \"Lives with the VM\": libvirtd's `-F` grant of the \
         domain's entry is kept across a plain `-r` (`docs/runtime-grants.md`).",
        &[
            "Directory",
            "Holds",
            "A domain's own entries",
            "Lives with the VM",
            "Why",
        ],
        &shared,
    );
    out
}

#[test]
fn restricted_paths_doc_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) else {
        panic!("{DOC} has no generated block (marker lines {BEGIN} ... {END})");
    };
    let start = b + BEGIN.len();
    let fresh = format!("{}\n\n{}{}", &text[..start], render(), &text[e..]);
    if std::env::var_os("VAH_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("write the document");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{DOC} is out of date: run `VAH_BLESS=1 cargo test --test it restricted_doc::` and commit it"
    );
}

#[test]
fn every_entry_is_in_the_document() {
    let doc = render();
    for row in TABLE {
        assert!(!row.paths.is_empty(), "{row:?}");
        for p in row.paths {
            assert!(doc.contains(&format!("`{p}`")), "{p}");
        }
    }
}
