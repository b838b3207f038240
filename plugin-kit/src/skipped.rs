//! [`SkippedSymbols`]: the symbols one `parse` call left out (not perpetual, unknown, delisted,
//! incomplete), reported as ONE warning with a count and a few examples, never one per row.
//!
//! Owns: counting distinct symbols and the warning's text.
//! Must not: decide what is skipped (the adapter does), or allocate for a symbol seen before.

use std::{borrow::Cow, collections::BTreeSet};

use plugin_api::ParseOutput;

/// Examples a warning names; the rest is counted.
pub const MAX_EXAMPLES: usize = 5;

/// Distinct symbols skipped for one reason during one parse call, in sorted order.
#[derive(Debug, Default)]
pub struct SkippedSymbols<'a> {
    symbols: BTreeSet<Cow<'a, str>>,
}

impl<'a> SkippedSymbols<'a> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes `symbol` (borrowed from the body, or an owned text such as `BTCUSDZ (SomethingNew)`).
    pub fn add(&mut self, symbol: impl Into<Cow<'a, str>>) {
        let symbol = symbol.into();
        if !self.symbols.contains(symbol.as_ref()) {
            self.symbols.insert(symbol);
        }
    }

    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    /// `skipped <n> symbol(s) <why>, e.g. A, B, C, D, E, …`; `None` when nothing was skipped.
    pub fn summary(&self, why: &str) -> Option<String> {
        if self.symbols.is_empty() {
            return None;
        }
        let examples: Vec<&str> = self
            .symbols
            .iter()
            .take(MAX_EXAMPLES)
            .map(AsRef::as_ref)
            .collect();
        let more = if self.symbols.len() > MAX_EXAMPLES {
            ", …"
        } else {
            ""
        };
        Some(format!(
            "skipped {} symbol(s) {why}, e.g. {}{more}",
            self.symbols.len(),
            examples.join(", ")
        ))
    }

    /// Adds the [`summary`](Self::summary) to `out`'s warnings, if anything was skipped.
    pub fn report(&self, out: &mut ParseOutput, why: &str) {
        if let Some(warning) = self.summary(why) {
            out.warn(warning);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_with_a_count_and_a_few_examples() {
        let cases: &[(&[&str], Option<&str>)] = &[
            (&[], None),
            (&["B"], Some("skipped 1 symbol(s) because, e.g. B")),
            (
                &["B", "A", "B"],
                Some("skipped 2 symbol(s) because, e.g. A, B"),
            ),
            (
                &["G", "F", "E", "D", "C", "B", "A"],
                Some("skipped 7 symbol(s) because, e.g. A, B, C, D, E, …"),
            ),
            (
                &["A", "B", "C", "D", "E"],
                Some("skipped 5 symbol(s) because, e.g. A, B, C, D, E"),
            ),
        ];
        for (symbols, want) in cases {
            let mut skipped = SkippedSymbols::new();
            for s in *symbols {
                skipped.add(*s);
            }
            assert_eq!(skipped.summary("because").as_deref(), *want, "{symbols:?}");
            let mut out = ParseOutput::default();
            skipped.report(&mut out, "because");
            assert_eq!(out.warnings.len(), usize::from(want.is_some()));
        }
        let mut skipped = SkippedSymbols::new();
        skipped.add(String::from("BTCUSDZ (SomethingNew)"));
        skipped.add("BTCUSDZ (SomethingNew)");
        assert_eq!(skipped.len(), 1);
        assert!(!skipped.is_empty());
    }
}
