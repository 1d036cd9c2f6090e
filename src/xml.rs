//! A small, bounded element tree read with quick-xml.
//!
//! The domain XML comes from libvirtd, but an admin can run the helper by hand on any file,
//! so the reader is strict where strictness costs nothing:
//!
//! - a `<!DOCTYPE>` is refused: libvirt never emits one, and it is the vehicle of entity
//!   expansion (billion laughs) and external entity (XXE) attacks;
//! - only the five predefined entities and character references are decoded; any other
//!   `&name;` is an error (quick-xml never expands entities by itself);
//! - input size is capped by the caller ([`MAX_INPUT`]); nesting depth ([`MAX_DEPTH`]),
//!   attributes per element ([`MAX_ATTRIBUTES`]) and namespace declarations in scope
//!   ([`MAX_NAMESPACES`]) here, so that no input can make the reader slow or large;
//! - work is linear in the input: each event is handled in time bounded by its own size
//!   and those caps (no scan of earlier elements or of the open ones), line numbers come
//!   from a cursor that only moves forward, and text is appended to one buffer once (an
//!   element's text is a range of it, not a copy per ancestor). Memory is a fixed amount
//!   per element plus the input's own bytes. libvirtd only ever passes the XML it formatted
//!   itself, already parsed by libxml2 at the same cost; the caps matter for manual runs.
//!
//! Namespaces are read as libvirt reads them. libvirt finds elements with XPath expressions
//! without a prefix (`./devices/disk`, `string(./name[1])`, `src/conf/domain_conf.c`),
//! which match only elements in no namespace: `<x:disk xmlns:x='...'>`, or `<disk
//! xmlns='http://other'>` inside `<devices>`, is not a disk to libvirt. Such elements are
//! left out of the tree with everything inside them (their text still counts in the text
//! of their ancestors, as in XPath's `string()`). The root is kept whatever its namespace:
//! libvirt checks only its local name (`virXMLParseHelper`, `src/util/virxml.c`).
//! Elements of libvirt's own namespaces (`qemu:commandline`, `lxc:namespace`...) are left
//! out too: libvirt 9.0's helper reads nothing from them (its `get_files` walks only the
//! parsed `virDomainDef`, where `qemu:commandline` is opaque driver data). A file named in
//! a `qemu:commandline` argument gets no rule there or here: libvirt marks such a domain
//! tainted (`custom-argv`), and the admin who uses it writes the rule QEMU needs.
//!
//! The tree keeps only what the domain parser needs: names, attributes, text, children and
//! the line of each element for error messages.

use crate::error::{Error, Result};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use std::cell::Cell;
use std::sync::Arc;

/// Largest domain XML accepted on standard input: libvirt's `MAX_FILE_LEN` (10 MiB,
/// `src/security/security_apparmor.h`), the limit its helper reads standard input with
/// (`virFileReadLimFD` in `virt-aa-helper.c`, which refuses more than that many bytes).
pub const MAX_INPUT: usize = 10 * 1024 * 1024;

/// Deepest element nesting accepted. libvirt's domain XMLs are at most 15 deep (its test
/// suite's deepest, `qemuxml2argvdata/disk-backing-chains-index.xml`), and libxml2 itself
/// refuses more than 256 levels unless `XML_PARSE_HUGE` is given (libvirt does not give
/// it), so nothing libvirt accepts is refused. The tree is built without recursion; the
/// few recursive walks (drop) stay far below the stack size at this depth.
pub const MAX_DEPTH: usize = 512;

/// Most attributes on one element. libvirt's test suite has at most 15 on any element
/// (`<disk>`, `<address>` and `<driver>` have a handful); the cap bounds the per-element
/// work of attribute lookups.
pub const MAX_ATTRIBUTES: usize = 256;

/// Most namespace declarations (`xmlns`, `xmlns:p`) in scope at once. quick-xml resolves
/// each element's prefix by scanning the declarations in scope, so without a cap a few
/// thousand declarations on outer elements would make every inner element slow. A libvirt
/// domain uses a handful (`qemu:`, one per `<metadata>` child).
pub const MAX_NAMESPACES: usize = 64;

/// One XML element in no namespace (or the root, whatever its namespace).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Local name (`disk`); elements with a prefix are in a namespace and left out.
    pub name: String,
    /// Attributes in document order, values decoded.
    pub attrs: Vec<(String, String)>,
    /// Child elements in no namespace, in document order.
    pub children: Vec<Element>,
    /// 1-based line of the start tag.
    pub line: usize,
    /// Byte offset of the start tag: orders elements as the document does (several
    /// elements can share a line), for warnings in document order.
    pub offset: usize,
    /// The text of the element and of all its descendants, in document order.
    text: Text,
}

/// A range of the document's text buffer: every element's text is a slice of one buffer,
/// so that the text of nested elements is stored once, not once per ancestor.
#[derive(Clone, Default)]
struct Text {
    doc: Arc<str>,
    start: usize,
    end: usize,
}

impl Text {
    fn as_str(&self) -> &str {
        self.doc.get(self.start..self.end).unwrap_or_default()
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
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

    /// The element's text as XPath's `string()` gives it (what libvirt reads with
    /// `virXPathString("string(./name[1])")` or `xmlNodeGetContent`): every text node
    /// inside it, also inside child elements, in document order. Reading only the
    /// element's own text nodes would let `<name>vm<b>2</b></name>` be `vm` here and `vm2`
    /// to libvirt, and the profile would be written for the other VM's per-name paths.
    pub fn text(&self) -> &str {
        self.text.as_str()
    }

    /// [`Element::text`] with surrounding whitespace removed.
    pub fn trimmed_text(&self) -> &str {
        self.text().trim()
    }

    /// Reads every child named `name` as one: the children of the later ones are appended,
    /// in document order, to the first, and the later ones removed. This is how libvirt's
    /// XPath reads a repeated container: `./devices/disk` is every `<disk>` of every
    /// `<devices>`, and `./os/kernel[1]` the first `<kernel>` of any `<os>`.
    pub fn merge_repeated(&mut self, name: &str) {
        let mut first: Option<usize> = None;
        for c in std::mem::take(&mut self.children) {
            match first {
                Some(i) if c.name == name => self.children[i].children.extend(c.children),
                None if c.name == name => {
                    first = Some(self.children.len());
                    self.children.push(c);
                }
                _ => self.children.push(c),
            }
        }
    }
}

/// An element being read: its namespace declarations are in scope until it closes.
struct Open {
    el: Element,
    foreign: bool,
    ns_decls: usize,
}

/// Parses a whole document and returns its root element.
pub fn parse(input: &str) -> Result<Element> {
    let mut reader = NsReader::from_str(input);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.expand_empty_elements = false;

    let lines = LineIndex::new(input);
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<Element> = None;
    let mut text = String::new();
    let mut ns_in_scope = 0usize;

    loop {
        let pos = reader.buffer_position() as usize;
        let (foreign, event) = match reader.read_resolved_event() {
            Ok((ns, event)) => (!matches!(ns, ResolveResult::Unbound), event),
            Err(e) => {
                let at = lines.line(reader.error_position() as usize);
                return Err(Error::Xml(format!(
                    "line {at}: {}",
                    one_line(&e.to_string())
                )));
            }
        };
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                let line = lines.line(pos);
                if stack.len() >= MAX_DEPTH {
                    return Err(Error::Xml(format!(
                        "line {line}: elements nested deeper than {MAX_DEPTH} levels"
                    )));
                }
                if root.is_some() && stack.is_empty() {
                    return Err(Error::Xml(format!(
                        "line {line}: more than one root element"
                    )));
                }
                let (mut el, ns_decls) = element(start, line)?;
                el.offset = pos;
                ns_in_scope += ns_decls;
                if ns_in_scope > MAX_NAMESPACES {
                    return Err(Error::Xml(format!(
                        "line {line}: more than {MAX_NAMESPACES} namespace declarations in scope"
                    )));
                }
                el.text.start = text.len();
                let open = Open {
                    el,
                    // The root is kept whatever its namespace (see the module docs).
                    foreign: foreign && !stack.is_empty(),
                    ns_decls,
                };
                if matches!(event, Event::Start(_)) {
                    stack.push(open);
                } else {
                    close(open, &mut stack, &mut root, &text, &mut ns_in_scope);
                }
            }
            Event::End(_) => {
                // check_end_names guarantees a matching start.
                if let Some(open) = stack.pop() {
                    close(open, &mut stack, &mut root, &text, &mut ns_in_scope);
                }
            }
            Event::Text(t) => {
                push_text(&stack, &mut text, &t.xml10_content(), &lines, pos)?;
            }
            Event::CData(t) => {
                push_text(&stack, &mut text, &t.xml10_content(), &lines, pos)?;
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
                push_text(&stack, &mut text, &resolved, &lines, pos)?;
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
            open.el.line,
            one_line(&open.el.name)
        )));
    }
    let mut root = root.ok_or_else(|| Error::Xml("no root element".into()))?;
    share_text(&mut root, Arc::from(text));
    Ok(root)
}

/// An element's name and attributes, and how many namespace declarations it makes.
fn element(start: &BytesStart<'_>, line: usize) -> Result<(Element, usize)> {
    let mut attrs = Vec::new();
    let mut ns_decls = 0;
    // quick-xml refuses a duplicate attribute itself (in constant time per attribute).
    for attr in start.attributes() {
        let attr =
            attr.map_err(|e| Error::Xml(format!("line {line}: {}", one_line(&e.to_string()))))?;
        if attrs.len() == MAX_ATTRIBUTES {
            return Err(Error::Xml(format!(
                "line {line}: <{}> has more than {MAX_ATTRIBUTES} attributes",
                one_line(start.name().as_ref())
            )));
        }
        if attr.key.as_namespace_binding().is_some() {
            ns_decls += 1;
        }
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
        attrs.push((key, value));
    }
    let el = Element {
        name: start.local_name().as_ref().to_string(),
        attrs,
        children: Vec::new(),
        line,
        offset: 0,
        text: Text::default(),
    };
    Ok((el, ns_decls))
}

/// Ends an element: its text ends here, its namespace declarations go out of scope, and
/// it joins its parent unless it is in a namespace.
fn close(
    mut open: Open,
    stack: &mut [Open],
    root: &mut Option<Element>,
    text: &str,
    ns_in_scope: &mut usize,
) {
    *ns_in_scope -= open.ns_decls;
    open.el.text.end = text.len();
    match stack.last_mut() {
        Some(_) if open.foreign => {}
        Some(parent) => parent.el.children.push(open.el),
        // The caller refuses a second root before opening it.
        None => *root = Some(open.el),
    }
}

/// Points every element's text at the finished document text.
fn share_text(root: &mut Element, doc: Arc<str>) {
    let mut todo = vec![root];
    while let Some(el) = todo.pop() {
        el.text.doc = Arc::clone(&doc);
        todo.extend(el.children.iter_mut());
    }
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

fn push_text(
    stack: &[Open],
    text: &mut String,
    new: &str,
    lines: &LineIndex,
    pos: usize,
) -> Result<()> {
    check_chars(new, lines.line(pos))?;
    if !stack.is_empty() {
        text.push_str(new);
    } else if !new.trim().is_empty() {
        return Err(Error::Xml(format!(
            "line {}: text outside the root element",
            lines.line(pos)
        )));
    }
    Ok(())
}

/// Keeps error messages on one line.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Byte offset to line number. The reader asks for nondecreasing offsets, so a cursor over
/// the newline positions makes the whole document cost one pass; an earlier offset (an
/// error position) falls back to a binary search.
struct LineIndex {
    newlines: Vec<usize>,
    cursor: Cell<usize>,
}

impl LineIndex {
    fn new(s: &str) -> Self {
        LineIndex {
            newlines: s
                .bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i)
                .collect(),
            cursor: Cell::new(0),
        }
    }

    /// The 1-based line of the first non-blank byte at or after `offset` (quick-xml
    /// reports the position before leading whitespace).
    fn line(&self, offset: usize) -> usize {
        let mut i = self.cursor.get();
        if i > 0 && self.newlines[i - 1] >= offset {
            i = self.newlines.partition_point(|&nl| nl < offset);
        }
        while self.newlines.get(i).is_some_and(|&nl| nl < offset) {
            i += 1;
        }
        self.cursor.set(i);
        i + 1
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
        assert_eq!(root.child("name").unwrap().text(), "a & b!");
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
    fn elements_in_a_namespace_are_left_out() {
        let root = parse(
            "<d xmlns:x='http://example.org/'><x:disk a='1'><disk/></x:disk>\
             <disk xmlns='http://evil'><source/></disk><y:disk/><xml:disk/>\
             <disk n='1'/><p xmlns=''/><q xmlns:x='http://libvirt.org/schemas/domain/qemu/1.0'><x:commandline/></q></d>",
        )
        .unwrap();
        let names: Vec<_> = root.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["disk", "p", "q"]);
        assert_eq!(root.children[0].attr("n"), Some("1"));
        assert!(root.children[2].children.is_empty());
        // The root is kept whatever its namespace: libvirt checks only its local name.
        let root = parse("<x:domain xmlns:x='http://example.org/'><name/></x:domain>").unwrap();
        assert_eq!(root.name, "domain");
        assert_eq!(root.children.len(), 1);
    }

    #[test]
    fn text_is_the_text_of_all_descendants() {
        let root = parse(
            "<d><name>vic<b>t<c>i</c></b><x:i xmlns:x='u'>m</x:i><![CDATA[-]]>&#50;<!-- no --></name><e/></d>",
        )
        .unwrap();
        let name = root.child("name").unwrap();
        assert_eq!(name.text(), "victim-2");
        assert_eq!(name.child("b").unwrap().text(), "ti");
        assert_eq!(root.text(), "victim-2");
        assert_eq!(root.child("e").unwrap().text(), "");
    }

    #[test]
    fn repeated_containers_merge_in_document_order() {
        let mut root =
            parse("<d><v><a n='1'/></v><w/><v><a n='2'/><b/></v><v/><v><a n='3'/></v></d>")
                .unwrap();
        root.merge_repeated("v");
        let names: Vec<_> = root.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["v", "w"]);
        let v = &root.children[0];
        let got: Vec<_> = v.children_named("a").filter_map(|a| a.attr("n")).collect();
        assert_eq!(got, ["1", "2", "3"]);
        assert!(v.child("b").is_some());
    }

    #[test]
    fn attributes_per_element_are_capped() {
        let attrs = |n: usize| (0..n).map(|i| format!(" a{i}='v'")).collect::<String>();
        let ok = parse(&format!("<d{}/>", attrs(MAX_ATTRIBUTES))).unwrap();
        assert_eq!(ok.attrs.len(), MAX_ATTRIBUTES);
        let e = parse(&format!("<d>\n<e{}/></d>", attrs(MAX_ATTRIBUTES + 1))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "domain XML: line 2: <e> has more than 256 attributes"
        );
    }

    #[test]
    fn namespace_declarations_in_scope_are_capped() {
        let decls = |from: usize, n: usize| {
            (from..from + n)
                .map(|i| format!(" xmlns:p{i}='u{i}'"))
                .collect::<String>()
        };
        // 64 in scope at once, and siblings' declarations go out of scope when they close.
        let ok = format!(
            "<d{}><e{}/><e{}/></d>",
            decls(0, 32),
            decls(32, 32),
            decls(32, 32)
        );
        assert!(parse(&ok).is_ok());
        let too_many = format!("<d{}><e{}/></d>", decls(0, 32), decls(32, 33));
        assert_eq!(
            parse(&too_many).unwrap_err().to_string(),
            "domain XML: line 1: more than 64 namespace declarations in scope"
        );
    }

    #[test]
    fn line_numbers_forward_and_back() {
        // Newlines at 1, 3, 4 and 6: an offset is on the line after the newlines before it.
        let lines = LineIndex::new("a\nb\n\nc\n");
        let got: Vec<_> = [0, 1, 2, 4, 5, 7, 8, 2, 0, 6]
            .iter()
            .map(|&o| lines.line(o))
            .collect();
        assert_eq!(got, [1, 1, 2, 3, 4, 5, 5, 2, 1, 4]);
    }

    #[test]
    fn depth_is_capped() {
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        let e = parse(&deep).unwrap_err();
        assert!(e.to_string().contains("nested deeper"), "{e}");
    }
}
