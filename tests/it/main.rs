//! The quick integration tests, one crate: one link and one process instead of one per
//! file (ripgrep's layout). `cargo test --test it` runs them all, `cargo test --test it
//! lifecycle::` one module. The harnesses `.ci/run` runs on their own (`kernel`,
//! `libvirtd`, `differential`, `upgrade`, `package`) stay separate test targets.

// Integration tests are not layered: clippy.toml's disallowed methods and types (the
// filesystem, processes) are for the library's pure modules.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod support;

mod abstraction;
mod degraded;
mod devices;
mod domain_state;
mod escape_batch;
mod helper_profile;
mod hostile_images;
mod hostile_xml;
mod layering;
mod libvirt_suite;
mod lifecycle;
mod man;
mod must_refuse;
mod paths;
mod regression;
mod reload_all;
mod restricted_doc;
mod runtime_grants;
mod storage;
mod store_trust;

/// The tests of every module share this process, on as many threads as `--test-threads`
/// says: a test that changed the environment, the working directory or the umask would
/// change them under the others while they run. What a run needs goes on its command line
/// or its `Command` (`Command::env`, `Command::current_dir`) instead.
#[test]
fn no_test_changes_process_wide_state() {
    // Spelled in pieces so that this file does not match itself.
    let calls = [
        concat!("set", "_var("),
        concat!("remove", "_var("),
        concat!("set_current", "_dir("),
        concat!("um", "ask("),
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it");
    let mut files = Vec::new();
    let mut dirs = vec![dir];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("tests/it") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    assert!(files.len() > 20, "the scan found the modules: {files:?}");
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        for (i, line) in text.lines().enumerate() {
            for call in calls.iter().filter(|c| line.contains(*c)) {
                found.push(format!("{}:{}: {call}", f.display(), i + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "process-wide state changed:\n{}",
        found.join("\n")
    );
}
