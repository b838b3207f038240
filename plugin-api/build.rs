//! Makes abi_stable see the interface version, not this crate's version.
//!
//! Owns: one override. abi_stable stamps every `StableAbi` type's layout with
//! `CARGO_PKG_VERSION` and refuses a plugin whose types carry another `0.y` (or major): left
//! alone, that would tie plugin compatibility to the crate version. Here the crate is compiled
//! with `CARGO_PKG_VERSION` set to `INTERFACE_VERSION` as written in `src/module.rs`, so the
//! crate version can change (a faster helper, a doc fix) without refusing a single plugin.
//! Must not: compute anything else, or read anything but `src/module.rs`.

/// The declaration this script reads; `src/module.rs` holds it once.
const DECLARATION: &str = "pub const INTERFACE_VERSION: &str = \"";

fn main() {
    let module = "src/module.rs";
    println!("cargo:rerun-if-changed={module}");
    let text = std::fs::read_to_string(module).expect("read src/module.rs");
    let version = text
        .lines()
        .find_map(|line| line.strip_prefix(DECLARATION)?.strip_suffix("\";"))
        .expect("src/module.rs declares `pub const INTERFACE_VERSION: &str = \"x.y.z\";`");
    println!("cargo:rustc-env=CARGO_PKG_VERSION={version}");
}
