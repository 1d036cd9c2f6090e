#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // integration tests are not layered
//! The crate's layering, checked on its source (`src/lib.rs` describes the layers).
//!
//! Every `src/**/*.rs` but `main.rs` (the binary's own crate root) is one module, named after
//! its file (`src/resolve/fs.rs` is `resolve::fs`, `src/rules/mod.rs` is `rules`, `src/lib.rs`
//! the root `crate`). With comments, string and char literals and `#[cfg(test)]` items
//! blanked out, every path into the crate is collected: `use` trees (`crate::`, `self::`,
//! `super::`, child modules) and inline paths (`crate::state::Owner::of(d)`, or through a
//! `use`d name such as `rules::build_with`). Each maps to the longest module prefix, and
//! through `pub use` re-exports to the module that defines the item
//! (`crate::resolve::FsResolver` is `resolve::fs`). Then:
//!
//! - no cycle among modules; a module and its submodules are separate nodes, but a module's
//!   paths into its own submodules (it declares them) are not edges, and nothing else is
//!   left out (there is no list of exceptions);
//! - a pure module neither reaches an I/O one nor touches the filesystem or processes itself
//!   (`std::fs`, `std::process`, `std::os::unix::fs`, `rustix::fs`, or `Path` methods that
//!   read the filesystem such as `.exists()`);
//! - `resolve` never reaches `store`, `store` never reaches `render`;
//! - `CanonicalPath::from_resolved` is called only by `resolve::canonical`;
//! - every module is classified (a new top-level module must be added to [`PURE`] or [`IO`];
//!   new files under `src/parse/` or `src/rules/` are pure by prefix).
//!
//! The checker's own tests below run it on made-up module trees. To see it fail on the real
//! tree, inject a cycle (rules already imports policy), or a pure module reaching the store:
//!
//! ```sh
//! sed -i '/^use crate::path::CanonicalPath;/a use crate::rules as _cycle;' src/policy.rs && cargo test --test layering; git checkout src/policy.rs
//! sed -i '/^use crate::path::CanonicalPath;/a use crate::store as _io;' src/policy.rs && cargo test --test layering; git checkout src/policy.rs
//! ```
//!
//! (The line goes after the module's `//!` docs: a `use` above them does not compile.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Modules without I/O, by first path component (`parse::disk` is pure because `parse` is).
/// `resolve` itself (the trait and its values) is pure too, but not its submodules.
const PURE: &[&str] = &[
    "domain", "parse", "rules", "render", "policy", "state", "escape", "image", "origin", "name",
    "xml", "path", "error", "config", "ledger", "chain",
];

/// Modules that read or write files or run programs, by first path component; also the
/// crate root (`main_with`) and every submodule of `resolve` (`fs`, `canonical`).
const IO: &[&str] = &["fsio", "store", "apparmor_parser", "app", "cli"];

/// `std`/`rustix` paths a pure module may not name.
const FORBIDDEN: &[&[&str]] = &[
    &["std", "fs"],
    &["std", "process"],
    &["std", "os", "unix", "fs"],
    &["rustix", "fs"],
];

/// `Path` methods that ask the filesystem.
const FS_METHODS: &[&str] = &[
    "exists",
    "try_exists",
    "is_dir",
    "is_file",
    "is_symlink",
    "metadata",
    "symlink_metadata",
    "read_dir",
    "read_link",
    "canonicalize",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    Pure,
    Io,
}

fn layer(module: &str) -> Option<Layer> {
    if module.is_empty() {
        return Some(Layer::Io);
    }
    if module == "resolve" {
        return Some(Layer::Pure);
    }
    let first = module.split("::").next().unwrap_or("");
    if first == "resolve" || IO.contains(&first) {
        Some(Layer::Io)
    } else if PURE.contains(&first) {
        Some(Layer::Pure)
    } else {
        None
    }
}

/// One source file.
struct Source {
    module: String,
    file: String,
    text: String,
}

/// `src/resolve/fs.rs` -> `resolve::fs`, `src/rules/mod.rs` -> `rules`, `src/lib.rs` -> ``.
fn module_of(rel: &str) -> String {
    let p = rel.strip_prefix("src/").unwrap_or(rel);
    let p = p.strip_suffix(".rs").unwrap_or(p);
    let p = p.strip_suffix("/mod").unwrap_or(p);
    if p == "lib" {
        String::new()
    } else {
        p.replace('/', "::")
    }
}

fn show(module: &str) -> &str {
    if module.is_empty() {
        "crate"
    } else {
        module
    }
}

fn is_within(module: &str, ancestor: &str) -> bool {
    ancestor.is_empty() || module == ancestor || module.starts_with(&format!("{ancestor}::"))
}

fn starts_with(path: &[String], prefix: &[&str]) -> bool {
    path.len() >= prefix.len() && path.iter().zip(prefix).all(|(a, b)| a == b)
}

fn join(segs: &[String]) -> String {
    segs.join("::")
}

/// The code with comments and the contents of string and char literals replaced by spaces
/// (newlines kept, so line numbers still hold).
fn strip(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let at = |i: usize| b.get(i).copied().unwrap_or('\0');
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let prev_ident = i > 0 && ident(b[i - 1]);
        if c == '/' && at(i + 1) == '/' {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
            continue;
        }
        if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
            continue;
        }
        if !prev_ident && (c == 'r' || (c == 'b' && at(i + 1) == 'r')) {
            let mut j = i + if c == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while at(j) == '#' {
                hashes += 1;
                j += 1;
            }
            if at(j) == '"' {
                out.extend(&b[i..=j]);
                i = j + 1;
                while i < b.len() {
                    if b[i] == '"' && (1..=hashes).all(|h| at(i + h) == '#') {
                        out.push('"');
                        out.extend(std::iter::repeat_n('#', hashes));
                        i += 1 + hashes;
                        break;
                    }
                    out.push(blank(b[i]));
                    i += 1;
                }
                continue;
            }
        }
        if c == '"' || (c == '\'' && (at(i + 1) == '\\' || at(i + 2) == '\'')) {
            // A string, or a char literal (`'x'`, `'\n'`, `'\''`); a lone `'` is a lifetime.
            out.push(c);
            i += 1;
            while i < b.len() {
                if b[i] == '\\' {
                    out.push(' ');
                    out.push(blank(at(i + 1)));
                    i += 2;
                    continue;
                }
                if b[i] == c {
                    out.push(c);
                    i += 1;
                    break;
                }
                out.push(blank(b[i]));
                i += 1;
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Blanks every `#[cfg(test)]` item (a `mod tests { ... }`, a function, a `use`); returns
/// the code and the names of `#[cfg(test)] mod x;` declarations (their files are test code).
fn drop_tests(code: &str) -> (String, Vec<String>) {
    const ATTR: &str = "#[cfg(test)]";
    let mut b: Vec<char> = code.chars().collect();
    let mut test_mods = Vec::new();
    let attr: Vec<char> = ATTR.chars().collect();
    let mut i = 0;
    while i + attr.len() <= b.len() {
        if b[i..i + attr.len()] != attr[..] {
            i += 1;
            continue;
        }
        let start = i;
        let mut j = i + attr.len();
        // The item ends at the first `;` outside braces or at the brace closing its body.
        let mut depth = 0usize;
        let mut end = b.len();
        while j < b.len() {
            match b[j] {
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = j + 1;
                        break;
                    }
                }
                ';' if depth == 0 => {
                    end = j + 1;
                    let item: String = b[start + attr.len()..j].iter().collect();
                    let words: Vec<&str> = item.split_whitespace().collect();
                    if let [.., "mod", name] = words.as_slice() {
                        test_mods.push((*name).to_string());
                    }
                    break;
                }
                _ => {}
            }
            j += 1;
        }
        for c in &mut b[start..end] {
            if *c != '\n' {
                *c = ' ';
            }
        }
        i = end;
    }
    (b.into_iter().collect(), test_mods)
}

/// Identifiers, `::` and single punctuation characters, with their line numbers.
fn tokens(code: &str) -> Vec<(String, usize)> {
    let b: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let s = i;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            out.push((b[s..i].iter().collect(), line));
        } else if c == ':' && b.get(i + 1) == Some(&':') {
            out.push(("::".into(), line));
            i += 2;
        } else {
            out.push((c.to_string(), line));
            i += 1;
        }
    }
    out
}

fn is_ident(t: &str) -> bool {
    t.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// Parses one use tree from `i`; pushes each leaf's full path (and its `as` name).
fn use_tree(
    toks: &[(String, usize)],
    mut i: usize,
    prefix: &[String],
    out: &mut Vec<(Vec<String>, Option<String>)>,
) -> usize {
    let tok = |i: usize| toks.get(i).map_or("", |t| t.0.as_str());
    let mut path = prefix.to_vec();
    if tok(i) == "::" {
        i += 1;
    }
    loop {
        match tok(i) {
            "{" => {
                i += 1;
                while !matches!(tok(i), "}" | "") {
                    let before = i;
                    i = use_tree(toks, i, &path, out);
                    if tok(i) == "," {
                        i += 1;
                    }
                    if i == before {
                        i += 1;
                    }
                }
                return i + 1;
            }
            "*" => {
                path.push("*".into());
                out.push((path, None));
                return i + 1;
            }
            t if is_ident(t) => {
                if t != "self" || path.is_empty() {
                    path.push(t.to_string());
                }
                i += 1;
                if tok(i) == "::" {
                    i += 1;
                    continue;
                }
                let alias = (tok(i) == "as").then(|| tok(i + 1).to_string());
                if alias.is_some() {
                    i += 2;
                }
                out.push((path, alias));
                return i;
            }
            _ => return i,
        }
    }
}

/// A reference from one module to another, with where it was found.
#[derive(Debug, Clone)]
struct Edge {
    from: String,
    to: String,
    at: String,
    path: String,
}

#[derive(Debug, Default)]
struct Report {
    modules: BTreeSet<String>,
    edges: Vec<Edge>,
    violations: Vec<String>,
}

impl Report {
    fn has_edge(&self, from: &str, to: &str) -> bool {
        self.edges.iter().any(|e| e.from == from && e.to == to)
    }
}

/// What one file refers to, before it is mapped to modules.
struct Scanned {
    /// (line, raw path, whether from a `pub use`, its `as` name).
    uses: Vec<(usize, Vec<String>, bool, Option<String>)>,
    /// (line, raw path) outside `use` statements.
    inline: Vec<(usize, Vec<String>)>,
    /// Lines calling a `Path` method that reads the filesystem.
    fs_calls: Vec<(usize, String)>,
    /// Lines naming `from_resolved`.
    from_resolved: Vec<usize>,
}

fn scan(code: &str) -> Scanned {
    let toks = tokens(code);
    let tok = |i: usize| toks.get(i).map_or("", |t| t.0.as_str());
    let mut s = Scanned {
        uses: Vec::new(),
        inline: Vec::new(),
        fs_calls: Vec::new(),
        from_resolved: Vec::new(),
    };
    for (i, (t, line)) in toks.iter().enumerate() {
        if t == "from_resolved" {
            s.from_resolved.push(*line);
        }
        if t == "." && FS_METHODS.contains(&tok(i + 1)) && tok(i + 2) == "(" {
            s.fs_calls.push((*line, tok(i + 1).to_string()));
        }
    }
    let mut i = 0;
    while i < toks.len() {
        let line = toks[i].1;
        if tok(i) == "use" {
            let is_pub = i > 0
                && (tok(i - 1) == "pub"
                    || (tok(i - 1) == ")"
                        && (0..i)
                            .rev()
                            .find(|&k| tok(k) == "(")
                            .is_some_and(|k| k > 0 && tok(k - 1) == "pub")));
            let mut leaves = Vec::new();
            let end = use_tree(&toks, i + 1, &[], &mut leaves);
            for (path, alias) in leaves {
                s.uses.push((line, path, is_pub, alias));
            }
            i = end.max(i + 1);
            continue;
        }
        let starts_path = is_ident(tok(i))
            && tok(i + 1) == "::"
            && !(i > 0 && (tok(i - 1) == "::" || tok(i - 1) == "."));
        if starts_path {
            let mut path = vec![tok(i).to_string()];
            let mut j = i + 1;
            while tok(j) == "::" && is_ident(tok(j + 1)) {
                path.push(tok(j + 1).to_string());
                j += 2;
            }
            s.inline.push((line, path));
            i = j;
            continue;
        }
        i += 1;
    }
    s
}

/// Runs every check on a set of modules.
fn check(sources: &[Source]) -> Report {
    let mut report = Report::default();

    // Blank comments, literals and test items; leave out modules declared `#[cfg(test)]`.
    let mut code: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut test_only: Vec<String> = Vec::new();
    for s in sources {
        let (c, test_mods) = drop_tests(&strip(&s.text));
        for m in test_mods {
            test_only.push(join(&[s.module.clone(), m]).trim_start_matches("::").into());
        }
        code.insert(s.module.clone(), (s.file.clone(), c));
    }
    code.retain(|m, _| !test_only.iter().any(|t| is_within(m, t)));
    report.modules = code.keys().cloned().collect();
    let modules = &report.modules;

    let scanned: BTreeMap<&String, Scanned> = code.iter().map(|(m, (_, c))| (m, scan(c))).collect();

    // A raw path as written in `module`, made absolute (module path segments, no `crate`);
    // `None` for paths outside the crate.
    let absolute = |module: &str, raw: &[String], aliases: &BTreeMap<String, Vec<String>>| {
        let here: Vec<String> = if module.is_empty() {
            Vec::new()
        } else {
            module.split("::").map(String::from).collect()
        };
        let first = raw.first()?.as_str();
        let mut base = match first {
            "crate" => Vec::new(),
            "self" => here.clone(),
            "super" => {
                let mut b = here.clone();
                let mut rest = raw;
                while rest.first().map(String::as_str) == Some("super") {
                    b.pop();
                    rest = &rest[1..];
                }
                b.extend(rest.iter().cloned());
                return Some(b);
            }
            _ => {
                let child = join(&[here.clone(), vec![first.to_string()]].concat());
                if modules.contains(&child) {
                    let mut b = here.clone();
                    b.push(first.to_string());
                    b.extend(raw[1..].iter().cloned());
                    return Some(b);
                }
                let mut b = aliases.get(first)?.clone();
                b.extend(raw[1..].iter().cloned());
                return Some(b);
            }
        };
        base.extend(raw[1..].iter().cloned());
        Some(base)
    };

    // `pub use` re-exports, and each module's imported names.
    let no_aliases = BTreeMap::new();
    let mut reexports: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut aliases: BTreeMap<&String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for (m, s) in &scanned {
        let mine = aliases.entry(*m).or_default();
        for (_, raw, is_pub, alias) in &s.uses {
            let Some(abs) = absolute(m, raw, &no_aliases) else {
                continue;
            };
            let Some(name) = alias.clone().or_else(|| abs.last().cloned()) else {
                continue;
            };
            if name == "*" || name == "_" {
                continue;
            }
            if *is_pub {
                reexports.insert(((*m).clone(), name.clone()), abs.clone());
            }
            mine.insert(name, abs);
        }
    }

    // The module a path lands in: its longest module prefix, then through re-exports.
    let target = |path: &[String]| {
        let mut path = path.to_vec();
        for _ in 0..8 {
            let k = (0..=path.len())
                .rev()
                .find(|&k| k == 0 || modules.contains(&join(&path[..k])))
                .unwrap_or(0);
            let m = join(&path[..k]);
            match path
                .get(k)
                .and_then(|next| reexports.get(&(m.clone(), next.clone())))
            {
                Some(to) => {
                    let mut p = to.clone();
                    p.extend(path[k + 1..].iter().cloned());
                    path = p;
                }
                None => return m,
            }
        }
        join(&path)
    };

    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for (m, s) in &scanned {
        let file = &code[*m].0;
        let mine = &aliases[m];
        let refs = s
            .uses
            .iter()
            .map(|(l, raw, _, _)| (*l, raw, absolute(m, raw, &no_aliases)))
            .chain(
                s.inline
                    .iter()
                    .map(|(l, raw)| (*l, raw, absolute(m, raw, mine))),
            );
        for (line, raw, abs) in refs {
            let pure = layer(m) == Some(Layer::Pure);
            if pure && FORBIDDEN.iter().any(|f| starts_with(raw, f)) {
                report.violations.push(format!(
                    "pure module {} touches the system: {file}:{line} `{}`",
                    show(m),
                    join(raw)
                ));
            }
            let Some(abs) = abs else { continue };
            let to = target(&abs);
            if is_within(&to, m) {
                continue; // itself, or a submodule it declares
            }
            if seen.insert(((*m).clone(), to.clone())) {
                report.edges.push(Edge {
                    from: (*m).clone(),
                    to,
                    at: format!("{file}:{line}"),
                    path: join(raw),
                });
            }
        }
        if layer(m) == Some(Layer::Pure) {
            for (line, method) in &s.fs_calls {
                report.violations.push(format!(
                    "pure module {} asks the filesystem: {file}:{line} `.{method}()`",
                    show(m)
                ));
            }
        }
        if !matches!(m.as_str(), "path" | "resolve::canonical") {
            for line in &s.from_resolved {
                report.violations.push(format!(
                    "only resolve::canonical builds a CanonicalPath from a resolved path: {file}:{line} `from_resolved`"
                ));
            }
        }
    }

    for m in modules {
        if layer(m).is_none() {
            report.violations.push(format!(
                "module {m} ({}) is neither pure nor I/O: add it to PURE or IO in tests/layering.rs",
                code[m].0
            ));
        }
    }
    for e in &report.edges {
        let first = |m: &str| m.split("::").next().unwrap_or("").to_string();
        let why = if layer(&e.from) == Some(Layer::Pure) && layer(&e.to) == Some(Layer::Io) {
            Some("a pure module imports an I/O one")
        } else if first(&e.from) == "resolve" && first(&e.to) == "store" {
            Some("the resolver must not depend on the store")
        } else if first(&e.from) == "store" && first(&e.to) == "render" {
            Some("the store must not depend on rendering (templates are chosen in render)")
        } else {
            None
        };
        if let Some(why) = why {
            report.violations.push(format!(
                "{why}: {} -> {} ({} `{}`)",
                show(&e.from),
                show(&e.to),
                e.at,
                e.path
            ));
        }
    }
    let counted = report.edges.clone();
    for cycle in cycles(&counted) {
        let mut text = String::from("module cycle: ");
        text.push_str(show(&cycle[0].from));
        for e in &cycle {
            text.push_str(&format!(" -> {} ({} `{}`)", show(&e.to), e.at, e.path));
        }
        report.violations.push(text);
    }
    report
}

/// One cycle per strongly connected component of more than one module.
fn cycles(edges: &[Edge]) -> Vec<Vec<Edge>> {
    let mut out: BTreeMap<&str, Vec<&Edge>> = BTreeMap::new();
    for e in edges {
        out.entry(&e.from).or_default().push(e);
    }
    // The modules reachable from `from`, each with the edge that first reached it: a tree
    // rooted at `from`, so walking those edges back from any module ends at `from`.
    let reach = |from: &str| {
        let mut via: BTreeMap<String, &Edge> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([from.to_string()]);
        while let Some(m) = queue.pop_front() {
            for e in out.get(m.as_str()).into_iter().flatten() {
                if !via.contains_key(&e.to) {
                    via.insert(e.to.clone(), e);
                    queue.push_back(e.to.clone());
                }
            }
        }
        via
    };
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut found = Vec::new();
    for m in out.keys() {
        if done.contains(*m) {
            continue;
        }
        let via = reach(m);
        let Some(mut e) = via.get(*m).copied() else {
            continue;
        };
        // Back from the edge into m, along the tree, to m.
        let mut cycle = vec![e.clone()];
        while e.from != *m && cycle.len() <= via.len() {
            e = via[&e.from];
            cycle.push(e.clone());
        }
        cycle.reverse();
        // The rest of m's component is reported with it.
        for n in via.keys() {
            if reach(n).contains_key(*m) {
                done.insert(n.clone());
            }
        }
        found.push(cycle);
    }
    found
}

fn read_tree(root: &Path) -> Vec<Source> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).expect("read src/") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root.join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let rel = p.strip_prefix(root).ok()?.to_string_lossy().into_owned();
            (rel != "src/main.rs").then(|| Source {
                module: module_of(&rel),
                text: std::fs::read_to_string(&p).expect("read source"),
                file: rel,
            })
        })
        .collect()
}

#[test]
fn the_crate_is_layered() {
    let report = check(&read_tree(Path::new(env!("CARGO_MANIFEST_DIR"))));
    assert!(
        report.violations.is_empty(),
        "layering broken:\n  {}",
        report.violations.join("\n  ")
    );
    // The checker sees the real tree: known modules, and edges known to exist (a scanner
    // that found nothing would pass the assertion above).
    for m in [
        "",
        "path",
        "fsio",
        "store",
        "policy",
        "resolve",
        "resolve::fs",
        "resolve::canonical",
    ] {
        assert!(report.modules.contains(m), "module {m:?} not found");
    }
    for (from, to) in [
        ("policy", "path"),
        ("resolve::fs", "fsio"),
        ("resolve::fs", "resolve"),
        ("store", "fsio"),
        ("app", "store"),
        ("app::generate", "resolve::fs"),
    ] {
        assert!(report.has_edge(from, to), "no edge {from} -> {to}");
    }
}

#[cfg(test)]
mod checker {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> Vec<Source> {
        files
            .iter()
            .map(|(file, text)| Source {
                module: module_of(file),
                file: (*file).to_string(),
                text: (*text).to_string(),
            })
            .collect()
    }

    fn violations(files: &[(&str, &str)]) -> Vec<String> {
        check(&tree(files)).violations
    }

    #[test]
    fn module_names_come_from_file_paths() {
        assert_eq!(module_of("src/resolve/fs.rs"), "resolve::fs");
        assert_eq!(module_of("src/rules/disk.rs"), "rules::disk");
        assert_eq!(module_of("src/rules/mod.rs"), "rules");
        assert_eq!(module_of("src/policy.rs"), "policy");
        assert_eq!(module_of("src/lib.rs"), "");
        assert_eq!(layer("parse::disk"), Some(Layer::Pure));
        assert_eq!(layer("rules::chardev"), Some(Layer::Pure));
        assert_eq!(layer("apparmor_parser"), Some(Layer::Io));
        assert_eq!(layer("resolve"), Some(Layer::Pure));
        assert_eq!(layer("resolve::fs"), Some(Layer::Io));
        assert_eq!(layer("whatever"), None);
    }

    #[test]
    fn a_clean_graph_passes() {
        let r = check(
            &tree(&[
            ("src/lib.rs", "pub mod app; pub mod resolve; fn f() { app::run(); }"),
            ("src/path.rs", "pub struct CanonicalPath;"),
            ("src/policy.rs", "use crate::path::CanonicalPath;"),
            ("src/rules/mod.rs", "mod disk;\nuse crate::policy::{self, Grant};\nuse crate::resolve::{CanonicalPath, Resolve};\nfn f() { disk::rules(); policy::check(); }"),
            ("src/rules/disk.rs", "use super::Builder;\nuse crate::resolve::Chain;"),
            ("src/resolve/mod.rs", "mod fs;\npub use crate::path::CanonicalPath;\npub use fs::FsResolver;\npub trait Resolve {}"),
            ("src/resolve/fs.rs", "use super::Resolve;\nuse crate::{fsio, path::CanonicalPath};\nfn f() { fsio::read_optional(); std::fs::read_dir(); }"),
            ("src/fsio.rs", "use crate::error::Error;\nuse std::fs::File;"),
            ("src/error.rs", ""),
            ("src/store.rs", "use crate::fsio::read_trusted;"),
            ("src/render.rs", "use crate::rules::Rule;"),
            ("src/app.rs", "use crate::resolve::FsResolver;\nuse crate::{render, store::Store};\nfn f() { render::Template::choose(); crate::rules::build(); }"),
        ]));
        assert_eq!(r.violations, Vec::<String>::new());
        // Re-exports land where the item is defined; a module's paths into its own
        // submodules are no edges, a submodule's paths up to its parent are.
        assert!(r.has_edge("rules", "path"));
        assert!(r.has_edge("app", "resolve::fs"));
        assert!(r.has_edge("app", "rules"));
        assert!(r.has_edge("resolve::fs", "fsio"));
        assert!(r.has_edge("resolve::fs", "path"));
        assert!(r.has_edge("rules::disk", "rules"));
        assert!(!r.has_edge("resolve", "resolve::fs"));
        assert!(!r.has_edge("rules", "rules::disk"));
        assert!(!r.has_edge("", "app"));
    }

    #[test]
    fn a_cycle_is_found_and_printed() {
        let v = violations(&[
            ("src/render.rs", "use crate::rules::Rule;"),
            (
                "src/rules/mod.rs",
                "fn f() {\n    crate::policy::check();\n}",
            ),
            ("src/policy.rs", "use crate::resolve::Chain;"),
            ("src/resolve/mod.rs", "pub use crate::render::Template;"),
            ("src/path.rs", ""),
        ]);
        assert_eq!(v.len(), 1, "{v:#?}");
        assert!(v[0].starts_with("module cycle: "), "{}", v[0]);
        for hop in [
            "-> rules (src/render.rs:1 `crate::rules::Rule`)",
            "-> policy (src/rules/mod.rs:2 `crate::policy::check`)",
            "-> resolve (src/policy.rs:1 `crate::resolve::Chain`)",
            "-> render (src/resolve/mod.rs:1 `crate::render::Template`)",
        ] {
            assert!(v[0].contains(hop), "{hop} not in {}", v[0]);
        }
        // Two modules using each other through inline paths and `use`d names.
        let v = violations(&[
            (
                "src/state.rs",
                "use crate::policy;\nfn f() { policy::Scope::All; }",
            ),
            ("src/policy.rs", "fn g() { crate::state::Owner::of(d); }"),
        ]);
        assert_eq!(v.len(), 1, "{v:#?}");
        assert!(
            v[0].contains("policy -> state") || v[0].contains("state -> policy"),
            "{}",
            v[0]
        );
    }

    #[test]
    fn a_pure_module_reaching_io_is_found() {
        let io_tree = [
            ("src/resolve/mod.rs", "mod fs;\npub use fs::FsResolver;"),
            ("src/resolve/fs.rs", "pub struct FsResolver;"),
            ("src/store.rs", "pub struct Store;"),
        ];
        for (file, text, want) in [
            (
                "src/render.rs",
                "use crate::store::Store;",
                "render -> store",
            ),
            (
                "src/rules/mod.rs",
                "use crate::resolve::FsResolver;",
                "rules -> resolve::fs",
            ),
            (
                "src/rules/disk.rs",
                "use crate::resolve;\nfn f() { resolve::FsResolver::new(); }",
                "rules::disk -> resolve::fs",
            ),
            (
                "src/parse/disk.rs",
                "fn f() { crate::store::Store::new(); }",
                "parse::disk -> store",
            ),
        ] {
            let mut files = io_tree.to_vec();
            files.push((file, text));
            let v = violations(&files);
            assert!(
                v.iter()
                    .any(|v| v.starts_with("a pure module imports an I/O one") && v.contains(want)),
                "{want} not found in {v:#?}"
            );
        }
    }

    #[test]
    fn system_calls_in_pure_modules_are_found() {
        for (text, want) in [
            ("use std::{fs, io};", "`std::fs`"),
            (
                "use std::os::unix::{fs::symlink};",
                "`std::os::unix::fs::symlink`",
            ),
            ("fn f() { std::process::exit(1); }", "`std::process::exit`"),
            ("use rustix::fs::OFlags;", "`rustix::fs::OFlags`"),
            ("fn f(p: &Path) -> bool { p.exists() }", "`.exists()`"),
            (
                "fn f(p: &Path) { Path::new(\"/x\").read_dir(); }",
                "`.read_dir()`",
            ),
        ] {
            let v = violations(&[("src/image.rs", text)]);
            assert!(
                v.iter().any(|v| v.contains(want)),
                "{want} not found in {v:#?}"
            );
        }
        // The same in an I/O module is fine.
        assert!(violations(&[(
            "src/store.rs",
            "use std::{fs, io};\nfn f(p: &Path) -> bool { p.exists() }"
        )])
        .is_empty());
    }

    #[test]
    fn comments_literals_and_tests_do_not_count() {
        let r = check(
            &tree(&[
            (
                "src/policy.rs",
                concat!(
                    "//! Unlike [`crate::store`], ...\n",
                    "// use crate::store;\n",
                    "/* crate::store /* nested */ crate::store */\n",
                    "const S: &str = \"crate::store std::fs \\\" crate::store\";\n",
                    "const R: &str = r#\"crate::store \" std::fs\"#;\n",
                    "const Q: char = '\"';\n",
                    "fn f<'a>(x: &'a str) -> char { '\\'' }\n",
                    "use crate::path::CanonicalPath;\n",
                    "#[cfg(test)]\n",
                    "mod tests {\n    use crate::store::Store;\n    fn f() { std::fs::read(\"x\").unwrap(); if true {} }\n}\n",
                    "#[cfg(test)]\n",
                    "mod testing;\n",
                    "fn after() { crate::error::quote(); }\n",
                ),
            ),
            ("src/policy/testing.rs", "use crate::store::Store;\nfn f() { std::fs::read(\"x\"); }"),
            ("src/store.rs", ""),
            ("src/path.rs", ""),
            ("src/error.rs", ""),
        ]));
        assert_eq!(r.violations, Vec::<String>::new());
        // The code after the literals and the test module is still read.
        assert!(r.has_edge("policy", "path"));
        assert!(r.has_edge("policy", "error"));
        assert!(!r.modules.contains("policy::testing"));
    }

    #[test]
    fn specific_rules_hold_between_io_modules() {
        let v = violations(&[
            (
                "src/resolve/fs.rs",
                "fn f() { crate::store::read_optional(); }",
            ),
            ("src/store.rs", "use crate::render::Template;"),
            ("src/render.rs", ""),
        ]);
        assert!(
            v.iter().any(|v| v
                .starts_with("the resolver must not depend on the store: resolve::fs -> store")),
            "{v:#?}"
        );
        assert!(
            v.iter()
                .any(|v| v.starts_with("the store must not depend on rendering")
                    && v.contains("store -> render")),
            "{v:#?}"
        );
        let v = violations(&[
            (
                "src/rules/mod.rs",
                "fn f() { CanonicalPath::from_resolved(p); }",
            ),
            (
                "src/resolve/canonical.rs",
                "fn f() { CanonicalPath::from_resolved(p); }",
            ),
        ]);
        assert_eq!(v.len(), 1, "{v:#?}");
        assert!(
            v[0].contains("src/rules/mod.rs:1 `from_resolved`"),
            "{}",
            v[0]
        );
        let v = violations(&[("src/diagnostics.rs", "")]);
        assert!(
            v[0].contains("module diagnostics (src/diagnostics.rs) is neither pure nor I/O"),
            "{v:#?}"
        );
    }
}
