//! The runtime-grant ledger: the `-F` grants that belong to the running VM and so survive
//! libvirtd's plain `-r` until `-D` (weak spot W6 in `docs/weak-spots.md#w6`).
//!
//! libvirtd adds what a running VM needs with `-r -F PATH` (its hugepage directory, the tap
//! device it passes QEMU, the D-Bus socket...) and restores labels with a plain `-r`, which
//! regenerates `.files` from the XML. libvirt 9.0's helper then forgets every `-F` grant:
//! a DIMM hotplug after any unplug is denied in the hugepage directory. Here the grants that
//! belong to the VM (the table in `docs/runtime-grants.md`; the decision is
//! `rules/runtime.rs`) are written into `.files` together with a ledger line naming the
//! path, and a plain `-r` grants them again, each checked anew.
//!
//! The ledger lives in `.files` itself, one comment line before each kept rule:
//!
//! ```text
//!   # runtime grant, kept until the VM stops: subtree /dev/hugepages/libvirt/qemu/3-ux
//!   "/dev/hugepages/libvirt/qemu/3-ux/{,**}" rwk,  # runtime -F: the domain's hugepage backing
//! ```
//!
//! so the rules and the ledger are written by the same atomic rename: a crash leaves either
//! the old file or the new one, never a rule without its entry or an entry without its rule.
//! `-D` removes `.files`, and with it the ledger. The path is the canonical path that was
//! granted, percent-encoded (only `[A-Za-z0-9/._+:@=-]` are kept as they are), so a line
//! can be read back exactly whatever the name holds. A line is only a record of what was
//! asked: every `-r` canonicalizes and judges the path again as if libvirtd asked anew, so
//! an edited or planted line grants nothing the checks refuse.

use std::path::{Path, PathBuf};

/// The start of a ledger line in `.files`. An AppArmor comment (`#` then a space: never a
/// `#include`).
pub const MARK: &str = "  # runtime grant, kept until the VM stops: ";

/// The most entries read back from one `.files`: a ledger longer than this was not written
/// by this tool (libvirtd grants a handful of such paths per VM).
pub const MAX_ENTRIES: usize = 256;

/// One kept grant: a canonical path, and whether the grant covers everything below it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The canonical path that was granted (without the `/{,**}` suffix).
    pub path: PathBuf,
    /// Granted as `DIR/{,**}`: the directory and everything below it.
    pub subtree: bool,
}

impl Entry {
    /// The ledger line (without the newline).
    pub fn line(&self) -> String {
        let kind = if self.subtree { "subtree" } else { "file" };
        format!("{MARK}{kind} {}", encode(&self.path))
    }
}

/// The entries of the ledger lines in a `.files` text, in order, without duplicates. Lines
/// not in this tool's exact form are not entries (libvirt's helper writes none).
pub fn entries(files_text: &str) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    for line in files_text.lines() {
        let Some(rest) = line.strip_prefix(MARK) else {
            continue;
        };
        let Some(entry) = parse_entry(rest) else {
            continue;
        };
        if !out.contains(&entry) {
            out.push(entry);
        }
        if out.len() == MAX_ENTRIES {
            break;
        }
    }
    out
}

fn parse_entry(rest: &str) -> Option<Entry> {
    let (kind, encoded) = rest.split_once(' ')?;
    let subtree = match kind {
        "subtree" => true,
        "file" => false,
        _ => return None,
    };
    let path = decode(encoded)?;
    // Only absolute paths were ever written; anything else is not ours.
    path.is_absolute().then_some(Entry { path, subtree })
}

fn keeps(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"/._+:@=-".contains(&b)
}

fn encode(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for &b in path.as_os_str().as_bytes() {
        if keeps(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode(text: &str) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else if keeps(b) {
            out.push(b);
            i += 1;
        } else {
            // Not this tool's encoding.
            return None;
        }
    }
    if out.is_empty() || out.contains(&0) {
        return None;
    }
    Some(PathBuf::from(std::ffi::OsString::from_vec(out)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    fn e(p: &[u8], subtree: bool) -> Entry {
        Entry {
            path: PathBuf::from(OsStr::from_bytes(p)),
            subtree,
        }
    }

    #[test]
    fn a_line_reads_back_as_its_entry_whatever_the_name_holds() {
        for entry in [
            e(b"/dev/hugepages/libvirt/qemu/3-ux", true),
            e(b"/dev/net/tun", false),
            e(b"/srv/a dir/\"q\"/{,**}/%41/\n#include <x>", false),
            e(b"/srv/\xff\xfe", true),
        ] {
            let line = entry.line();
            assert!(!line.contains('\n'), "{line}");
            assert!(!line.trim_start().starts_with("#include"));
            assert_eq!(entries(&format!("x\n{line}\ny\n")), vec![entry]);
        }
    }

    #[test]
    fn only_lines_in_this_exact_form_are_entries() {
        let text = [
            "  # runtime grant, kept until the VM stops: file relative/path",
            "  # runtime grant, kept until the VM stops: dir /dev/net/tun",
            "  # runtime grant, kept until the VM stops: file /dev/%4",
            "  # runtime grant, kept until the VM stops: file /dev/a b",
            "  # runtime grant, kept until the VM stops: file /dev/%00x",
            " # runtime grant, kept until the VM stops: file /dev/net/tun",
            "  \"/dev/net/tun\" rwk,  # runtime grant, kept until the VM stops: file /x",
            "  # runtime grant, kept until the VM stops: file /dev/net/tun",
            "  # runtime grant, kept until the VM stops: file /dev/net/tun",
        ]
        .join("\n");
        assert_eq!(entries(&text), vec![e(b"/dev/net/tun", false)]);
    }

    #[test]
    fn a_planted_ledger_is_read_only_up_to_its_cap() {
        let text: String = (0..MAX_ENTRIES + 10)
            .map(|i| format!("{}\n", e(format!("/x/{i}").as_bytes(), false).line()))
            .collect();
        assert_eq!(entries(&text).len(), MAX_ENTRIES);
    }
}
