#![forbid(unsafe_code)]
//! The `virt-aa-helper` binary: see the library crate for the pipeline.

fn main() -> std::process::ExitCode {
    let code = virt_aa_helper::main_with(
        std::env::args_os(),
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
