//! Puts the right `memory.x` for the target on the link search path and
//! passes cortex-m-rt's linker script, so no `.cargo/config.toml` is needed.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let target = env::var("TARGET").unwrap();
    // Cortex-M0 runs on the micro:bit model (16K RAM), everything else on
    // the LM3S6965 model (64K RAM).
    let memory = if target.starts_with("thumbv6m") {
        "memory-nrf51.x"
    } else {
        "memory-lm3s6965.x"
    };
    fs::copy(memory, out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory-nrf51.x");
    println!("cargo:rerun-if-changed=memory-lm3s6965.x");
    println!("cargo:rustc-link-arg=-Tlink.x");
    // The defmt variant: defmt's linker script, which keeps its tables.
    // defmt keeps only `error!` unless `DEFMT_LOG` says otherwise when the
    // firmware compiles; this firmware logs at `info` and above.
    if env::var_os("CARGO_FEATURE_DEFMT").is_some() {
        println!("cargo:rustc-link-arg=-Tdefmt.x");
        println!("cargo:rustc-env=DEFMT_LOG=info");
    }
}
