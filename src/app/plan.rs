//! What a run will do, decided before it does anything: the files to write or remove and
//! the parser run. A dry run prints a [`Plan`]; a real run applies it under the profile's
//! [`Lock`], the only writer of the profile directory, so a dry run cannot write by
//! construction: it never holds a lock.
//!
//! Applying snapshots every file the plan touches, and if a step fails (most often
//! `apparmor_parser` refusing the new text) puts the previous files back byte for byte, so
//! the profile on disk is again the one that is loaded. (libvirt 9.0 deleted `.files` after
//! a failed replace, leaving a profile that could not be parsed at all: weak spot W4,
//! `docs/weak-spots.md#w4`.)

use crate::apparmor_parser::{CacheUse, Op, Outcome, Parser};
use crate::error::{quote_path, Diagnostics, Error, Result};
use crate::store::{Lock, Snapshot};
use std::io::Write;
use std::path::PathBuf;

/// One thing a run does, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write `text` to `path` atomically; `unchanged`: the file holds it already (a dry
    /// run shows it all the same, a real run leaves the file and its mtime alone).
    Write {
        path: PathBuf,
        text: String,
        unchanged: bool,
    },
    /// Run `apparmor_parser` on the profile.
    Parser {
        op: Op,
        profile: PathBuf,
        cache: CacheUse,
    },
    /// Remove the file if it is there; `there`: it was when the plan was made (a dry run
    /// names only such a file).
    Remove { path: PathBuf, there: bool },
    /// Remove the profile's lock file (the profile is deleted), still holding the lock.
    RemoveLockFile,
    /// Nothing to write or run, and why (a dry run says so).
    Nothing(String),
}

/// The steps of one run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
}

impl Plan {
    /// A plan with only `step`.
    pub fn one(step: Step) -> Self {
        Plan { steps: vec![step] }
    }

    /// Adds a step.
    pub fn then(&mut self, step: Step) {
        self.steps.push(step);
    }

    /// The dry run: what a real run would write, remove and run, on `out`.
    pub fn print(&self, parser: &Parser, out: &mut dyn Write) -> Result<()> {
        for step in &self.steps {
            match step {
                Step::Write { path, text, .. } => {
                    say(out, &format!("# would write {}\n{text}", path.display()))?
                }
                Step::Parser { op, profile, cache } => say(
                    out,
                    &format!("# would run {}\n", parser.describe(*op, profile, *cache)),
                )?,
                Step::Remove { path, there: true } => {
                    say(out, &format!("# would remove {}\n", path.display()))?
                }
                Step::Remove { there: false, .. } => {}
                Step::RemoveLockFile => {}
                Step::Nothing(why) => say(out, &format!("# nothing to do: {why}\n"))?,
            }
        }
        Ok(())
    }

    /// The real run, under `lock`: every step in order; if one fails, the files as they
    /// were before the first step.
    pub fn apply(&self, lock: &mut Lock, parser: &Parser, diag: &mut Diagnostics) -> Result<()> {
        let mut snapshot = Snapshot::default();
        for step in &self.steps {
            if let Step::Write { path, .. } | Step::Remove { path, .. } = step {
                snapshot.save(path)?;
            }
        }
        let result = self
            .steps
            .iter()
            .try_for_each(|step| apply_step(step, lock, parser, diag));
        if let Err(e) = result {
            if let Err(restore) = snapshot.restore(lock, diag) {
                diag.note(format!("could not restore the previous files: {restore}"));
            }
            return Err(e);
        }
        Ok(())
    }
}

fn apply_step(step: &Step, lock: &mut Lock, parser: &Parser, diag: &mut Diagnostics) -> Result<()> {
    match step {
        Step::Write {
            unchanged: true, ..
        }
        | Step::Nothing(_) => Ok(()),
        Step::Write { path, text, .. } => lock.write_atomic(path, text.as_bytes(), diag),
        Step::Parser { op, profile, cache } => {
            if parser.run(*op, profile, *cache)? == Outcome::NotLoaded {
                diag.note(format!(
                    "{} was not loaded; nothing to unload",
                    quote_path(profile)
                ));
            }
            Ok(())
        }
        Step::Remove { path, .. } => lock.remove_optional(path, diag),
        Step::RemoveLockFile => {
            lock.remove_file();
            Ok(())
        }
    }
}

/// Writes `text` on standard output; a closed pipe (`virt-aa-helper -d ... | head`) is not
/// an error.
pub fn say(out: &mut dyn Write, text: &str) -> Result<()> {
    match out.write_all(text.as_bytes()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::io("standard output", "write", e)),
    }
}
