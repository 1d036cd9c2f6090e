//! Provenance: which XML element (or argument) a rule comes from.
//!
//! Every rule in `.files` carries its origin as a trailing comment, so an admin who reads
//! an AppArmor denial in the audit log can find the element that asked for the path.

use std::fmt;

/// The element a rule comes from, e.g. `disk vda`, `disk vda backing 2`, `serial 0`,
/// `os loader`, `-F argument`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    element: &'static str,
    detail: String,
    /// Where the element starts in the document (byte offset; 0 when the origin is not
    /// an element of the XML): warnings about it are reported in document order.
    at: usize,
}

impl Origin {
    /// An origin with a fixed element word and a free-form detail (a target name from the
    /// XML, an index...). The detail is sanitized when shown.
    pub fn new(element: &'static str, detail: impl Into<String>) -> Self {
        Origin {
            element,
            detail: detail.into(),
            at: 0,
        }
    }

    /// The same origin, placed at an element's offset in the document.
    pub fn at(mut self, offset: usize) -> Self {
        self.at = offset;
        self
    }

    /// The element's offset in the document (0: not an element of the XML).
    pub fn position(&self) -> usize {
        self.at
    }

    /// The same origin with more detail appended (`disk vda` -> `disk vda backing 1`).
    pub fn with(&self, more: impl fmt::Display) -> Self {
        let detail = if self.detail.is_empty() {
            more.to_string()
        } else {
            format!("{} {more}", self.detail)
        };
        Origin {
            element: self.element,
            detail,
            at: self.at,
        }
    }
}

/// Shown as `element detail`, restricted to characters that are harmless in an AppArmor
/// comment: the parser treats `#include` even after a rule as a directive, so the text must
/// never be able to form one, and a newline would end the comment. The fixed element word
/// comes first, so the comment never starts with `include`; anything outside
/// `[A-Za-z0-9._:/+=-]` and space is shown as `?`.
impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.element)?;
        if !self.detail.is_empty() {
            f.write_str(" ")?;
            for c in self.detail.chars().take(120) {
                let safe = c.is_ascii_alphanumeric() || " ._:/+=-".contains(c);
                let mut buf = [0; 4];
                f.write_str(if safe { c.encode_utf8(&mut buf) } else { "?" })?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_details_cannot_form_directives() {
        let o = Origin::new("disk", "x\n#include <abstractions/base>");
        assert_eq!(o.to_string(), "disk x??include ?abstractions/base?");
        assert_eq!(
            Origin::new("disk", "vda").with("backing 1").to_string(),
            "disk vda backing 1"
        );
        assert_eq!(Origin::new("base", "").to_string(), "base");
    }
}
