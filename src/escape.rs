//! AppArmor quoting: the only way to put a path or a name into a rule.
//!
//! Quoting alone does not make a path literal in AppArmor: inside `"..."` the characters
//! `* ? [ ] { } ^` keep their pattern meaning and `@{VAR}` still expands (measured with
//! apparmor_parser 3.0.8, `docs/weak-spots.md#quoting`). libvirt 9.0's helper wraps
//! paths in quotes and escapes nothing, so a disk named `/{etc,x}/shadow` grants
//! `/etc/shadow` (`docs/weak-spots.md#w1`). Here every character that is not plainly
//! literal is escaped, and control characters are refused:
//!
//! - `[A-Za-z0-9]`, `/ . _ - + ~ : = %`, space and printable non-ASCII characters are
//!   written as they are (space and non-ASCII are literal inside quotes);
//! - the pattern and syntax characters `* ? [ ] { } ^ , @ "` get a backslash
//!   (`\*`, `\@`...), which the parser documents and keeps literal;
//! - the backslash itself and every other ASCII punctuation character are written as a
//!   three-digit octal escape (`\134`, `\043`...). The parser decodes escapes after
//!   quoting and keeps the decoded character literal; `\\` cannot be used for a trailing
//!   backslash because the lexer then reads `\"` as an escaped quote (`docs/weak-spots.md#w8`: a VM
//!   named `vah\` broke the C helper's profile);
//! - control characters (C0, DEL, C1) are refused: they cannot be part of a path libvirt
//!   accepts and would make the rule file unreadable for line-based tools.
//!
//! [`AaPattern`] can only be built here, so the renderer, which accepts nothing else, can
//! never receive an unescaped path.

use std::fmt::Write as _;

/// A glob that the tool itself puts into a rule. These are the only unescaped pattern
/// characters that ever reach a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Glob {
    /// `**`: any number of path components (libvirt's base rules, e.g. `/var/log/libvirt/**/`).
    AnyDepth,
    /// `*`: anything within one component.
    AnyInComponent,
    /// `{,**}`: the directory itself and everything below it, as libvirtd passes for
    /// runtime directories with `-F <dir>/{,**}` (`AppArmorSetPathLabel(allowSubtree)`).
    SelfAndBelow,
    /// `{,*}`: the directory itself and the files in it (smartcard NSS database).
    SelfAndChildren,
}

impl Glob {
    fn text(self) -> &'static str {
        match self {
            Glob::AnyDepth => "**",
            Glob::AnyInComponent => "*",
            Glob::SelfAndBelow => "{,**}",
            Glob::SelfAndChildren => "{,*}",
        }
    }
}

/// One piece of a pattern: literal text (escaped) or one of our own globs.
#[derive(Debug, Clone, Copy)]
pub enum Part<'a> {
    /// Text that must match literally.
    Lit(&'a str),
    /// A glob chosen by the tool.
    Glob(Glob),
}

/// A path pattern ready to be written between double quotes in an AppArmor rule.
///
/// Invariant: every byte of user-supplied text in it has been escaped by [`escape_into`];
/// the only unescaped pattern characters come from [`Glob`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AaPattern(String);

/// Why a string cannot be put into a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EscapeError {
    /// The string contains a control character (shown as its code point).
    Control(char),
    /// The string is not valid UTF-8.
    NotUtf8,
    /// The pattern would be empty.
    Empty,
    /// The escaped pattern is longer than [`MAX_PATTERN_LEN`] (its length).
    TooLong(usize),
}

/// The longest escaped pattern `apparmor_parser` can read: its flex lexer holds a token in
/// a 16 KiB buffer, and a quoted path of more than 16380 characters between the quotes stops
/// the whole profile ("input buffer overflow, can't enlarge buffer because scanner uses
/// REJECT", measured with apparmor_parser 3.0.8; tests/escape_batch.rs compiles the
/// boundary). A path shorter than `PATH_MAX` always fits, even with every character escaped
/// as four; a long domain name in a base rule may not, and is refused here instead of
/// making the parser fail.
pub const MAX_PATTERN_LEN: usize = 16380;

impl std::fmt::Display for EscapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EscapeError::Control(c) => write!(
                f,
                "contains the control character U+{:04X}, which cannot appear in an AppArmor rule",
                *c as u32
            ),
            EscapeError::NotUtf8 => f.write_str("is not valid UTF-8"),
            EscapeError::Empty => f.write_str("is empty"),
            EscapeError::TooLong(len) => write!(
                f,
                "is {len} characters long once escaped, more than apparmor_parser can read ({MAX_PATTERN_LEN})"
            ),
        }
    }
}

impl AaPattern {
    /// A pattern that matches exactly the literal `text`.
    pub fn literal(text: &str) -> Result<Self, EscapeError> {
        Self::from_parts(&[Part::Lit(text)])
    }

    /// A pattern made of literal and glob parts, e.g. `/var/log/libvirt/` `**` `/name.log`.
    pub fn from_parts(parts: &[Part<'_>]) -> Result<Self, EscapeError> {
        let mut out = String::new();
        for part in parts {
            match part {
                Part::Lit(s) => escape_into(s, &mut out)?,
                Part::Glob(g) => out.push_str(g.text()),
            }
        }
        if out.is_empty() {
            return Err(EscapeError::Empty);
        }
        if out.len() > MAX_PATTERN_LEN {
            return Err(EscapeError::TooLong(out.len()));
        }
        Ok(AaPattern(out))
    }

    /// A pattern from a template written in the source code, whose `{}` holes are filled
    /// with runtime text, escaped: `fill("/var/log/libvirt/qemu/{}.log", &[name])` reads
    /// like libvirt's own C format strings. The template is tool text, as for
    /// [`AaPattern::fixed`] (it may hold globs: `"/run/libvirt/qemu/passt/{}-*.socket"`);
    /// only the arguments come from outside, and each is escaped. The number of holes and
    /// arguments must match (a caller's bug otherwise: checked in debug builds, and every
    /// template is exercised by the tests).
    pub fn fill(template: &'static str, args: &[&str]) -> Result<Self, EscapeError> {
        debug_assert_eq!(template.matches("{}").count(), args.len(), "{template}");
        let mut out = String::new();
        let mut args = args.iter();
        for (i, piece) in template.split("{}").enumerate() {
            if i > 0 {
                escape_into(args.next().copied().unwrap_or_default(), &mut out)?;
            }
            out.push_str(piece);
        }
        if out.is_empty() {
            return Err(EscapeError::Empty);
        }
        if out.len() > MAX_PATTERN_LEN {
            return Err(EscapeError::TooLong(out.len()));
        }
        Ok(AaPattern(out))
    }

    /// A pattern written in the source code itself (libvirt's fixed GL and VFIO blocks).
    /// Only a `&'static str` is accepted, so no runtime value can become a pattern this way.
    pub fn fixed(text: &'static str) -> Self {
        AaPattern(text.to_string())
    }

    /// A literal path given as an OS string (refused if not UTF-8).
    pub fn literal_os(text: &std::ffi::OsStr) -> Result<Self, EscapeError> {
        Self::literal(text.to_str().ok_or(EscapeError::NotUtf8)?)
    }

    /// The escaped text, without the surrounding quotes.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AaPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Characters that get a plain backslash: AppArmor's pattern characters (`AARE = ?*[]{}^`
/// in `parser/apparmor.d.pod`), the alternation separator, variable sigil and quote.
const AARE: [char; 10] = ['*', '?', '[', ']', '{', '}', '^', ',', '@', '"'];

/// Appends the escaped form of `s` to `out`.
pub fn escape_into(s: &str, out: &mut String) -> Result<(), EscapeError> {
    for c in s.chars() {
        if c.is_control() {
            return Err(EscapeError::Control(c));
        }
        if c.is_ascii_alphanumeric()
            || matches!(c, '/' | '.' | '_' | '-' | '+' | '~' | ':' | '=' | '%' | ' ')
        {
            out.push(c);
        } else if AARE.contains(&c) {
            out.push('\\');
            out.push(c);
        } else if c.is_ascii() {
            // Backslash and other punctuation (`\ # ! $ & ' ( ) ; < > | \``): octal.
            let _ = write!(out, "\\{:03o}", c as u32);
        } else {
            // Printable non-ASCII: literal inside quotes (the lexer works on bytes and
            // no UTF-8 byte of a multi-byte character is ASCII).
            out.push(c);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    fn esc(s: &str) -> String {
        AaPattern::literal(s)
            .map(|p| p.0)
            .unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn fill_escapes_only_the_arguments() {
        let p = AaPattern::fill("/run/libvirt/qemu/passt/{}-*.socket", &["1-a*b"]).unwrap();
        assert_eq!(p.as_str(), "/run/libvirt/qemu/passt/1-a\\*b-*.socket");
        let p = AaPattern::fill("/var/lib/libvirt/swtpm/{}/{}/**", &["u{,}", "tpm2"]).unwrap();
        assert_eq!(p.as_str(), "/var/lib/libvirt/swtpm/u\\{\\,\\}/tpm2/**");
        let p = AaPattern::fill("{}", &["/x\\y"]).unwrap();
        assert_eq!(p.as_str(), "/x\\134y");
        assert_eq!(
            AaPattern::fill("/l/{}.log", &["a\nb"]),
            Err(EscapeError::Control('\n'))
        );
        assert_eq!(AaPattern::fill("{}", &[""]), Err(EscapeError::Empty));
        let long = "x".repeat(MAX_PATTERN_LEN);
        assert!(AaPattern::fill("{}", &[&long]).is_ok());
        assert_eq!(
            AaPattern::fill("/{}", &[&long]),
            Err(EscapeError::TooLong(MAX_PATTERN_LEN + 1))
        );
        // The same text as the parts it replaces.
        assert_eq!(
            AaPattern::fill("/var/log/libvirt/qemu/{}.log", &["v m"]).unwrap(),
            AaPattern::from_parts(&[
                Part::Lit("/var/log/libvirt/qemu/"),
                Part::Lit("v m"),
                Part::Lit(".log")
            ])
            .unwrap()
        );
    }

    #[test]
    fn plain_paths_stay_readable() {
        assert_eq!(
            esc("/var/lib/libvirt/images/vm 1.qcow2"),
            "/var/lib/libvirt/images/vm 1.qcow2"
        );
        assert_eq!(esc("/srv/ä/x+y~z:1=2%"), "/srv/ä/x+y~z:1=2%");
    }

    #[test]
    fn pattern_characters_are_backslashed() {
        assert_eq!(esc("/{etc,x}/shadow"), "/\\{etc\\,x\\}/shadow");
        assert_eq!(esc("/h/@{HOME}"), "/h/\\@\\{HOME\\}");
        assert_eq!(
            esc("/a*b?c[d]^e\"f"),
            "/a\\*b?c\\[d\\]\\^e\\\"f".replace('?', "\\?")
        );
    }

    #[test]
    fn backslash_and_other_punctuation_are_octal() {
        // A trailing backslash must not turn the closing quote into an escaped quote
        // (docs/weak-spots.md#w8).
        assert_eq!(esc("/vm\\"), "/vm\\134");
        // Escape sequences in the input stay literal text: `\145` is four characters.
        assert_eq!(esc("/x\\145"), "/x\\134145");
        assert_eq!(esc("/a#b!c$d"), "/a\\043b\\041c\\044d");
    }

    #[test]
    fn control_characters_are_refused() {
        assert_eq!(AaPattern::literal("/a\nb"), Err(EscapeError::Control('\n')));
        assert_eq!(
            AaPattern::literal("/a\u{85}b"),
            Err(EscapeError::Control('\u{85}'))
        );
        assert_eq!(AaPattern::literal(""), Err(EscapeError::Empty));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(
            EscapeError::Control('\n').to_string(),
            "contains the control character U+000A, which cannot appear in an AppArmor rule"
        );
        assert_eq!(EscapeError::NotUtf8.to_string(), "is not valid UTF-8");
        assert_eq!(EscapeError::Empty.to_string(), "is empty");
        assert_eq!(
            EscapeError::TooLong(16381).to_string(),
            "is 16381 characters long once escaped, more than apparmor_parser can read (16380)"
        );
        let bad = std::ffi::OsStr::from_bytes(b"/a\xffb");
        assert_eq!(AaPattern::literal_os(bad), Err(EscapeError::NotUtf8));
        let good = AaPattern::literal_os(std::ffi::OsStr::new("/a b")).map(|p| p.to_string());
        assert_eq!(good.as_deref(), Ok("/a b"));
    }

    #[test]
    fn the_longest_pattern_the_parser_reads() {
        // Every escaped character counts: `#` is four (`\043`).
        let fits = format!("/{}", "#".repeat((MAX_PATTERN_LEN - 1) / 4));
        let p = AaPattern::literal(&fits).unwrap();
        assert!(p.as_str().len() <= MAX_PATTERN_LEN);
        let at = "a".repeat(MAX_PATTERN_LEN);
        assert_eq!(
            AaPattern::literal(&at).map(|p| p.as_str().len()),
            Ok(MAX_PATTERN_LEN)
        );
        let over = "a".repeat(MAX_PATTERN_LEN + 1);
        assert_eq!(
            AaPattern::literal(&over),
            Err(EscapeError::TooLong(MAX_PATTERN_LEN + 1))
        );
        // A glob part counts too.
        let glob = AaPattern::from_parts(&[
            Part::Lit(&"a".repeat(MAX_PATTERN_LEN - 5)),
            Part::Glob(Glob::SelfAndBelow),
        ]);
        assert_eq!(glob.map(|p| p.as_str().len()), Ok(MAX_PATTERN_LEN));
    }

    #[test]
    fn fixed_patterns_and_every_glob_are_written_as_is() {
        assert_eq!(
            AaPattern::fixed("/dev/vfio/vfio").as_str(),
            "/dev/vfio/vfio"
        );
        assert_eq!(AaPattern::fixed("/a*").to_string(), "/a*");
        let all = AaPattern::from_parts(&[
            Part::Lit("/d/"),
            Part::Glob(Glob::AnyDepth),
            Part::Lit("/"),
            Part::Glob(Glob::AnyInComponent),
            Part::Lit("/"),
            Part::Glob(Glob::SelfAndBelow),
            Part::Glob(Glob::SelfAndChildren),
        ]);
        assert_eq!(all.map(|p| p.0).as_deref(), Ok("/d/**/*/{,**}{,*}"));
    }

    #[test]
    fn globs_only_come_from_the_tool() {
        let p = AaPattern::from_parts(&[
            Part::Lit("/var/log/libvirt/"),
            Part::Glob(Glob::AnyDepth),
            Part::Lit("/a*b.log"),
        ])
        .map(|p| p.0);
        assert_eq!(p.as_deref(), Ok("/var/log/libvirt/**/a\\*b.log"));
    }

    /// What apparmor_parser's lexer does to a quoted string (`processunquoted`,
    /// parser_misc.c): `\ooo` octal and `\c` decode to the character, and a character that
    /// came from an escape is literal. Returns the literal text, or `None` if an unescaped
    /// pattern character remains (the string would be a glob).
    fn parser_literal(escaped: &str) -> Option<String> {
        let b = escaped.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'\\' => {
                    let rest = &b[i + 1..];
                    if rest.len() >= 3 && rest[..3].iter().all(|d| (b'0'..=b'7').contains(d)) {
                        let v = (rest[0] - b'0') as u32 * 64
                            + (rest[1] - b'0') as u32 * 8
                            + (rest[2] - b'0') as u32;
                        out.push(u8::try_from(v).ok()?);
                        i += 4;
                    } else {
                        out.push(*rest.first()?);
                        i += 2;
                    }
                }
                c if b"*?[]{}^,@\"".contains(&c) => return None,
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        String::from_utf8(out).ok()
    }

    proptest::proptest! {
        #[test]
        fn escaping_round_trips_through_the_parser_model(s in "\\PC{0,40}") {
            match AaPattern::literal(&s) {
                Ok(p) => {
                    proptest::prop_assert_eq!(parser_literal(p.as_str()), Some(s.clone()));
                    // Only safe characters and escapes; never a raw quote or pattern char.
                    proptest::prop_assert!(!p.as_str().chars().any(|c| c.is_control()));
                }
                Err(e) => {
                    proptest::prop_assert!(s.is_empty() || s.chars().any(|c| c.is_control()), "{e}");
                }
            }
        }

        #[test]
        fn hostile_ascii_round_trips(s in "[ -~]{1,40}") {
            let p = AaPattern::literal(&s).unwrap();
            proptest::prop_assert_eq!(parser_literal(p.as_str()), Some(s));
        }
    }
}
