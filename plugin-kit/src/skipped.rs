//! [`SkippedSymbols`]: the symbols one `parse` call left out (not perpetual, unknown, delisted,
//! incomplete), reported as ONE warning with a count and a few examples, never one per row.
//!
//! Owns: counting distinct symbols and the warning's text.
//! Must not: decide what is skipped (the adapter does), or copy a symbol seen before.

use std::collections::BTreeSet;

use plugin_api::ParseOutput;

/// Examples a warning names; the rest is counted.
pub const MAX_EXAMPLES: usize = 5;

/// Distinct symbols skipped for one reason during one parse call, in sorted order.
#[derive(Debug, Default)]
pub struct SkippedSymbols {
    symbols: BTreeSet<String>,
}

impl SkippedSymbols {
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes `symbol` (or a text such as `BTCUSDZ (SomethingNew)`), copied the first time.
    pub fn add(&mut self, symbol: &str) {
        if !self.symbols.contains(symbol) {
            self.symbols.insert(symbol.to_owned());
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
        let (count, examples) = self.examples()?;
        Some(format!("skipped {count} symbol(s) {why}, e.g. {examples}"))
    }

    /// `<what>: <n> symbol(s), e.g. A, B, …`, for symbols kept but worth a note (a value taken
    /// in another unit, say); `None` when there are none.
    pub fn summary_as(&self, what: &str) -> Option<String> {
        let (count, examples) = self.examples()?;
        Some(format!("{what}: {count} symbol(s), e.g. {examples}"))
    }

    /// Adds the [`summary`](Self::summary) to `out`'s warnings, if anything was skipped.
    pub fn report(&self, out: &mut ParseOutput, why: &str) {
        if let Some(warning) = self.summary(why) {
            out.warn(warning);
        }
    }

    /// Adds the [`summary_as`](Self::summary_as) to `out`'s warnings, if there is any symbol.
    pub fn report_as(&self, out: &mut ParseOutput, what: &str) {
        if let Some(warning) = self.summary_as(what) {
            out.warn(warning);
        }
    }

    /// The count and its [`examples`].
    fn examples(&self) -> Option<(usize, String)> {
        if self.symbols.is_empty() {
            return None;
        }
        Some((
            self.symbols.len(),
            examples(self.symbols.iter().map(String::as_str)),
        ))
    }
}

/// `A, B, C, D, E, …`: the first [`MAX_EXAMPLES`] items, and an ellipsis when there are more.
pub fn examples<'s>(items: impl Iterator<Item = &'s str>) -> String {
    let mut list: Vec<&str> = items.take(MAX_EXAMPLES + 1).collect();
    let more = list.len() > MAX_EXAMPLES;
    list.truncate(MAX_EXAMPLES);
    let mut text = list.join(", ");
    if more {
        text.push_str(", …");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_are_capped() {
        let cases: &[(&[&str], &str)] = &[
            (&[], ""),
            (&["A", "B"], "A, B"),
            (&["A", "B", "C", "D", "E"], "A, B, C, D, E"),
            (&["A", "B", "C", "D", "E", "F", "G"], "A, B, C, D, E, …"),
        ];
        for (items, want) in cases {
            assert_eq!(examples(items.iter().copied()), *want, "{items:?}");
        }
    }

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
                skipped.add(s);
            }
            assert_eq!(skipped.summary("because").as_deref(), *want, "{symbols:?}");
            let mut out = ParseOutput::default();
            skipped.report(&mut out, "because");
            assert_eq!(out.warnings.len(), usize::from(want.is_some()));
        }
        let mut noted = SkippedSymbols::new();
        assert_eq!(noted.summary_as("taken as hours"), None);
        noted.add("ETHUSDT");
        noted.add("BTCUSDT");
        assert_eq!(
            noted.summary_as("taken as hours").as_deref(),
            Some("taken as hours: 2 symbol(s), e.g. BTCUSDT, ETHUSDT")
        );
        let mut out = ParseOutput::default();
        noted.report_as(&mut out, "taken as hours");
        assert_eq!(out.warnings.len(), 1);
        let mut skipped = SkippedSymbols::new();
        skipped.add(&String::from("BTCUSDZ (SomethingNew)"));
        skipped.add("BTCUSDZ (SomethingNew)");
        assert_eq!(skipped.len(), 1);
        assert!(!skipped.is_empty());
    }
}
