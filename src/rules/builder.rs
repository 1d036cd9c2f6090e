//! The only code that adds rules: [`Builder`] takes a [`Granted`] pattern, which only the
//! restricted-path policy and the state table ([`Builder::checked`]) or a named exception
//! ([`Granted::trusted`]) can make, as only the escaper can make an [`AaPattern`].

use super::{ChildProfile, Options, Perms, Rule};
use crate::domain::AbsPath;
use crate::error::{Diagnostics, Error, Result};
use crate::escape::{AaPattern, Glob, Part};
use crate::origin::Origin;
use crate::policy::{self, ElementFamily, Scope};
use crate::resolve::CanonicalPath;
use crate::resolve::Resolve;
use crate::state::Owner;
use std::collections::HashSet;
use std::path::Path;

/// A pattern a rule may be written for. Built only here: by [`Checked::exact`] and
/// [`Checked::below`] from a path the checks accepted, or by [`Granted::trusted`] for the
/// tool's own text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted(AaPattern);

impl Granted {
    /// A sanctioned exception to the path checks: text the tool writes itself (a fixed
    /// device node, this domain's own state under libvirt's layout, a file found in sysfs
    /// by a name the tool built). `reason` says why it needs no check; every exception is
    /// found with `grep -rnE 'Granted::(trusted|fixed)|push_named' src/rules`.
    pub fn trusted(pattern: AaPattern, reason: &'static str) -> Self {
        debug_assert!(!reason.is_empty());
        Granted(pattern)
    }

    /// [`Granted::trusted`] for a pattern given as tool text.
    pub fn fixed(text: &'static str, reason: &'static str) -> Self {
        Self::trusted(AaPattern::fixed(text), reason)
    }
}

/// A canonical path the restricted-path policy and the state table accepted in a scope.
pub struct Checked<'a> {
    canon: &'a CanonicalPath,
    origin: &'a Origin,
}

impl Checked<'_> {
    /// The path itself.
    pub fn exact(&self) -> Result<Granted> {
        let text = path_text(self.canon, self.origin)?;
        self.pattern(&[Part::Lit(text)])
    }

    /// A glob below the directory (`<dir>/**`, `<dir>/{,**}`...), or the directory with a
    /// trailing slash for `None`. Only the tool's [`Glob`]s are added.
    pub fn below(&self, glob: Option<Glob>) -> Result<Granted> {
        let text = path_text(self.canon, self.origin)?;
        let dir = text.trim_end_matches('/');
        match glob {
            Some(g) => self.pattern(&[Part::Lit(dir), Part::Lit("/"), Part::Glob(g)]),
            None => self.pattern(&[Part::Lit(dir), Part::Lit("/")]),
        }
    }

    fn pattern(&self, parts: &[Part<'_>]) -> Result<Granted> {
        AaPattern::from_parts(parts)
            .map(Granted)
            .map_err(|e| Error::Path {
                path: self.canon.as_path().to_path_buf(),
                origin: self.origin.to_string(),
                why: e.to_string(),
            })
    }
}

/// Collects the rules of one domain, without duplicates, and reports what it finds on the
/// way to the run's one diagnostics sink.
pub struct Builder<'d> {
    out: Vec<Rule>,
    seen: HashSet<(AaPattern, Perms, bool)>,
    /// The files given a rule of their own so far (path, permissions, `deny w`, scope): the same
    /// file again is neither checked nor escaped again, since the answer would be the same
    /// rule (57,000 disks on one chain of 200 layers checked each layer
    /// once a disk, 11 million checks).
    files: HashSet<(CanonicalPath, Perms, bool, Scope)>,
    /// The run's warnings (also the resolver's: they are passed the same sink).
    pub diag: &'d mut Diagnostics,
    /// Child profiles, written after the file rules.
    children: Vec<ChildProfile>,
    /// Site settings.
    pub options: Options,
    /// The domain the rules are for: a path in another domain's private state is refused
    /// ([`crate::state`]).
    pub owner: Option<Owner>,
    /// The IOMMU group of each VFIO host device found, for the VFIO block (`None`: no
    /// host device uses VFIO).
    pub vfio_groups: Option<Vec<(u32, Origin)>>,
}

impl<'d> Builder<'d> {
    /// An empty builder.
    pub fn new(options: Options, owner: Option<Owner>, diag: &'d mut Diagnostics) -> Self {
        Builder {
            out: Vec::new(),
            seen: HashSet::new(),
            files: HashSet::new(),
            diag,
            children: Vec::new(),
            options,
            owner,
            vfio_groups: None,
        }
    }

    /// A warning about the element `origin` names.
    pub fn warn(&mut self, origin: &Origin, msg: String) {
        self.diag.warn(origin, msg);
    }

    /// The canonical form of a path (the resolver's findings go to the sink).
    pub fn canonical(
        &mut self,
        r: &mut dyn Resolve,
        raw: &Path,
        origin: &Origin,
    ) -> Result<CanonicalPath> {
        r.canonical(raw, origin, self.diag)
    }

    /// Canonicalizes, checks and adds a rule for one file an element of `family` names;
    /// returns its canonical path.
    pub fn file(
        &mut self,
        r: &mut dyn Resolve,
        raw: &AbsPath,
        perms: Perms,
        family: ElementFamily,
        origin: &Origin,
    ) -> Result<CanonicalPath> {
        self.file_at(r, raw.as_path(), perms, family, origin)
    }

    /// [`Builder::file`] for a path the tool or the resolver made (absolute by
    /// construction).
    pub fn file_at(
        &mut self,
        r: &mut dyn Resolve,
        raw: &Path,
        perms: Perms,
        family: ElementFamily,
        origin: &Origin,
    ) -> Result<CanonicalPath> {
        let canon = self.canonical(r, raw, origin)?;
        self.add(canon.clone(), perms, family, origin)?;
        Ok(canon)
    }

    /// Checks a canonical path against the restricted-path policy and the state table, for
    /// `perms` in `scope`: the only way to a [`Granted`] for a path from the XML.
    pub fn checked<'a>(
        &self,
        canon: &'a CanonicalPath,
        perms: Perms,
        scope: Scope,
        origin: &'a Origin,
    ) -> Result<Checked<'a>> {
        policy::check(canon, perms.grant(), scope)
            .and_then(|()| match &self.owner {
                Some(owner) => owner.check(canon.as_path()),
                None => Ok(()),
            })
            .map_err(|why| Error::Path {
                path: canon.as_path().to_path_buf(),
                origin: origin.to_string(),
                why: why.to_string(),
            })?;
        Ok(Checked { canon, origin })
    }

    /// A rule for one checked file an element of `family` names; read-only files get
    /// `deny w` (libvirt 9.0, and still libvirt 12.1 for everything but storage: firmware,
    /// kernel, tables...).
    pub fn add(
        &mut self,
        canon: CanonicalPath,
        perms: Perms,
        family: ElementFamily,
        origin: &Origin,
    ) -> Result<()> {
        let deny = perms.is_read_only();
        self.add_in(&canon, perms, Scope::File(family), deny, origin)
    }

    /// [`Builder::file`] for a disk's own image or its `<dataStore>`: a read-only one (a
    /// `<readonly/>` disk, a CD-ROM) is `rk` like a backing layer, with `deny w` only under
    /// `backing_deny_write = yes`. libvirt 12.1 (`add_file_path`, commit 0fe20ddc; NEWS:
    /// "Ask for no deny rule for readonly disk elements") dropped the deny rule of
    /// read-only disks and backing layers alike, because block commit needs libvirtd's
    /// later `-F` `rwk` grant of them to work (docs/weak-spots.md W6).
    pub fn storage_file(
        &mut self,
        r: &mut dyn Resolve,
        raw: &Path,
        perms: Perms,
        family: ElementFamily,
        origin: &Origin,
    ) -> Result<CanonicalPath> {
        let canon = self.canonical(r, raw, origin)?;
        let deny = perms.is_read_only() && self.options.backing_deny_write;
        self.add_in(&canon, perms, Scope::File(family), deny, origin)?;
        Ok(canon)
    }

    fn add_in(
        &mut self,
        canon: &CanonicalPath,
        perms: Perms,
        scope: Scope,
        deny_write: bool,
        origin: &Origin,
    ) -> Result<()> {
        // The scope is part of the key: the same file may be fine for one element family
        // and refused for another (a device node of one family).
        let key = (canon.clone(), perms, deny_write, scope);
        if self.files.contains(&key) {
            return Ok(());
        }
        let g = self.checked(canon, perms, scope, origin)?.exact()?;
        self.push(g, perms, deny_write, origin.clone());
        self.files.insert(key);
        Ok(())
    }

    /// A read-only backing layer (or a file an image header names): `rk`, with `deny w`
    /// only under `backing_deny_write = yes` (libvirt 9.0). By default there is none, as in
    /// libvirt 12.1: block commit needs libvirtd's later `-F` grant to win (W6).
    /// A layer is a disk's ([`ElementFamily::Disk`]): a header or `<backingStore>` naming a
    /// device node of another element (an IOMMU group, an input device) is refused.
    pub fn add_backing(&mut self, canon: CanonicalPath, origin: &Origin) -> Result<()> {
        let deny = self.options.backing_deny_write;
        self.add_in(
            &canon,
            Perms::RK,
            Scope::File(ElementFamily::Disk),
            deny,
            origin,
        )
    }

    /// Pushes libvirt's fixed per-domain rules (base, swtpm, passt): templates of the
    /// tool's own text, filled with the domain's name, short name or UUID
    /// ([`AaPattern::fill`]). A name that cannot be written in a rule (a control character)
    /// is an error naming `<name>`. No `deny` companion, as in libvirt.
    pub fn push_named(
        &mut self,
        rules: &[(&'static str, &[&str], Perms)],
        name: &str,
        origin: &Origin,
        reason: &'static str,
    ) -> Result<()> {
        for (template, args, perms) in rules {
            let p = AaPattern::fill(template, args).map_err(|e| {
                Error::domain("<name>", format!("{} {e}", crate::error::quote(name)))
            })?;
            self.push(Granted::trusted(p, reason), *perms, false, origin.clone());
        }
        Ok(())
    }

    /// Adds a rule, unless the same one is there already.
    pub fn push(&mut self, pattern: Granted, perms: Perms, deny_write: bool, origin: Origin) {
        let pattern = pattern.0;
        if self.seen.insert((pattern.clone(), perms, deny_write)) {
            self.out.push(Rule {
                pattern,
                perms,
                deny_write,
                origin,
            });
        }
    }

    /// The rules and child profiles so far, leaving the builder empty.
    pub(super) fn take(&mut self) -> (Vec<Rule>, Vec<ChildProfile>) {
        self.seen.clear();
        self.files.clear();
        (
            std::mem::take(&mut self.out),
            std::mem::take(&mut self.children),
        )
    }

    /// Adds a child profile (once per helper: a profile may define a child only once).
    pub fn child(&mut self, c: ChildProfile) {
        if !self.children.iter().any(|x| x.helper == c.helper) {
            self.children.push(c);
        }
    }
}

fn path_text<'a>(canon: &'a CanonicalPath, origin: &Origin) -> Result<&'a str> {
    canon.as_path().to_str().ok_or_else(|| Error::Path {
        path: canon.as_path().to_path_buf(),
        origin: origin.to_string(),
        why: "is not valid UTF-8 and cannot be written in a rule".into(),
    })
}
