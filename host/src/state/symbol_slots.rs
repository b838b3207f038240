//! [`SymbolSlots`]: per-instrument state (the record store's latest records, change detection's
//! hashes) kept in the order the instruments' records arrive, keyed by raw symbol.
//!
//! Owns: the slot layout and its index. Must not: know what the state means (records, hashes)
//! or decide what is kept; callers do.
//!
//! Why (docs/benchmarks.md, 2026-12-04): a plugin emits an exchange's instruments in the
//! same order every cycle. In a hash map of states each lookup lands in a random bucket, a cache
//! miss per record (half of the record store's merge time in `perf`). Here the states sit in a
//! vector in first-seen order and a lookup first tries the slot after the previous hit, so a
//! cycle walks the vector front to back (the CPU prefetches the next slot) and hashes nothing;
//! only a symbol out of order goes through the index.

use plugin_api::IdentityStr;
use rustc_hash::FxHashMap;

/// States of type `T`, one per raw symbol, in first-seen order.
#[derive(Debug)]
pub struct SymbolSlots<T> {
    slots: Vec<(IdentityStr, T)>,
    /// Raw symbol → position in `slots`. Keys hold the symbol inline (no pointer to follow).
    index: FxHashMap<IdentityStr, usize>,
    /// The slot after the last one found: where the next symbol of an ordered cycle is.
    next: usize,
}

impl<T> Default for SymbolSlots<T> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            index: FxHashMap::default(),
            next: 0,
        }
    }
}

impl<T> SymbolSlots<T> {
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The state of `raw_symbol`, if it has one.
    pub fn get_mut(&mut self, raw_symbol: &str) -> Option<&mut T> {
        let at = self.position(raw_symbol)?;
        self.next = at + 1;
        self.slots.get_mut(at).map(|(_, state)| state)
    }

    pub fn get(&self, raw_symbol: &str) -> Option<&T> {
        let at = self.position(raw_symbol)?;
        self.slots.get(at).map(|(_, state)| state)
    }

    fn position(&self, raw_symbol: &str) -> Option<usize> {
        match self.slots.get(self.next) {
            Some((key, _)) if key.as_str() == raw_symbol => Some(self.next),
            _ => self.index.get(raw_symbol).copied(),
        }
    }

    /// Adds the state of a symbol that has none (a symbol that has one keeps it: use
    /// [`Self::get_mut`] first).
    pub fn insert(&mut self, raw_symbol: IdentityStr, state: T) {
        if self.index.contains_key(raw_symbol.as_str()) {
            return;
        }
        self.index.insert(raw_symbol.clone(), self.slots.len());
        self.slots.push((raw_symbol, state));
        self.next = self.slots.len();
    }

    /// Keeps the states `keep` returns true for, in their order.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &T) -> bool) {
        let before = self.slots.len();
        self.slots.retain(|(key, state)| keep(key.as_str(), state));
        if self.slots.len() == before {
            return;
        }
        self.index.clear();
        for (i, (key, _)) in self.slots.iter().enumerate() {
            self.index.insert(key.clone(), i);
        }
        self.next = 0;
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.slots.iter().map(|(key, state)| (key.as_str(), state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(symbols: &[&str]) -> SymbolSlots<usize> {
        let mut s = SymbolSlots::default();
        for (i, sym) in symbols.iter().enumerate() {
            s.insert((*sym).into(), i);
        }
        s
    }

    #[test]
    fn finds_every_symbol_in_order_out_of_order_and_after_a_miss() {
        let mut s = slots(&["A", "B", "C", "D"]);
        // Same order as inserted (the cursor path), then reversed and shuffled (the index).
        for order in [
            ["A", "B", "C", "D"],
            ["D", "C", "B", "A"],
            ["C", "A", "D", "B"],
        ] {
            for sym in order {
                let expected = ["A", "B", "C", "D"].iter().position(|x| *x == sym);
                assert_eq!(s.get_mut(sym).copied(), expected, "{sym} in {order:?}");
                assert_eq!(s.get(sym).copied(), expected);
            }
        }
        assert_eq!(s.get_mut("E"), None);
        // After a miss the next ordered lookup still finds its slot.
        assert_eq!(s.get_mut("A").copied(), Some(0));
        assert_eq!(s.get_mut("B").copied(), Some(1));
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn a_symbol_is_inserted_once() {
        let mut s = slots(&["A", "B"]);
        s.insert("A".into(), 9);
        assert_eq!(s.len(), 2);
        assert_eq!(s.get("A"), Some(&0));
    }

    #[test]
    fn retain_keeps_the_rest_findable() {
        let mut s = slots(&["A", "B", "C", "D", "E"]);
        s.get_mut("B"); // cursor at C
        s.retain(|sym, _| sym != "C");
        assert_eq!(s.len(), 4);
        assert_eq!(s.get("C"), None);
        for (sym, v) in [("A", 0), ("B", 1), ("D", 3), ("E", 4)] {
            assert_eq!(s.get_mut(sym).copied(), Some(v), "{sym}");
        }
        s.retain(|sym, _| sym != "A");
        s.retain(|sym, _| sym != "missing");
        assert_eq!(
            s.iter()
                .map(|(k, v)| (k.to_owned(), *v))
                .collect::<Vec<_>>(),
            vec![
                ("B".to_owned(), 1),
                ("D".to_owned(), 3),
                ("E".to_owned(), 4)
            ]
        );
        assert_eq!(s.get_mut("E").copied(), Some(4));
    }
}
