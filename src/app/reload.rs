//! `--reload-all`: every domain profile reloaded after an abstraction or template changed.

use super::plan::say;
use crate::apparmor_parser::{CacheUse, Op, Parser};
use crate::cli::ReloadAll;
use crate::error::{Diagnostics, Error, Result};
use crate::fsio;
use crate::name::ProfileName;
use crate::store::Store;
use std::io::Write;

/// The most profiles one `--reload-all` parser run takes: each holds its lock, an open
/// file, during the run, and the usual limit on open files is 1,024.
pub const RELOAD_BATCH: usize = 256;

/// `--reload-all`: reloads every domain profile in `libvirt/` with one parser run (per
/// [`RELOAD_BATCH`] profiles), compiled in parallel by the parser and always compiled
/// afresh (it runs because an include changed, which the parser's mtime check can miss:
/// see [`CacheUse`]), writing the cache for the next `-r` or `-a`.
///
/// Each profile's lock is taken, in the order of the names, for the whole run: a `-r` or
/// `-F` of that domain running meanwhile could otherwise load its new text just before
/// this run loads the text it read earlier, leaving the kernel without the new rules (a
/// disk just hotplugged, denied). Runs of one profile take one lock, and two reloads take
/// them in the same order, so no two runs wait for each other in a cycle; a `-r` of a
/// domain in the batch waits for the batch's parser run.
///
/// A profile whose text includes its `.files` while that `.files` is missing is skipped:
/// libvirt's `-D` removes it when the domain stops and keeps the profile for the next
/// start (`virt-aa-helper.c:1477-1481`; `security_apparmor.c` `load_profile` then runs
/// `-r`), so such a profile would not compile, and it is not loaded anyway. It is checked again under the lock, for a `-D` that ran meanwhile.
pub fn reload_all(req: &ReloadAll, out: &mut dyn Write, diag: &mut Diagnostics) -> Result<()> {
    let store = Store::new(&req.apparmor_dir);
    let parser = super::parser_for(
        req.parser.clone(),
        &req.apparmor_dir,
        &req.cache_dir,
        req.parser_timeout,
    );
    let names = store.profiles()?;
    if names.is_empty() {
        return say(
            out,
            &format!(
                "no libvirt-<uuid> profile in {}: nothing to reload\n",
                store.dir().display()
            ),
        );
    }
    let mut report = Reload::default();
    let mut candidates = Vec::new();
    for name in names {
        match skip_reason(&store, &name) {
            Ok(None) => candidates.push(name),
            Ok(Some(why)) => report.skipped.push((name, why)),
            Err(e) => report.failed.push((name, e.to_string())),
        }
    }
    if req.dry_run {
        return print_plan(&store, &parser, &report, &candidates, out);
    }
    let mut lock_warnings = Diagnostics::default();
    let mut outcome = Ok(());
    for chunk in candidates.chunks(RELOAD_BATCH) {
        outcome = reload_chunk(&store, &parser, chunk, &mut report, &mut lock_warnings);
        if outcome.is_err() {
            break;
        }
    }
    // One warning for a lock the helper may not take, not one per profile.
    let mut lock_warnings = lock_warnings.into_warnings().into_iter();
    if let Some(first) = lock_warnings.next() {
        match lock_warnings.count() {
            0 => diag.note(first.0),
            more => diag.note(format!("{first} (and the same for {more} more profiles)")),
        }
    }
    outcome?;
    report.finish(out)
}

/// The dry run: the profiles it would skip, and the parser runs.
fn print_plan(
    store: &Store,
    parser: &Parser,
    report: &Reload,
    candidates: &[ProfileName],
    out: &mut dyn Write,
) -> Result<()> {
    for (name, why) in &report.skipped {
        let path = store.profile_path(name);
        say(out, &format!("# would skip {}: {why}\n", path.display()))?;
    }
    for chunk in candidates.chunks(RELOAD_BATCH) {
        let paths: Vec<_> = chunk.iter().map(|n| store.profile_path(n)).collect();
        let run = parser.describe_many(Op::Replace, &paths, CacheUse::Rebuild);
        say(out, &format!("# would run {run}\n"))?;
    }
    Ok(())
}

/// What `--reload-all` did so far.
#[derive(Default)]
struct Reload {
    done: usize,
    failed: Vec<(ProfileName, String)>,
    skipped: Vec<(ProfileName, String)>,
}

impl Reload {
    /// Names each profile skipped and each that failed, and says how many were reloaded;
    /// an error if any failed.
    fn finish(mut self, out: &mut dyn Write) -> Result<()> {
        self.skipped.sort_by_key(|(n, _)| n.uuid());
        self.failed.sort_by_key(|(n, _)| n.uuid());
        for (name, why) in &self.skipped {
            say(out, &format!("skipped {name}: {why}\n"))?;
        }
        for (name, why) in &self.failed {
            say(out, &format!("failed {name}: {why}\n"))?;
        }
        let total = self.done + self.failed.len();
        let mut summary = format!("reloaded {} of {total} profiles", self.done);
        if !self.skipped.is_empty() {
            summary.push_str(&format!(" ({} skipped)", self.skipped.len()));
        }
        say(out, &format!("{summary}\n"))?;
        if self.failed.is_empty() {
            return Ok(());
        }
        Err(Error::Reload {
            failed: self.failed.iter().map(|(n, _)| n.to_string()).collect(),
            total,
        })
    }
}

/// One parser run over `chunk`, under the locks of its profiles (taken in the given,
/// sorted, order and released when it returns). Errs only when the parser cannot be run.
fn reload_chunk(
    store: &Store,
    parser: &Parser,
    chunk: &[ProfileName],
    report: &mut Reload,
    lock_warnings: &mut Diagnostics,
) -> Result<()> {
    let mut locks = Vec::with_capacity(chunk.len());
    let mut names = Vec::with_capacity(chunk.len());
    for name in chunk {
        let lock = store.lock(name, lock_warnings);
        match lock.and_then(|lock| Ok((lock, skip_reason(store, name)?))) {
            Ok((lock, None)) => {
                locks.push(lock);
                names.push(name.clone());
            }
            Ok((_, Some(why))) => report.skipped.push((name.clone(), why)),
            Err(e) => report.failed.push((name.clone(), e.to_string())),
        }
    }
    let paths: Vec<_> = names.iter().map(|n| store.profile_path(n)).collect();
    let batch = parser.run_many(Op::Replace, &paths, CacheUse::Rebuild)?;
    report.done += batch.done.len();
    for (path, e) in batch.failed {
        if let Some(name) = names.iter().find(|n| store.profile_path(n) == path) {
            report.failed.push((name.clone(), e.to_string()));
        }
    }
    drop(locks);
    Ok(())
}

/// Why `--reload-all` leaves `name` alone, if it does: its profile includes its `.files`
/// and that `.files` is missing (the domain is not running), or the profile is gone.
fn skip_reason(store: &Store, name: &ProfileName) -> Result<Option<String>> {
    let Some(text) = fsio::read_own(&store.profile_path(name))? else {
        return Ok(Some("the profile was removed meanwhile".into()));
    };
    let files = store.files_path(name);
    let include = format!("libvirt/{name}.files");
    let includes_files = text.windows(include.len()).any(|w| w == include.as_bytes());
    // Read as -r reads it: a FIFO or a symbolic link in its place is an error naming it, not
    // a file for the parser (a FIFO would block the parser while this run holds every
    // profile's lock, and every start and hotplug of those VMs with it).
    let files_missing = fsio::read_own(&files)?.is_none();
    if includes_files && files_missing {
        return Ok(Some(format!(
            "{} is missing (the domain is not running)",
            files.display()
        )));
    }
    Ok(None)
}
