//! The profile name: `libvirt-` followed by the domain's UUID.

use crate::error::{Error, Result};
use std::fmt;
use uuid::Uuid;

/// The prefix of every profile libvirt manages (`AA_PREFIX` in libvirt).
pub const PREFIX: &str = "libvirt-";

/// A validated profile name, `libvirt-` + a canonical (lower-case, hyphenated) UUID.
///
/// libvirt 9.0's helper accepted anything `virUUIDParse` accepts (spaces, missing or extra
/// dashes, upper case; inventory 3.1) and used that string verbatim as a file name for
/// `-a`, `-R` and `-D`, so two spellings could name two files for one domain. Only the one
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

#[cfg(test)]
mod tests {
    use super::*;

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
