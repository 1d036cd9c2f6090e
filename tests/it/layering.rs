//! The layering rules that neither clippy nor module privacy can state (`src/lib.rs` lists
//! the layers; `clippy.toml` keeps the filesystem and processes out of the pure modules).
//!
//! Every `src/**/*.rs` but `main.rs` is one module, named after its file (`src/resolve/fs.rs`
//! is `resolve::fs`, `src/rules/mod.rs` is `rules`, `src/lib.rs` the root `crate`), parsed
//! by `syn`; `#[cfg(test)]` modules, functions, impls, `use`s and consts are left out, and
//! so are the files of `#[cfg(test)] mod x;`. Every path into the crate (`use` trees, inline
//! paths such as `crate::state::Owner::of(d)` or through a `use`d name, the arguments of
//! `vec!`-like macros) goes to its longest module prefix, and through `pub use` re-exports to
//! the module that defines the item (`crate::resolve::FsResolver` is `resolve::fs`). Then:
//!
//! - no cycle among modules (a module's paths into its own submodules are no edges);
//! - no pure module reaches an I/O one, the crate root included;
//! - `resolve` never reaches `store`, `store` never reaches `render`;
//! - `CanonicalPath::from_resolved` is named only in `resolve::canonical`: privacy cannot
//!   say so, as `pub(in ...)` names only an ancestor of `path`, which is a leaf so that the
//!   pure modules need not depend on `resolve`;
//! - every module is classified (a new top-level module goes in [`PURE`] or [`IO`]);
//! - an attribute that allows `clippy::disallowed_methods`/`disallowed_types` (or
//!   `clippy::all`, `clippy::style`, `warnings`, which hold them) is only in the file of an
//!   I/O module other than the crate root (whose attributes reach every module), or on a
//!   `#[cfg(test)]` item.
//!
//! The tests below run the checker on made-up trees. To see each rule fail on the real tree:
//!
//! ```sh
//! sed -i '/^use crate::path::CanonicalPath;/a use crate::rules as _cycle;' src/policy.rs && cargo test --test it layering::; git checkout src/policy.rs
//! sed -i '/^use crate::path::CanonicalPath;/a use crate::store as _io;' src/policy.rs && cargo test --test it layering::; git checkout src/policy.rs
//! sed -i '/^use crate::path::CanonicalPath;/a use crate::store as _store;' src/resolve/canonical.rs && cargo test --test it layering::; git checkout src/resolve/canonical.rs
//! sed -i '/^use crate::domain::VirtType;/a use crate::render as _render;' src/store.rs && cargo test --test it layering::; git checkout src/store.rs
//! echo 'fn _f(p: std::path::PathBuf) { CanonicalPath::from_resolved(p); }' >> src/policy.rs && cargo test --test it layering::; git checkout src/policy.rs
//! echo '#[allow(clippy::disallowed_methods)] fn _f() {}' >> src/policy.rs && cargo test --test it layering::; git checkout src/policy.rs
//! (cd src && touch extra.rs && cargo test --test it layering::; rm extra.rs)
//! ```

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use syn::visit::{self, Visit};
use syn::{punctuated::Punctuated, Expr, Ident, Item, Meta, Token, UseTree, Visibility};

/// Modules without I/O, by first path component (`parse::disk` is pure because `parse` is).
/// `resolve` itself (the trait and its values) is pure too, but not its submodules.
const PURE: &[&str] = &[
    "domain", "parse", "rules", "render", "policy", "state", "escape", "image", "origin", "name",
    "xml", "path", "error", "config", "ledger", "chain",
];

/// Modules that read or write files or run programs, by first path component; also the
/// crate root (`main_with`) and every submodule of `resolve` (`fs`, `canonical`).
const IO: &[&str] = &["fsio", "store", "apparmor_parser", "app", "cli"];

/// Whether a module does I/O; `None` if it is not classified.
fn is_io(module: &str) -> Option<bool> {
    let first = module.split("::").next().unwrap_or("");
    match first {
        _ if module.is_empty() || IO.contains(&first) => Some(true),
        "resolve" => Some(module != "resolve"),
        _ => PURE.contains(&first).then_some(false),
    }
}

/// `src/resolve/fs.rs` -> `resolve::fs`, `src/rules/mod.rs` -> `rules`, `src/lib.rs` -> ``.
fn module_of(file: &str) -> String {
    let p = file.trim_start_matches("src/").trim_end_matches(".rs");
    let p = p.trim_end_matches("/mod").replace('/', "::");
    if p == "lib" {
        String::new()
    } else {
        p
    }
}

fn show(m: &str) -> &str {
    if m.is_empty() {
        "crate"
    } else {
        m
    }
}

/// `a::b` and `c` -> `a::b::c`; the root `` and `c` -> `c`.
fn child(module: &str, name: &str) -> String {
    format!("{module}::{name}").trim_matches(':').to_string()
}

fn is_within(module: &str, ancestor: &str) -> bool {
    ancestor.is_empty() || module == ancestor || module.starts_with(&format!("{ancestor}::"))
}

fn line(p: &syn::Path) -> usize {
    p.segments[0].ident.span().start().line
}

/// What one file names, its `#[cfg(test)]` items left out.
#[derive(Default)]
struct Scan {
    /// `use` leaves: line, path as written, whether `pub`, `as` name.
    uses: Vec<(usize, Vec<String>, bool, Option<String>)>,
    /// Other paths of two segments or more: line, path as written.
    paths: Vec<(usize, Vec<String>)>,
    /// `#[cfg(test)] mod x;` (those files are test code).
    test_mods: Vec<String>,
    /// Lines of attributes that allow the clippy.toml lints.
    allows: Vec<usize>,
    from_resolved: Vec<usize>,
}

/// The leaves of a use tree: each one's path and `as` name.
fn leaves(t: &UseTree, mut path: Vec<String>, out: &mut Vec<(Vec<String>, Option<String>)>) {
    let (name, alias) = match t {
        UseTree::Path(p) => {
            return leaves(&p.tree, [path, vec![p.ident.to_string()]].concat(), out)
        }
        UseTree::Group(g) => return g.items.iter().for_each(|t| leaves(t, path.clone(), out)),
        UseTree::Glob(_) => return out.push(([path, vec!["*".into()]].concat(), None)),
        UseTree::Name(n) => (&n.ident, None),
        UseTree::Rename(r) => (&r.ident, Some(r.rename.to_string())),
    };
    if name != "self" || path.is_empty() {
        path.push(name.to_string());
    }
    out.push((path, alias));
}

impl<'a> Visit<'a> for Scan {
    fn visit_item(&mut self, item: &'a Item) {
        let attrs = match item {
            Item::Mod(i) => &i.attrs,
            Item::Fn(i) => &i.attrs,
            Item::Impl(i) => &i.attrs,
            Item::Use(i) => &i.attrs,
            Item::Const(i) => &i.attrs,
            _ => return visit::visit_item(self, item),
        };
        let test = |a: &syn::Attribute| {
            a.path().is_ident("cfg") && a.parse_args::<Ident>().is_ok_and(|i| i == "test")
        };
        match item {
            _ if !attrs.iter().any(test) => visit::visit_item(self, item),
            Item::Mod(m) if m.content.is_none() => self.test_mods.push(m.ident.to_string()),
            _ => {}
        }
    }

    fn visit_item_use(&mut self, u: &'a syn::ItemUse) {
        let (mut out, is_pub) = (Vec::new(), !matches!(u.vis, Visibility::Inherited));
        leaves(&u.tree, Vec::new(), &mut out);
        let line = u.use_token.span.start().line;
        self.uses
            .extend(out.into_iter().map(|(p, alias)| (line, p, is_pub, alias)));
        visit::visit_item_use(self, u);
    }

    fn visit_path(&mut self, p: &'a syn::Path) {
        let path: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        if path.iter().any(|s| s == "from_resolved") {
            self.from_resolved.push(line(p));
        }
        if path.len() > 1 && p.leading_colon.is_none() {
            self.paths.push((line(p), path));
        }
        visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'a syn::Macro) {
        let args = m.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated);
        args.iter().flatten().for_each(|e| self.visit_expr(e));
        visit::visit_macro(self, m);
    }

    fn visit_attribute(&mut self, a: &'a syn::Attribute) {
        let Meta::List(list) = &a.meta else { return };
        let text = format!("{}({})", list.path.segments[0].ident, list.tokens).replace(' ', "");
        let lints = ["disallowed_methods", "disallowed_types", "all", "style"];
        let lint = |w: &str| {
            w.strip_prefix("clippy::")
                .is_some_and(|l| lints.contains(&l))
        };
        let named = text
            .split(['(', ')', ','])
            .any(|w| lint(w) || w == "warnings");
        if named && (text.contains("allow(") || text.contains("expect(")) {
            self.allows.push(line(&list.path));
        }
    }
}

/// One source file.
struct Source {
    module: String,
    file: String,
    text: String,
}

/// A reference from one module to another, with where it was found.
#[derive(Debug)]
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
    /// Modules whose own files allow the clippy.toml lints (and may).
    allowed: BTreeSet<String>,
    violations: Vec<String>,
}

impl Report {
    fn has_edge(&self, from: &str, to: &str) -> bool {
        self.edges.iter().any(|e| e.from == from && e.to == to)
    }
}

/// Runs every check on a set of modules.
fn check(sources: &[Source]) -> Report {
    let (mut scans, mut test_only) = (BTreeMap::new(), Vec::new());
    for src in sources {
        let ast = syn::parse_file(&src.text).unwrap_or_else(|e| panic!("{}: {e}", src.file));
        let mut s = Scan::default();
        s.visit_file(&ast);
        test_only.extend(s.test_mods.iter().map(|m| child(&src.module, m)));
        scans.insert(src.module.clone(), (src.file.as_str(), s));
    }
    scans.retain(|m, _| !test_only.iter().any(|t| is_within(m, t)));
    let modules: BTreeSet<String> = scans.keys().cloned().collect();

    // A path as written in module `m`, made absolute (no `crate`); `None` outside the crate.
    type Names = BTreeMap<String, Vec<String>>;
    let absolute = |m: &str, raw: &[String], names: Option<&Names>| -> Option<Vec<String>> {
        let here: Vec<String> = m.split_terminator("::").map(String::from).collect();
        let supers = raw.iter().take_while(|s| *s == "super").count();
        let (base, skip) = match raw.first()?.as_str() {
            "crate" => (Vec::new(), 1),
            "self" => (here, 1),
            "super" => (here[..here.len().saturating_sub(supers)].to_vec(), supers),
            f if modules.contains(&child(m, f)) => (here, 0),
            f => (names?.get(f)?.clone(), 1),
        };
        Some([base, raw[skip..].to_vec()].concat())
    };

    // Each module's imported names, and `pub use` re-exports.
    let mut names: BTreeMap<&str, Names> = BTreeMap::new();
    let mut reexports: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (m, (_, s)) in &scans {
        for (_, raw, is_pub, alias) in &s.uses {
            let Some(abs) = absolute(m, raw, None) else {
                continue;
            };
            let name = alias.as_ref().or(abs.last()).cloned().unwrap_or_default();
            if *is_pub && name != "*" {
                reexports.insert((m.clone(), name.clone()), abs.clone());
            }
            names.entry(m).or_default().insert(name, abs);
        }
    }

    // The module a path lands in: its longest module prefix, then through re-exports.
    let target = |mut path: Vec<String>| loop {
        let k = (0..=path.len())
            .rev()
            .find(|&k| modules.contains(&path[..k].join("::")));
        let k = k.unwrap_or(0);
        let m = path[..k].join("::");
        match path
            .get(k)
            .and_then(|next| reexports.get(&(m.clone(), next.clone())))
        {
            Some(to) => path = [to.clone(), path[k + 1..].to_vec()].concat(),
            None => break m,
        }
    };

    let mut r = Report::default();
    for (m, (file, s)) in &scans {
        let from_uses = s.uses.iter().map(|(l, raw, ..)| (l, raw, None));
        let inline = s
            .paths
            .iter()
            .map(|(l, raw)| (l, raw, names.get(m.as_str())));
        for (line, raw, names) in from_uses.chain(inline) {
            let Some(to) = absolute(m, raw, names).map(target) else {
                continue;
            };
            if !is_within(&to, m) && !r.has_edge(m, &to) {
                let (from, at, path) = (m.clone(), format!("{file}:{line}"), raw.join("::"));
                r.edges.push(Edge { from, to, at, path });
            }
        }
        let mut fail = |why: &str, line: &usize| r.violations.push(format!("{why}: {file}:{line}"));
        if !matches!(m.as_str(), "path" | "resolve::canonical") {
            let why = "only resolve::canonical calls CanonicalPath::from_resolved";
            s.from_resolved.iter().for_each(|line| fail(why, line));
        }
        let io = !m.is_empty() && is_io(m) == Some(true);
        if !io {
            let why = "clippy's disallowed_methods/types allowed outside the I/O modules";
            s.allows.iter().for_each(|line| fail(why, line));
        } else if !s.allows.is_empty() {
            r.allowed.insert(m.clone());
        }
        if is_io(m).is_none() {
            let why = "is neither pure nor I/O: add it to PURE or IO in tests/it/layering.rs";
            r.violations.push(format!("module {m} ({file}) {why}"));
        }
    }
    let first = |m: &str| m.split("::").next().unwrap_or("").to_string();
    for e in &r.edges {
        let why = match (first(&e.from).as_str(), first(&e.to).as_str()) {
            _ if is_io(&e.from) == Some(false) && is_io(&e.to) == Some(true) => {
                "a pure module imports an I/O one"
            }
            ("resolve", "store") => "the resolver must not depend on the store",
            ("store", "render") => {
                "the store must not depend on rendering (templates are chosen in render)"
            }
            _ => continue,
        };
        let (from, to) = (show(&e.from), show(&e.to));
        r.violations
            .push(format!("{why}: {from} -> {to} ({} `{}`)", e.at, e.path));
    }
    for cycle in cycles(&r.edges) {
        let hops = cycle
            .iter()
            .map(|e| format!(" -> {} ({} `{}`)", show(&e.to), e.at, e.path));
        let hops: String = hops.collect();
        r.violations
            .push(format!("module cycle: {}{hops}", show(&cycle[0].from)));
    }
    r.modules = modules;
    r
}

/// Cycles, each an edge and the shortest way back; a module in one starts no other.
fn cycles(edges: &[Edge]) -> Vec<Vec<&Edge>> {
    let (mut done, mut found) = (BTreeSet::new(), Vec::new());
    for e in edges {
        if done.contains(&e.from) {
            continue;
        }
        // The edge that first reached each module from e.to, breadth first.
        let mut via: BTreeMap<&str, &Edge> = BTreeMap::new();
        let mut queue = VecDeque::from([e.to.as_str()]);
        while let Some(m) = queue.pop_front() {
            for f in edges.iter().filter(|f| f.from == m && f.to != e.to) {
                if !via.contains_key(f.to.as_str()) {
                    via.insert(&f.to, f);
                    queue.push_back(&f.to);
                }
            }
        }
        let mut cycle = vec![e];
        let mut m = e.from.as_str();
        while let (true, Some(f)) = (m != e.to, via.get(m)) {
            cycle.insert(1, f);
            m = &f.from;
        }
        if m == e.to {
            done.extend(cycle.iter().map(|f| f.from.clone()));
            found.push(cycle);
        }
    }
    found
}

/// The modules under `dir` (`src/` and below), `main.rs` aside.
fn read_tree(dir: &Path, out: &mut Vec<Source>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(dir).expect("read src/") {
        let p = entry.expect("entry").path();
        let file = p
            .strip_prefix(root)
            .expect("under the root")
            .display()
            .to_string();
        if p.is_dir() {
            read_tree(&p, out);
        } else if file.ends_with(".rs") && file != "src/main.rs" {
            let text = std::fs::read_to_string(&p).expect("read source");
            out.push(Source {
                module: module_of(&file),
                file,
                text,
            });
        }
    }
}

#[test]
fn the_crate_is_layered() {
    let mut tree = Vec::new();
    read_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut tree,
    );
    let r = check(&tree);
    assert!(
        r.violations.is_empty(),
        "layering broken:\n  {}",
        r.violations.join("\n  ")
    );
    // The checker sees the real tree (a scanner that found nothing would pass the above).
    assert!(["", "path", "resolve", "resolve::fs"]
        .iter()
        .all(|m| r.modules.contains(*m)));
    let edges = [
        ("policy", "path"),
        ("resolve::fs", "resolve"),
        ("app::generate", "resolve::fs"),
    ];
    assert!(edges.iter().all(|(a, b)| r.has_edge(a, b)), "{edges:?}");
    let io = "app apparmor_parser fsio resolve::canonical resolve::fs store";
    assert!(
        r.allowed.iter().eq(io.split(' ')),
        "allowed in {:?}",
        r.allowed
    );
}

#[cfg(test)]
mod checker {
    use super::*;

    /// The report on `files`, with empty files for the leaf modules they do not give.
    fn check_tree(files: &[(&str, &str)]) -> Report {
        let leaves = "src/path.rs src/error.rs src/store.rs src/render.rs src/resolve/fs.rs";
        let leaves = leaves
            .split(' ')
            .filter(|f| !files.iter().any(|(g, _)| g == f));
        let tree = files.iter().copied().chain(leaves.map(|f| (f, "")));
        let src = |(f, text): (&str, &str)| Source {
            module: module_of(f),
            file: f.into(),
            text: text.into(),
        };
        check(&tree.map(src).collect::<Vec<_>>())
    }

    #[test]
    fn module_names_and_layers() {
        let files = [
            "src/resolve/fs.rs",
            "src/rules/mod.rs",
            "src/lib.rs",
            "src/libs.rs",
        ];
        assert_eq!(files.map(module_of), ["resolve::fs", "rules", "", "libs"]);
        let layers = [
            "parse::disk",
            "resolve",
            "resolve::fs",
            "cli",
            "",
            "whatever",
        ]
        .map(is_io);
        let (pure, io) = (Some(false), Some(true));
        assert_eq!(layers, [pure, pure, io, io, io, None]);
    }

    #[test]
    fn a_clean_graph_passes() {
        let r = check_tree(&[
            ("src/lib.rs", "pub mod app; pub mod resolve; fn f() { app::run(); }"),
            ("src/rules/mod.rs", "mod disk;\nuse crate::resolve::{CanonicalPath, Resolve};\nfn f() { disk::rules(); }"),
            ("src/rules/disk.rs", "use super::Builder;\nuse crate::resolve::Chain;"),
            ("src/resolve/mod.rs", "mod fs;\npub use crate::path::CanonicalPath;\npub use fs::FsResolver;"),
            ("src/resolve/fs.rs", "#![allow(clippy::disallowed_methods)]\nuse super::Resolve;\nuse crate::{fsio, path};"),
            ("src/fsio.rs", ""),
            ("src/app.rs", "use crate::resolve::FsResolver;\nfn f() { vec![crate::rules::build()]; }"),
        ]);
        assert_eq!(r.violations, Vec::<String>::new());
        // Re-exports land where the item is defined; a module's paths into its own
        // submodules are no edges, a submodule's paths up to its parent are.
        let edges = "rules>path app>resolve::fs app>rules rules::disk>rules resolve::fs>fsio";
        let edges: Vec<_> = edges.split(' ').filter_map(|e| e.split_once('>')).collect();
        assert!(
            edges.iter().all(|(a, b)| r.has_edge(a, b)),
            "{:#?}",
            r.edges
        );
        let none = [
            ("resolve", "resolve::fs"),
            ("rules", "rules::disk"),
            ("", "app"),
        ];
        assert!(
            !none.iter().any(|(a, b)| r.has_edge(a, b)),
            "{:#?}",
            r.edges
        );
        assert!(r.allowed.contains("resolve::fs"));
    }

    #[test]
    fn comments_literals_and_tests_do_not_count() {
        let text = concat!(
            "//! Unlike [`crate::store`], `#![allow(clippy::disallowed_methods)]` ...\n",
            "// use crate::store;\n/* crate::store /* nested */ crate::store */\n",
            "const S: &str = \"crate::store \\\" crate::store #[allow(warnings)]\";\n",
            "const R: &str = r#\"crate::store \" crate::store\"#;\n",
            "fn f<'a>(x: &'a str) -> char { '\\'' }\n",
            "#[cfg(test)]\n#[allow(clippy::disallowed_methods)]\n",
            "mod tests {\n    use crate::store::Store;\n}\n",
            "#[cfg(test)]\nmod testing;\n",
            "#[allow(dead_code)]\n#[cfg(all(unix))]\nfn after() { crate::error::quote(); }\n",
        );
        let testing = "#![allow(clippy::disallowed_types)]\nuse crate::store::Store;";
        let r = check_tree(&[("src/policy.rs", text), ("src/policy/testing.rs", testing)]);
        assert_eq!(r.violations, Vec::<String>::new());
        // The code after the literals and the test module is still read.
        assert!(r.has_edge("policy", "error"), "{:#?}", r.edges);
        assert!(!r.modules.contains("policy::testing"));
    }

    #[test]
    fn a_cycle_is_found_and_printed() {
        let v = check_tree(&[
            ("src/render.rs", "use crate::rules::Rule;"),
            (
                "src/rules/mod.rs",
                "fn f() {\n    crate::policy::check();\n}",
            ),
            ("src/policy.rs", "use crate::resolve::Chain;"),
            ("src/resolve/mod.rs", "pub use crate::render::Template;"),
        ]);
        assert_eq!(v.violations, ["module cycle: policy -> resolve (src/policy.rs:1 `crate::resolve::Chain`) -> render (src/resolve/mod.rs:1 `crate::render::Template`) -> rules (src/render.rs:1 `crate::rules::Rule`) -> policy (src/rules/mod.rs:2 `crate::policy::check`)"]);
        // Two modules using each other through inline paths and `use`d names.
        let v = check_tree(&[
            (
                "src/state.rs",
                "use crate::policy;\nfn f() { policy::Scope::All; }",
            ),
            ("src/policy.rs", "fn g() { crate::state::Owner::of(d); }"),
        ]);
        assert_eq!(v.violations, ["module cycle: policy -> state (src/policy.rs:1 `crate::state::Owner::of`) -> policy (src/state.rs:1 `crate::policy`)"]);
    }

    #[test]
    fn each_rule_is_enforced() {
        let resolve = ("src/resolve/mod.rs", "mod fs;\npub use fs::FsResolver;");
        for (files, want) in [
            (vec![("src/render.rs", "use crate::store::Store;")], "a pure module imports an I/O one: render -> store (src/render.rs:1 `crate::store::Store`)"),
            (vec![resolve, ("src/rules/mod.rs", "use crate::resolve::FsResolver;")], "rules -> resolve::fs"),
            (vec![resolve, ("src/rules/disk.rs", "use crate::resolve;\nfn f() { resolve::FsResolver::new(); }")], "rules::disk -> resolve::fs"),
            (vec![("src/parse/disk.rs", "fn f() { assert!(crate::store::Store::new()); }")], "parse::disk -> store"),
            (vec![("src/escape.rs", "fn f() { crate::main_with(); }")], "escape -> crate"),
            (vec![("src/resolve/fs.rs", "fn f() { crate::store::read(); }")], "the resolver must not depend on the store: resolve::fs -> store"),
            (vec![("src/store.rs", "use crate::render::Template;")], "the store must not depend on rendering (templates are chosen in render): store -> render"),
            (vec![("src/rules/mod.rs", "fn f() { CanonicalPath::from_resolved(p); }")], "only resolve::canonical calls CanonicalPath::from_resolved: src/rules/mod.rs:1"),
            (vec![("src/diagnostics.rs", "")], "module diagnostics (src/diagnostics.rs) is neither pure nor I/O"),
            (vec![("src/image.rs", "fn f() {}\n#[expect(clippy::disallowed_types)]\nfn g() {}")], "clippy's disallowed_methods/types allowed outside the I/O modules: src/image.rs:2"),
            (vec![("src/resolve/mod.rs", "#![cfg_attr(unix, allow(clippy::all))]")], "src/resolve/mod.rs:1"),
            (vec![("src/policy.rs", "fn f() {\n    #[allow(warnings)]\n    let x = 1;\n}")], "src/policy.rs:2"),
            (vec![("src/lib.rs", "#![allow(clippy::style)]\nmod store;")], "src/lib.rs:1"),
            (vec![("src/lib.rs", "#[allow(clippy::disallowed_methods)]\nmod store;")], "src/lib.rs:1"),
        ] {
            let v = check_tree(&files).violations;
            assert!(v.len() == 1 && v[0].contains(want), "{want} not in {v:#?}");
        }
        let fine = [(
            "src/resolve/canonical.rs",
            "fn f() { CanonicalPath::from_resolved(p); }",
        )];
        assert_eq!(check_tree(&fine).violations, Vec::<String>::new());
    }
}
