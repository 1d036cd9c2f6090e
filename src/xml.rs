//! A small, bounded element tree read with quick-xml.
//!
//! The domain XML comes from libvirtd, but an admin can run the helper by hand on any file,
//! so the reader is strict where strictness costs nothing:
//!
//! - a `<!DOCTYPE>` is refused: libvirt never emits one, and it is the vehicle of entity
//!   expansion (billion laughs) and external entity (XXE) attacks;
//! - only the five predefined entities and character references are decoded; any other
//!   `&name;` is an error (quick-xml never expands entities by itself);
//! - input size is capped by the caller ([`MAX_INPUT`]), nesting depth here ([`MAX_DEPTH`]).
//!
//! The tree keeps only what the domain parser needs: names, attributes, text, children and
//! the line of each element for error messages.

use crate::error::{Error, Result};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Largest domain XML accepted on standard input: libvirt's `MAX_FILE_LEN` (10 MiB).
pub const MAX_INPUT: usize = 10 * 1024 * 1024;

/// Deepest element nesting accepted. A libvirt domain is less than 10 deep except for
/// `<backingStore>` chains, which libvirt caps at 200 layers (2 elements per layer).
pub const MAX_DEPTH: usize = 512;

/// One XML element.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Qualified name as written (`disk`, `qemu:commandline`).
    pub name: String,
    /// Attributes in document order, values decoded.
    pub attrs: Vec<(String, String)>,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// Text content directly inside this element (all text nodes concatenated).
    pub text: String,
    /// 1-based line of the start tag.
    pub line: usize,
}

impl Element {
    /// The value of attribute `name`, if present.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first child element named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// All child elements named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Text content with surrounding whitespace removed.
    pub fn trimmed_text(&self) -> &str {
        self.text.trim()
    }
}

/// Parses a whole document and returns its root element.
pub fn parse(input: &str) -> Result<Element> {
    let mut reader = Reader::from_str(input);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.expand_empty_elements = false;

    let lines = LineIndex::new(input);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;

    loop {
        let pos = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| {
            let at = lines.line(reader.error_position() as usize);
            Error::Xml(format!("line {at}: {}", one_line(&e.to_string())))
        })?;
        match event {
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(Error::Xml(format!(
                        "line {}: elements nested deeper than {MAX_DEPTH} levels",
                        lines.line(pos)
                    )));
                }
                if root.is_some() && stack.is_empty() {
                    return Err(Error::Xml(format!(
                        "line {}: more than one root element",
                        lines.line(pos)
                    )));
                }
                stack.push(element(&start, lines.line(pos))?);
            }
            Event::Empty(start) => {
                let el = element(&start, lines.line(pos))?;
                attach(el, &mut stack, &mut root, &lines, pos)?;
            }
            Event::End(_) => {
                // check_end_names guarantees a matching start.
                if let Some(el) = stack.pop() {
                    attach(el, &mut stack, &mut root, &lines, pos)?;
                }
            }
            Event::Text(t) => {
                let text = t.xml10_content();
                push_text(&mut stack, &text, &lines, pos)?;
            }
            Event::CData(t) => {
                let text = t.xml10_content();
                push_text(&mut stack, &text, &lines, pos)?;
            }
            Event::GeneralRef(r) => {
                let resolved: String = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => {
                            return Err(Error::Xml(format!(
                                "line {}: invalid character reference &{};",
                                lines.line(pos),
                                one_line(&r)
                            )))
                        }
                    }
                } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&r) {
                    s.to_string()
                } else {
                    return Err(Error::Xml(format!(
                        "line {}: undefined entity &{};",
                        lines.line(pos),
                        one_line(&r)
                    )));
                };
                push_text(&mut stack, &resolved, &lines, pos)?;
            }
            Event::DocType(_) => {
                return Err(Error::Xml(format!(
                    "line {}: a DOCTYPE declaration is not allowed (libvirt never writes one; it is how entity-expansion attacks start)",
                    lines.line(pos)
                )));
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(Error::Xml(format!(
            "line {}: <{}> is never closed",
            open.line,
            one_line(&open.name)
        )));
    }
    root.ok_or_else(|| Error::Xml("no root element".into()))
}

fn element(start: &BytesStart<'_>, line: usize) -> Result<Element> {
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr =
            attr.map_err(|e| Error::Xml(format!("line {line}: {}", one_line(&e.to_string()))))?;
        let key = attr.key.as_ref().to_string();
        // quick-xml does not enforce these well-formedness rules; libxml2 (libvirt's
        // parser) does: a raw '<' in an attribute value and characters XML 1.0 forbids.
        if attr.value.contains('<') {
            return Err(Error::Xml(format!(
                "line {line}: attribute {key}: unescaped '<' in an attribute value"
            )));
        }
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| {
                Error::Xml(format!(
                    "line {line}: attribute {key}: {}",
                    one_line(&e.to_string())
                ))
            })?
            .into_owned();
        check_chars(&value, line)?;
        if attrs.iter().any(|(k, _)| *k == key) {
            return Err(Error::Xml(format!(
                "line {line}: duplicate attribute {key}"
            )));
        }
        attrs.push((key, value));
    }
    Ok(Element {
        name: start.name().as_ref().to_string(),
        attrs,
        children: Vec::new(),
        text: String::new(),
        line,
    })
}

fn attach(
    el: Element,
    stack: &mut [Element],
    root: &mut Option<Element>,
    lines: &LineIndex,
    pos: usize,
) -> Result<()> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None if root.is_none() => *root = Some(el),
        None => {
            return Err(Error::Xml(format!(
                "line {}: more than one root element",
                lines.line(pos)
            )))
        }
    }
    Ok(())
}

/// XML 1.0 `Char`: no control characters but tab, newline and carriage return (a
/// character reference cannot produce them either).
fn check_chars(text: &str, line: usize) -> Result<()> {
    match text.chars().find(|&c| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}')
    }) {
        Some(c) => Err(Error::Xml(format!(
            "line {line}: the character U+{:04X} is not allowed in XML",
            c as u32
        ))),
        None => Ok(()),
    }
}

fn push_text(stack: &mut [Element], text: &str, lines: &LineIndex, pos: usize) -> Result<()> {
    check_chars(text, lines.line(pos))?;
    match stack.last_mut() {
        Some(el) => el.text.push_str(text),
        None if text.trim().is_empty() => {}
        None => {
            return Err(Error::Xml(format!(
                "line {}: text outside the root element",
                lines.line(pos)
            )))
        }
    }
    Ok(())
}

/// Keeps error messages on one line.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Byte offset to line number, by binary search over the newline positions.
struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(s: &str) -> Self {
        LineIndex(
            s.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i)
                .collect(),
        )
    }

    fn line(&self, offset: usize) -> usize {
        // Skip leading whitespace: quick-xml reports the position before it.
        self.0.partition_point(|&nl| nl < offset) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_tree_with_attributes_text_and_lines() {
        let root = parse("<?xml version='1.0'?>\n<domain type='kvm'>\n  <name>a &amp; b&#33;</name>\n  <devices><disk/><disk type=\"file\"/></devices>\n</domain>\n").unwrap();
        assert_eq!(root.name, "domain");
        assert_eq!(root.attr("type"), Some("kvm"));
        assert_eq!(root.child("name").unwrap().text, "a & b!");
        assert_eq!(root.child("name").unwrap().line, 3);
        let devs = root.child("devices").unwrap();
        assert_eq!(devs.children_named("disk").count(), 2);
        assert_eq!(devs.children[1].attr("type"), Some("file"));
    }

    #[test]
    fn doctype_is_refused() {
        let e = parse("<!DOCTYPE d [<!ENTITY a 'x'>]><d>&a;</d>").unwrap_err();
        assert!(e.to_string().contains("DOCTYPE"), "{e}");
    }

    #[test]
    fn unknown_entities_are_refused() {
        let e = parse("<d>&lol;</d>").unwrap_err();
        assert!(e.to_string().contains("undefined entity &lol;"), "{e}");
        let e = parse("<d a='&lol;'/>").unwrap_err();
        assert!(e.to_string().contains("attribute a"), "{e}");
    }

    #[test]
    fn malformed_documents_name_the_line() {
        let e = parse("<a>\n<b>\n</a>").unwrap_err();
        assert!(e.to_string().starts_with("domain XML: line 3"), "{e}");
        let e = parse("<a>\n<b>").unwrap_err();
        assert!(e.to_string().contains("never closed"), "{e}");
        assert!(parse("<a/><b/>").is_err());
        assert!(parse("").is_err());
        assert!(parse("<a x='1' x='2'/>").is_err());
    }

    #[test]
    fn not_well_formed_documents_are_refused() {
        // quick-xml accepts these; libxml2 does not.
        for doc in [
            "<a b='x<y'/>",
            "<a>\u{1}</a>",
            "<a b='&#1;'/>",
            "<a>&#0;</a>",
            "<a>&#x1b;</a>",
        ] {
            assert!(parse(doc).is_err(), "{doc:?}");
        }
        assert!(parse("<a b='x&lt;y'>\t&#10;</a>").is_ok());
    }

    #[test]
    fn depth_is_capped() {
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        let e = parse(&deep).unwrap_err();
        assert!(e.to_string().contains("nested deeper"), "{e}");
    }
}
