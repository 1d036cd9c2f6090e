//! The profile name: `libvirt-` followed by the domain's UUID.

use crate::error::{Error, Result};
use std::fmt;
use uuid::Uuid;

/// The prefix of every profile libvirt manages (`AA_PREFIX` in libvirt).
pub const PREFIX: &str = "libvirt-";

/// A validated profile name, `libvirt-` + a canonical (lower-case, hyphenated) UUID.
///
/// libvirt 9.0's helper accepted anything `virUUIDParse` accepts (spaces, missing or extra
/// dashes, upper case: `valid_uuid` in `virt-aa-helper.c`, `docs/weak-spots.md#w12`) and
/// used that string verbatim as a file name for `-a`, `-R` and `-D`, so two spellings could
/// name two files for one domain. Only the one
/// spelling libvirtd itself produces is accepted here, and since it contains only
/// `[a-z0-9-]`, it is safe in a file name and in a profile header without quoting.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProfileName {
    uuid: Uuid,
}

impl ProfileName {
    /// Validates a `-u` argument.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |why| Error::ProfileName {
            given: s.to_string(),
            why,
        };
        let rest = s
            .strip_prefix(PREFIX)
            .ok_or_else(|| bad("it must start with 'libvirt-'"))?;
        let uuid =
            Uuid::try_parse(rest).map_err(|_| bad("the part after 'libvirt-' is not a UUID"))?;
        if uuid.hyphenated().to_string() != rest {
            return Err(bad(
                "the UUID must be written as libvirt writes it: lower case, with dashes (8-4-4-4-12)",
            ));
        }
        Ok(ProfileName { uuid })
    }

    /// The profile name for a domain UUID.
    pub fn for_uuid(uuid: Uuid) -> Self {
        ProfileName { uuid }
    }

    /// The UUID.
    pub fn uuid(&self) -> Uuid {
        self.uuid
    }
}

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}", self.uuid.hyphenated())
    }
}

/// Reads a `<uuid>` exactly as libvirt's `virUUIDParse` (`src/util/viruuid.c`) does:
/// ASCII whitespace around it, 32 hexadecimal digits in either case, and any number of `-`
/// or ` ` before each pair of digits (not inside a pair). Nothing else: `Uuid::parse_str`
/// also takes `{...}` and `urn:uuid:` forms libvirt refuses, and refuses spaced or
/// oddly-hyphenated forms libvirt takes, so the helper and libvirtd would disagree on
/// which domain the XML is.
pub fn parse_libvirt_uuid(s: &str) -> Option<Uuid> {
    // g_ascii_isspace: space, \t, \n, \v, \f, \r.
    let space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let mut rest = s.as_bytes();
    while rest.first().is_some_and(space) {
        rest = &rest[1..];
    }
    let mut bytes = [0u8; 16];
    let mut i = 0;
    while i < bytes.len() {
        match rest {
            [b'-' | b' ', tail @ ..] => rest = tail,
            [hi, lo, tail @ ..] => {
                bytes[i] = hex(*hi)? * 16 + hex(*lo)?;
                i += 1;
                rest = tail;
            }
            _ => return None,
        }
    }
    rest.iter().all(space).then(|| Uuid::from_bytes(bytes))
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_spellings_are_those_of_vir_uuid_parse() {
        let want = Uuid::from_u128(0x0123456789abcdef0123456789abcdef);
        for ok in [
            "01234567-89ab-cdef-0123-456789abcdef",
            "01234567-89AB-CDEF-0123-456789ABCDEF",
            "0123456789abcdef0123456789abcdef",
            " \t\n01234567-89ab-cdef-0123-456789abcdef\r\n ",
            "01-23-45-67-89-ab-cd-ef-01-23-45-67-89-ab-cd-ef",
            "01 23 45 67 89 ab cd ef 01 23 45 67 89 ab cd ef",
            "--01234567----89ab cdef 0123-456789abcdef",
            "\x0b0123456789abcdef0123456789abcdef\x0c",
        ] {
            assert_eq!(parse_libvirt_uuid(ok), Some(want), "{ok:?}");
        }
        for bad in [
            "",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdef0",
            "0123456789abcdef0123456789abcdeg",
            "0-123456789abcdef0123456789abcdef",
            "0123456789abcdef0123456789abcdef-",
            "0123456789abcdef0123456789abcdef x",
            "{01234567-89ab-cdef-0123-456789abcdef}",
            "urn:uuid:01234567-89ab-cdef-0123-456789abcdef",
            "01234567_89ab_cdef_0123_456789abcdef",
            "\u{a0}0123456789abcdef0123456789abcdef",
            "0123456789abcdef0123456789abcdef\u{a0}",
            "+123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(parse_libvirt_uuid(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn only_the_canonical_spelling_is_accepted() {
        let ok = "libvirt-00000000-0000-0000-0000-0123456789ab";
        assert_eq!(ProfileName::parse(ok).unwrap().to_string(), ok);
        for bad in [
            "",
            "libvirt-",
            "00000000-0000-0000-0000-0123456789ab",
            "libvirt-00000000-0000-0000-0000-0123456789ag",
            "libvirt-00000000-0000-0000-0000-0123456789abcdef",
            "libvirt-00000000-0000-0000-0000-0123456789a",
            "libvirt-00000000-0000-0000-0000-0123456789AB",
            "libvirt-000000000000000000000123456789ab",
            "libvirt-  00000000-0000-0000-0000-0123456789ab",
            "libvirt-{00000000-0000-0000-0000-0123456789ab}",
            "libvirt-00000000-0000-0000-0000-0123456789ab/../x",
        ] {
            assert!(ProfileName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
