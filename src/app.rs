//! The lifecycle of a profile, per mode: the only place that ties the stages together.
//!
//! Every check and every piece of text is produced before the first write, so bad input
//! leaves the previous files untouched; files are then written atomically under the
//! per-profile lock, and if `apparmor_parser` refuses the result the previous files are put
//! back byte for byte, so the profile on disk is again the one that is loaded. (libvirt 9.0
//! deleted `.files` after a failed replace, leaving a profile that could not be parsed at
//! all, weak spot W4 in `docs/weak-spots.md#w4`.)

use crate::apparmor_parser::{CacheUse, Op, Outcome, Parser};
use crate::cli::{Mode, ReloadAll, Request};
use crate::config::Config;
use crate::error::{Diagnostics, Error, Result};
use crate::fsio;
use crate::name::ProfileName;
use crate::parse::Domain;
use crate::render;
use crate::resolve::FsResolver;
use crate::rules::{self, Kept, RuleSet};
use crate::store::{Snapshot, Store};
use crate::xml::MAX_INPUT;
use std::io::{Read, Write};
use std::path::Path;

/// Runs a request. `stdin` is read only by modes that need the XML; dry-run output goes to
/// `out`; warnings go to `diag` as they are found (also when the run fails).
pub fn run(
    req: &Request,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    diag: &mut Diagnostics,
) -> Result<()> {
    let mut store = Store::new(&req.apparmor_dir);
    let parser = Parser::new(req.parser.clone(), &req.apparmor_dir)
        .with_cache(&req.cache_dir)
        .with_timeout(std::time::Duration::from_secs(req.parser_timeout));
    let result = match req.mode {
        Mode::Create | Mode::Replace => generate(req, &mut store, &parser, stdin, out, diag),
        Mode::Add => parser_only(req, &mut store, &parser, Op::Add, out, diag),
        Mode::Remove => parser_only(req, &mut store, &parser, Op::Remove, out, diag),
        Mode::Delete => delete(req, &mut store, &parser, out, diag),
    };
    // The store's warnings not taken yet (a skipped lock or directory fsync), also when the
    // run failed.
    diag.notes(store.take_warnings());
    result
}

/// Reads and parses the domain XML and checks that it is the domain `-u` names.
pub fn read_domain(stdin: &mut dyn Read, profile: &ProfileName) -> Result<Domain> {
    let mut bytes = Vec::new();
    stdin
        .take(MAX_INPUT as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Input(crate::error::io_reason(&e)))?;
    if bytes.len() > MAX_INPUT {
        return Err(Error::Input("the domain XML is larger than 10 MiB".into()));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::Input("no domain XML was given".into()));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::Input("the domain XML is not valid UTF-8".into()))?;
    let domain = crate::parse::parse_domain(&text)?;
    if ProfileName::for_uuid(domain.uuid) != *profile {
        return Err(Error::UuidMismatch {
            given: profile.to_string(),
            xml: domain.uuid.hyphenated().to_string(),
        });
    }
    Ok(domain)
}

fn generate(
    req: &Request,
    store: &mut Store,
    parser: &Parser,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    diag: &mut Diagnostics,
) -> Result<()> {
    let domain = read_domain(stdin, &req.profile)?;
    let config = load_config(&req.config)?;
    let pool_dir = req
        .pool_dir
        .clone()
        .or(config.pool_dir.clone())
        .unwrap_or_else(|| crate::resolve::DEFAULT_POOL_DIR.into());
    let mut resolver = FsResolver::with_sysfs(&req.sysfs).pool_dir(&pool_dir);
    let bridge_helper = req
        .bridge_helper
        .clone()
        .or(config.bridge_helper.clone())
        .unwrap_or_else(|| rules::DEFAULT_BRIDGE_HELPER.to_string());
    let options = rules::Options {
        // Escaped here, where the setting is read: the rules stage never refuses it.
        bridge_helper: crate::escape::AaPattern::literal(&bridge_helper).map_err(|e| {
            Error::Usage(format!(
                "--bridge-helper {}: {e}",
                crate::error::quote(&bridge_helper)
            ))
        })?,
        backing_deny_write: config.backing_deny_write,
        memory_backing_dir: config.memory_backing_dir.clone(),
    };
    // Pushes its warnings also when it fails: those before the failing element are kept.
    let mut set = rules::build_with(&domain, req.extra.as_ref(), &options, &mut resolver, diag)?;

    let template = render::Template::choose(
        domain.virt_type,
        store.template_path(domain.virt_type),
        store.installed_template(domain.virt_type)?,
    )?;
    let profile_text = render::profile(
        &template,
        &req.profile,
        domain.virt_type,
        config.files_include,
    )?;
    let write_files = render::includes_files(domain.virt_type);
    let profile_path = store.profile_path(&req.profile);
    let files_path = store.files_path(&req.profile);

    let _lock = if req.dry_run {
        None
    } else {
        Some(store.lock(&req.profile)?)
    };
    // The store's warnings as they happen, not after this run's later ones: one stream in
    // the order things were found.
    diag.notes(store.take_warnings());
    let existing_profile = fsio::read_own(&profile_path)?;
    match (req.mode, &existing_profile) {
        (Mode::Create, Some(_)) => {
            return Err(Error::ProfileState {
                path: profile_path,
                why: "the profile already exists (use -r to replace it)",
            })
        }
        (Mode::Replace, None) => {
            return Err(Error::ProfileState {
                path: profile_path,
                why: "the profile does not exist (use -c to create it)",
            })
        }
        _ => {}
    }
    // libvirt 9.0 recreated a zero-length profile on -r (left by a crash mid-write).
    let new_profile = match &existing_profile {
        Some(p) if !p.is_empty() => None,
        Some(_) => {
            diag.note(format!(
                "{} is empty; recreating it from the template",
                crate::error::quote_path(&profile_path)
            ));
            Some(profile_text)
        }
        None => Some(profile_text),
    };
    let existing_files = if write_files {
        fsio::read_own(&files_path)?
    } else {
        None
    };
    // Text to append to (-F) or to read the ledger from (-r). Not UTF-8: a regeneration
    // replaces it, keeping nothing; an append refuses it.
    let existing_text = match existing_files.as_deref().map(std::str::from_utf8) {
        Some(Ok(text)) => Some(text),
        Some(Err(_)) if req.append => {
            return Err(Error::io(
                &files_path,
                "append to",
                std::io::Error::other("the existing file is not valid UTF-8"),
            ))
        }
        _ => None,
    };
    // The runtime grants the existing `.files` keeps (its ledger, `src/ledger.rs`), read
    // and written back under the lock, so that a concurrent -F cannot add one in between.
    // -c starts a VM: nothing of an earlier run is kept. An -F appends to the existing
    // text, whose kept grants stay as they are; a regeneration judges each again.
    if let (Mode::Replace, false, Some(text)) = (req.mode, req.append, existing_text) {
        let ledger = crate::ledger::entries(text);
        set.kept = rules::keep(&domain, &ledger, &options, &mut resolver, diag);
    }
    let (new_files, policy_changed) = if write_files {
        let (text, policy) = files_content(req, &set, existing_text)?;
        (Some(text), policy)
    } else {
        (None, false)
    };
    let changed = new_profile.is_some()
        || new_files.as_deref().map(str::as_bytes) != existing_files.as_deref();
    // Only a ledger line was added (a kept grant the rules already cover): the policy the
    // kernel enforces is the one loaded, so the file is written and nothing is compiled.
    let load = new_profile.is_some() || policy_changed;
    // An -F path the profile already grants (a file in a granted subtree, a layer already
    // there with the same or wider permissions): the text and the kernel's policy are what
    // they would be after the run, so nothing is written and nothing is compiled or loaded.
    // libvirtd's start sequence ends in three such calls (the domain's directories, which
    // -c grants, and master-key.aes inside the first).
    if req.append && !changed {
        if req.dry_run {
            say(
                out,
                &format!(
                    "# nothing to do: {} already grants it\n",
                    files_path.display()
                ),
            )?;
        }
        return Ok(());
    }

    let op = if req.mode == Mode::Create {
        Op::Add
    } else {
        Op::Replace
    };
    // Text this run writes is always compiled; unchanged text may come from the cache.
    let cache = if !changed && parser.cache_is_fresh(&profile_path, &files_path) {
        CacheUse::Reuse
    } else {
        CacheUse::Rebuild
    };
    if req.dry_run {
        if let Some(f) = &new_files {
            would_write(out, &files_path, f)?;
        }
        if let Some(p) = &new_profile {
            would_write(out, &profile_path, p)?;
        }
        if !req.no_load && load {
            say(
                out,
                &format!(
                    "# would run {}\n",
                    parser.describe(op, &profile_path, cache)
                ),
            )?;
        }
        return Ok(());
    }

    let mut snapshot = Snapshot::default();
    snapshot.save(&files_path)?;
    snapshot.save(&profile_path)?;
    let result = (|| {
        if let Some(f) = &new_files {
            if snapshot.before(&files_path) != Some(f.as_bytes()) {
                store.write_atomic(&files_path, f.as_bytes())?;
            }
        }
        if let Some(p) = &new_profile {
            store.write_atomic(&profile_path, p.as_bytes())?;
        }
        if !req.no_load && load {
            parser.run(op, &profile_path, cache)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let restored = snapshot.restore(store);
        // The writes' and the restore's store warnings come before the restore's outcome.
        diag.notes(store.take_warnings());
        if let Err(restore) = restored {
            diag.note(format!("could not restore the previous files: {restore}"));
        }
        return Err(e);
    }
    Ok(())
}

/// The new `.files` and whether its policy differs from the existing one's: regenerated
/// (with the `-f` file and the kept runtime grants), or the existing one with the `-F` rule
/// appended unless it is already there (libvirt 9.0 appended duplicates, and wrote a
/// `.files` holding only the appended rule when none existed, dropping every domain rule).
/// An `-F` grant that lives as long as the VM is appended with its ledger line
/// (`src/ledger.rs`), so that the next plain `-r` keeps it.
fn files_content(req: &Request, set: &RuleSet, existing: Option<&str>) -> Result<(String, bool)> {
    let full = || -> Result<(String, bool)> {
        let mut text = render::files(&set.regenerated(), &set.children, true)?;
        text.push_str(&render::kept(&set.kept_all())?);
        Ok((text, true))
    };
    let Some(existing) = existing.filter(|_| req.append) else {
        return full();
    };
    let covered = set.extra.iter().all(|r| render::covers(existing, r));
    let entry = set
        .extra_kept
        .as_ref()
        .filter(|e| !crate::ledger::entries(existing).contains(e));
    // Granted already, and either not kept or kept by the domain's own rules (the next -r
    // grants it again): nothing to write.
    let by_domain = || -> Result<bool> {
        let domain = render::files(&set.rules, &[], false)?;
        Ok(set.extra.iter().all(|r| render::covers(&domain, r)))
    };
    if covered && (entry.is_none() || by_domain()?) {
        return Ok((existing.to_string(), false));
    }
    let mut text = existing.to_string();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&match entry {
        Some(e) => render::kept(&[Kept {
            entry: e.clone(),
            rules: set.extra.clone(),
        }])?,
        None => render::files(&set.extra, &[], false)?,
    });
    // A kept grant the rules already cover adds only its ledger line: the policy is the
    // one loaded.
    Ok((text, !covered))
}

/// The site configuration; a missing file means [`Config::default`]. Like templates, it
/// must not be writable by anyone but root.
fn load_config(path: &Path) -> Result<Config> {
    let bytes = fsio::read_trusted(path, |path, why| Error::Config {
        path,
        line: None,
        why,
    })?;
    match bytes {
        None => Ok(Config::default()),
        Some(bytes) => {
            let text = String::from_utf8(bytes).map_err(|_| Error::Config {
                path: path.to_path_buf(),
                line: None,
                why: "not valid UTF-8".into(),
            })?;
            Config::parse(&text, path)
        }
    }
}

/// Checks the profile and its `.files` as `-r` reads them before the parser is given them:
/// regular files, never a symbolic link or a FIFO (a FIFO `.files` blocks the parser, and
/// with it every later run that waits for the profile's lock; a link would load another
/// file's rules). Returns whether the profile exists.
fn own_files_are_files(profile: &Path, files: &Path) -> Result<bool> {
    let exists = fsio::read_own(profile)?.is_some();
    fsio::read_own(files)?;
    Ok(exists)
}

fn parser_only(
    req: &Request,
    store: &mut Store,
    parser: &Parser,
    op: Op,
    out: &mut dyn Write,
    diag: &mut Diagnostics,
) -> Result<()> {
    let profile_path = store.profile_path(&req.profile);
    let files_path = store.files_path(&req.profile);
    if !own_files_are_files(&profile_path, &files_path)? {
        return Err(Error::ProfileState {
            path: profile_path,
            why: "the profile does not exist",
        });
    }
    let cache = if parser.cache_is_fresh(&profile_path, &files_path) {
        CacheUse::Reuse
    } else {
        CacheUse::Rebuild
    };
    if req.dry_run {
        if !req.no_load {
            say(
                out,
                &format!(
                    "# would run {}\n",
                    parser.describe(op, &profile_path, cache)
                ),
            )?;
        }
        return Ok(());
    }
    let _lock = store.lock(&req.profile)?;
    diag.notes(store.take_warnings());
    if !req.no_load {
        unload_or_load(parser, op, &profile_path, cache, diag)?;
    }
    Ok(())
}

fn delete(
    req: &Request,
    store: &mut Store,
    parser: &Parser,
    out: &mut dyn Write,
    diag: &mut Diagnostics,
) -> Result<()> {
    let profile_path = store.profile_path(&req.profile);
    let files_path = store.files_path(&req.profile);
    let has_profile = own_files_are_files(&profile_path, &files_path)?;
    if !has_profile && !files_path.exists() {
        return Err(Error::ProfileState {
            path: profile_path,
            why: "the profile does not exist",
        });
    }
    if req.dry_run {
        if has_profile && !req.no_load {
            say(
                out,
                &format!(
                    "# would run {}\n",
                    parser.describe(Op::Remove, &profile_path, CacheUse::Rebuild)
                ),
            )?;
        }
        if files_path.exists() {
            say(out, &format!("# would remove {}\n", files_path.display()))?;
        }
        return Ok(());
    }
    let lock = store.lock(&req.profile)?;
    diag.notes(store.take_warnings());
    if has_profile && !req.no_load {
        unload_or_load(parser, Op::Remove, &profile_path, CacheUse::Rebuild, diag)?;
    }
    store.remove_optional(&files_path)?;
    // Also when the lock could not be taken: a lock file an earlier run left goes too.
    lock.remove_file();
    Ok(())
}

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
    let mut store = Store::new(&req.apparmor_dir);
    let parser = Parser::new(req.parser.clone(), &req.apparmor_dir)
        .with_cache(&req.cache_dir)
        .with_timeout(std::time::Duration::from_secs(req.parser_timeout));
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
        for (name, why) in &report.skipped {
            say(
                out,
                &format!(
                    "# would skip {}: {why}\n",
                    store.profile_path(name).display()
                ),
            )?;
        }
        for chunk in candidates.chunks(RELOAD_BATCH) {
            let paths: Vec<_> = chunk.iter().map(|n| store.profile_path(n)).collect();
            say(
                out,
                &format!(
                    "# would run {}\n",
                    parser.describe_many(Op::Replace, &paths, CacheUse::Rebuild)
                ),
            )?;
        }
        return Ok(());
    }
    let mut lock_warnings = Vec::new();
    let mut outcome = Ok(());
    for chunk in candidates.chunks(RELOAD_BATCH) {
        outcome = reload_chunk(&mut store, &parser, chunk, &mut report, &mut lock_warnings);
        if outcome.is_err() {
            break;
        }
    }
    // One warning for a lock the helper may not take, not one per profile.
    let mut lock_warnings = lock_warnings.into_iter();
    if let Some(first) = lock_warnings.next() {
        let more = lock_warnings.count();
        if more > 0 {
            diag.note(format!("{first} (and the same for {more} more profiles)"));
        } else {
            diag.note(first.0);
        }
    }
    outcome?;
    report.skipped.sort_by_key(|(n, _)| n.uuid());
    report.failed.sort_by_key(|(n, _)| n.uuid());
    for (name, why) in &report.skipped {
        say(out, &format!("skipped {name}: {why}\n"))?;
    }
    for (name, why) in &report.failed {
        say(out, &format!("failed {name}: {why}\n"))?;
    }
    let total = report.done + report.failed.len();
    let mut summary = format!("reloaded {} of {total} profiles", report.done);
    if !report.skipped.is_empty() {
        summary.push_str(&format!(" ({} skipped)", report.skipped.len()));
    }
    say(out, &format!("{summary}\n"))?;
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(Error::Reload {
            failed: report.failed.iter().map(|(n, _)| n.to_string()).collect(),
            total,
        })
    }
}

/// What `--reload-all` did so far.
#[derive(Default)]
struct Reload {
    done: usize,
    failed: Vec<(ProfileName, String)>,
    skipped: Vec<(ProfileName, String)>,
}

/// One parser run over `chunk`, under the locks of its profiles (taken in the given,
/// sorted, order and released when it returns). Errs only when the parser cannot be run.
fn reload_chunk(
    store: &mut Store,
    parser: &Parser,
    chunk: &[ProfileName],
    report: &mut Reload,
    lock_warnings: &mut Vec<crate::error::Warning>,
) -> Result<()> {
    let mut locks = Vec::with_capacity(chunk.len());
    let mut names = Vec::with_capacity(chunk.len());
    for name in chunk {
        let lock = store.lock(name);
        lock_warnings.extend(store.take_warnings());
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

fn unload_or_load(
    parser: &Parser,
    op: Op,
    profile: &Path,
    cache: CacheUse,
    diag: &mut Diagnostics,
) -> Result<()> {
    if parser.run(op, profile, cache)? == Outcome::NotLoaded {
        diag.note(format!(
            "{} was not loaded; nothing to unload",
            crate::error::quote_path(profile)
        ));
    }
    Ok(())
}

fn would_write(out: &mut dyn Write, path: &Path, content: &str) -> Result<()> {
    say(out, &format!("# would write {}\n{content}", path.display()))
}

fn say(out: &mut dyn Write, text: &str) -> Result<()> {
    match out.write_all(text.as_bytes()) {
        Ok(()) => Ok(()),
        // `virt-aa-helper -d ... | head` is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::io("standard output", "write", e)),
    }
}
