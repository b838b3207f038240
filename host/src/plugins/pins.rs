//! Pinning: the expected SHA-256 of each exchange's plugin file (`[plugins.pins]`). Owns the
//! digest of a plugin file and the two verdicts on it: before its code is mapped (its digest
//! must be pinned) and after (it must declare the exchange id it is pinned for).
//!
//! Must not read or load files: the loader hands it the bytes it read through a checked
//! descriptor. A file's exchange id is only known once its code ran, so when any pin is set
//! every plugin must be pinned: an unpinned digest is refused before it is loaded.

use std::{collections::BTreeMap, path::Path};

use sha2::{Digest, Sha256};

use crate::trust::{Refusal, RefusalReason};

/// The SHA-256 of `bytes` in lowercase hex (what `sha256sum` prints).
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Expected digests by exchange id (lowercase hex).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pins(BTreeMap<String, String>);

impl Pins {
    /// From `[plugins.pins]` (validated by the config: ids and 64 hex digits).
    pub fn new(pins: &BTreeMap<String, String>) -> Self {
        Self(
            pins.iter()
                .map(|(id, hex)| (id.clone(), hex.to_ascii_lowercase()))
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn refusal(file: &Path, message: String) -> Refusal {
        Refusal::new(
            file,
            RefusalReason::Pin,
            format!("{}: plugin file refused: {message}", file.display()),
        )
    }

    /// Before loading: with pins set, `digest` must be one of them.
    pub fn check_digest(&self, file: &Path, digest: &str) -> Result<(), Refusal> {
        if self.is_empty() || self.0.values().any(|pinned| pinned == digest) {
            return Ok(());
        }
        Err(Self::refusal(
            file,
            format!(
                "sha256 {digest} matches no [plugins.pins] entry (pinned: {}); it was not loaded. If this build is trusted, pin it: `<exchange id> = \"{digest}\"`",
                self.0.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        ))
    }

    /// After loading: with pins set, `exchange_id` must be pinned to `digest`.
    pub fn check_exchange(
        &self,
        file: &Path,
        digest: &str,
        exchange_id: &str,
    ) -> Result<(), Refusal> {
        match self.0.get(exchange_id) {
            _ if self.is_empty() => Ok(()),
            Some(pinned) if pinned == digest => Ok(()),
            Some(pinned) => Err(Self::refusal(
                file,
                format!("declares exchange id {exchange_id}, pinned to sha256 {pinned}, but its sha256 is {digest}"),
            )),
            None => Err(Self::refusal(
                file,
                format!(
                    "declares exchange id {exchange_id}, which has no [plugins.pins] entry; its sha256 {digest} is pinned for {}",
                    self.ids_of(digest).join(", ")
                ),
            )),
        }
    }

    fn ids_of(&self, digest: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(_, pinned)| *pinned == digest)
            .map(|(id, _)| id.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn digest_is_sha256_hex() {
        assert_eq!(sha256_hex(b""), EMPTY_SHA256);
    }

    #[test]
    fn pins_gate_before_and_after_loading() {
        let file = Path::new("/p/libx.so");
        let none = Pins::default();
        assert!(none.check_digest(file, "ab").is_ok());
        assert!(none.check_exchange(file, "ab", "x").is_ok());

        let pins = Pins::new(&BTreeMap::from([
            ("binance".to_owned(), EMPTY_SHA256.to_ascii_uppercase()),
            ("okx".to_owned(), "1".repeat(64)),
        ]));
        assert!(
            pins.check_digest(file, EMPTY_SHA256).is_ok(),
            "case-insensitive"
        );
        let unpinned = pins.check_digest(file, &"2".repeat(64)).unwrap_err();
        assert_eq!(unpinned.reason, RefusalReason::Pin);
        assert!(
            unpinned.message.contains("/p/libx.so"),
            "{}",
            unpinned.message
        );
        assert!(
            unpinned.message.contains("binance, okx"),
            "{}",
            unpinned.message
        );

        assert!(pins.check_exchange(file, EMPTY_SHA256, "binance").is_ok());
        let other = pins.check_exchange(file, EMPTY_SHA256, "okx").unwrap_err();
        assert!(
            other.message.contains("pinned to sha256 1111"),
            "{}",
            other.message
        );
        let unknown = pins
            .check_exchange(file, EMPTY_SHA256, "bybit")
            .unwrap_err();
        assert!(
            unknown.message.contains("pinned for binance"),
            "{}",
            unknown.message
        );
    }
}
