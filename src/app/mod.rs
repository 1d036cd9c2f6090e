//! The modes: the only place that ties the stages together.
//!
//! Every mode first reads the host into a `plan::Plan` (the files to write or remove, the
//! parser run): every check and every piece of text is made before anything is written, so
//! bad input leaves the previous files untouched. A dry run prints the plan; a real run
//! takes the profile's lock and applies it (`plan::Plan::apply`: atomic writes, the load,
//! and the previous files put back if the load fails). Writing needs the [`Lock`], which a
//! dry run never takes, so it cannot write by construction.
//!
//! - `generate`: `-c` and `-r` (with `-f` or `-F`), from the XML and the `settings`;
//! - `profile`: `-a`, `-R` and `-D`, on an existing profile;
//! - `reload`: the `--reload-all` mode.

// This is an I/O module: it may touch the filesystem and processes (clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod generate;
mod plan;
mod profile;
mod reload;
mod settings;

pub use generate::read_domain;
pub use reload::{reload_all, RELOAD_BATCH};

use crate::apparmor_parser::{Op, Parser};
use crate::cli::{Mode, Request};
use crate::error::{Diagnostics, Result};
use crate::store::{Lock, Store};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Runs a request. `stdin` is read only by modes that need the XML; dry-run output goes to
/// `out`; warnings go to `diag` as they are found (also when the run fails).
pub fn run(
    req: &Request,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    diag: &mut Diagnostics,
) -> Result<()> {
    let store = Store::new(&req.apparmor_dir);
    let parser = parser_for(
        req.parser.clone(),
        &req.apparmor_dir,
        &req.cache_dir,
        req.parser_timeout,
    );
    let (plan, mut lock) = match req.mode {
        Mode::Create | Mode::Replace => {
            let prepared = generate::prepare(req, &store, stdin, diag)?;
            // The files there now are read under the lock, so that a concurrent -F cannot
            // add a rule between this run's read and its write.
            let lock = lock_unless_dry(req, &store, diag)?;
            (generate::plan(req, &store, &parser, prepared, diag)?, lock)
        }
        Mode::Add | Mode::Remove => {
            let op = match req.mode {
                Mode::Add => Op::Add,
                _ => Op::Remove,
            };
            let plan = profile::parser_only(req, &store, &parser, op)?;
            (plan, lock_unless_dry(req, &store, diag)?)
        }
        Mode::Delete => {
            let plan = profile::delete(req, &store)?;
            (plan, lock_unless_dry(req, &store, diag)?)
        }
    };
    match lock.as_mut() {
        None => plan.print(&parser, out),
        Some(lock) => plan.apply(lock, &parser, diag),
    }
}

/// The profile's lock for a real run; none for a dry run, which therefore cannot write.
fn lock_unless_dry(req: &Request, store: &Store, diag: &mut Diagnostics) -> Result<Option<Lock>> {
    match req.dry_run {
        true => Ok(None),
        false => store.lock(&req.profile, diag).map(Some),
    }
}

/// The parser as the flags set it up.
fn parser_for(program: Option<PathBuf>, apparmor_dir: &Path, cache: &Path, timeout: u64) -> Parser {
    Parser::new(program, apparmor_dir)
        .with_cache(cache)
        .with_timeout(std::time::Duration::from_secs(timeout))
}
