//! The man page is generated from the clap definition and must be current.
//! Regenerate with: VAH_BLESS=1 cargo test --test it man::

use std::path::Path;

fn render() -> Vec<u8> {
    let cmd = virt_aa_helper::cli::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .section("8")
        .manual("System Administration")
        .render(&mut out)
        .expect("render man page");
    out
}

#[test]
fn man_page_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("man/virt-aa-helper.8");
    let fresh = render();
    if std::env::var_os("VAH_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("write man page");
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "man/virt-aa-helper.8 is out of date: run `VAH_BLESS=1 cargo test --test it man::` and commit it"
    );
    let text = String::from_utf8_lossy(&fresh);
    for flag in ["append\\-file", "apparmor\\-dir", "no\\-load", "dryrun"] {
        assert!(text.contains(flag), "{flag} documented");
    }
}
