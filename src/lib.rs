//! `virt-aa-helper`: libvirt's AppArmor profile generator, rewritten.
//!
//! The pipeline, one module per stage:
//!
//! 1. [`cli`]: argv to a validated [`cli::Request`];
//! 2. [`xml`] and [`parse`]: domain XML to the narrow [`parse::Domain`] model (no filesystem);
//! 3. [`resolve`]: canonical paths and backing chains, asked through the
//!    [`resolve::Resolve`] trait and answered from the filesystem by [`resolve::FsResolver`]
//!    and [`resolve::canonical`]; a chain is walked by [`chain`] (pure: its policy, over the
//!    two questions it asks), with [`image`] reading image headers from bytes;
//! 4. [`rules`]: model to rules, checked by [`policy`] (restricted host paths) and
//!    [`state`] (every domain's private state is its own) and escaped by [`escape`]; the
//!    `-F` grants that live as long as the VM are kept across `-r` in the [`ledger`];
//! 5. [`render`]: the profile from its TEMPLATE (the installed one, else the built-in one)
//!    and the `.files` include;
//! 6. [`store`]: the profile directory: atomic writes under a per-profile lock, and the
//!    installed templates;
//! 7. [`apparmor_parser`]: runs `apparmor_parser`.
//!
//! [`app`] ties them together per mode: each mode makes a plan (the files to write or
//! remove, the parser run) that a dry run prints and a real run applies under the profile's
//! lock, the only writer; it reads the site [`config`] once. [`error`] is the one
//! error type.
//!
//! # Layers
//!
//! Dependencies point one way: no module cycle, and no pure module reaches an I/O module or
//! touches the filesystem or processes. What holds that:
//!
//! - `clippy.toml` disallows the functions, methods and types that touch the filesystem or
//!   run programs (`std::fs`, `std::os::unix::fs`, `rustix::fs`, `std::process::Command`,
//!   `Path::exists`, `Path::canonicalize`...), so `cargo clippy -- -D warnings` fails on one
//!   in a pure module. Each I/O module that needs them allows both lints for itself, once, at
//!   its top: `#![allow(clippy::disallowed_methods, clippy::disallowed_types)]`.
//! - `tests/it/layering.rs` reads the source for what clippy and the compiler cannot check: no
//!   module cycle, no pure module naming an I/O one, [`resolve`] never reaching [`store`] nor
//!   [`store`] reaching [`render`], every module classified pure or I/O, that allow nowhere
//!   but in an I/O module (never in this root, whose attributes reach every module), and
//!   `CanonicalPath::from_resolved` called only in [`resolve::canonical`].
//! - Privacy: [`path::CanonicalPath`]'s field is private and `from_resolved` is
//!   `pub(crate)`, so nothing outside the crate builds one from an unresolved path (privacy
//!   cannot name `resolve::canonical` alone: `pub(in ...)` names only an ancestor).
//!
//! The layers:
//!
//! - Leaves: [`path`] ([`path::CanonicalPath`]), [`origin`], [`escape`], [`image`] (header
//!   readers over bytes), [`ledger`] (the runtime grants `.files` keeps across `-r`), and,
//!   importing only those, [`error`], [`name`], [`xml`], [`config`] (parses the text the
//!   app reads).
//! - Pure core: [`domain`] (leaf model types) and [`parse`]; [`policy`], [`state`], the
//!   backing-chain walker [`chain`] and the trait module [`resolve`] (the trait and the
//!   values it returns); [`rules`] on top of them, [`render`]
//!   on top of [`rules`]. A pure module takes a [`path::CanonicalPath`] without depending
//!   on the code that walks the filesystem to build one.
//! - I/O: [`fsio`] (bounded, type-checked reads of whole files; imports only [`error`]);
//!   [`resolve::canonical`] and [`resolve::FsResolver`] (which reads files through [`fsio`], never
//!   [`store`]); [`store`] (which returns an installed template's text and never imports
//!   [`render`]: [`render::Template::choose`] falls back to the built-in one); [`apparmor_parser`];
//!   [`cli`]; [`app`]; this root.
//!
//! The model has no cycle either: each element family declares its types next to its
//! parser (`parse/<family>.rs`), the root [`parse::Domain`] is in `parse/mod.rs`, and
//! [`domain`] holds only the leaf types the families share ([`domain::AbsPath`]...).
//!
//! # Adding a device
//!
//! An element is read in `src/parse/<family>.rs` and its rules are written in
//! `src/rules/<family>.rs`, where `<family>` is its libvirt element family: the table
//! [`parse::FAMILIES`] lists them (`net.rs` reads `<interface>` and `<vsock>`, `misc.rs`
//! the small devices that name one host path). A device of an existing family touches
//! those two files and its tests:
//!
//! 1. **Parse** (`parse/<family>.rs`): add the element's name to the family's `FAMILY`
//!    (`devices` for a child of `<devices>`, `root` for a child of `<domain>`) and read it
//!    into the family's model, the struct declared in the same file. Give it an
//!    [`origin::Origin`] placed at the element (`.at(el.offset)`), which its rules and
//!    warnings will name. Every host path goes through `parse::abs` or `parse::attr_path`:
//!    it becomes a [`domain::AbsPath`], and a relative one is refused naming the element.
//!    - If the element only names a host path QEMU opens, push it with
//!      `Context::host_path` (a [`domain::HostPath`], the generic extension point) with
//!      its [`policy::ElementFamily`] and stop there: `rules/host_path.rs` canonicalizes,
//!      checks, escapes and writes it.
//! 2. **Rules** (`rules/<family>.rs`): write the rules from the model through
//!    [`rules::builder::Builder`]: `Builder::file` for a path from the XML (canonicalized,
//!    checked by the restricted-path policy and the state table, escaped) with the
//!    element's [`policy::ElementFamily`] (which device trees it may name: a new device
//!    node family gets its [`policy::Role::Device`] row in [`policy::TABLE`], and
//!    `VAH_BLESS=1 cargo test --test it restricted_doc::` regenerates
//!    `docs/restricted-paths.md`), or
//!    `Granted::fixed`/`Granted::trusted` with a reason for the tool's own text (a fixed
//!    device node). Nothing else makes a rule. If the family needs a new emitter
//!    function, add it to [`rules::EMITTERS`] where libvirt would write its rules.
//! 3. **Test**: the family's unit tests, at the end of `rules/<family>.rs` (with the fake
//!    resolver of `rules/testing.rs`), assert its rules without a filesystem; the tests of
//!    the tables in `rules/mod.rs` fail until a new element has a minimal example there
//!    that writes a rule (or a line saying why it writes none). `tests/it/devices.rs`
//!    asserts the exact rules for an XML and compiles the
//!    profile with the real `apparmor_parser`. If libvirt 9.0's helper writes no such
//!    rule, the differential test fails on libvirt's XMLs that use the element until
//!    `tests/differential/deliberate.md` has a gap entry saying why.
//!
//! A new family adds one file to each directory, its `FAMILY` to [`parse::FAMILIES`],
//! its field to [`parse::Domain`] and its emitter to [`rules::EMITTERS`]. `<vsock>` was
//! added the first way: `parse/net.rs` and `rules/net.rs`.

#![forbid(unsafe_code)]

pub mod app;
pub mod apparmor_parser;
pub mod chain;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod escape;
pub mod fsio;
pub mod image;
pub mod ledger;
pub mod name;
pub mod origin;
pub mod parse;
pub mod path;
pub mod policy;
pub mod render;
pub mod resolve;
pub mod rules;
pub mod state;
pub mod store;
pub mod xml;

use error::{Diagnostics, Error};

/// The name messages are prefixed with, as libvirt's helper does (`virt-aa-helper: error: ...`).
pub const PROGRAM: &str = "virt-aa-helper";

/// Refuses to run when real and effective user or group ids differ: the helper is run as
/// root by libvirtd and must never be installed set-uid or set-gid, where an unprivileged
/// caller would choose the policy tree, the parser and the profile.
pub fn check_privileges() -> Result<(), Error> {
    use rustix::process::{getegid, geteuid, getgid, getuid};
    let (uid, euid, gid, egid) = (getuid(), geteuid(), getgid(), getegid());
    if uid != euid || gid != egid {
        return Err(Error::Privilege(format!(
            "uid {} euid {} gid {} egid {}",
            uid.as_raw(),
            euid.as_raw(),
            gid.as_raw(),
            egid.as_raw()
        )));
    }
    Ok(())
}

/// Runs the whole program on the given arguments and streams; returns the exit status.
/// Errors and warnings are written to `err` as one line each.
pub fn main_with<I, T>(
    args: I,
    stdin: &mut dyn std::io::Read,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    // The run's one diagnostics sink, printed also when the run fails.
    let mut diag = Diagnostics::default();
    let result = check_privileges().and_then(|()| match cli::parse_args(args)? {
        cli::Parsed::Print(text) => {
            let _ = out.write_all(text.as_bytes());
            Ok(())
        }
        cli::Parsed::Run(req) => app::run(&req, stdin, out, &mut diag),
        cli::Parsed::ReloadAll(req) => app::reload_all(&req, out, &mut diag),
    });
    for w in diag.into_warnings() {
        let _ = writeln!(err, "{PROGRAM}: warning: {w}");
    }
    match result {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(err, "{PROGRAM}: error: {e}");
            e.code()
        }
    }
}
