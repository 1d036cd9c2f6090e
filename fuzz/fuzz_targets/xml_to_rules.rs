//! Domain XML -> model -> rules -> .files text, with a resolver that never touches the
//! filesystem: any input must give a result or an error, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};
use virt_aa_helper::error::{Diagnostics, Error, Result};
use virt_aa_helper::origin::Origin;
use virt_aa_helper::resolve::{CanonicalPath, Chain, ChainStart, Resolve, UsbId};

/// Accepts paths that are already canonical; refuses the rest like a failed lookup.
struct Lexical;

impl Resolve for Lexical {
    fn canonical(
        &mut self,
        raw: &Path,
        origin: &Origin,
        _: &mut Diagnostics,
    ) -> Result<CanonicalPath> {
        CanonicalPath::from_canonical_literal(raw).ok_or_else(|| Error::Path {
            path: raw.to_path_buf(),
            origin: origin.to_string(),
            why: "not canonical".into(),
        })
    }
    fn image_chain(&mut self, _: &ChainStart<'_>, _: &mut Diagnostics) -> Result<Chain> {
        Ok(Chain::default())
    }
    fn usb_device(&mut self, _: UsbId, _: &Origin, _: &mut Diagnostics) -> Option<PathBuf> {
        None
    }
    fn pci_files(&mut self, _: &str) -> Vec<PathBuf> {
        Vec::new()
    }
    fn drm_render_node(&mut self) -> Option<PathBuf> {
        None
    }
    fn volume_path(
        &mut self,
        _: &str,
        _: &str,
        _: &Origin,
        _: &mut Diagnostics,
    ) -> Result<Option<PathBuf>> {
        Ok(None)
    }
    fn iommu_group(&mut self, _: &str) -> Option<u32> {
        None
    }
    fn tpm_cancel(&mut self, _: &Path) -> Option<PathBuf> {
        None
    }
}

fuzz_target!(|data: &[u8]| {
    /// Lines of one child profile in `templates/files.tera`.
    const CHILD_PROFILE_LINES: usize = 17;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(domain) = virt_aa_helper::parse::parse_domain(text) else {
        return;
    };
    if let Ok(set) =
        virt_aa_helper::rules::build(&domain, None, &mut Lexical, &mut Diagnostics::default())
    {
        // Every rule is one line (two more for a read-only file's deny) and each child
        // profile keeps its 17 template lines: no injected newline can reach the profile.
        let all = set.all();
        let lines: usize = all
            .iter()
            .map(|r| {
                if !r.perms.allows() {
                    1
                } else if r.deny_write {
                    3
                } else {
                    1
                }
            })
            .sum();
        let block_lines: usize = set.children.len() * CHILD_PROFILE_LINES;
        let files = virt_aa_helper::render::files(&all, &set.children, true)
            .expect("rendering never fails");
        assert_eq!(files.lines().count(), 1 + lines + block_lines);
    }
});
