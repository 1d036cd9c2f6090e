//! Running `apparmor_parser`.
//!
//! Fixed argv, absolute program path, no shell, an empty environment but for
//! `PATH=/sbin:/usr/sbin` (libvirt's helper does the same, so nothing the caller exports can
//! steer the parser), standard input closed, output captured. A failure is reported with the
//! parser's own first error line instead of libvirt's bare "apparmor_parser exited with
//! error"; a run that exits 0 but prints a parser error is a failure too (snapd does the
//! same check, `sandbox/apparmor/profile.go`).

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where the system's parser lives, first match wins: `/sbin` first, where libvirt looks and
/// Debian installs it; `/usr/bin` last, for distributions that merged `sbin` into `bin`.
pub const DEFAULT_PARSERS: [&str; 3] = [
    "/sbin/apparmor_parser",
    "/usr/sbin/apparmor_parser",
    "/usr/bin/apparmor_parser",
];

/// The default policy tree; for any other tree the parser gets `--base <tree>`.
pub const DEFAULT_APPARMOR_DIR: &str = "/etc/apparmor.d";

/// `apparmor_parser -R` exit statuses for a profile that is not loaded: 234 is what libvirt
/// expects (and treats as a warning); apparmor 3.0 on a real kernel answers 254 ("Profile
/// doesn't exist"), found by the kernel harness (`tests/kernel.rs`). Either way the profile
/// is not loaded, which is what -R and -D want.
const NOT_LOADED: [i32; 2] = [234, 254];

/// What to ask the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `-a`: load a new profile.
    Add,
    /// `-r`: replace (or load) a profile.
    Replace,
    /// `-R`: unload a profile.
    Remove,
}

impl Op {
    /// The parser flag.
    pub fn flag(self) -> &'static str {
        match self {
            Op::Add => "-a",
            Op::Replace => "-r",
            Op::Remove => "-R",
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The parser did what was asked.
    Done,
    /// `-R` on a profile that was not loaded.
    NotLoaded,
}

/// A configured parser.
#[derive(Debug, Clone)]
pub struct Parser {
    program: PathBuf,
    base: Option<PathBuf>,
}

impl Parser {
    /// A parser run as `program`, with `--base apparmor_dir` when the tree is not the
    /// default one (so its includes resolve inside that tree).
    pub fn new(program: Option<PathBuf>, apparmor_dir: &Path) -> Self {
        let program = program.unwrap_or_else(|| {
            DEFAULT_PARSERS
                .iter()
                .map(PathBuf::from)
                .find(|p| p.exists())
                .unwrap_or_else(|| PathBuf::from(DEFAULT_PARSERS[0]))
        });
        let base =
            (apparmor_dir != Path::new(DEFAULT_APPARMOR_DIR)).then(|| apparmor_dir.to_path_buf());
        Parser { program, base }
    }

    /// The argv (without the program) for `op` on `profile`.
    pub fn args(&self, op: Op, profile: &Path) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(base) = &self.base {
            args.push("--base".to_string());
            args.push(base.display().to_string());
        }
        args.push(op.flag().to_string());
        args.push(profile.display().to_string());
        args
    }

    /// The command line, for messages and dry runs.
    pub fn describe(&self, op: Op, profile: &Path) -> String {
        let mut s = self.program.display().to_string();
        for a in self.args(op, profile) {
            s.push(' ');
            s.push_str(&a);
        }
        s
    }

    /// Runs the parser.
    pub fn run(&self, op: Op, profile: &Path) -> Result<Outcome> {
        let args = self.args(op, profile);
        let out = Command::new(&self.program)
            .args(&args)
            .env_clear()
            .env("PATH", "/sbin:/usr/sbin")
            .stdin(Stdio::null())
            .output()
            .map_err(|source| Error::ParserSpawn {
                parser: self.program.clone(),
                source,
            })?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let code = out.status.code();
        if op == Op::Remove && code.is_some_and(|c| NOT_LOADED.contains(&c)) {
            return Ok(Outcome::NotLoaded);
        }
        let printed_error = stderr
            .lines()
            .chain(stdout.lines())
            .find(|l| l.to_ascii_lowercase().contains("parser error"));
        if out.status.success() && printed_error.is_none() {
            return Ok(Outcome::Done);
        }
        let message = printed_error
            .or_else(|| {
                stderr
                    .lines()
                    .find(|l| l.to_ascii_lowercase().contains("error"))
            })
            .or_else(|| stderr.lines().find(|l| !l.trim().is_empty()))
            .or_else(|| stdout.lines().find(|l| !l.trim().is_empty()))
            .unwrap_or("(no output)")
            .trim()
            .to_string();
        let status = match code {
            Some(c) => format!("exit status {c}"),
            None => "killed by a signal".to_string(),
        };
        Err(Error::Parser {
            args: args.join(" "),
            status,
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_only_for_a_non_default_tree() {
        let p = Parser::new(Some("/x/parser".into()), Path::new("/etc/apparmor.d"));
        assert_eq!(
            p.args(Op::Replace, Path::new("/etc/apparmor.d/libvirt/p")),
            ["-r", "/etc/apparmor.d/libvirt/p"]
        );
        let p = Parser::new(Some("/x/parser".into()), Path::new("/tmp/t"));
        assert_eq!(
            p.describe(Op::Add, Path::new("/tmp/t/libvirt/p")),
            "/x/parser --base /tmp/t -a /tmp/t/libvirt/p"
        );
    }

    #[test]
    fn default_parsers_sbin_first_then_merged_bin() {
        assert_eq!(
            DEFAULT_PARSERS,
            [
                "/sbin/apparmor_parser",
                "/usr/sbin/apparmor_parser",
                "/usr/bin/apparmor_parser"
            ]
        );
    }

    #[test]
    fn missing_parser_is_a_spawn_error() {
        let p = Parser::new(
            Some("/nonexistent/apparmor_parser".into()),
            Path::new("/etc/apparmor.d"),
        );
        let e = p.run(Op::Replace, Path::new("/x")).unwrap_err();
        assert_eq!(e.code(), 7);
        assert!(
            e.to_string()
                .starts_with("cannot run '/nonexistent/apparmor_parser'"),
            "{e}"
        );
    }
}
