//! The store trusts nothing it did not write: a profile or `.files` that is
//! not a regular file the helper renamed into place (a FIFO, a symbolic link, a directory)
//! is refused at once with an error naming it, without blocking, without reading through
//! the link, and with nothing written or loaded. Templates and the configuration are opened
//! without blocking too.
//!
//! Each run has a deadline (`timeout 20`): before this, a FIFO `.files` hung `-r` forever
//! while it held the per-profile lock, and a `.files` symlinked to another file copied that
//! file's lines into the new rules on `-F`.

use crate::support::*;
use std::fs;
use std::os::unix::fs::{symlink, FileTypeExt};
use std::path::Path;
use std::process::Command;

/// A host with a domain with one disk, created (`-c`) and loaded by the recording parser,
/// and the domain's XML.
fn created() -> (Host, String) {
    let host = Host::new();
    host.tree.file("images/vm.img", b"");
    let xml = domain(&disk(&host.tree.s("images/vm.img"), "vda", ""), "");
    let o = host.run(&["-c", "-u", PROFILE], Some(&xml));
    assert_eq!(o.status.code(), Some(0), "-c: {}", o.stderr);
    host.parser.take_calls();
    (host, xml)
}

/// The helper on `host` with `args`, `xml` on its standard input: each run has 20 s
/// (`timeout`), so that a run that blocks fails the test instead of hanging it.
fn run_on(host: &Host, xml: &str, args: &[&str]) -> HostRun {
    host.run_within(20, args, Some(xml))
}

/// Asserts a prompt refusal: exit 6 (not timeout's 124), one error line naming `path`
/// and `why`, nothing written and no parser run.
#[track_caller]
fn refused(host: &Host, o: &HostRun, path: &Path, why: &str) {
    assert_ne!(o.status.code(), Some(124), "the helper hung");
    assert_eq!(o.status.code(), Some(6), "{}", o.stderr);
    let err = &o.stderr;
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(
        lines[0].starts_with("virt-aa-helper: error: ")
            && lines[0].contains(&format!("'{}'", path.display()))
            && lines[0].contains(why),
        "{err}"
    );
    assert!(o.written.is_empty(), "nothing written: {:?}", o.written);
    assert!(host.parser.take_calls().is_empty(), "nothing is loaded");
}

fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().expect("mkfifo");
    assert!(st.success());
}

#[test]
fn a_fifo_files_is_refused_without_blocking() {
    let (env, xml) = created();
    let files = env.policy.files();
    let profile = fs::read(env.policy.profile()).unwrap();
    fs::remove_file(&files).unwrap();
    mkfifo(&files);
    for args in [
        &["-r", "-u", PROFILE][..],
        &["-r", "-u", PROFILE, "-F", &env.tree.s("images/vm.img")][..],
    ] {
        let o = run_on(&env, &xml, args);
        refused(&env, &o, &files, "it is a FIFO, not a regular file");
        // Still the FIFO, and the profile as it was.
        assert!(fs::symlink_metadata(&files).unwrap().file_type().is_fifo());
        assert_eq!(fs::read(env.policy.profile()).unwrap(), profile);
    }
}

#[test]
fn a_fifo_profile_is_refused_without_blocking() {
    let (env, xml) = created();
    let profile = env.policy.profile();
    let files = fs::read(env.policy.files()).unwrap();
    fs::remove_file(&profile).unwrap();
    mkfifo(&profile);
    let o = run_on(&env, &xml, &["-r", "-u", PROFILE]);
    refused(&env, &o, &profile, "it is a FIFO, not a regular file");
    assert_eq!(fs::read(env.policy.files()).unwrap(), files);
}

#[test]
fn a_symlinked_files_is_not_read_through() {
    let (env, xml) = created();
    let files = env.policy.files();
    // Another VM's rules (or any file): a link in place of .files must not bring its lines
    // into this VM's rules on -F, which appends to what it reads.
    let other = env
        .tree
        .file("other.files", b"  \"/srv/other-vm/disk.img\" rwk,\n");
    fs::remove_file(&files).unwrap();
    symlink(&other, &files).unwrap();
    let o = run_on(
        &env,
        &xml,
        &["-r", "-u", PROFILE, "-F", &env.tree.s("images/vm.img")],
    );
    refused(&env, &o, &files, "symbolic link");
    assert_eq!(
        fs::read_link(&files).unwrap(),
        other,
        "the link is left alone"
    );
    assert_eq!(
        fs::read(&other).unwrap(),
        b"  \"/srv/other-vm/disk.img\" rwk,\n",
        "its target is untouched"
    );
}

#[test]
fn a_symlinked_profile_is_not_read_through() {
    let (env, xml) = created();
    let profile = env.policy.profile();
    // A profile that is "there" through a link would make -r load whatever it names.
    let elsewhere = env.tree.file("elsewhere", &fs::read(&profile).unwrap());
    fs::remove_file(&profile).unwrap();
    symlink(&elsewhere, &profile).unwrap();
    let o = run_on(&env, &xml, &["-r", "-u", PROFILE]);
    refused(&env, &o, &profile, "symbolic link");
}

#[test]
fn a_directory_in_place_of_files_is_refused() {
    let (env, xml) = created();
    let files = env.policy.files();
    fs::remove_file(&files).unwrap();
    fs::create_dir(&files).unwrap();
    let o = run_on(&env, &xml, &["-r", "-u", PROFILE]);
    refused(&env, &o, &files, "it is a directory, not a regular file");
}

#[test]
fn a_fifo_template_or_configuration_does_not_block() {
    let (env, xml) = created();
    // The configuration: refused as a configuration error (exit 2), at once.
    let conf = env.tree.path("fifo.conf");
    mkfifo(&conf);
    let conf_s = &conf.display().to_string();
    let o = run_on(&env, &xml, &["-r", "-u", PROFILE, "--config", conf_s]);
    assert_ne!(
        o.status.code(),
        Some(124),
        "the helper hung on a FIFO configuration"
    );
    assert_eq!(o.status.code(), Some(2), "{}", o.stderr);
    assert!(o.stderr.contains("not a regular file"), "{}", o.stderr);
    // An installed TEMPLATE.qemu: a template error (exit 5), at once.
    let template = env.policy.libvirt("TEMPLATE.qemu");
    mkfifo(&template);
    let o = run_on(&env, &xml, &["-r", "-u", PROFILE]);
    assert_ne!(
        o.status.code(),
        Some(124),
        "the helper hung on a FIFO template"
    );
    assert_eq!(o.status.code(), Some(5), "{}", o.stderr);
    assert!(o.stderr.contains("not a regular file"), "{}", o.stderr);
}
