//! [`IdentityStr`]: the text of a record's identity fields (exchange id, symbols, assets), held
//! inside the record when it is short, as every real one is, so that making a record for a known
//! instrument, cloning it, comparing it and dropping it allocate nothing.
//!
//! Owns: the inline/heap representation and the invariant that its bytes are always valid UTF-8
//! (the representation is unnameable outside this crate; values are only made from `&str`).
//! Must not: change a string's text (no truncation: longer text goes to the heap, whole).
//!
//! Why (docs/benchmarks.md, 2026-12-03): with six `RString`s, making one ticker record cost six
//! allocations; with their frees, 12% of the collector's instructions per cycle.

use std::{borrow::Borrow, cmp::Ordering, fmt, hash, ops::Deref};

use abi_stable::{std_types::RString, StableAbi};

/// Longest text kept inside the value. 38 bytes fill the space the heap variant's `RString`
/// takes anyway (40 bytes with the tag); the longest identity on the three exchanges is 25
/// (`1000000BABYDOGE/USDT:USDT`).
pub const IDENTITY_INLINE_CAPACITY: usize = 38;

/// An immutable string for identity fields: inline up to [`IDENTITY_INLINE_CAPACITY`] bytes,
/// otherwise an `RString`. Compares, orders and hashes as its `&str`.
#[repr(transparent)]
#[derive(StableAbi, Clone)]
pub struct IdentityStr(Repr);

/// Not nameable outside plugin-api (the module is private and the type is not re-exported), so
/// an `Inline` value is only ever built by [`IdentityStr::from_str`] from a whole `&str`.
#[repr(u8)]
#[derive(StableAbi, Clone)]
pub enum Repr {
    Inline {
        len: u8,
        bytes: [u8; IDENTITY_INLINE_CAPACITY],
    },
    Heap(RString),
}

impl IdentityStr {
    /// The empty string (inline, no allocation).
    pub const fn new() -> Self {
        Self(Repr::Inline {
            len: 0,
            bytes: [0; IDENTITY_INLINE_CAPACITY],
        })
    }

    /// `text`, inline when it fits.
    #[allow(clippy::should_implement_trait)] // infallible; `FromStr` would add an error type
    pub fn from_str(text: &str) -> Self {
        if text.len() <= IDENTITY_INLINE_CAPACITY {
            let mut bytes = [0; IDENTITY_INLINE_CAPACITY];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            Self(Repr::Inline {
                len: text.len() as u8,
                bytes,
            })
        } else {
            Self(Repr::Heap(RString::from(text)))
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline { len, bytes } => {
                let text = bytes.get(..usize::from(*len)).unwrap_or_default();
                debug_assert!(std::str::from_utf8(text).is_ok());
                // SAFETY: `Inline` is only built by `from_str`/`new`, which copy a whole `&str`
                // (or nothing) and record its length; the type cannot be named, hence not
                // built or mutated, outside this module.
                unsafe { std::str::from_utf8_unchecked(text) }
            }
            Repr::Heap(text) => text.as_str(),
        }
    }

    /// Orders `self` against `text` (as `self.as_str().cmp(text)`), given `text_prefix =
    /// sort_prefix(text)`: the first 8 bytes decide almost every comparison of symbols, and an
    /// inline value has them zero-padded in place, so a binary search probe is one load and
    /// one integer compare instead of a `memcmp` call.
    pub(crate) fn cmp_with_prefix(&self, text_prefix: u64, text: &str) -> Ordering {
        let own_prefix = match &self.0 {
            // Bytes past `len` are zero (`from_str` and `new` leave them so).
            Repr::Inline { bytes, .. } => {
                let mut first = [0; 8];
                first.copy_from_slice(&bytes[..8]);
                u64::from_be_bytes(first)
            }
            Repr::Heap(heap) => sort_prefix(heap.as_str()),
        };
        match own_prefix.cmp(&text_prefix) {
            Ordering::Equal => self.as_str().cmp(text),
            unequal => unequal,
        }
    }

    /// True when the text lives inside the value (no allocation behind it).
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline { .. })
    }
}

/// The first 8 bytes of `text`, zero-padded, as a big-endian integer. When two texts' prefixes
/// differ they order as the texts do: at the first differing byte either both have a byte (the
/// same comparison) or the shorter text has ended (0 below any byte it could differ by, and the
/// shorter of two texts equal up to there orders first). Equal prefixes decide nothing.
pub(crate) fn sort_prefix(text: &str) -> u64 {
    let mut first = [0; 8];
    let n = text.len().min(8);
    first[..n].copy_from_slice(&text.as_bytes()[..n]);
    u64::from_be_bytes(first)
}

impl Default for IdentityStr {
    fn default() -> Self {
        Self::new()
    }
}

impl Deref for IdentityStr {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for IdentityStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for IdentityStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for IdentityStr {
    fn from(text: &str) -> Self {
        Self::from_str(text)
    }
}

impl From<&String> for IdentityStr {
    fn from(text: &String) -> Self {
        Self::from_str(text)
    }
}

impl From<String> for IdentityStr {
    fn from(text: String) -> Self {
        Self::from_str(&text)
    }
}

impl From<IdentityStr> for String {
    fn from(text: IdentityStr) -> Self {
        text.as_str().to_owned()
    }
}

impl fmt::Debug for IdentityStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for IdentityStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for IdentityStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for IdentityStr {}

impl PartialEq<str> for IdentityStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for IdentityStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<IdentityStr> for &str {
    fn eq(&self, other: &IdentityStr) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<IdentityStr> for str {
    fn eq(&self, other: &IdentityStr) -> bool {
        self == other.as_str()
    }
}

impl PartialOrd for IdentityStr {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for IdentityStr {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl hash::Hash for IdentityStr {
    fn hash<H: hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_text_whole_inline_or_on_the_heap() {
        let at_capacity = "x".repeat(IDENTITY_INLINE_CAPACITY);
        let over = "é".repeat(IDENTITY_INLINE_CAPACITY); // 2 bytes per char: on the heap
        for (text, inline) in [
            ("", true),
            ("BTCUSDT", true),
            ("1000000BABYDOGE/USDT:USDT", true),
            (at_capacity.as_str(), true),
            (over.as_str(), false),
            ("ünïcödé-SWAP", true),
        ] {
            let id = IdentityStr::from(text);
            assert_eq!(id.as_str(), text);
            assert_eq!(id.is_inline(), inline, "{text:?}");
            let copy = id.clone();
            assert_eq!(copy, id);
            assert_eq!(copy.as_str(), text);
            drop(id);
            assert_eq!(copy.as_str(), text, "a clone outlives the original");
        }
    }

    #[test]
    fn prefix_comparison_orders_as_the_text_does() {
        let long = "BTCUSDT-".repeat(6); // on the heap
        let texts = [
            "",
            "A",
            "AB",
            "AB\0",
            "AB\0x",
            "ABC",
            "BTCUSDT",
            "BTCUSDT\0",
            "BTCUSDTX",
            "BTCUSDTXY",
            "BTCUSDTY",
            "BTC-USDT-SWAP",
            "BTC-USDT-SWAQ",
            "1000BONKUSDT",
            "1000FLOKIUSDT",
            "é",
            "éa",
            "\u{7f}",
            "ÿ",
            long.as_str(),
        ];
        for a in texts {
            let id = IdentityStr::from(a);
            for b in texts {
                assert_eq!(
                    id.cmp_with_prefix(sort_prefix(b), b),
                    a.cmp(b),
                    "{a:?} vs {b:?}"
                );
            }
        }
    }

    #[test]
    fn compares_orders_and_hashes_as_its_text() {
        use std::collections::hash_map::DefaultHasher;
        use std::hash::{Hash, Hasher};
        let hash = |v: &dyn Fn(&mut DefaultHasher)| {
            let mut h = DefaultHasher::new();
            v(&mut h);
            h.finish()
        };
        let long = "L".repeat(IDENTITY_INLINE_CAPACITY + 1);
        let (a, b) = (
            IdentityStr::from("ETHUSDT"),
            IdentityStr::from(long.as_str()),
        );
        assert_eq!(a < b, "ETHUSDT" < long.as_str());
        assert_eq!(a, "ETHUSDT");
        assert_eq!(b, long.as_str());
        assert_ne!(a, b);
        assert_eq!(hash(&|h| a.hash(h)), hash(&|h| "ETHUSDT".hash(h)));
        assert_eq!(hash(&|h| b.hash(h)), hash(&|h| long.as_str().hash(h)));
        assert_eq!(format!("{a} {a:?}"), "ETHUSDT \"ETHUSDT\"");
    }
}
