//! The recorded exchange responses in `../shared/exchange-fixtures/<exchange>/`, for adapter
//! tests (feature `conformance`, enabled by the adapters' dev-dependency only).
//!
//! Owns: where the fixtures are (beside the checkout, or `FC_EXCHANGE_FIXTURES`) and reading
//! them; a missing fixture fails the test that asked for it (never a silent skip).
//! Must not: be used on a plugin's runtime path (it panics), copy fixtures into the repository,
//! or reach the network.

#![allow(clippy::panic, clippy::expect_used)]

use std::path::PathBuf;

/// Environment variable naming the fixtures directory instead of the default beside the
/// checkout (`<checkout>/../shared/exchange-fixtures`).
pub const FIXTURES_ENV: &str = "FC_EXCHANGE_FIXTURES";

/// The directory of `exchange`'s recorded responses (`binanceusdm`, `bybit`, `okx`).
pub fn dir(exchange: &str) -> PathBuf {
    let root = std::env::var_os(FIXTURES_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/exchange-fixtures"
            ))
        });
    root.join(exchange)
}

/// The bytes of one recorded response; panics (fails the test) when it cannot be read.
pub fn read(exchange: &str, name: &str) -> Vec<u8> {
    let path = dir(exchange).join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

/// One recorded response as text.
pub fn text(exchange: &str, name: &str) -> String {
    String::from_utf8(read(exchange, name))
        .unwrap_or_else(|e| panic!("fixture {exchange}/{name} is not UTF-8: {e}"))
}

/// One recorded response as a JSON value.
pub fn json(exchange: &str, name: &str) -> serde_json::Value {
    serde_json::from_slice(&read(exchange, name))
        .unwrap_or_else(|e| panic!("fixture {exchange}/{name} is not JSON: {e}"))
}

/// The file names in `exchange`'s directory, sorted.
pub fn names(exchange: &str) -> Vec<String> {
    let path = dir(exchange);
    let mut names: Vec<String> = std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("cannot list fixtures in {}: {e}", path.display()))
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}
