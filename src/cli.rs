//! The command line: libvirt's flags, plus options for admins, packagers and tests.
//!
//! libvirtd execs the helper as `virt-aa-helper -c|-r|-R|-D -u libvirt-<uuid> [-F <file>]`
//! with the domain XML on stdin (`security_apparmor.c`); those spellings must keep working.
//! Parsing only validates and records (ripgrep's convention); [`Request`] is what the rest
//! of the program acts on.

// The options' doc comments are their --help text, where `<uuid>` and `<disk>` are words,
// not HTML.
#![allow(rustdoc::invalid_html_tags)]

use crate::apparmor_parser::DEFAULT_APPARMOR_DIR;
use crate::error::{Error, Exit, Result};
use crate::escape::AaPattern;
use crate::name::ProfileName;
use crate::rules::ExtraFile;
use clap::{ArgGroup, CommandFactory, FromArgMatches, Parser};
use std::ffi::OsString;
use std::path::PathBuf;

/// Generate, load and unload the AppArmor profile that confines one libvirt domain.
///
/// Reads the domain XML on standard input (for --create and --replace), canonicalizes every
/// path the domain needs (disks and their backing chains, firmware, nvram, kernel, character
/// devices), writes DIR/libvirt/libvirt-<uuid>.files with one rule per path and
/// DIR/libvirt/libvirt-<uuid> from the TEMPLATE, and loads it with apparmor_parser. Paths are
/// escaped so that they match exactly one file, never a pattern.
#[derive(Debug, Parser)]
#[command(
    name = "virt-aa-helper",
    version,
    about = "Generate, load and unload the AppArmor profile that confines a libvirt domain"
)]
#[command(group(ArgGroup::new("mode").args(["add", "create", "replace", "remove", "delete", "reload_all"]).multiple(false)))]
#[command(group(ArgGroup::new("extra").args(["add_file", "append_file"]).multiple(false)))]
pub struct Cli {
    /// Load the existing profile into the kernel (apparmor_parser -a). Reads no XML.
    #[arg(short = 'a', long = "add", overrides_with = "add")]
    pub add: bool,

    /// Create the profile and its .files from the domain XML on stdin, then load it.
    /// Refused if the profile already exists.
    #[arg(short = 'c', long = "create", overrides_with = "create")]
    pub create: bool,

    /// Regenerate .files from the domain XML on stdin (or append to it with -F) and reload
    /// the profile. The profile must exist. Runtime grants that belong to the running VM
    /// (its hugepage and memory-backing directories, tap devices, D-Bus socket) that an
    /// earlier -F added are kept, each checked again, until -D.
    #[arg(short = 'r', long = "replace", overrides_with = "replace")]
    pub replace: bool,

    /// Unload the profile from the kernel; the files are kept.
    #[arg(short = 'R', long = "remove", overrides_with = "remove")]
    pub remove: bool,

    /// Unload the profile and delete its .files (the profile file is kept, as libvirt does,
    /// so local edits survive the next start).
    #[arg(short = 'D', long = "delete", overrides_with = "delete")]
    pub delete: bool,

    /// Reload every domain profile in DIR/libvirt/ (each libvirt-<uuid> file) in one
    /// apparmor_parser run, compiled in parallel and written to the cache: for package
    /// scripts and admins after an abstraction or template changed. Takes no -u and reads
    /// no XML. A profile whose .files is missing (a domain that is not running: -D removed
    /// it) is skipped. Prints how many were reloaded and names each that failed, which
    /// stays loaded as it was; exits 7 if any failed.
    #[arg(long = "reload-all", overrides_with = "reload_all")]
    pub reload_all: bool,

    /// Dry run: change nothing, load nothing, run nothing; print to stdout what would be
    /// written, removed and run (the parser's command without the options only its
    /// --version decides, which a dry run does not ask).
    #[arg(
        short = 'd',
        long = "dryrun",
        visible_alias = "dry-run",
        overrides_with = "dryrun"
    )]
    pub dryrun: bool,

    /// The profile name: libvirt- followed by the domain's UUID in lower case with dashes.
    /// Must match the XML's <uuid>.
    #[arg(short = 'u', long = "uuid", value_name = "libvirt-UUID")]
    pub uuid: Option<String>,

    /// Also grant FILE (rwk) while regenerating from the XML. FILE must be absolute; a
    /// trailing "/{,**}" means the directory and everything below it; any other pattern
    /// character is part of the name.
    #[arg(short = 'f', long = "add-file", value_name = "FILE")]
    pub add_file: Option<PathBuf>,

    /// Append a rule for FILE (rwk) to the existing .files instead of regenerating it (how
    /// libvirtd hotplugs a disk or labels a runtime directory). Same syntax as -f. A FILE
    /// that belongs to the running VM is recorded to survive the next -r (see
    /// docs/runtime-grants.md); anything else lasts until the next -r.
    #[arg(short = 'F', long = "append-file", value_name = "FILE")]
    pub append_file: Option<PathBuf>,

    /// Root of the AppArmor policy tree; profiles are in DIR/libvirt/. For any other tree
    /// than the default, apparmor_parser is run with --base DIR.
    #[arg(long = "apparmor-dir", value_name = "DIR", default_value = DEFAULT_APPARMOR_DIR)]
    pub apparmor_dir: PathBuf,

    /// The apparmor_parser to run (default: the first of /sbin/apparmor_parser,
    /// /usr/sbin/apparmor_parser and /usr/bin/apparmor_parser that exists).
    #[arg(long = "parser", value_name = "PATH")]
    pub parser: Option<PathBuf>,

    /// apparmor_parser's cache directory (--cache-loc): a profile whose text this run does
    /// not change is loaded from it when nothing in the policy tree changed since; text
    /// this run writes is always compiled. Not used when the directory does not exist.
    #[arg(long = "cache-dir", value_name = "DIR", default_value = crate::apparmor_parser::DEFAULT_CACHE_DIR)]
    pub cache_dir: PathBuf,

    /// How long one apparmor_parser run may take before it is killed (with anything it
    /// started) and the run fails: a hung include (a FIFO, a dead network filesystem) must
    /// not keep the profile's lock, or every lock of --reload-all, forever.
    #[arg(long = "parser-timeout", value_name = "SECONDS", default_value_t = crate::apparmor_parser::DEFAULT_TIMEOUT_SECS, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub parser_timeout: u64,

    /// Where sysfs is mounted, for finding assigned USB and PCI host devices (default:
    /// /sys). Only with -c and -r.
    #[arg(long = "sysfs", value_name = "DIR")]
    pub sysfs: Option<PathBuf>,

    /// Where libvirt keeps storage pool definitions, for a <disk type='volume'> the XML does
    /// not translate (libvirt < 9.x; a translated volume's actualType path is used as is)
    /// (default: the configuration's pool_dir, else /etc/libvirt/storage). Only with -c and
    /// -r.
    #[arg(long = "pool-dir", value_name = "DIR")]
    pub pool_dir: Option<PathBuf>,

    /// The set-uid qemu-bridge-helper that domains with a bridge interface may run
    /// (default: the configuration's bridge_helper, else /usr/lib/qemu/qemu-bridge-helper).
    /// Only with -c and -r.
    #[arg(long = "bridge-helper", value_name = "PATH")]
    pub bridge_helper: Option<String>,

    /// The site configuration file; a missing file means the defaults below. Lines are
    /// `key = value`, `#` starts a comment. backing_deny_write = no|yes: "yes" adds libvirt
    /// 9.0's `deny w` rule to read-only disks and backing layers, which makes block-commit
    /// and block-pull fail; the default "no" leaves it out, as libvirt 12.1 does.
    /// files_include = required|if-exists: "if-exists" makes new profiles include their
    /// .files with `#include if exists` (newer libvirt). bridge_helper = PATH and pool_dir =
    /// DIR: defaults for --bridge-helper and --pool-dir. memory_backing_dir = DIR: qemu.conf's
    /// setting, where it is not libvirt's default; the domain's entry there may be granted
    /// as a runtime directory. The file must not be writable by group or others (default:
    /// /etc/libvirt/virt-aa-helper.conf). Only with -c and -r.
    #[arg(long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Write the files but do not run apparmor_parser.
    #[arg(long = "no-load", overrides_with = "no_load")]
    pub no_load: bool,
}

/// What the program is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `-a`.
    Add,
    /// `-c`.
    Create,
    /// `-r`.
    Replace,
    /// `-R`.
    Remove,
    /// `-D`.
    Delete,
}

impl Mode {
    /// Whether the mode reads the domain XML.
    pub fn reads_xml(self) -> bool {
        matches!(self, Mode::Create | Mode::Replace)
    }
}

/// A validated request.
#[derive(Debug, Clone)]
pub struct Request {
    /// The mode.
    pub mode: Mode,
    /// `-u`.
    pub profile: ProfileName,
    /// `-d`.
    pub dry_run: bool,
    /// `-f` or `-F`.
    pub extra: Option<ExtraFile>,
    /// `-F` (append) rather than `-f`.
    pub append: bool,
    /// `--apparmor-dir`.
    pub apparmor_dir: PathBuf,
    /// `--parser`.
    pub parser: Option<PathBuf>,
    /// `--cache-dir`.
    pub cache_dir: PathBuf,
    /// `--parser-timeout`, in seconds.
    pub parser_timeout: u64,
    /// `--no-load`.
    pub no_load: bool,
    /// `--sysfs`.
    pub sysfs: PathBuf,
    /// `--pool-dir`.
    pub pool_dir: Option<PathBuf>,
    /// `--bridge-helper`, escaped.
    pub bridge_helper: Option<AaPattern>,
    /// `--config`.
    pub config: PathBuf,
}

/// A validated `--reload-all`: no profile name, no XML, only where the profiles are and
/// how to load them. A type of its own rather than a [`Mode`], so that no code can meet a
/// [`Request`] without the one profile it is about.
#[derive(Debug, Clone)]
pub struct ReloadAll {
    /// `-d`.
    pub dry_run: bool,
    /// `--apparmor-dir`.
    pub apparmor_dir: PathBuf,
    /// `--parser`.
    pub parser: Option<PathBuf>,
    /// `--cache-dir`.
    pub cache_dir: PathBuf,
    /// `--parser-timeout`, in seconds.
    pub parser_timeout: u64,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    /// Do the work.
    Run(Box<Request>),
    /// `--reload-all`.
    ReloadAll(Box<ReloadAll>),
    /// Print this text on stdout and exit 0 (`--help`, `--version`).
    Print(String),
}

/// The clap command (also used to generate the man page), with the exit statuses of
/// [`Exit`] as its closing text.
pub fn command() -> clap::Command {
    Cli::command().after_help(Exit::help())
}

/// Parses argv into a request. Errors are one line.
pub fn parse_args<I, T>(args: I) -> Result<Parsed>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let parsed = command()
        .try_get_matches_from(args)
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    Ok(Parsed::Print(e.render().to_string()))
                }
                _ => {
                    let text = e.to_string();
                    let first = text.lines().next().unwrap_or("invalid command line");
                    let first = first.strip_prefix("error: ").unwrap_or(first);
                    Err(Error::Usage(format!("{first} (see --help)")))
                }
            };
        }
    };
    if cli.reload_all {
        return cli
            .into_reload_all()
            .map(|r| Parsed::ReloadAll(Box::new(r)));
    }
    cli.into_request().map(|r| Parsed::Run(Box::new(r)))
}

impl Cli {
    /// The options only -c and -r read (the XML's paths, the site settings): refused with
    /// any other mode, where they would be accepted and silently ignored.
    fn generation_options(&self) -> Option<&'static str> {
        [
            (self.sysfs.is_some(), "--sysfs"),
            (self.pool_dir.is_some(), "--pool-dir"),
            (self.bridge_helper.is_some(), "--bridge-helper"),
            (self.config.is_some(), "--config"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
    }

    fn into_reload_all(self) -> Result<ReloadAll> {
        if self.uuid.is_some() {
            return Err(Error::Usage(
                "--reload-all takes no -u: it reloads every profile".into(),
            ));
        }
        if self.add_file.is_some() || self.append_file.is_some() {
            return Err(Error::Usage("-f and -F only go with -c or -r".into()));
        }
        if let Some(flag) = self.generation_options() {
            return Err(Error::Usage(format!(
                "{flag} only goes with -c or -r, which read the domain XML"
            )));
        }
        if self.no_load {
            return Err(Error::Usage(
                "--no-load does not go with --reload-all, which only loads (use -d to see what it would run)"
                    .into(),
            ));
        }
        Ok(ReloadAll {
            dry_run: self.dryrun,
            apparmor_dir: self.apparmor_dir,
            parser: self.parser,
            cache_dir: self.cache_dir,
            parser_timeout: self.parser_timeout,
        })
    }

    fn into_request(self) -> Result<Request> {
        let mode = match (
            self.add,
            self.create,
            self.replace,
            self.remove,
            self.delete,
        ) {
            (true, ..) => Mode::Add,
            (_, true, ..) => Mode::Create,
            (_, _, true, ..) => Mode::Replace,
            (.., true, _) => Mode::Remove,
            (.., true) => Mode::Delete,
            _ => {
                return Err(Error::Usage(
                    "no mode given: use one of -a, -c, -r, -R, -D or --reload-all (see --help)"
                        .into(),
                ))
            }
        };
        let given = self
            .uuid
            .clone()
            .ok_or_else(|| Error::Usage("no profile name given: use -u libvirt-<uuid>".into()))?;
        let profile = ProfileName::parse(&given)?;
        let bridge_helper = self
            .bridge_helper
            .as_deref()
            .map(|h| {
                if !std::path::Path::new(h).is_absolute() {
                    return Err("not an absolute path".to_string());
                }
                AaPattern::literal(h).map_err(|e| e.to_string())
            })
            .transpose()
            .map_err(|why| {
                let given = self.bridge_helper.as_deref().unwrap_or_default();
                Error::Usage(format!(
                    "--bridge-helper {}: {why}",
                    crate::error::quote(given)
                ))
            })?;
        if let Some(flag) = self.generation_options().filter(|_| !mode.reads_xml()) {
            return Err(Error::Usage(format!(
                "{flag} only goes with -c or -r, which read the domain XML"
            )));
        }
        let (extra, append) = match (self.add_file, self.append_file) {
            (Some(f), _) => (Some(ExtraFile::parse(&f, "-f")?), false),
            (_, Some(f)) => (Some(ExtraFile::parse(&f, "-F")?), true),
            _ => (None, false),
        };
        if extra.is_some() && !mode.reads_xml() {
            return Err(Error::Usage("-f and -F only go with -c or -r".into()));
        }

        Ok(Request {
            mode,
            profile,
            dry_run: self.dryrun,
            extra,
            append,
            apparmor_dir: self.apparmor_dir,
            parser: self.parser,
            cache_dir: self.cache_dir,
            parser_timeout: self.parser_timeout,
            no_load: self.no_load,
            sysfs: self
                .sysfs
                .unwrap_or_else(|| crate::resolve::DEFAULT_SYSFS.into()),
            pool_dir: self.pool_dir,
            bridge_helper,
            config: self
                .config
                .unwrap_or_else(|| crate::config::DEFAULT_CONFIG.into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const U: &str = "libvirt-00000000-0000-0000-0000-0123456789ab";

    fn req(args: &[&str]) -> Result<Request> {
        let mut v = vec!["virt-aa-helper"];
        v.extend_from_slice(args);
        match parse_args(v)? {
            Parsed::Run(r) => Ok(*r),
            other => panic!("not a one-profile request: {other:?}"),
        }
    }

    #[test]
    fn libvirtd_spellings() {
        let r = req(&["-c", "-u", U]).unwrap();
        assert_eq!(r.mode, Mode::Create);
        assert_eq!(r.profile.to_string(), U);
        let r = req(&["-r", &format!("-u{U}"), "-F", "/run/x/{,**}"]).unwrap();
        assert_eq!(r.mode, Mode::Replace);
        assert!(r.append);
        let x = r.extra.unwrap();
        assert!(x.subtree);
        assert_eq!(x.path, PathBuf::from("/run/x"));
        assert!(req(&["-dr", "-u", U]).unwrap().dry_run);
        assert_eq!(req(&["-D", "-u", U]).unwrap().mode, Mode::Delete);
        // getopt accepts a repeated flag; so do we.
        let r = req(&["-d", "-r", "-d", "-r", "-u", U]).unwrap();
        assert!(r.dry_run && r.mode == Mode::Replace);
    }

    #[test]
    fn long_forms_take_their_argument() {
        // libvirt 9.0 declared --add-file/--append-file without an argument
        // (virt-aa-helper.c:1345-1346; docs/weak-spots.md#w12).
        let r = req(&["--replace", "--uuid", U, "--add-file", "/a/b.img"]).unwrap();
        assert!(!r.append);
        assert_eq!(r.extra.unwrap().path, PathBuf::from("/a/b.img"));
        let r = req(&[
            "--replace",
            &format!("--uuid={U}"),
            "--append-file=/a/c.img",
            "--dryrun",
        ])
        .unwrap();
        assert!(r.append && r.dry_run);
    }

    #[test]
    fn usage_errors_are_one_line() {
        for args in [
            &["-z"][..],
            &["-A"],
            &["-c"],
            &["-p"],
            &["-c", "-n", "foo", "-u", U],
            &["-c", "-u"],
            &["-c", "-r", "-u", U],
            &["-R", "-u", U, "-F", "/x"],
            &["-r", "-u", U, "-F", "relative.img"],
            &["-r", "-u", U, "-f", "/a", "-F", "/b"],
            &["-u", U],
            // Options only generation reads are refused where nothing reads them.
            &["-R", "-u", U, "--pool-dir", "/x"],
            &["-a", "-u", U, "--sysfs", "/y"],
            &["-D", "-u", U, "--bridge-helper", "/z"],
            &["-D", "-u", U, "--config", "/c"],
        ] {
            let e = req(args).unwrap_err();
            let s = e.to_string();
            assert!(!s.contains('\n'), "{args:?}: {s}");
            assert_eq!(e.code(), 2, "{args:?}: {s}");
        }
    }

    #[test]
    fn reload_all_takes_no_profile_and_no_file() {
        let parse = |args: &[&str]| {
            let mut v = vec!["virt-aa-helper"];
            v.extend_from_slice(args);
            parse_args(v)
        };
        match parse(&["-d", "--reload-all", "--apparmor-dir", "/t"]).unwrap() {
            Parsed::ReloadAll(r) => {
                assert!(r.dry_run);
                assert_eq!(r.apparmor_dir, PathBuf::from("/t"));
            }
            other => panic!("{other:?}"),
        }
        for (args, says) in [
            (&["--reload-all", "-u", U][..], "takes no -u"),
            (
                &["--reload-all", "-F", "/x"],
                "-f and -F only go with -c or -r",
            ),
            (
                &["--reload-all", "--no-load"],
                "--no-load does not go with --reload-all",
            ),
            (&["--reload-all", "-r", "-u", U], "cannot be used with"),
            (
                &["--reload-all", "--config", "/c"],
                "--config only goes with -c or -r",
            ),
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.code(), 2, "{args:?}");
            assert!(e.to_string().contains(says), "{args:?}: {e}");
        }
    }

    #[test]
    fn help_and_version_print() {
        assert!(
            matches!(parse_args(["virt-aa-helper", "-h"]).unwrap(), Parsed::Print(s) if s.contains("--append-file") && s.contains(&Exit::help()))
        );
        assert!(
            matches!(parse_args(["virt-aa-helper", "--version"]).unwrap(), Parsed::Print(s) if s.contains(env!("CARGO_PKG_VERSION")))
        );
    }
}
