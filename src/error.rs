//! The one error type of the tool, and the exit code of each failure.
//!
//! Every variant names the thing it is about (an element, a path, a file, the parser) and
//! why, so that libvirtd, which copies the helper's stderr into its own error message, shows
//! the admin something actionable (the most common complaint about the C helper is an opaque
//! "cannot load AppArmor profile", see `docs/weak-spots.md#user-reports`).
//!
//! Exit codes are part of the interface: [`Exit`] is their one table, which the `--help`
//! text and the man page print. libvirtd only distinguishes zero from non-zero, like the C
//! helper (which always exits 1).

use crate::origin::Origin;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Every failure the tool reports. A closed set: adding a variant means giving it an exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line is malformed (unknown option, missing mode, conflicting options).
    #[error("{0}")]
    Usage(String),

    /// The site configuration file has an error.
    #[error("{}{}: {why}", quote(.path.as_os_str()), .line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Config {
        path: PathBuf,
        line: Option<usize>,
        why: String,
    },

    /// The `-u` argument is not `libvirt-` followed by a canonical lower-case UUID.
    #[error("invalid profile name {}: {why}", quote(.given))]
    ProfileName { given: String, why: &'static str },

    /// Standard input could not be read or is larger than the cap.
    #[error("standard input: {0}")]
    Input(String),

    /// The domain XML is not well-formed, or uses a construct we refuse (DOCTYPE, entities).
    #[error("domain XML: {0}")]
    Xml(String),

    /// A domain element or attribute has a value we cannot accept.
    #[error("domain XML: {element}: {why}")]
    Domain { element: String, why: String },

    /// `-u` names another domain than the XML's `<uuid>`.
    #[error(
        "profile name {given} does not match the domain's <uuid> {xml} (expected libvirt-{xml})"
    )]
    UuidMismatch { given: String, xml: String },

    /// A path was refused: restricted location, unrepresentable in a rule, symlink loop,
    /// backing chain loop...
    #[error("{}: {why} (from {origin})", quote(.path.as_os_str()))]
    Path {
        path: PathBuf,
        origin: String,
        why: String,
    },

    /// The profile is not in the state the requested mode needs.
    #[error("{}: {why}", quote(.path.as_os_str()))]
    ProfileState { path: PathBuf, why: &'static str },

    /// A template is missing or does not have the shape we need.
    #[error("template {}: {why}", quote(.path.as_os_str()))]
    Template { path: PathBuf, why: String },

    /// An I/O operation on a named file failed.
    #[error("{}: cannot {op}: {}", quote(.path.as_os_str()), io_reason(.source))]
    Io {
        path: PathBuf,
        op: &'static str,
        source: std::io::Error,
    },

    /// A file the admin configured (a storage pool definition) exists but the helper may not
    /// read it: under AppArmor, its own profile lacks the rule `hint` names. An error, not a
    /// warning: going on without it would leave a disk without its rule.
    #[error("{}: cannot be read ({}); {hint}", quote(.path.as_os_str()), io_reason(.source))]
    Denied {
        path: PathBuf,
        source: std::io::Error,
        hint: String,
    },

    /// `apparmor_parser` could not be started.
    #[error("cannot run {}: {}", quote(.parser.as_os_str()), io_reason(.source))]
    ParserSpawn {
        parser: PathBuf,
        source: std::io::Error,
    },

    /// `apparmor_parser` exited with an error; `message` is the first line it printed.
    #[error("apparmor_parser {args} failed ({status}): {message}")]
    Parser {
        args: String,
        status: String,
        message: String,
    },

    /// `--reload-all`: `apparmor_parser` refused some profiles (named, at most
    /// [`RELOAD_NAMED`] of them); each stays loaded as it was.
    #[error("apparmor_parser failed for {} of {total} profiles, which stay loaded as they were: {}", .failed.len(), name_some(.failed))]
    Reload { failed: Vec<String>, total: usize },

    /// Real and effective ids differ: the binary was installed set-uid or set-gid.
    #[error("refusing to run set-uid or set-gid ({0}); run virt-aa-helper as root from libvirtd instead")]
    Privilege(String),
}

/// The process exit statuses: one per kind of failure, each with what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    Domain = 1,
    Usage = 2,
    PathRefused = 3,
    ProfileState = 4,
    Template = 5,
    Io = 6,
    Parser = 7,
    Privilege = 8,
}

impl Exit {
    /// Every status, in order.
    pub const ALL: [Exit; 9] = [
        Exit::Success,
        Exit::Domain,
        Exit::Usage,
        Exit::PathRefused,
        Exit::ProfileState,
        Exit::Template,
        Exit::Io,
        Exit::Parser,
        Exit::Privilege,
    ];

    /// The number the process exits with.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// What the status means, for `--help` and the man page.
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Success => "success",
            Exit::Domain => "invalid domain XML",
            Exit::Usage => "invalid command line or configuration file",
            Exit::PathRefused => "path refused",
            Exit::ProfileState => "profile missing or already present",
            Exit::Template => "template unusable",
            Exit::Io => "file I/O error",
            Exit::Parser => "apparmor_parser failed",
            Exit::Privilege => "running set-uid/set-gid",
        }
    }

    /// `Exit status: 0 success, 1 ..., 8 ....`: the table as one sentence.
    pub fn help() -> String {
        let items: Vec<String> = Exit::ALL
            .iter()
            .map(|e| format!("{} {}", e.code(), e.meaning()))
            .collect();
        format!("Exit status: {}.", items.join(", "))
    }
}

impl Error {
    /// The process exit status for this error.
    pub fn exit(&self) -> Exit {
        match self {
            Error::Input(_) | Error::Xml(_) | Error::Domain { .. } | Error::UuidMismatch { .. } => {
                Exit::Domain
            }
            Error::Usage(_) | Error::ProfileName { .. } | Error::Config { .. } => Exit::Usage,
            Error::Path { .. } => Exit::PathRefused,
            Error::ProfileState { .. } => Exit::ProfileState,
            Error::Template { .. } => Exit::Template,
            // A denied read is a failed read: same status as any other I/O error.
            Error::Io { .. } | Error::Denied { .. } => Exit::Io,
            Error::ParserSpawn { .. } | Error::Parser { .. } | Error::Reload { .. } => Exit::Parser,
            Error::Privilege(_) => Exit::Privilege,
        }
    }

    /// The process exit status for this error, as a number.
    pub fn code(&self) -> i32 {
        self.exit().code()
    }

    /// Shorthand for an [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, op: &'static str, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            op,
            source,
        }
    }

    /// Shorthand for an [`Error::Domain`].
    pub fn domain(element: impl Into<String>, why: impl Into<String>) -> Self {
        Error::Domain {
            element: element.into(),
            why: why.into(),
        }
    }
}

/// How many failed profiles the one-line [`Error::Reload`] names; stdout names them all.
pub const RELOAD_NAMED: usize = 10;

/// `a, b, c`, or the first [`RELOAD_NAMED`] and how many more, so the error stays a
/// readable line when a broken abstraction fails every profile.
fn name_some(names: &[String]) -> String {
    let mut s = names
        .iter()
        .take(RELOAD_NAMED)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > RELOAD_NAMED {
        let _ = write!(s, " and {} more", names.len() - RELOAD_NAMED);
    }
    s
}

/// The result type of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A non-fatal finding, printed as `virt-aa-helper: warning: ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning(pub String);

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The one sink for a run's warnings. Every stage (the resolver, the rule builder, the
/// store, the parser runner) pushes to it as it finds something, and the run prints all of
/// it, also when it fails: the warnings found before a failing element often explain the
/// failure. (Before, the resolver and the rule builder had a sink each, merged only on
/// success.)
///
/// A warning about an element ([`Diagnostics::warn`]) is reported in document order, by
/// the element's place in the XML ([`Origin::position`]); the rules of different element
/// families are built in libvirt's order, not the document's. A warning about no element
/// ([`Diagnostics::note`]: a lock, an fsync, the parser) keeps its place after everything
/// pushed before it.
#[derive(Debug, Default)]
pub struct Diagnostics {
    /// Each warning with its sort key: its element's position, or, for a note or an
    /// element-less origin, the largest key pushed before it.
    items: Vec<(usize, Warning)>,
    last: usize,
}

impl Diagnostics {
    /// A warning about the element `origin` names.
    pub fn warn(&mut self, origin: &Origin, msg: impl Into<String>) {
        let at = origin.position();
        if at == 0 {
            self.note(msg);
        } else {
            self.last = self.last.max(at);
            self.items.push((at, Warning(msg.into())));
        }
    }

    /// A warning about no element of the XML.
    pub fn note(&mut self, msg: impl Into<String>) {
        self.items.push((self.last, Warning(msg.into())));
    }

    /// Warnings about no element, collected elsewhere (the store's).
    pub fn notes(&mut self, warnings: impl IntoIterator<Item = Warning>) {
        for w in warnings {
            self.note(w.0);
        }
    }

    /// No warning so far.
    /// How many warnings and notes there are.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The warnings in the order they are reported (see the type's docs).
    pub fn into_warnings(mut self) -> Vec<Warning> {
        // Stable: the warnings about one element keep the order they were found in.
        self.items.sort_by_key(|(at, _)| *at);
        self.items.into_iter().map(|(_, w)| w).collect()
    }
}

/// The site file of the helper's own AppArmor profile, where an admin adds the rules a
/// warning or error names. The helper's profile is loaded from the system's policy tree
/// whatever `--apparmor-dir` says, so this path is fixed. (Debian's stock profile and
/// `profiles/usr.lib.libvirt.virt-aa-helper` both include it.)
pub const HELPER_LOCAL_PROFILE: &str = "/etc/apparmor.d/local/usr.lib.libvirt.virt-aa-helper";

/// Whether an I/O error is a refusal (`EACCES` or `EPERM`: DAC, or an LSM such as AppArmor
/// confining the helper) rather than a missing file or a broken disk.
pub fn is_denied(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::PermissionDenied
}

/// The AppArmor rule `<path><tail> <perms>,` that allows what was denied: `path` escaped
/// (so a directory with pattern characters names only itself), `tail` a fixed glob from
/// the source (`/libvirt-*.lock`, `/*.xml`, `/`), quoted if it holds a space.
pub fn allow_rule(path: &Path, tail: &'static str, perms: &str) -> String {
    let mut pattern = String::new();
    let escaped = path
        .to_str()
        .is_some_and(|p| crate::escape::escape_into(p, &mut pattern).is_ok());
    if !escaped {
        // Not representable in a rule (control character, not UTF-8): show it for the
        // admin to write by hand; quote() keeps the message on one line.
        return format!("{}{tail} {perms},", quote(path.as_os_str()));
    }
    pattern.push_str(tail);
    if pattern.contains(' ') {
        format!("\"{pattern}\" {perms},")
    } else {
        format!("{pattern} {perms},")
    }
}

/// `if AppArmor confines the helper, allow it with '<rule>' in <local file>`: the end of a
/// message about a denied access, naming what to add to the helper's profile.
pub fn allow_hint(rule: &str) -> String {
    format!("if AppArmor confines the helper, allow it with '{rule}' in {HELPER_LOCAL_PROFILE}")
}

/// Quotes a user-supplied string for a one-line message: `'...'` with control characters,
/// quotes and backslashes shown as escapes, so a hostile path cannot split or fake a line of
/// libvirtd's log. A string longer than [`QUOTE_MAX`] characters is shortened in the middle
/// (a path near `PATH_MAX` would otherwise fill several screens of one log line).
pub fn quote(s: impl AsRef<OsStr>) -> String {
    let s = s.as_ref().to_string_lossy();
    let mut out = String::with_capacity(s.len().min(QUOTE_MAX) + 2);
    out.push('\'');
    let count = s.chars().count();
    let keep_tail = QUOTE_MAX / 4;
    for (i, c) in s.chars().enumerate() {
        if count > QUOTE_MAX && i >= QUOTE_MAX - keep_tail && i < count - keep_tail {
            if i == QUOTE_MAX - keep_tail {
                let _ = write!(out, "...({} characters)...", count - QUOTE_MAX);
            }
            continue;
        }
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The longest string [`quote`] shows whole.
pub const QUOTE_MAX: usize = 400;

/// Quotes a path; see [`quote`].
pub fn quote_path(p: &Path) -> String {
    quote(p.as_os_str())
}

/// The OS reason of an I/O error without Rust's " (os error N)" suffix (as uutils does).
pub fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_keeps_messages_on_one_line() {
        assert_eq!(quote("/a\nb'c\\"), "'/a\\nb\\'c\\\\'");
        assert_eq!(quote("x\u{1b}y"), "'x\\u{1b}y'");
    }

    #[test]
    fn quote_shortens_huge_strings_in_the_middle() {
        let whole = "a".repeat(QUOTE_MAX);
        assert_eq!(quote(&whole), format!("'{whole}'"));
        let long = format!("/{}{}/tail", "h".repeat(400), "m".repeat(4000));
        let q = quote(&long);
        assert!(q.starts_with("'/hhh"), "{q}");
        assert!(q.ends_with("mmm/tail'"), "{q}");
        assert!(q.contains("...(4006 characters)..."), "{q}");
        assert_eq!(
            q.chars().count(),
            QUOTE_MAX + 2 + "...(4006 characters)...".len()
        );
    }

    #[test]
    fn io_reason_strips_os_error_number() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(io_reason(&e), "No such file or directory");
    }

    #[test]
    fn every_variant_has_a_distinct_documented_code() {
        let e = Error::Privilege("uid 1000 != euid 0".into());
        assert_eq!(e.code(), 8);
        let e = Error::Usage("x".into());
        assert_eq!(e.code(), 2);
        let e = Error::io("/x", "read", std::io::Error::from_raw_os_error(13));
        assert_eq!(e.to_string(), "'/x': cannot read: Permission denied");
        assert_eq!(e.code(), 6);
        let e = Error::Denied {
            path: "/p/x.xml".into(),
            source: std::io::Error::from_raw_os_error(13),
            hint: allow_hint(&allow_rule(Path::new("/p"), "/*.xml", "r")),
        };
        assert_eq!(e.to_string(), "'/p/x.xml': cannot be read (Permission denied); if AppArmor confines the helper, allow it with '/p/*.xml r,' in /etc/apparmor.d/local/usr.lib.libvirt.virt-aa-helper");
        assert_eq!(e.code(), 6);
    }

    #[test]
    fn denied_means_eacces_or_eperm() {
        for (errno, denied) in [(13, true), (1, true), (2, false), (5, false)] {
            assert_eq!(
                is_denied(&std::io::Error::from_raw_os_error(errno)),
                denied,
                "{errno}"
            );
        }
    }

    #[test]
    fn allow_rules_escape_the_path() {
        assert_eq!(
            allow_rule(
                Path::new("/etc/apparmor.d/libvirt"),
                "/libvirt-*.lock",
                "rwk"
            ),
            "/etc/apparmor.d/libvirt/libvirt-*.lock rwk,"
        );
        assert_eq!(
            allow_rule(Path::new("/a b/{x}"), "/", "r"),
            "\"/a b/\\{x\\}/\" r,"
        );
        assert_eq!(allow_rule(Path::new("/a\nb"), "/", "r"), "'/a\\nb'/ r,");
    }

    #[test]
    fn diagnostics_in_document_order_notes_keep_their_place() {
        let at = |n: usize| Origin::new("disk", n.to_string()).at(n);
        let mut d = Diagnostics::default();
        d.note("lock");
        d.warn(&at(50), "disk 50 a");
        d.warn(&at(10), "disk 10");
        d.warn(&Origin::new("domain", "base"), "base");
        d.warn(&at(50), "disk 50 b");
        d.warn(&at(30), "disk 30");
        d.note("fsync");
        let got: Vec<String> = d.into_warnings().into_iter().map(|w| w.0).collect();
        assert_eq!(
            got,
            [
                "lock",
                "disk 10",
                "disk 30",
                "disk 50 a",
                "base",
                "disk 50 b",
                "fsync"
            ]
        );
    }
}
