//! `-c` and `-r` (with `-f` or `-F`): the domain XML to the profile and its `.files`.
//!
//! Everything that depends on the XML alone (the rules, the profile text) is made before
//! the lock is taken, so bad input fails with nothing written, not even a lock file; what
//! depends on the files already there (`-c` or `-r`, the runtime grants `.files` keeps,
//! what changed) is read under the lock, so that a concurrent `-F` cannot slip in between.

use super::plan::{Plan, Step};
use super::settings::Settings;
use crate::apparmor_parser::{CacheUse, Op, Parser};
use crate::cli::{Mode, Request};
use crate::error::{quote_path, Diagnostics, Error, Result};
use crate::fsio;
use crate::name::ProfileName;
use crate::parse::Domain;
use crate::render;
use crate::resolve::FsResolver;
use crate::rules::{self, Kept, RuleSet};
use crate::store::Store;
use crate::xml::MAX_INPUT;
use std::io::Read;
use std::path::{Path, PathBuf};

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

/// What the XML and the settings give, before the profile's files are read.
pub struct Prepared {
    domain: Domain,
    settings: Settings,
    resolver: FsResolver,
    set: RuleSet,
    /// The profile from its template, written where there is none.
    profile_text: String,
    /// Whether the profile includes a `.files` (a QEMU domain's does).
    write_files: bool,
}

/// Reads the XML and the settings and makes the rules and the profile text.
pub fn prepare(
    req: &Request,
    store: &Store,
    stdin: &mut dyn Read,
    diag: &mut Diagnostics,
) -> Result<Prepared> {
    let domain = read_domain(stdin, &req.profile)?;
    let settings = Settings::resolve(req)?;
    let mut resolver = FsResolver::with_sysfs(&req.sysfs).pool_dir(&settings.pool_dir);
    // Pushes its warnings also when it fails: those before the failing element are kept.
    let set = rules::build_with(
        &domain,
        req.extra.as_ref(),
        &settings.options,
        &mut resolver,
        diag,
    )?;
    let template = render::Template::choose(
        domain.virt_type,
        store.template_path(domain.virt_type),
        store.installed_template(domain.virt_type)?,
    )?;
    let profile_text = render::profile(
        &template,
        &req.profile,
        domain.virt_type,
        settings.files_include,
    )?;
    Ok(Prepared {
        write_files: render::includes_files(domain.virt_type),
        domain,
        settings,
        resolver,
        set,
        profile_text,
    })
}

/// The plan, from the files there now (read under the lock in a real run).
pub fn plan(
    req: &Request,
    store: &Store,
    parser: &Parser,
    mut p: Prepared,
    diag: &mut Diagnostics,
) -> Result<Plan> {
    let profile_path = store.profile_path(&req.profile);
    let files_path = store.files_path(&req.profile);
    let new_profile = profile_to_write(req.mode, &profile_path, p.profile_text, diag)?;
    let existing_files = match p.write_files {
        true => fsio::read_own(&files_path)?,
        false => None,
    };
    let existing_text = existing_text(req, &files_path, existing_files.as_deref())?;
    // The runtime grants the existing `.files` keeps (its ledger, `src/ledger.rs`). -c starts
    // a VM: nothing of an earlier run is kept. An -F appends to the existing text, whose
    // kept grants stay as they are; a regeneration judges each again.
    if let (Mode::Replace, false, Some(text)) = (req.mode, req.append, existing_text) {
        let ledger = crate::ledger::entries(text);
        p.set.kept = rules::keep(
            &p.domain,
            &ledger,
            &p.settings.options,
            &mut p.resolver,
            diag,
        );
    }
    let (new_files, policy_changed) = match p.write_files {
        true => files_content(req, &p.set, existing_text).map(|(t, c)| (Some(t), c))?,
        false => (None, false),
    };
    let files_unchanged = new_files.as_deref().map(str::as_bytes) == existing_files.as_deref();
    let changed = new_profile.is_some() || !files_unchanged;
    // An -F path the profile already grants (a file in a granted subtree, a layer already
    // there with the same or wider permissions): the text and the kernel's policy are what
    // they would be after the run, so nothing is written and nothing is compiled or loaded.
    // libvirtd's start sequence ends in three such calls (the domain's directories, which
    // -c grants, and master-key.aes inside the first).
    if req.append && !changed {
        return Ok(Plan::one(Step::Nothing(format!(
            "{} already grants it",
            files_path.display()
        ))));
    }
    let mut plan = Plan::default();
    if let Some(text) = new_files {
        plan.then(Step::Write {
            path: files_path.clone(),
            text,
            unchanged: files_unchanged,
        });
    }
    // Only a ledger line was added (a kept grant the rules already cover): the policy the
    // kernel enforces is the one loaded, so the file is written and nothing is compiled.
    let load = new_profile.is_some() || policy_changed;
    if let Some(text) = new_profile {
        plan.then(Step::Write {
            path: profile_path.clone(),
            text,
            unchanged: false,
        });
    }
    if !req.no_load && load {
        plan.then(load_step(
            req.mode,
            parser,
            profile_path,
            &files_path,
            changed,
        ));
    }
    Ok(plan)
}

/// The parser run that loads the profile: `-a` for a new one, `-r` otherwise. Text this
/// run writes is always compiled; unchanged text may come from the cache.
fn load_step(mode: Mode, parser: &Parser, profile: PathBuf, files: &Path, changed: bool) -> Step {
    let cache = match !changed && parser.cache_is_fresh(&profile, files) {
        true => CacheUse::Reuse,
        false => CacheUse::Rebuild,
    };
    let op = match mode {
        Mode::Create => Op::Add,
        _ => Op::Replace,
    };
    Step::Parser { op, profile, cache }
}

/// The profile text to write, if any: `-c` needs no profile, `-r` one; a zero-length one
/// (left by a crash mid-write) is recreated, as libvirt 9.0 does on `-r`.
fn profile_to_write(
    mode: Mode,
    path: &Path,
    text: String,
    diag: &mut Diagnostics,
) -> Result<Option<String>> {
    let existing = fsio::read_own(path)?;
    match (mode, existing) {
        (Mode::Create, Some(_)) => Err(Error::ProfileState {
            path: path.to_path_buf(),
            why: "the profile already exists (use -r to replace it)",
        }),
        (Mode::Replace, None) => Err(Error::ProfileState {
            path: path.to_path_buf(),
            why: "the profile does not exist (use -c to create it)",
        }),
        (_, Some(p)) if !p.is_empty() => Ok(None),
        (_, Some(_)) => {
            diag.note(format!(
                "{} is empty; recreating it from the template",
                quote_path(path)
            ));
            Ok(Some(text))
        }
        (_, None) => Ok(Some(text)),
    }
}

/// The existing `.files` as text, to append to (-F) or to read the ledger from (-r). Not
/// UTF-8: a regeneration replaces it, keeping nothing; an append refuses it.
fn existing_text<'a>(
    req: &Request,
    path: &Path,
    existing: Option<&'a [u8]>,
) -> Result<Option<&'a str>> {
    match existing.map(std::str::from_utf8) {
        Some(Ok(text)) => Ok(Some(text)),
        Some(Err(_)) if req.append => Err(Error::io(
            path,
            "append to",
            std::io::Error::other("the existing file is not valid UTF-8"),
        )),
        _ => Ok(None),
    }
}

/// The new `.files` and whether its policy differs from the existing one's: regenerated
/// (with the `-f` file and the kept runtime grants), or the existing one with the `-F` rule
/// appended unless it is already there (libvirt 9.0 appended duplicates, and wrote a
/// `.files` holding only the appended rule when none existed, dropping every domain rule).
/// An `-F` grant that lives as long as the VM is appended with its ledger line
/// (`src/ledger.rs`), so that the next plain `-r` keeps it.
fn files_content(req: &Request, set: &RuleSet, existing: Option<&str>) -> Result<(String, bool)> {
    let Some(existing) = existing.filter(|_| req.append) else {
        let mut text = render::files(&set.regenerated(), &set.children, true)?;
        text.push_str(&render::kept(&set.kept_all())?);
        return Ok((text, true));
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
