//! `-a`, `-R` and `-D`: the parser on an existing profile, and deleting its `.files`.

use super::plan::{Plan, Step};
use crate::apparmor_parser::{CacheUse, Op, Parser};
use crate::cli::Request;
use crate::error::{Error, Result};
use crate::fsio;
use crate::store::Store;
use std::path::Path;

/// Checks the profile and its `.files` as `-r` reads them before the parser is given them:
/// regular files, never a symbolic link or a FIFO (a FIFO `.files` blocks the parser, and
/// with it every later run that waits for the profile's lock; a link would load another
/// file's rules). Returns whether the profile exists.
pub fn own_files_are_files(profile: &Path, files: &Path) -> Result<bool> {
    let exists = fsio::read_own(profile)?.is_some();
    fsio::read_own(files)?;
    Ok(exists)
}

/// `-a` or `-R` (`op`): one parser run on the existing profile.
pub fn parser_only(req: &Request, store: &Store, parser: &Parser, op: Op) -> Result<Plan> {
    let profile = store.profile_path(&req.profile);
    let files = store.files_path(&req.profile);
    if !own_files_are_files(&profile, &files)? {
        return Err(Error::ProfileState {
            path: profile,
            why: "the profile does not exist",
        });
    }
    let cache = match parser.cache_is_fresh(&profile, &files) {
        true => CacheUse::Reuse,
        false => CacheUse::Rebuild,
    };
    let mut plan = Plan::default();
    if !req.no_load {
        plan.then(Step::Parser { op, profile, cache });
    }
    Ok(plan)
}

/// `-D`: unloads the profile and removes its `.files` and lock file; the profile file is
/// kept, as libvirt does, so that local edits survive the next start.
pub fn delete(req: &Request, store: &Store) -> Result<Plan> {
    let profile = store.profile_path(&req.profile);
    let files = store.files_path(&req.profile);
    let has_profile = own_files_are_files(&profile, &files)?;
    if !has_profile && !files.exists() {
        return Err(Error::ProfileState {
            path: profile,
            why: "the profile does not exist",
        });
    }
    let mut plan = Plan::default();
    if has_profile && !req.no_load {
        plan.then(Step::Parser {
            op: Op::Remove,
            profile,
            cache: CacheUse::Rebuild,
        });
    }
    // Removed also if a concurrent run wrote it after this look (the lock is taken after
    // the plan is made); a dry run names it only if it is there now.
    plan.then(Step::Remove {
        there: files.exists(),
        path: files,
    });
    // Also when the lock could not be taken: a lock file an earlier run left goes too.
    plan.then(Step::RemoveLockFile);
    Ok(plan)
}
