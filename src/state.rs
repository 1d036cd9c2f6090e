//! Every VM's private state belongs to that VM alone.
//!
//! libvirt's QEMU driver keeps each domain's private state under fixed directories shared by
//! all domains, in entries named after the domain. A path from the XML or from `-f`/`-F`
//! that lies in one of these directories is granted only when its entry there is exactly
//! this domain's; one of another domain, of the daemons, or one that cannot be told apart
//! from another domain's is refused. A directory granted with everything below it (a
//! filesystem share, `-F DIR/{,**}`) must not contain any of these directories.
//!
//! The directories and the forms of their per-domain entries are the
//! [`policy::Role::Shared`] rows of the one restricted-location table, [`policy::TABLE`]
//! (which refuses a directory that contains one); this module reads an entry by those
//! forms. The table below says where each form comes from.
//!
//! The locations, from libvirt 9.0's source (system daemon, Debian's `LOCALSTATEDIR=/var`,
//! `RUNSTATEDIR=/run`; `/var/run` is a link to `/run`, and paths are compared canonical).
//! `<short>` is `virDomainDefGetShortName` (`src/conf/domain_conf.c:29194`):
//! `<id>-<first 20 characters of the name>`; `<id>` is `-1` when the domain is not running.
//!
//! | Directory | Entry | What | Source |
//! |---|---|---|---|
//! | `/var/lib/libvirt/qemu/` | `domain-<short>/` | libDir: `monitor.sock`, `master-key.aes`, graphics, virtiofs and pr-helper sockets, `*.base64` secrets, screendump and memory-peek temp files | `qemu_domain.c:1733` `qemuDomainSetPrivatePaths`; `qemu_process.c:3143`, `qemu_domain.c:566`, `qemu_domain.c:527`, `qemu_driver.c:3353,10587` |
//! | `/var/lib/libvirt/qemu/` | `domain-<name>/` | the pre-short-name layout, only for a domain whose status XML predates it (never created by 9.0): not accepted | `qemu_domain.c:1713` `qemuDomainSetPrivatePathsOld` |
//! | `.../qemu/channel/target/` | `domain-<short>/` | channel sockets | `qemu_conf.c:171`, `qemu_domain.c:1736,9906` |
//! | `.../qemu/ram/` | `<short>/` | file-backed guest RAM | `qemu_conf.c:173,1603` `qemuGetMemoryBackingDomainPath` |
//! | `.../qemu/nvram/` | `<name>_VARS.fd`, `<name>_VARS.raw`, `<name>_VARS.qcow2` | the UEFI variable store (libvirt 9.0: `.fd` only; libvirt >= 9.2 names it after its format: `.qcow2` for qcow2 firmware, `.raw` for a raw template named `*.raw`, else `.fd`, as libvirt 11.3's `firmware-auto-efi-format-*` test outputs show) | `qemu_domain.c:11229` `qemuDomainNVRAMPathFormat`; 11.3 `qemu_firmware.c` `qemuFirmwareEnsureNVRAM` |
//! | `.../qemu/varstore/` | `<name>.json` | the uefi-vars device's variable store (libvirt 12.1 `<os><varstore>`: `%s/qemu/varstore`, `%s/%s.json` in 12.8's `libvirt_driver_qemu.so`; no 12.x source was at hand) | 12.1 `qemuPrepareVarstore` |
//! | `.../qemu/save/` | `<name>.save` | managed save image | `qemu_driver.c:2749` |
//! | `.../qemu/dump/` | `<short>-<time>` | automatic crash dump | `qemu_driver.c:3426` `getAutoDumpPath` |
//! | `.../qemu/snapshot/`, `checkpoint/` | `<name>/` | libvirtd's snapshot and checkpoint metadata: never QEMU's | `qemu_domain.c:7066,7216` |
//! | `/var/lib/libvirt/swtpm/` | `<uuid>/` | swtpm state (`tpm1.2/`, `tpm2/`) | `qemu_conf.c:174`, `qemu_tpm.c:76` |
//! | `/var/log/libvirt/qemu/` | `<name>.log` | QEMU's log (an fd QEMU inherits) | `qemu_domain.c:6803` |
//! | `/var/log/libvirt/qemu/` | `<name>-<alias>-virtiofsd.log` | virtiofsd's log | `qemu_virtiofs.c:85` |
//! | `/var/log/swtpm/libvirt/qemu/` | `<name>-swtpm.log` | swtpm's log | `qemu_conf.c:155`, `qemu_tpm.c:92` |
//! | `/run/libvirt/qemu/` | `<name>.pid` | QEMU's pid file (libvirtd locks it, QEMU inherits the fd) | `qemu_process.c:7277`, `vircommand.c:827` |
//! | `/run/libvirt/qemu/` | `driver.pid` | the QEMU driver's lock: never a domain's | `qemu_driver.c:680` |
//! | `/run/libvirt/qemu/` | `<name>.xml` | libvirtd's status XML: never QEMU's (it is trusted when libvirtd restarts) | `qemu_process.c:121`, `virDomainObjSave` |
//! | `/run/libvirt/qemu/` | `<short>.dev/`... | libvirtd's preserved mounts of the domain's namespace | `qemu_namespace.c:84` |
//! | `/run/libvirt/qemu/` | `<short>-<alias>-fs.pid`, `<short>-pr-helper0.pid`, `<short>-<alias>-vhost-user-gpu.pid` | helper daemons' pid files | `qemu_virtiofs.c:61`, `qemu_process.c:2748`, `qemu_vhost_user_gpu.c:46` |
//! | `/run/libvirt/qemu/swtpm/` | `<short>-swtpm.sock`, `<short>-swtpm.pid` | swtpm's socket and pid file | `qemu_conf.c:162`, `qemu_tpm.c:107,124` |
//! | `/run/libvirt/qemu/dbus/` | `<short>-dbus.sock`, `.conf`, `.pid` | the domain's D-Bus daemon | `qemu_conf.c:229`, `qemu_dbus.c:37,48` |
//! | `/run/libvirt/qemu/slirp/` | `<short>-<alias>-slirp.pid` | slirp helper | `qemu_conf.c:227`, `qemu_slirp.c:150` |
//! | `/run/libvirt/qemu/passt/` | `<short>-<alias>-passt.pid`, `<short>-<alias>.socket` | passt | `qemu_conf.c:228`, `qemu_passt.c:48,63` |
//! | `/run/libvirt/qemu/channel/` | `<short>/` | channel sockets in libvirt 11.3 (Debian 13), which grants `-F <short>/{,**}` at every start (9.0 uses `channel/target/`) | 11.3 `qemu_conf.c` `channelTargetDir`, `qemuDomainSetPrivatePaths` |
//! | `/dev/hugepages/libvirt/qemu/` | `<short>/` | hugepage backing (default hugetlbfs mount) | `qemu_conf.c:1526,1531` |
//! | `/var/log/libvirt/`, `/var/log/swtpm/` | anything else | the daemons' own logs | |
//! | `/run/libvirt/`, `/var/cache/libvirt/` | anything | the daemons' own sockets, state and caches: refused to every domain as restricted trees of the same table | |
//!
//! "Exactly this domain's", so that no name can be made to match another domain's entry:
//! - a `<short>` entry is split at the first `-` after its leading digits: the id of a
//!   running domain is unique, so `7-other` is domain id 7 named `other`, never a domain
//!   named `7-other` (whose entries are `<its id>-7-other`). With an id in the XML (libvirtd
//!   always passes the running definition, whose id `qemuProcessInit` assigned before the
//!   first `-c`) both must match; without one, only the name part is compared, and only for a
//!   name shorter than 20 characters and not 20 bytes long (a longer one shares its short
//!   name with every name that starts with the same 20 characters, or the same 20 bytes);
//! - an entry with an alias (`<short>-<alias>-...`) is this domain's only with an id: without
//!   one, `other` and `other-x` cannot be told apart;
//! - one named `<name>-<alias>` (no id in it) is this domain's only with no other dash:
//!   `web-db-fs0` is `web-db`'s with `fs0`, or `web`'s with an alias `db-fs0` (a user alias
//!   `ua-...` holds dashes);
//! - an entry that could be read as two things (a VM named `1-other-fs0-fs` has the pid file
//!   `1-other-fs0-fs.pid`, which is also the virtiofsd pid file of domain id 1 named `other`)
//!   is refused: one reading belongs to another domain.

use crate::parse::Domain;
use crate::policy::{self, Entries, Form, Refusal, Shared};
use std::path::{Component, Path};

/// libvirt's `VIR_DOMAIN_SHORT_NAME_MAX`.
const SHORT_NAME_MAX: usize = 20;

/// Who a domain is, as libvirt names its state: name, id (running domains only) and UUID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    name: String,
    id: Option<i64>,
    uuid: String,
}

/// How one entry reads under one form.
#[derive(Debug, PartialEq, Eq)]
enum Reading {
    Own,
    Foreign,
    /// It has the form, but without the domain's id it cannot be told whose it is.
    Unknown,
    NotThisForm,
}

impl Owner {
    /// The domain's identity.
    pub fn of(d: &Domain) -> Self {
        Owner {
            name: d.name.clone(),
            id: d.id,
            uuid: d.uuid.hyphenated().to_string(),
        }
    }

    /// `virDomainDefGetShortName`: `<id>-<first 20 characters>` (`-1` when not running).
    pub fn short_name(&self) -> String {
        let short: String = self.name.chars().take(SHORT_NAME_MAX).collect();
        format!("{}-{short}", self.id.unwrap_or(-1))
    }

    /// The name parts libvirtd may have used in `<short>`: 20 characters, or 20 bytes where
    /// libvirtd runs in a locale that cannot convert the name (`mbstowcs` failing with
    /// `EILSEQ` makes it cut bytes, `domain_conf.c:29204`).
    fn short_parts(&self) -> Vec<&str> {
        let chars = match self.name.char_indices().nth(SHORT_NAME_MAX) {
            Some((i, _)) => &self.name[..i],
            None => self.name.as_str(),
        };
        let mut parts = vec![chars];
        if let Some(bytes) = self.name.get(..SHORT_NAME_MAX.min(self.name.len())) {
            if bytes != chars {
                parts.push(bytes);
            }
        }
        parts
    }

    /// Whether no other name has this one as a short part: shorter than 20 characters
    /// (every longer name is cut to 20) and not 20 bytes long (a longer name is cut to 20
    /// bytes where libvirtd cannot convert it).
    fn is_whole(&self) -> bool {
        self.name.chars().count() < SHORT_NAME_MAX && self.name.len() != SHORT_NAME_MAX
    }

    /// How `<id>-<part>` (already split) reads for this domain.
    fn read_short(&self, id: i64, part: &str) -> Reading {
        match self.id {
            Some(mine) if mine == id && self.short_parts().contains(&part) => Reading::Own,
            Some(_) => Reading::Foreign,
            // Without an id only the name can be compared, and only while no other name is
            // cut to it: fewer than 20 characters, and not 20 bytes (the byte cut).
            None if self.is_whole() && part == self.name => Reading::Own,
            None if self.short_parts().contains(&part) => Reading::Unknown,
            None => Reading::Foreign,
        }
    }

    fn read(&self, form: Form, entry: &str) -> Reading {
        match form {
            Form::Name(suffix) => match entry.strip_suffix(suffix) {
                Some(n) if n == self.name => Reading::Own,
                Some(n) if !n.is_empty() => Reading::Foreign,
                _ => Reading::NotThisForm,
            },
            // `<name>-<alias>` is this domain's only when it reads one way: with a second dash
            // (in the name, or in an alias such as a user alias `ua-...`) it is also another
            // name with another alias.
            Form::NameAlias(suffix) => {
                match entry.strip_suffix(suffix).and_then(|r| r.split_once('-')) {
                    Some((name, alias))
                        if name == self.name && !alias.is_empty() && !alias.contains('-') =>
                    {
                        Reading::Own
                    }
                    Some(_) => Reading::Foreign,
                    None => Reading::NotThisForm,
                }
            }
            Form::Short(prefix, suffix) => {
                match entry
                    .strip_prefix(prefix)
                    .and_then(|e| e.strip_suffix(suffix))
                    .and_then(split_id)
                {
                    Some((id, part)) => self.read_short(id, part),
                    None => Reading::NotThisForm,
                }
            }
            Form::ShortAlias(suffix) => {
                let Some((id, rest)) = entry.strip_suffix(suffix).and_then(split_id) else {
                    return Reading::NotThisForm;
                };
                if !rest.contains('-') {
                    return Reading::NotThisForm;
                }
                match self.id {
                    Some(mine) if mine != id => Reading::Foreign,
                    Some(_) => {
                        let own = self.short_parts().iter().any(|p| {
                            rest.strip_prefix(p)
                                .is_some_and(|a| a.len() > 1 && a.starts_with('-'))
                        });
                        if own {
                            Reading::Own
                        } else {
                            Reading::Foreign
                        }
                    }
                    // `other` and `other-x` both read `<id>-other-x-...`.
                    None => Reading::Unknown,
                }
            }
            Form::Uuid => match uuid::Uuid::try_parse(entry) {
                Ok(u) if u.hyphenated().to_string() == self.uuid => Reading::Own,
                Ok(_) => Reading::Foreign,
                Err(_) => Reading::NotThisForm,
            },
            Form::Fixed(name) if name == entry => Reading::Foreign,
            Form::Fixed(_) => Reading::NotThisForm,
            Form::Daemon(inner) => match self.read(*inner, entry) {
                Reading::NotThisForm => Reading::NotThisForm,
                // Never QEMU's, whoever's it is.
                _ => Reading::Foreign,
            },
        }
    }

    /// Checks that `path` (canonical) may be granted to this domain: refused when it is in
    /// another domain's state or in the daemons' state. (That a directory granted with its
    /// contents contains none of these directories is [`policy::check`]'s business: the
    /// same table's [`policy::Role::Shared`] rows; a directory granted whole is judged here
    /// as the entry it is, as one file is.)
    pub fn check(&self, path: &Path) -> Result<(), Refusal> {
        let Some((dir, shared)) = deepest_shared(path) else {
            return Ok(());
        };
        let forms = match shared.entries {
            Entries::Any => return Ok(()),
            Entries::Domains(forms) => forms,
        };
        let holds = shared.holds;
        let entry = match path.strip_prefix(dir).ok().map(Path::components) {
            Some(mut c) => match c.next() {
                Some(Component::Normal(e)) => e.to_string_lossy().into_owned(),
                _ => return Err(Refusal::SharedItself { dir, holds }),
            },
            None => return Ok(()),
        };
        let readings: Vec<Reading> = forms.iter().map(|f| self.read(*f, &entry)).collect();
        if readings.contains(&Reading::Foreign) {
            let own = self.own_entries(forms);
            return Err(Refusal::Foreign { dir, holds, own });
        }
        if readings.contains(&Reading::Unknown) {
            return Err(Refusal::Ambiguous { dir, holds });
        }
        if readings.contains(&Reading::Own) {
            return Ok(());
        }
        let own = self.own_entries(forms);
        Err(Refusal::NotOwn { dir, holds, own })
    }

    /// The shared directory `path` (canonical) is in, when it is this domain's own entry
    /// (or lies in one) in a directory whose entries live as long as the running VM: its
    /// memory-backing or hugepage directory, its D-Bus, passt or swtpm sockets, its private
    /// and channel directories. `None` for anything else, including the domain's own files
    /// that outlive a job but not the VM's need (a managed save image, a dump). The
    /// runtime-grant ledger keeps an `-F` grant across a plain `-r` only for these
    /// (`rules/runtime.rs`).
    pub fn lives_with_vm(&self, path: &Path) -> Option<&'static str> {
        // A domain without an id is not running: nothing of it lives with a VM.
        self.id?;
        self.runtime_entry(path)
    }

    /// The shared directory whose entry `path` is, or is inside, when that entry is this
    /// domain's and lives as long as its QEMU ([`Shared::lives_with_vm`]); without the
    /// domain's id, judged by its whole name as [`Owner::check`] judges it.
    pub fn runtime_entry(&self, path: &Path) -> Option<&'static str> {
        let (dir, shared) = deepest_shared(path)?;
        // `check` accepts an entry of a shared directory only when it reads as this
        // domain's own, and refuses the directory itself.
        (shared.lives_with_vm && self.check(path).is_ok()).then_some(dir)
    }

    /// This domain's entries under `forms`, for messages.
    fn own_entries(&self, forms: &[Form]) -> Vec<String> {
        let short = match self.id {
            Some(_) => self.short_name(),
            None => format!("<id>-{}", self.short_parts()[0]),
        };
        forms
            .iter()
            .filter_map(|f| match f {
                Form::Name(s) => Some(format!("{}{s}", self.name)),
                Form::NameAlias(s) => Some(format!("{}-<alias>{s}", self.name)),
                Form::Short(p, s) => Some(format!("{p}{short}{s}")),
                Form::ShortAlias(s) => Some(format!("{short}-...{s}")),
                Form::Uuid => Some(self.uuid.clone()),
                Form::Daemon(_) | Form::Fixed(_) => None,
            })
            .collect()
    }
}

/// The deepest shared directory `path` is in (or is): a path is judged by it.
fn deepest_shared(path: &Path) -> Option<(&'static str, &'static Shared)> {
    policy::shared_dirs()
        .filter(|(dir, _)| path.starts_with(dir))
        .max_by_key(|(dir, _)| dir.len())
}

/// Splits `<id>-<rest>` at the first `-` after the (optionally negative) leading digits.
fn split_id(s: &str) -> Option<(i64, &str)> {
    let digits_from = usize::from(s.starts_with('-'));
    let end = s[digits_from..].find('-')? + digits_from;
    let digits = &s[digits_from..end];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let id = s[..end].parse().ok()?;
    let rest = &s[end + 1..];
    (!rest.is_empty()).then_some((id, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::CanonicalPath;
    use crate::policy::{ElementFamily, Grant, Scope};
    use Reading::{Foreign, NotThisForm, Own, Unknown};

    fn owner(name: &str, id: Option<i64>) -> Owner {
        Owner {
            name: name.into(),
            id,
            uuid: "00000000-0000-0000-0000-0123456789ab".into(),
        }
    }

    fn ok(o: &Owner, p: &str) -> bool {
        o.check(Path::new(p)).is_ok()
    }

    /// What the rule builder asks of a path from the XML: the policy, then this check.
    fn granted(o: &Owner, p: &str, scope: Scope) -> Result<(), Refusal> {
        let canon = CanonicalPath::from_canonical_literal(Path::new(p)).unwrap();
        policy::check(&canon, Grant::Write, scope).and_then(|()| o.check(Path::new(p)))
    }

    /// Asserts how each entry reads for `o` under `form`.
    #[track_caller]
    fn reads(o: &Owner, form: Form, cases: &[(&str, Reading)]) {
        for (entry, want) in cases {
            assert_eq!(o.read(form, entry), *want, "{o:?} {form:?} {entry:?}");
        }
    }

    /// 20 ASCII characters: libvirt's short name of a longer name that starts with them.
    const TWENTY: &str = "abcdefghijklmnopqrst";

    #[test]
    fn short_names_are_id_dash_first_twenty_characters() {
        assert_eq!(owner("vm", Some(1)).short_name(), "1-vm");
        assert_eq!(owner("vm", Some(-1)).short_name(), "-1-vm");
        // Not running: libvirt's id is -1.
        assert_eq!(owner("vm", None).short_name(), "-1-vm");
        assert_eq!(owner("7-other", Some(3)).short_name(), "3-7-other");
        assert_eq!(
            owner(TWENTY, Some(12)).short_name(),
            "12-abcdefghijklmnopqrst"
        );
        assert_eq!(
            owner("abcdefghijklmnopqrstuvwxyz", Some(12)).short_name(),
            "12-abcdefghijklmnopqrst"
        );
        // Characters, not bytes (a UTF-8 locale: mbstowcs succeeds).
        let e21 = "é".repeat(21);
        assert_eq!(
            owner(&e21, Some(4)).short_name(),
            format!("4-{}", "é".repeat(20))
        );
    }

    #[test]
    fn short_parts_are_the_character_and_the_byte_cut() {
        assert_eq!(owner("vm", Some(1)).short_parts(), ["vm"]);
        assert_eq!(owner(TWENTY, Some(1)).short_parts(), [TWENTY]);
        assert_eq!(
            owner(&format!("{TWENTY}uv"), Some(1)).short_parts(),
            [TWENTY]
        );
        // 11 characters, 22 bytes: whole by characters, 10 of them by bytes.
        let e11 = "é".repeat(11);
        assert_eq!(
            owner(&e11, Some(1)).short_parts(),
            [e11.as_str(), &"é".repeat(10)]
        );
        // 21 characters, 42 bytes: 20 characters, or 10 by bytes.
        let e21 = "é".repeat(21);
        assert_eq!(
            owner(&e21, None).short_parts(),
            [&"é".repeat(20), &"é".repeat(10)]
        );
        // 19 ASCII characters and one of 2 bytes: the 20th byte cuts that character, which
        // no UTF-8 entry name can hold.
        let cut = format!("{}é", &TWENTY[..19]);
        assert_eq!(owner(&cut, Some(1)).short_parts(), [cut.as_str()]);
    }

    #[test]
    fn name_form_reads_the_whole_name() {
        let form = Form::Name(".pid");
        let cases = [
            ("vm.pid", Own),
            ("other.pid", Foreign),
            ("vm2.pid", Foreign),
            ("v.pid", Foreign),
            // The pid file of a VM of that name, whatever else it is.
            ("1-vm-fs0-fs.pid", Foreign),
            ("driver.pid", Foreign),
            // No domain has an empty name.
            (".pid", NotThisForm),
            ("vm.xml", NotThisForm),
            ("vm", NotThisForm),
            ("vm.pid.old", NotThisForm),
        ];
        // The name alone says whose it is: the id changes nothing.
        reads(&owner("vm", Some(1)), form, &cases);
        reads(&owner("vm", None), form, &cases);
        reads(
            &owner("vm", Some(1)),
            Form::Name("_VARS.fd"),
            &[
                ("vm_VARS.fd", Own),
                ("other_VARS.fd", Foreign),
                ("_VARS.fd", NotThisForm),
                ("vm_VARS.qcow2", NotThisForm),
            ],
        );
        // A name with the suffix in it is still read whole.
        reads(
            &owner("vm.pid", Some(1)),
            form,
            &[("vm.pid.pid", Own), ("vm.pid", Foreign)],
        );
    }

    #[test]
    fn name_alias_form_reads_name_dash_alias() {
        let form = Form::NameAlias("-virtiofsd.log");
        let cases = [
            ("vm-fs0-virtiofsd.log", Own),
            // An alias of one character.
            ("vm-a-virtiofsd.log", Own),
            // No alias: nobody's.
            ("vm--virtiofsd.log", Foreign),
            ("vmx-fs0-virtiofsd.log", Foreign),
            ("v-fs0-virtiofsd.log", Foreign),
            ("other-fs0-virtiofsd.log", Foreign),
            ("-fs0-virtiofsd.log", Foreign),
            // A name without an alias: not a helper's file (QEMU's log of a VM named
            // `vm-virtiofsd`).
            ("vm-virtiofsd.log", NotThisForm),
            ("x-virtiofsd.log", NotThisForm),
            ("vm-fs0.log", NotThisForm),
            ("vm.log", NotThisForm),
        ];
        reads(&owner("vm", Some(1)), form, &cases);
        reads(&owner("vm", None), form, &cases);
        // An entry with a second dash reads as two names: `vm-fs0-fs1` is domain `vm-fs0`'s
        // virtiofsd log for its `fs1`; `vm-ua-fs0` is `vm`'s for its user alias `ua-fs0`,
        // and `vm-ua`'s for `fs0`. One reading is another domain's.
        for (name, entry) in [
            ("vm", "vm-fs0-fs1-virtiofsd.log"),
            ("vm", "vm-ua-fs0-virtiofsd.log"),
            ("vm-ua", "vm-ua-fs0-virtiofsd.log"),
            ("web", "web-db-fs0-virtiofsd.log"),
            ("web-db", "web-db-fs0-virtiofsd.log"),
        ] {
            reads(&owner(name, Some(1)), form, &[(entry, Foreign)]);
        }
        // The check refused them all the same: each is also QEMU's log of a VM named
        // `<rest>-virtiofsd` (`Form::Name(".log")` of the same directory).
        assert!(matches!(
            owner("web", Some(1))
                .check(Path::new("/var/log/libvirt/qemu/web-db-fs0-virtiofsd.log")),
            Err(Refusal::Foreign { .. })
        ));
    }

    #[test]
    fn short_form_with_an_id_needs_both_id_and_name_part() {
        let form = Form::Short("domain-", "");
        reads(
            &owner("vm", Some(1)),
            form,
            &[
                ("domain-1-vm", Own),
                ("domain-2-vm", Foreign),
                ("domain--1-vm", Foreign),
                ("domain-1-vmx", Foreign),
                ("domain-1-v", Foreign),
                ("domain-1-other", Foreign),
                ("domain-1-1-vm", Foreign),
                // The pre-short-name layout, never created by libvirt 9.0.
                ("domain-vm", NotThisForm),
                ("domain-1-", NotThisForm),
                ("domain-x1-vm", NotThisForm),
                ("1-vm", NotThisForm),
            ],
        );
        // A domain named like another's short name: `7-other` is domain 7's.
        reads(
            &owner("7-other", Some(3)),
            form,
            &[("domain-3-7-other", Own), ("domain-7-other", Foreign)],
        );
        let form = Form::Short("", "-swtpm.sock");
        reads(
            &owner("vm", Some(1)),
            form,
            &[
                ("1-vm-swtpm.sock", Own),
                ("2-vm-swtpm.sock", Foreign),
                ("1-vm-x-swtpm.sock", Foreign),
                ("1-vm-swtpm.pid", NotThisForm),
                ("vm-swtpm.sock", NotThisForm),
                ("1--swtpm.sock", NotThisForm),
            ],
        );
        // A name of more than 20 characters: only its first 20, as libvirt cuts it.
        let long = owner(&format!("{TWENTY}uv"), Some(12));
        reads(
            &long,
            Form::Short("", ""),
            &[
                ("12-abcdefghijklmnopqrst", Own),
                ("12-abcdefghijklmnopqrstuv", Foreign),
                ("12-abcdefghijklmnopqrstu", Foreign),
                ("12-abcdefghijklmnopqrs", Foreign),
                ("13-abcdefghijklmnopqrst", Foreign),
            ],
        );
        reads(
            &owner(TWENTY, Some(12)),
            Form::Short("", ""),
            &[("12-abcdefghijklmnopqrst", Own)],
        );
    }

    #[test]
    fn short_form_with_multibyte_names_takes_both_cuts() {
        // 11 characters, 22 bytes: `1-<all 11>` in a UTF-8 locale, `1-<10>` (20 bytes)
        // where libvirtd cannot convert the name.
        let e10 = "é".repeat(10);
        let e11 = "é".repeat(11);
        let o = owner(&e11, Some(1));
        let form = Form::Short("", "");
        reads(
            &o,
            form,
            &[
                (&format!("1-{e11}"), Own),
                (&format!("1-{e10}"), Own),
                (&format!("2-{e10}"), Foreign),
                (&format!("2-{e11}"), Foreign),
                (&format!("1-{}", "é".repeat(9)), Foreign),
            ],
        );
        // 21 characters: 20 of them, or 10 by bytes.
        let o = owner(&"é".repeat(21), Some(1));
        reads(
            &o,
            form,
            &[
                (&format!("1-{}", "é".repeat(20)), Own),
                (&format!("1-{e10}"), Own),
                (&format!("1-{}", "é".repeat(21)), Foreign),
            ],
        );
    }

    #[test]
    fn short_form_without_an_id_compares_only_a_whole_name() {
        let form = Form::Short("domain-", "");
        // Shorter than 20 characters: libvirt's short name of this name alone, whatever
        // the id of the run that made it.
        reads(
            &owner("vm", None),
            form,
            &[
                ("domain-1-vm", Own),
                ("domain-7-vm", Own),
                ("domain--1-vm", Own),
                ("domain-1-vmx", Foreign),
                ("domain-1-v", Foreign),
                ("domain-1-other", Foreign),
                ("domain-vm", NotThisForm),
            ],
        );
        let nineteen = &TWENTY[..19];
        reads(
            &owner(nineteen, None),
            form,
            &[
                ("domain-5-abcdefghijklmnopqrs", Own),
                ("domain-5-abcdefghijklmnopqrst", Foreign),
            ],
        );
        // 20 characters: also the short name of every longer name that starts with them.
        reads(
            &owner(TWENTY, None),
            form,
            &[
                ("domain-5-abcdefghijklmnopqrst", Unknown),
                ("domain-5-abcdefghijklmnopqrs", Foreign),
            ],
        );
        // 21: only its first 20 are in an entry, and those are another's short name too.
        reads(
            &owner(&format!("{TWENTY}u"), None),
            form,
            &[
                ("domain-5-abcdefghijklmnopqrst", Unknown),
                ("domain-5-abcdefghijklmnopqrstu", Foreign),
                ("domain-5-abc", Foreign),
            ],
        );
        // 20 characters of which one is 2 bytes: a 21-character name cuts to it.
        let cut = format!("{}é", &TWENTY[..19]);
        reads(
            &owner(&cut, None),
            Form::Short("", ""),
            &[(&format!("5-{cut}"), Unknown)],
        );
        // 11 characters, 22 bytes: whole by characters, while its byte cut (10 of them) is
        // also the whole name of a domain named with those 10.
        let e10 = "é".repeat(10);
        let e11 = "é".repeat(11);
        reads(
            &owner(&e11, None),
            Form::Short("", ""),
            &[
                (&format!("5-{e11}"), Own),
                (&format!("5-{e10}"), Unknown),
                (&format!("5-{}", "é".repeat(9)), Foreign),
            ],
        );
        // 10 characters, 20 bytes: whole by characters, and also the byte cut of every
        // longer name that starts with it (`<its id>-<these 20 bytes>` for a VM named with
        // 11 of them, where libvirtd cannot convert the name).
        reads(
            &owner(&e10, None),
            Form::Short("", ""),
            &[
                (&format!("5-{e10}"), Unknown),
                (&format!("5-{e11}"), Foreign),
            ],
        );
        reads(
            &owner(&e10, Some(5)),
            Form::Short("", ""),
            &[(&format!("5-{e10}"), Own), (&format!("6-{e10}"), Foreign)],
        );
        assert_eq!(
            owner(&e10, None).check(Path::new(&format!(
                "/var/lib/libvirt/qemu/domain-5-{e10}/monitor.sock"
            ))),
            Err(Refusal::Ambiguous {
                dir: "/var/lib/libvirt/qemu",
                holds: "every domain's private directory",
            })
        );
    }

    #[test]
    fn short_alias_form_is_only_read_with_an_id() {
        let form = Form::ShortAlias("-passt.pid");
        reads(
            &owner("vm", Some(1)),
            form,
            &[
                ("1-vm-net0-passt.pid", Own),
                ("1-vm-ua-net-x-passt.pid", Own),
                // An alias of one character.
                ("1-vm-a-passt.pid", Own),
                // No alias: nobody's.
                ("1-vm--passt.pid", Foreign),
                ("1-vmx-net0-passt.pid", Foreign),
                ("1-v-net0-passt.pid", Foreign),
                ("1-other-net0-passt.pid", Foreign),
                ("2-vm-net0-passt.pid", Foreign),
                ("-1-vm-net0-passt.pid", Foreign),
                // A short name without an alias.
                ("1-vm-passt.pid", NotThisForm),
                ("vm-net0-passt.pid", NotThisForm),
                ("1-vm-net0.socket", NotThisForm),
                ("1-vm-net0-slirp.pid", NotThisForm),
            ],
        );
        // Without an id, `vm` and `vm-net0` both read `<id>-vm-net0-...`.
        reads(
            &owner("vm", None),
            form,
            &[
                ("1-vm-net0-passt.pid", Unknown),
                ("1-vm-a-passt.pid", Unknown),
                ("1-vm-passt.pid", NotThisForm),
                ("vm-net0-passt.pid", NotThisForm),
            ],
        );
        // A long name: its first 20 characters, then the alias.
        reads(
            &owner(&format!("{TWENTY}uv"), Some(12)),
            form,
            &[
                ("12-abcdefghijklmnopqrst-net0-passt.pid", Own),
                ("12-abcdefghijklmnopqrstuv-net0-passt.pid", Foreign),
                ("13-abcdefghijklmnopqrst-net0-passt.pid", Foreign),
            ],
        );
        // Either cut of a multibyte name.
        let e11 = "é".repeat(11);
        let e10 = "é".repeat(10);
        reads(
            &owner(&e11, Some(1)),
            form,
            &[
                (&format!("1-{e11}-net0-passt.pid"), Own),
                (&format!("1-{e10}-net0-passt.pid"), Own),
                (&format!("1-{}-net0-passt.pid", "é".repeat(9)), Foreign),
            ],
        );
        // An automatic crash dump: `<short>-<time>`.
        reads(
            &owner("vm", Some(1)),
            Form::ShortAlias(""),
            &[
                ("1-vm-2026-01-01-00:00:00", Own),
                ("1-vmx-2026-01-01-00:00:00", Foreign),
                ("1-vm", NotThisForm),
            ],
        );
    }

    #[test]
    fn uuid_fixed_and_daemon_forms() {
        let o = owner("vm", Some(1));
        reads(
            &o,
            Form::Uuid,
            &[
                ("00000000-0000-0000-0000-0123456789ab", Own),
                ("00000000-0000-0000-0000-0123456789ac", Foreign),
                ("vm", NotThisForm),
            ],
        );
        let cases = [("driver.pid", Foreign), ("vm.pid", NotThisForm)];
        reads(&o, Form::Fixed("driver.pid"), &cases);
        reads(&owner("driver", Some(1)), Form::Fixed("driver.pid"), &cases);
        // The daemons' records: never QEMU's, its own included.
        let xml = Form::Daemon(&Form::Name(".xml"));
        reads(
            &o,
            xml,
            &[
                ("vm.xml", Foreign),
                ("other.xml", Foreign),
                (".xml", NotThisForm),
                ("vm.pid", NotThisForm),
            ],
        );
        let dev = Form::Daemon(&Form::Short("", ".dev"));
        reads(
            &o,
            dev,
            &[
                ("1-vm.dev", Foreign),
                ("2-other.dev", Foreign),
                ("vm.dev", NotThisForm),
            ],
        );
    }

    #[test]
    fn a_domain_named_like_a_daemon_file_is_refused_it() {
        // `driver.pid` is the QEMU driver's lock, and would be the pid file of a VM named
        // `driver`: it is never that VM's.
        let driver = owner("driver", Some(1));
        assert_eq!(driver.read(Form::Name(".pid"), "driver.pid"), Own);
        assert!(matches!(
            driver.check(Path::new("/run/libvirt/qemu/driver.pid")),
            Err(Refusal::Foreign {
                dir: "/run/libvirt/qemu",
                ..
            })
        ));
        assert!(matches!(
            owner("vm", Some(1)).check(Path::new("/run/libvirt/qemu/driver.pid")),
            Err(Refusal::Foreign { .. })
        ));
        // A helper's pid file of this very domain that is also the pid file of a VM named
        // `1-vm-fs0-fs`: one reading is another domain's.
        let vm = owner("vm", Some(1));
        assert_eq!(vm.read(Form::ShortAlias("-fs.pid"), "1-vm-fs0-fs.pid"), Own);
        assert!(matches!(
            vm.check(Path::new("/run/libvirt/qemu/1-vm-fs0-fs.pid")),
            Err(Refusal::Foreign { .. })
        ));
        assert!(ok(&vm, "/run/libvirt/qemu/vm.pid"));
    }

    #[test]
    fn refusals_name_the_directory_and_this_domains_entries() {
        let vm = owner("vm", Some(1));
        let swtpm = "/run/libvirt/qemu/swtpm";
        let holds = "every domain's swtpm sockets";
        assert_eq!(
            vm.check(Path::new("/run/libvirt/qemu/swtpm/2-vm-swtpm.sock")),
            Err(Refusal::Foreign {
                dir: swtpm,
                holds,
                own: vec!["1-vm-swtpm.sock".into(), "1-vm-swtpm.pid".into()],
            })
        );
        assert_eq!(
            vm.check(Path::new("/run/libvirt/qemu/swtpm/x")),
            Err(Refusal::NotOwn {
                dir: swtpm,
                holds,
                own: vec!["1-vm-swtpm.sock".into(), "1-vm-swtpm.pid".into()],
            })
        );
        assert_eq!(
            vm.check(Path::new(swtpm)),
            Err(Refusal::SharedItself { dir: swtpm, holds })
        );
        let no_id = owner("vm", None);
        assert_eq!(
            no_id.check(Path::new("/run/libvirt/qemu/swtpm/x")),
            Err(Refusal::NotOwn {
                dir: swtpm,
                holds,
                own: vec!["<id>-vm-swtpm.sock".into(), "<id>-vm-swtpm.pid".into()],
            })
        );
        assert_eq!(
            no_id.check(Path::new("/run/libvirt/qemu/passt/1-vm-net0.socket")),
            Err(Refusal::Ambiguous {
                dir: "/run/libvirt/qemu/passt",
                holds: "every domain's passt sockets",
            })
        );
        assert_eq!(
            no_id.check(Path::new("/var/lib/libvirt/qemu/domain-3-other/x")),
            Err(Refusal::Foreign {
                dir: "/var/lib/libvirt/qemu",
                holds: "every domain's private directory",
                own: vec!["domain-<id>-vm".into()],
            })
        );
        // Every form's own entry; none for the daemons' files.
        let own = |p: &str| match vm.check(Path::new(p)) {
            Err(Refusal::NotOwn { own, .. } | Refusal::Foreign { own, .. }) => own,
            r => panic!("{p}: {r:?}"),
        };
        assert_eq!(
            own("/run/libvirt/qemu/x"),
            [
                "vm.pid",
                "1-vm-...-fs.pid",
                "1-vm-...-vhost-user-gpu.pid",
                "1-vm-pr-helper0.pid"
            ]
        );
        assert_eq!(
            own("/var/log/libvirt/qemu/x"),
            ["vm.log", "vm-<alias>-virtiofsd.log"]
        );
        assert_eq!(
            own("/var/lib/libvirt/qemu/nvram/x"),
            ["vm_VARS.fd", "vm_VARS.raw", "vm_VARS.qcow2"]
        );
        assert_eq!(
            own("/var/lib/libvirt/swtpm/x"),
            ["00000000-0000-0000-0000-0123456789ab"]
        );
        assert_eq!(own("/var/lib/libvirt/qemu/snapshot/x"), [""; 0]);
        // A directory none of whose entries is a domain's.
        assert_eq!(own("/var/log/libvirt/x.log"), [""; 0]);
    }

    #[test]
    fn only_running_state_lives_with_the_vm() {
        let vm = owner("vm", Some(1));
        for (p, dir) in [
            (
                "/var/lib/libvirt/qemu/domain-1-vm/monitor.sock",
                Some("/var/lib/libvirt/qemu"),
            ),
            (
                "/var/lib/libvirt/qemu/domain-1-vm",
                Some("/var/lib/libvirt/qemu"),
            ),
            (
                "/run/libvirt/qemu/swtpm/1-vm-swtpm.sock",
                Some("/run/libvirt/qemu/swtpm"),
            ),
            (
                "/dev/hugepages/libvirt/qemu/1-vm",
                Some("/dev/hugepages/libvirt/qemu"),
            ),
            // Its own, but kept after it stops.
            ("/var/lib/libvirt/qemu/save/vm.save", None),
            ("/run/libvirt/qemu/vm.pid", None),
            // Another's.
            ("/run/libvirt/qemu/swtpm/2-vm-swtpm.sock", None),
            ("/var/lib/libvirt/qemu/domain-2-other/monitor.sock", None),
            // The directory itself, and outside every shared directory.
            ("/run/libvirt/qemu/swtpm", None),
            ("/srv/vm/disk.img", None),
        ] {
            assert_eq!(vm.lives_with_vm(Path::new(p)), dir, "{p}");
            assert_eq!(vm.runtime_entry(Path::new(p)), dir, "{p}");
        }
        // Without an id: not running, so nothing lives with it; its entries are still its
        // own when its whole name says so.
        let no_id = owner("vm", None);
        let p = Path::new("/var/lib/libvirt/qemu/domain-1-vm/monitor.sock");
        assert_eq!(no_id.lives_with_vm(p), None);
        assert_eq!(no_id.runtime_entry(p), Some("/var/lib/libvirt/qemu"));
        let p = Path::new("/run/libvirt/qemu/passt/1-vm-net0.socket");
        assert_eq!(no_id.runtime_entry(p), None);
    }

    #[test]
    fn ids_split_at_the_first_dash_after_the_digits() {
        assert_eq!(split_id("7-other"), Some((7, "other")));
        assert_eq!(split_id("3-7-other"), Some((3, "7-other")));
        assert_eq!(split_id("-1-x"), Some((-1, "x")));
        assert_eq!(split_id("other"), None);
        assert_eq!(split_id("7-"), None);
        assert_eq!(split_id("x7-a"), None);
        // libvirt prints the id with `%d`: never a sign but `-`, never anything but digits.
        assert_eq!(split_id("+5-x"), None);
        assert_eq!(split_id("--x"), None);
        assert_eq!(split_id("-x"), None);
        assert_eq!(split_id("- 1-x"), None);
        assert_eq!(split_id("1a-x"), None);
        assert_eq!(split_id("99999999999999999999-x"), None);
        assert_eq!(split_id("12-a-b"), Some((12, "a-b")));
        assert_eq!(split_id("-12-a"), Some((-12, "a")));
    }

    #[test]
    fn short_names_with_and_without_id() {
        let other7 = owner("other", Some(7));
        let seven_other = owner("7-other", Some(3));
        for p in [
            "/var/lib/libvirt/qemu/domain-7-other/monitor.sock",
            "/var/lib/libvirt/qemu/channel/target/domain-7-other/org.qemu.guest_agent.0",
            "/var/lib/libvirt/qemu/ram/7-other/pc.ram",
            "/run/libvirt/qemu/swtpm/7-other-swtpm.sock",
            "/run/libvirt/qemu/passt/7-other-net0.socket",
            "/var/lib/libvirt/qemu/dump/7-other-2026-01-01-00:00:00",
        ] {
            assert!(ok(&other7, p), "{p}");
            assert!(!ok(&seven_other, p), "{p}");
        }
        assert!(ok(
            &seven_other,
            "/var/lib/libvirt/qemu/domain-3-7-other/master-key.aes"
        ));
        // Without an id: the name part only, and only for a whole (short) name.
        let other = owner("other", None);
        assert!(ok(&other, "/var/lib/libvirt/qemu/domain-7-other/x"));
        assert!(!ok(&other, "/var/lib/libvirt/qemu/domain-7-other-swtpm/x"));
        assert!(!ok(
            &other,
            "/run/libvirt/qemu/slirp/7-other-net0-slirp.pid"
        ));
        let long = owner("abcdefghijklmnopqrstu", None);
        assert!(!ok(
            &long,
            "/var/lib/libvirt/qemu/domain-1-abcdefghijklmnopqrst/x"
        ));
        let long = owner("abcdefghijklmnopqrstu", Some(1));
        assert!(ok(
            &long,
            "/var/lib/libvirt/qemu/domain-1-abcdefghijklmnopqrst/x"
        ));
    }

    #[test]
    fn names_and_helper_files_are_never_confused() {
        let other = owner("other", Some(1));
        let swtpm = owner("other-swtpm", Some(2));
        assert!(ok(&other, "/run/libvirt/qemu/other.pid"));
        assert!(!ok(&swtpm, "/run/libvirt/qemu/other.pid"));
        assert!(!ok(&swtpm, "/run/libvirt/qemu/swtpm/1-other-swtpm.pid"));
        // A name that is also another domain's virtiofsd pid file.
        let fs = owner("1-other-fs0-fs", Some(2));
        assert!(!ok(&fs, "/run/libvirt/qemu/1-other-fs0-fs.pid"));
        let vfs = owner("other-fs0-virtiofsd", Some(2));
        assert!(!ok(&vfs, "/var/log/libvirt/qemu/other-fs0-virtiofsd.log"));
        assert!(ok(&other, "/var/log/libvirt/qemu/other.log"));
        // The daemons' records: never QEMU's, not even its own.
        assert!(!ok(&other, "/run/libvirt/qemu/other.xml"));
        assert!(!ok(&other, "/var/lib/libvirt/qemu/snapshot/other/s1.xml"));
        // The daemons' sockets: a restricted tree of the same table.
        assert_eq!(
            granted(
                &other,
                "/run/libvirt/virtqemud-sock",
                Scope::File(ElementFamily::Other)
            ),
            Err(Refusal::Never {
                tree: "/run/libvirt"
            })
        );
        assert!(!ok(
            &other,
            "/var/lib/libvirt/qemu/domain-other/monitor.sock"
        ));
        // nvram, save, swtpm state.
        assert!(ok(&other, "/var/lib/libvirt/qemu/nvram/other_VARS.fd"));
        assert!(!ok(&swtpm, "/var/lib/libvirt/qemu/nvram/other_VARS.fd"));
        assert!(!ok(&other, "/var/lib/libvirt/qemu/nvram/test-bios.fd"));
        // libvirt 12.1's uefi-vars store: the domain's own, by name.
        assert!(ok(&other, "/var/lib/libvirt/qemu/varstore/other.json"));
        assert!(!ok(&swtpm, "/var/lib/libvirt/qemu/varstore/other.json"));
        assert!(!ok(&other, "/var/lib/libvirt/qemu/varstore/other_VARS.fd"));
        assert!(ok(&other, "/var/lib/libvirt/qemu/save/other.save"));
        assert!(ok(
            &other,
            "/var/lib/libvirt/swtpm/00000000-0000-0000-0000-0123456789ab/tpm2/tpm2-00.permall"
        ));
        assert!(!ok(
            &other,
            "/var/lib/libvirt/swtpm/00000000-0000-0000-0000-0123456789ac/tpm2/tpm2-00.permall"
        ));
        // Outside every shared directory: not this check's business.
        assert!(ok(&other, "/var/lib/libvirt/images/other.qcow2"));
        assert!(ok(&other, "/srv/vm/disk.img"));
    }

    #[test]
    fn directories_containing_state_are_refused() {
        let o = owner("vm", Some(1));
        for d in [
            "/var",
            "/var/lib/libvirt",
            "/var/lib/libvirt/qemu",
            "/var/lib/libvirt/qemu/nvram",
            "/var/log",
            "/var/log/libvirt",
            "/run",
            "/run/libvirt",
            "/run/libvirt/qemu",
            "/dev/hugepages",
        ] {
            for scope in [Scope::Share, Scope::RuntimeSubtree] {
                assert!(granted(&o, d, scope).is_err(), "{d}");
            }
        }
        for d in [
            "/var/lib/libvirt/qemu/domain-1-vm",
            "/var/lib/libvirt/qemu/channel/target/domain-1-vm",
            "/run/libvirt/qemu/channel/1-vm",
            "/dev/hugepages/libvirt/qemu/1-vm",
        ] {
            assert_eq!(granted(&o, d, Scope::RuntimeSubtree), Ok(()), "{d}");
        }
        // Outside every shared directory (a runtime subtree this shallow is too wide).
        assert_eq!(granted(&o, "/srv/share", Scope::Share), Ok(()));
        assert_eq!(o.check(Path::new("/srv/share")), Ok(()));
    }
}
