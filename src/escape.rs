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
    /// A name that must be one path component contains `/`.
    Slash,
    /// Names that part too early: their complement would nest more alternatives (this
    /// many) than apparmor_parser reads ([`MAX_NESTING`]).
    TooDeep(usize),
}

/// The longest escaped pattern `apparmor_parser` can read: its flex lexer holds a token in
/// a 16 KiB buffer, and a quoted path of more than 16380 characters between the quotes stops
/// the whole profile ("input buffer overflow, can't enlarge buffer because scanner uses
/// REJECT", measured with apparmor_parser 3.0.8; tests/it/escape_batch.rs compiles the
/// boundary). A path shorter than `PATH_MAX` always fits, even with every character escaped
/// as four; a long domain name in a base rule may not, and is refused here instead of
/// making the parser fail.
pub const MAX_PATTERN_LEN: usize = 16380;

/// The deepest nesting of `{...}` apparmor_parser 3.0.8 accepts (50 levels: "Regex grouping
/// error: Exceeded maximum nesting of {}"; measured, `tests/it/escape_batch.rs`).
pub const MAX_NESTING: usize = 49;

/// The longest file name Linux accepts (`NAME_MAX`, bytes): [`AaPattern::all_but`] of a
/// longer name is the whole directory, and its pattern stays far below [`MAX_PATTERN_LEN`].
pub const NAME_MAX: usize = 255;

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
            EscapeError::Slash => f.write_str("contains '/', so it is not one file name"),
            EscapeError::TooDeep(n) => write!(
                f,
                "would nest {n} alternatives, more than apparmor_parser reads ({MAX_NESTING})"
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

    /// Every file directly in the directory `dir` except the one named `own`: AppArmor has no
    /// negation, so the complement of one name within a path component is spelt out, byte
    /// by byte, as nested alternatives. For `own` = `b0 b1 ... bn-1`, level `i` (the first
    /// `i` bytes equal to `own`'s) is
    ///
    /// - nothing (the name ends here: shorter than `own`; not at level 0, which would be
    ///   `dir/` itself),
    /// - `[^bi/]*` (byte `i` differs, then anything within the component),
    /// - `bi` then level `i+1`; level `n` is `?*` (longer than `own`).
    ///
    /// `vm1` in `/d` gives `/d/{[^v/]*,v{,[^m/]*,m{,[^1/]*,1?*}}}`: every name but `vm1`
    /// (and never `/`: `*`, `?` and the classes stay within the component). The pattern
    /// grows linearly with the name (11 characters a byte, 17 for a byte written as an
    /// escape), unlike a flat list of alternatives, which grows with its square; but the
    /// parser nests at most [`MAX_NESTING`] braces, so a longer name is cut into blocks of
    /// 48 levels, each an alternative of its own that starts with the bytes before it
    /// (`{<levels 0-47>,b0...b47<levels 48-95>,...}`; the last level of a block has no
    /// way on). A
    /// `deny` rule of it closes a glob of a shared directory (Debian's
    /// `owner .../nvram/*_VARS.fd rwk`, docs/weak-spots.md#w14) to every file but this
    /// domain's own, since deny beats allow whatever file the allow rule is in.
    ///
    /// A name longer than Linux's `NAME_MAX` (255 bytes) names no file, so every file in
    /// `dir` is another's: `dir/*`. Byte-wise, because AppArmor's `?` and classes match one byte: a byte of a multi-byte
    /// character is written as an octal escape. Inside a class apparmor_parser 3.0.8 decodes
    /// escapes before it reads the class (measured with `-D rule-exprs`,
    /// `tests/it/escape_batch.rs`): an octal `-` became a range and an octal `,` also added
    /// `\` to the class, so `-` is written first in the class, `,` and alphanumerics as they
    /// are, and every other byte as `\ooo` (`]`, `\`, `^`, `"`, `*`...: each measured).
    /// Outside the classes each byte is escaped as [`escape_into`] does, and non-ASCII
    /// bytes as `\ooo`.
    pub fn all_but(dir: &str, own: &str) -> Result<Self, EscapeError> {
        check_name(own)?;
        let mut out = String::new();
        escape_into(dir.trim_end_matches('/'), &mut out)?;
        out.push('/');
        if own.len() > NAME_MAX {
            // No file can have that name: every file is another's.
            out.push('*');
            return Ok(AaPattern(out));
        }
        chain_into(own.as_bytes(), "?*", 0, &mut out)?;
        if out.len() > MAX_PATTERN_LEN {
            return Err(EscapeError::TooLong(out.len()));
        }
        Ok(AaPattern(out))
    }

    /// Every file directly in `dir` except those named in `owns` (at least one): the
    /// complement of a set of names, for a domain that owns several files in a shared
    /// directory (`nvram/<name>_VARS.fd`, `.raw`, `.qcow2`: the names libvirt >= 10
    /// generates for a varstore of each format). The names' common prefix is spelt out as
    /// by [`AaPattern::all_but`]; where they part, each level is a class of the bytes none
    /// of them has there, then one alternative per byte one of them has, down to each
    /// name's end: `vm_VARS.{fd,raw}` gives `...{,[^\056/]*,.{,[^fr/]*,f{,[^d/]*,d?*},r{,[^a/]*,a{,[^w/]*,w?*}}}}`.
    /// One name is exactly [`AaPattern::all_but`]. A name longer than [`NAME_MAX`] names no
    /// file and is left out.
    pub fn all_but_any(dir: &str, owns: &[&str]) -> Result<Self, EscapeError> {
        for own in owns {
            check_name(own)?;
        }
        let mut names: Vec<&[u8]> = owns
            .iter()
            .map(|o| o.as_bytes())
            .filter(|o| o.len() <= NAME_MAX)
            .collect();
        names.sort_unstable();
        names.dedup();
        match names.as_slice() {
            [] => {
                let mut out = String::new();
                escape_into(dir.trim_end_matches('/'), &mut out)?;
                out.push_str("/*");
                return Ok(AaPattern(out));
            }
            [one] => {
                // Only valid UTF-8 went in.
                let one = std::str::from_utf8(one).map_err(|_| EscapeError::NotUtf8)?;
                return Self::all_but(dir, one);
            }
            _ => {}
        }
        let common = names
            .iter()
            .map(|n| n.iter().zip(names[0]).take_while(|(a, b)| a == b).count())
            .min()
            .unwrap_or(0);
        let rests: Vec<&[u8]> = names.iter().map(|n| &n[common..]).collect();
        let depth = rests.iter().map(|r| r.len()).max().unwrap_or(0);
        let mut tail = String::new();
        set_complement_into(&rests, common > 0, &mut tail)?;
        let mut out = String::new();
        escape_into(dir.trim_end_matches('/'), &mut out)?;
        out.push('/');
        // The names part within their last MAX_NESTING / 2 bytes (libvirt's varstore
        // names part at the extension), so the common prefix keeps blocks of levels.
        if depth > MAX_NESTING / 2 {
            return Err(EscapeError::TooDeep(depth));
        }
        if common == 0 {
            out.push_str(&tail);
        } else {
            chain_into(&names[0][..common], &tail, depth, &mut out)?;
        }
        if out.len() > MAX_PATTERN_LEN {
            return Err(EscapeError::TooLong(out.len()));
        }
        Ok(AaPattern(out))
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

/// The levels of [`AaPattern::all_but`] for the name `bytes`, with `tail` (nesting `depth`
/// braces) where the name ends: `?*` for one name (longer than it), the complement of the
/// rest of a set of names ([`set_complement_into`]). In blocks of levels, each a top-level
/// alternative that starts with the name's bytes before it: apparmor_parser refuses more
/// than MAX_NESTING nested braces.
fn chain_into(bytes: &[u8], tail: &str, depth: usize, out: &mut String) -> Result<(), EscapeError> {
    let n = bytes.len();
    let block = MAX_NESTING - 1 - depth;
    if n > block {
        out.push('{');
    }
    for s in (0..n).step_by(block) {
        let e = n.min(s + block);
        if s > 0 {
            out.push(',');
        }
        for &b in &bytes[..s] {
            literal_byte_into(b, out)?;
        }
        for (i, &b) in bytes.iter().enumerate().take(e).skip(s) {
            out.push_str(if i == 0 { "{[^" } else { "{,[^" });
            class_byte_into(b, out);
            out.push_str("/]*");
            // The block's last level stops here; the next block goes on from it.
            if i + 1 < e || e == n {
                out.push(',');
                literal_byte_into(b, out)?;
            }
        }
        if e == n {
            out.push_str(tail);
        }
        out.push_str(&"}".repeat(e - s));
    }
    if n > block {
        out.push('}');
    }
    Ok(())
}

/// Every remainder of a name (within one path component) that is none of `rests`: the
/// empty remainder unless it is one of them (and `may_end`: a name cannot be empty), any
/// byte none of them has first then anything, and for each first byte they have, that byte
/// then the complement of their remainders after it. A set of the one empty remainder is
/// `?*` (anything longer).
fn set_complement_into(
    rests: &[&[u8]],
    may_end: bool,
    out: &mut String,
) -> Result<(), EscapeError> {
    let mut firsts: Vec<u8> = rests.iter().filter_map(|r| r.first().copied()).collect();
    firsts.sort_unstable();
    firsts.dedup();
    if firsts.is_empty() {
        out.push_str("?*");
        return Ok(());
    }
    out.push('{');
    let mut parts = 0;
    if may_end && !rests.iter().any(|r| r.is_empty()) {
        parts += 1;
    }
    if parts > 0 {
        out.push(',');
    }
    out.push_str("[^");
    // `-` first in the class (see AaPattern::all_but).
    firsts.sort_by_key(|&b| b != b'-');
    for &b in &firsts {
        class_byte_into(b, out);
    }
    out.push_str("/]*");
    firsts.sort_unstable();
    for &b in &firsts {
        out.push(',');
        literal_byte_into(b, out)?;
        let next: Vec<&[u8]> = rests
            .iter()
            .filter(|r| r.first() == Some(&b))
            .map(|r| &r[1..])
            .collect();
        set_complement_into(&next, true, out)?;
    }
    out.push('}');
    Ok(())
}

/// Characters that get a plain backslash: AppArmor's pattern characters (`AARE = ?*[]{}^`
/// in `parser/apparmor.d.pod`), the alternation separator, variable sigil and quote.
const AARE: [char; 10] = ['*', '?', '[', ']', '{', '}', '^', ',', '@', '"'];

/// A file name a complement pattern may name: not empty, no control character, no `/`.
fn check_name(own: &str) -> Result<(), EscapeError> {
    if own.is_empty() {
        return Err(EscapeError::Empty);
    }
    if let Some(c) = own.chars().find(|c| c.is_control()) {
        return Err(EscapeError::Control(c));
    }
    if own.contains('/') {
        return Err(EscapeError::Slash);
    }
    Ok(())
}

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

/// One byte of a name, outside a class: as [`escape_into`] writes it if it is ASCII, else
/// as an octal escape (a lone byte of a multi-byte character).
fn literal_byte_into(b: u8, out: &mut String) -> Result<(), EscapeError> {
    if b.is_ascii() {
        escape_into(char::from(b).encode_utf8(&mut [0; 4]), out)
    } else {
        let _ = write!(out, "\\{b:03o}");
        Ok(())
    }
}

/// One byte of a name (not a control character) as the first member of a `[^...]` class
/// (measured: see [`AaPattern::all_but`]).
fn class_byte_into(b: u8, out: &mut String) {
    if b.is_ascii_alphanumeric() || b == b'-' || b == b',' {
        out.push(char::from(b));
    } else {
        let _ = write!(out, "\\{b:03o}");
    }
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
    fn all_but_any_spells_out_the_complement_of_a_set_of_names() {
        let p = |dir: &str, owns: &[&str]| AaPattern::all_but_any(dir, owns).map(|p| p.0);
        assert_eq!(
            p("/d", &["v.fd", "v.raw"]).unwrap(),
            "/d/{[^v/]*,v{,[^\\056/]*,.{,[^fr/]*,f{,[^d/]*,d?*},r{,[^a/]*,a{,[^w/]*,w?*}}}}}"
        );
        // One name (duplicates and order aside) is all_but.
        assert_eq!(
            p("/d", &["ab", "ab"]),
            AaPattern::all_but("/d", "ab").map(|p| p.0)
        );
        // A name that is a prefix of another: it ends there, the other goes on.
        assert_eq!(p("/d", &["ab", "a"]).unwrap(), "/d/{[^a/]*,a{[^b/]*,b?*}}");
        // No common prefix: the names part at the first byte, which cannot be empty.
        assert_eq!(p("/d", &["a", "b"]).unwrap(), "/d/{[^ab/]*,a?*,b?*}");
        assert_eq!(
            p("/d", &["-x", "a"]).unwrap(),
            "/d/{[^-a/]*,-{,[^x/]*,x?*},a?*}"
        );
        // Only names too long for a file: every file is another's.
        let long = "n".repeat(NAME_MAX + 1);
        assert_eq!(p("/d", &[&long, &long]).unwrap(), "/d/*");
        assert_eq!(p("/d", &[&long, "a"]).unwrap(), "/d/{[^a/]*,a?*}");
        assert_eq!(p("/d", &["a", ""]), Err(EscapeError::Empty));
        assert_eq!(p("/d", &["a", "b/c"]), Err(EscapeError::Slash));
        let deep = format!("b{}", "x".repeat(30));
        assert_eq!(p("/d", &["a", &deep]), Err(EscapeError::TooDeep(31)));
    }

    #[test]
    fn all_but_spells_out_the_complement_of_one_name() {
        let p = |dir: &str, own: &str| AaPattern::all_but(dir, own).map(|p| p.0);
        assert_eq!(
            p("/d/", "vm1").as_deref(),
            Ok("/d/{[^v/]*,v{,[^m/]*,m{,[^1/]*,1?*}}}")
        );
        assert_eq!(p("/d", "x").as_deref(), Ok("/d/{[^x/]*,x?*}"));
        // In a class: `-` and `,` as they are (escaped, the parser reads them wrong), other
        // punctuation and non-ASCII bytes in octal; outside, as escape_into writes them,
        // non-ASCII bytes in octal.
        assert_eq!(
            p("/d", "-,]\\é").as_deref(),
            Ok("/d/{[^-/]*,-{,[^,/]*,\\,{,[^\\135/]*,\\]{,[^\\134/]*,\\134{,[^\\303/]*,\\303{,[^\\251/]*,\\251?*}}}}}}")
        );
        // The directory is escaped as a literal.
        assert_eq!(p("/a*", "b").as_deref(), Ok("/a\\*/{[^b/]*,b?*}"));
        assert_eq!(AaPattern::all_but("/d", ""), Err(EscapeError::Empty));
        assert_eq!(AaPattern::all_but("/d", "a/b"), Err(EscapeError::Slash));
        assert_eq!(
            AaPattern::all_but("/d", "a\u{85}"),
            Err(EscapeError::Control('\u{85}'))
        );
        assert_eq!(
            AaPattern::all_but("/d\n", "a"),
            Err(EscapeError::Control('\n'))
        );
        assert_eq!(
            EscapeError::Slash.to_string(),
            "contains '/', so it is not one file name"
        );
        // No file can be named with more than NAME_MAX bytes: the whole directory.
        assert_eq!(p("/d", &"a".repeat(NAME_MAX + 1)).as_deref(), Ok("/d/*"));
        assert!(p("/d", &"a".repeat(NAME_MAX)).unwrap().contains("a?*}}"));
        // A long dir makes it too long for the parser: `/{[^a/]*,a?*}` is 13 more.
        let dir = format!("/{}", "d".repeat(MAX_PATTERN_LEN));
        assert_eq!(
            AaPattern::all_but(&dir[..MAX_PATTERN_LEN - 12], "a"),
            Err(EscapeError::TooLong(MAX_PATTERN_LEN + 1))
        );
        assert_eq!(
            AaPattern::all_but(&dir[..MAX_PATTERN_LEN - 13], "a").map(|p| p.0.len()),
            Ok(MAX_PATTERN_LEN)
        );
    }

    #[test]
    fn all_but_nests_no_deeper_than_the_parser_reads() {
        let depth = |s: &str| {
            let (mut d, mut max) = (0i32, 0i32);
            for c in s.chars() {
                d += i32::from(c == '{') - i32::from(c == '}');
                max = max.max(d);
            }
            (d, max)
        };
        let block = MAX_NESTING - 1;
        // One block: no outer braces.
        let one = AaPattern::all_but("/d", &"a".repeat(block)).unwrap();
        assert_eq!(depth(one.as_str()), (0, block as i32));
        assert!(one.as_str().starts_with("/d/{[^a/]*,a{,"));
        // Two blocks: the second starts with the bytes before it, the first's last level
        // stops there.
        let name = format!("{}b", "a".repeat(block));
        let two = AaPattern::all_but("/d", &name).unwrap();
        assert_eq!(depth(two.as_str()), (0, MAX_NESTING as i32));
        let second = format!(",{}{{,[^b/]*,b?*}}}}", "a".repeat(block));
        assert!(two.as_str().ends_with(&second), "{}", two.as_str());
        assert!(two.as_str().starts_with("/d/{{[^a/]*,a{,[^a/]*,a{"));
        assert!(two.as_str().contains("{,[^a/]*}"), "{}", two.as_str());
        // The longest file name: several blocks, all within the limit.
        let long = AaPattern::all_but("/d", &"a".repeat(NAME_MAX)).unwrap();
        assert_eq!(depth(long.as_str()), (0, MAX_NESTING as i32));
        assert_eq!(long.as_str().matches(",a?*").count(), 1);
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
