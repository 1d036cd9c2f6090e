//! The qcow header reader on arbitrary bytes: a result or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(info)) =
        virt_aa_helper::image::read(&virt_aa_helper::image::ImageFormat::Qcow, data)
    {
        for name in info
            .backing
            .iter()
            .map(|b| &b.name)
            .chain(info.companions.iter().map(|c| &c.name))
        {
            assert!(name.len() <= virt_aa_helper::image::MAX_NAME);
            assert!(!name.contains('\0'));
        }
    }
});
