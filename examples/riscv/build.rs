//! Passes the linker script for QEMU's `virt` machine, so no
//! `.cargo/config.toml` is needed.

use std::{env, path::PathBuf};

fn main() {
    let dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    println!("cargo:rustc-link-arg=-T{}", dir.join("virt.ld").display());
    println!("cargo:rerun-if-changed=virt.ld");
}
